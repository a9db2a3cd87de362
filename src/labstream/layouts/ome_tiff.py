"""OME-TIFF with every channel of a site in one file: `{plate}_{well}_s{site}.ome.tif[f]`.

The OME-XML inside the file names the channels (`<Channel Name="Hoechst 33342">`), in the order the
file stores them; the reader maps those names onto the five stains. The identity's channel is 0 and
its label `*`: one file is a whole site.
"""

from __future__ import annotations

import re
from pathlib import Path

from labstream.core.errors import InputError
from labstream.layouts.base import MicroscopeLayout, PlateMetadata, normalize_well
from labstream.layouts.metadata import attr, children, parse_xml


class OmeTiff(MicroscopeLayout):
    name = "ome-tiff"
    pattern = "{plate}_{well}_s{site}.ome.tif"
    multichannel = True
    regex = re.compile(r"^(?P<plate>.+)_(?P<well>[A-Pa-p]\d{1,2})_s(?P<site>\d+)\.ome\.tiff?$")

    def fields_of(self, m: re.Match[str], path: Path) -> dict[str, str | int]:
        well = normalize_well(m["well"], source=str(path))
        return {
            "plate": m["plate"],
            "well": well,
            "site": int(m["site"]),
            "channel": 0,
            "label": "*",
            "plane": 1,
        }

    def metadata(self, path: Path) -> PlateMetadata | None:
        """The channel names of this file (each OME-TIFF carries its own)."""
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                xml = tif.ome_metadata
        except FileNotFoundError:
            return None
        except Exception as err:  # tifffile raises many types on a corrupt file
            raise InputError(str(path), f"unreadable OME-TIFF ({err.__class__.__name__})") from err
        if not xml:
            raise InputError(str(path), "TIFF has no OME-XML", hint="write it as OME-TIFF or use site-tiff")
        names = [attr(c, "Name") or "" for c in children(parse_xml(path, xml.encode()), "Channel")]
        labels = tuple(str(i + 1) for i in range(len(names)))
        stains = {lab: n for lab, n in zip(labels, names, strict=True) if n}
        pixels = children(parse_xml(path, xml.encode()), "Pixels")
        size = attr(pixels[0], "PhysicalSizeX") if pixels else None
        return PlateMetadata(
            source=str(path), stains=stains, channel_order=labels, pixel_size_um=float(size) if size else None
        )
