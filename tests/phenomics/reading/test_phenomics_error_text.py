"""Error messages never echo file contents (issue 11: a profile error quoted a non-image's first bytes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labstream.core.errors import InputError
from labstream.phenomics.reading import read_channel

SECRET = b"PATIENT Jane Doe DOB 1970-01-01 MRN 12345"


@pytest.mark.parametrize("name", ["x.tif", "x.tiff", "x.png", "x.TIF"])
@pytest.mark.parametrize("payload", [SECRET, b"II*\x00" + SECRET, b"\x89PNG\r\n\x1a\n" + SECRET])
def test_unreadable_image_error_names_the_file_not_its_bytes(
    tmp_path: Path, name: str, payload: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(InputError) as info:
        read_channel(path)
    text = str(info.value)
    assert info.value.source == str(path)
    if payload == SECRET:
        assert "not a valid" in text
    for fragment in ("PATIENT", "Jane", "MRN", "II*", "\\x89", "\\x00"):
        assert fragment not in text.replace(str(path), ""), text
