"""Images: hostile or unusual site images, fed to `labstream phenomics profile` beside good wells.

Each case damages or adds to well A01 of a private copy of the shared plate (eight wells); the seven
other wells are the controls and must each come out once in `well_profiles.parquet`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from labstream.testing.hostile import _assets, _probe
from labstream.testing.hostile._case import Case, Expect, Observed

FAMILY = "images"
SIZE = 192


def _ch(images: Path, well: str, ch: int) -> Path:
    return images / f"P01_{well}_s1_w{ch}.tif"


def _profile(inputs: dict[str, Any]) -> Observed:
    o = Observed()
    tmp: Path = inputs["tmp"]
    out = tmp / "out"
    args = ["phenomics", "profile", "--images", inputs["images"], "--platemap", inputs["platemap"]]
    _probe.cli([*args, "--out", out, "--workers", "1"], tmp / "home", o)
    metrics = out / "metrics.json"
    if metrics.exists():
        for q in json.loads(metrics.read_text()).get("quarantined", []):
            o.quarantined.append(f"{q['source']}: {q['problem']}")
            o.add(o.quarantined[-1])
    wells: list[str] = []
    if (out / "well_profiles.parquet").exists():
        import pandas as pd

        wells = list(pd.read_parquet(out / "well_profiles.parquet").Metadata_Well)
    offender = inputs.get("offender_well")
    controls = [w for w in _assets.wells() if w != offender]
    o.control_expected = len(controls)
    o.control_rows = sum(wells.count(w) for w in controls) if all(w in wells for w in controls) else 0
    o.offender_rows = wells.count(offender) if offender else 0
    return o


def _damage(write, offender: str | None = "A01"):  # type: ignore[no-untyped-def]
    """A build step: copy the plate, then `write(images)` the hostile input (returns its file name)."""

    def build(tmp: Path) -> dict[str, Any]:
        images, pm = _assets.copy_plate(tmp)
        name = write(images)
        return {"tmp": tmp, "images": images, "platemap": pm, "offender_well": offender, "name": name}

    return build


def _replace(ch: int, data: bytes | None = None, array: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
    def write(images: Path) -> str:
        f = _ch(images, "A01", ch)
        if array is not None:
            tifffile.imwrite(f, array, **kw)
        elif data is not None:
            f.write_bytes(data)
        return f.name

    return write


def _truncate(images: Path) -> str:
    f = _ch(images, "A01", 2)
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
    return f.name


def _bomb(images: Path) -> str:
    """20000² uint16 of zeros, zlib tiles: under a megabyte on disk, 800 MB once decoded."""
    f = _ch(images, "A01", 4)
    tile = np.zeros((1024, 1024), np.uint16)
    n = (-(-20000 // 1024)) ** 2
    tifffile.imwrite(
        f,
        (tile for _ in range(n)),
        shape=(20000, 20000),
        dtype=np.uint16,
        tile=(1024, 1024),
        compression="zlib",
    )
    return f.name


def _mixed_depth(images: Path) -> str:
    f = _ch(images, "A01", 3)
    tifffile.imwrite(f, (tifffile.imread(f) // 256).astype(np.uint8))
    return f.name


def _extra(name: str, from_ch: int = 1):  # type: ignore[no-untyped-def]
    def write(images: Path) -> str:
        shutil.copy(_ch(images, "A01", from_ch), images / name)
        return name

    return write


def _stray_well(images: Path) -> str:
    for ch in range(1, 6):
        shutil.copy(_ch(images, "A02", ch), _ch(images, "H12", ch))
    return _ch(images, "H12", 1).name


def _missing(images: Path) -> str:
    _ch(images, "A01", 3).unlink()
    return "P01/A01"


def _tiny_site(images: Path) -> str:
    rng = np.random.default_rng(0)
    for ch in range(1, 6):
        tifffile.imwrite(_ch(images, "A01", ch), rng.integers(0, 4000, (8, 8), dtype=np.uint16))
    return _ch(images, "A01", 1).name


def _case(cid: str, description: str, write, expect: Expect, **kw: Any) -> Case:  # type: ignore[no-untyped-def]
    offender = kw.pop("offender", "A01")
    return Case(cid, FAMILY, description, _damage(write, offender), _profile, expect, **kw)


def _q(name: str) -> Expect:
    return Expect("quarantine", names=name)


RNG = np.random.default_rng(7)
CASES = [
    _case("img-truncated-tiff", "a channel TIFF cut to a third", _truncate, _q("P01_A01_s1_w2.tif")),
    _case(
        "img-garbage-tif",
        "random bytes named .tif",
        _replace(1, data=RNG.bytes(20000)),
        _q("P01_A01_s1_w1.tif"),
    ),
    _case("img-zero-bytes", "a 0-byte channel", _replace(2, data=b""), _q("P01_A01_s1_w2.tif")),
    _case(
        "img-png-header-junk",
        "PNG signature then junk, named .tif",
        _replace(3, data=b"\x89PNG\r\n\x1a\n" + b"junk" * 500),
        _q("P01_A01_s1_w3.tif"),
    ),
    _case(
        "img-text-as-tif",
        "a text file named .tif",
        _replace(5, data=b"plate,well\nP01,A01\n" * 50),
        _q("P01_A01_s1_w5.tif"),
    ),
    _case(
        "img-decompression-bomb", "20000² zlib TIFF (~1 MB, 800 MB decoded)", _bomb, _q("P01_A01_s1_w4.tif")
    ),
    _case(
        "img-3d-stack",
        "a 3-plane stack as one channel",
        _replace(1, array=np.zeros((3, SIZE, SIZE), np.uint16)),
        _q("P01_A01_s1_w1.tif"),
    ),
    _case(
        "img-rgb",
        "an RGB image as one channel",
        _replace(2, array=np.zeros((SIZE, SIZE, 3), np.uint8), photometric="rgb"),
        _q("P01_A01_s1_w2.tif"),
    ),
    _case(
        "img-int32",
        "signed 32-bit pixels",
        _replace(3, array=RNG.integers(0, 5000, (SIZE, SIZE), dtype=np.int32)),
        _q("P01_A01_s1_w3.tif"),
    ),
    _case(
        "img-shape-mismatch",
        "one channel 64x80 among 192²",
        _replace(4, array=np.zeros((64, 80), np.uint16)),
        _q("P01_A01_s1_w4.tif"),
    ),
    _case("img-tiny-site", "every channel of a site 8x8", _tiny_site, Expect("handled", names="A01")),
    _case("img-mixed-bit-depth", "one 8-bit channel among 16-bit", _mixed_depth, _q("P01_A01_s1_w3.tif")),
    _case(
        "img-all-nan-float",
        "a float32 channel of NaN",
        _replace(5, array=np.full((SIZE, SIZE), np.nan, np.float32)),
        _q("P01_A01_s1_w5.tif"),
    ),
    _case(
        "img-empty-field",
        "a constant channel (nothing in focus)",
        _replace(1, array=np.full((SIZE, SIZE), 300, np.uint16)),
        _q("P01_A01_s1_w1.tif"),
    ),
    _case("img-missing-channel", "channel w3 of a site absent", _missing, _q("A01")),
    _case(
        "img-unparseable-name",
        "P01_A01_s1_DAPI.tif beside the site",
        _extra("P01_A01_s1_DAPI.tif"),
        _q("P01_A01_s1_DAPI.tif"),
        offender=None,
    ),
    _case(
        "img-channel-w0",
        "a channel numbered 0",
        _extra("P01_A01_s1_w0.tif"),
        _q("P01_A01_s1_w0.tif"),
        offender=None,
    ),
    _case(
        "img-channel-w9",
        "a channel numbered 9",
        _extra("P01_A01_s1_w9.tif"),
        _q("P01_A01_s1_w9.tif"),
        offender=None,
    ),
    _case(
        "img-no-platemap-row",
        "a whole site of well H12, absent from the platemap",
        _stray_well,
        _q("P01_H12_s1_w"),
        offender="H12",
    ),
]
