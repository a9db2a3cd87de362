"""Reading: microscope files into one model (plate / well / site / channel), each defect an InputError.

`sites` finds the sites of a folder in any image layout (labstream.layouts) with the plate's channel
map (`channels`: which channel holds which stain); `files` reads image files, the plate map and
known-relationship tables; `omezarr` reads OME-Zarr HCS plates (and writes them, for the microscope
simulator and the tests, with the same metadata rules).
"""

from __future__ import annotations

from labstream.phenomics.reading.channels import STAIN_ALIASES, channel_setting, resolve_channels, stain_of
from labstream.phenomics.reading.files import (
    read_channel,
    read_platemap,
    read_relationships,
    rxrx_listed_sites,
    stack_site,
)
from labstream.phenomics.reading.omezarr import (
    discover_zarr,
    packed_key,
    read_packed_field,
    read_zarr_site,
    write_zarr_field,
    write_zarr_plate,
    write_zarr_plate_metadata,
)
from labstream.phenomics.reading.sites import (
    Planes,
    ReadOptions,
    SiteFiles,
    Source,
    discover,
    identify,
    load_site,
    parse_name,
    plate_channels,
    read_source,
)

__all__ = [
    "STAIN_ALIASES",
    "Planes",
    "ReadOptions",
    "SiteFiles",
    "Source",
    "channel_setting",
    "identify",
    "plate_channels",
    "read_source",
    "resolve_channels",
    "stain_of",
    "discover",
    "discover_zarr",
    "load_site",
    "packed_key",
    "parse_name",
    "read_channel",
    "read_packed_field",
    "read_platemap",
    "read_relationships",
    "read_zarr_site",
    "rxrx_listed_sites",
    "stack_site",
    "write_zarr_field",
    "write_zarr_plate",
    "write_zarr_plate_metadata",
]
