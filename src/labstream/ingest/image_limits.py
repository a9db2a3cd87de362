"""Refuse decompression bombs at the edge, from the image header, before anything decodes them.

A 20000 x 20000 TIFF compresses to under 1 MB on disk and decodes to 400 MB or more per plane: a
stage that reads it allocates that (and its float copies) before it can tell it is wrong, and the
error then surfaces far from the file. The ingest reads only the header here (tifffile parses the
IFDs, not the strips; PNG keeps width and height in its first 24 bytes) and quarantines an image
whose declared pixels exceed the limit, naming that file.

The limit is Pillow's own decompression-bomb threshold (89,478,485 pixels per image, about
9459 x 9459), far above any microscope camera (a 2048 x 2048 or 5120 x 5120 sCMOS frame), plus a
bound on the decoded bytes of all pages together. A header that does not parse is not refused here:
whether the pixels decode is the stage's business, and it names the file too.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import BinaryIO

from labstream.core.errors import InputError

MAX_IMAGE_PIXELS = 89_478_485  # Pillow's Image.MAX_IMAGE_PIXELS
MAX_DECODED_BYTES = 4 << 30  # all pages of one file together
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HINT = "an image this large is not an instrument frame (a decompression bomb?); it was not decoded"


def check_image_header(fh: BinaryIO, source: str | Path) -> None:
    """Raise InputError naming `source` when the image in `fh` declares too many pixels.

    `fh` is positioned anywhere; it is read from the start and left at an unspecified position."""
    fh.seek(0)
    head = fh.read(24)
    fh.seek(0)
    if head.startswith(_PNG_MAGIC) and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        _check(source, [(height, width)], [1])
    elif head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        _check_tiff(fh, source)


def _check_tiff(fh: BinaryIO, source: str | Path) -> None:
    import tifffile

    try:
        with tifffile.TiffFile(fh, name=Path(source).name) as tif:
            shapes, itemsizes = [], []
            for page in tif.pages:  # IFD headers only: no strip or tile is read
                shapes.append(tuple(int(n) for n in page.shape))  # type: ignore[union-attr]
                itemsizes.append(int(page.dtype.itemsize) if page.dtype is not None else 1)  # type: ignore[union-attr]
                if len(shapes) > 100_000:
                    break
    except InputError:
        raise
    except Exception:  # not a TIFF after all, or a damaged header: the stage reports it by name
        return
    _check(source, shapes, itemsizes)


def _check(source: str | Path, shapes: list[tuple[int, ...]], itemsizes: list[int]) -> None:
    total = 0
    for shape, itemsize in zip(shapes, itemsizes, strict=True):
        plane = shape[-2:] if len(shape) >= 2 else shape
        pixels = math.prod(plane)
        if pixels > MAX_IMAGE_PIXELS:
            dims = " x ".join(str(n) for n in shape)
            raise InputError(
                str(source),
                f"image declares {dims} pixels ({pixels:,} per plane, limit {MAX_IMAGE_PIXELS:,})",
                hint=_HINT,
            )
        total += math.prod(shape) * itemsize
    if total > MAX_DECODED_BYTES:
        raise InputError(
            str(source),
            f"image declares {total / 2**30:.1f} GiB of pixels (limit {MAX_DECODED_BYTES / 2**30:.0f} GiB)",
            hint=_HINT,
        )


__all__ = ["MAX_DECODED_BYTES", "MAX_IMAGE_PIXELS", "check_image_header"]
