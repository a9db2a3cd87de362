"""A site's TIFF channels are read straight into one stack: the same pixels as plane by plane, and
every file the fast read cannot take falls back to the plane-by-plane read and its error."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tifffile

from labstream.core.errors import InputError
from labstream.phenomics.model import CHANNELS
from labstream.phenomics.reading import discover, load_site, read_channel
from labstream.phenomics.reading.files import stack_tiffs


@pytest.fixture
def images(tmp_path, tiff_set):  # type: ignore[no-untyped-def]
    return shutil.copytree(tiff_set.images, tmp_path / "images")


def _site(images, well: str):  # type: ignore[no-untyped-def]
    sites = discover(images)
    key = next(k for k in sorted(sites) if k.well == well)
    return key, sites[key]


def test_the_stack_holds_the_planes_read_one_by_one(images) -> None:  # type: ignore[no-untyped-def]
    sites = discover(images)
    for key in sorted(sites)[:3]:
        files = sites[key]
        paths = [str(files[c]) for c in range(len(CHANNELS))]
        planes = [read_channel(p) for p in paths]
        fast = stack_tiffs(key, planes[0], paths[1:], tuple(paths))
        assert fast is not None and fast.pixels.flags.c_contiguous
        assert fast.pixels.dtype == planes[0].dtype
        assert np.array_equal(fast.pixels, np.stack(planes))
        site = load_site(key, files)
        assert np.array_equal(site.pixels, np.stack(planes)) and site.sources == tuple(paths)


def test_files_the_fast_read_cannot_take_give_the_plane_by_plane_errors(images) -> None:  # type: ignore[no-untyped-def]
    key, files = _site(images, "A01")
    first = read_channel(files[0])
    rest = [str(files[c]) for c in range(1, len(CHANNELS))]
    truncated = files[3]
    data = open(truncated, "rb").read()
    open(truncated, "wb").write(data[: len(data) // 3])
    assert stack_tiffs(key, first, rest, ()) is None
    with pytest.raises(InputError, match="truncated or corrupt") as err:
        load_site(key, files)
    assert str(truncated) in str(err.value)

    key, files = _site(images, "A02")
    pages = files[2]  # two pages: tifffile reads a (2, H, W) stack, not one channel
    plane = read_channel(pages)
    tifffile.imwrite(pages, np.stack([plane, plane]))
    with pytest.raises(InputError, match="2-D grey"):
        load_site(key, files)

    key, files = _site(images, "A03")
    wide = files[4]  # a float32 channel beside 16-bit ones
    tifffile.imwrite(wide, read_channel(wide).astype(np.float32))
    with pytest.raises(InputError, match="mixes pixel types"):
        load_site(key, files)
