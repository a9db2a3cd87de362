import pytest

from labstream.core.errors import InputError
from labstream.core.events import Event, ObjectRef


def test_event_round_trip() -> None:
    ev = Event(
        type="file.landed",
        key="P1",
        data={"a": 1},
        refs=(ObjectRef("file:///x", "ab" * 32, 3),),
        parents=("p",),
        project="proj",
    )
    assert Event.from_json(ev.to_json()) == ev


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1,2]", b'{"id": "x"}', b"\xff\xfe", b'{"id":1,"type":"t"}']
)
def test_malformed_event_names_source(raw: bytes) -> None:
    with pytest.raises(InputError) as info:
        Event.from_json(raw, source="topic ingest.files partition 0 offset 7")
    assert "offset 7" in str(info.value) and "malformed event" in str(info.value)
