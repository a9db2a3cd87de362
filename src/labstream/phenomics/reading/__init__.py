"""Reading: microscope files into one model (plate / well / site / channel), each defect an InputError.

`files` reads the file layouts (`PLATE_WELL_sN_wC.tif`, RxRx `WELL_sN_wC.png`) and the plate map and
known-relationship tables; `omezarr` reads OME-Zarr HCS plates (and writes them, for the microscope
simulator and the tests, with the same metadata rules).
"""

from __future__ import annotations

from labstream.phenomics.reading.files import (
    SiteFiles,
    discover,
    load_site,
    parse_name,
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

__all__ = [
    "SiteFiles",
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
