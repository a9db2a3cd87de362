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


def _raw(**over: object) -> bytes:
    import json

    d: dict[str, object] = {"id": "e1", "type": "file.landed", "key": "P1", "data": {}, "refs": []}
    d.update(over)
    return json.dumps(d).encode()


@pytest.mark.parametrize(
    ("over", "problem"),
    [
        ({"id": "../../x"}, "event id"),
        ({"id": "x" * 200}, "event id"),
        ({"type": "file landed\n"}, "event type"),
        ({"project": "../other"}, "project"),
        ({"key": "k" * 600}, "event key"),
        ({"key": "a\x00b"}, "event key"),
        ({"parents": ["ok", "/etc/passwd"]}, "parent id"),
        ({"refs": [{"uri": "file:///x", "sha256": "bbbb"}]}, "sha256"),
        ({"refs": [{"uri": "file:///x", "sha256": "A" * 64}]}, "sha256"),
        ({"refs": [{"uri": "", "sha256": "b" * 64}]}, "bad URI"),
        ({"refs": [{"uri": "file:///x", "sha256": "b" * 64, "size": -1}]}, "bad URI or size"),
        ({"refs": [{"uri": "u", "sha256": "b" * 64}] * 1001}, "over the limit"),
        ({"data": {"blob": "x" * (1 << 20)}}, "over the 1048576-byte limit"),
    ],
)
def test_events_are_validated_where_they_enter(over: dict, problem: str) -> None:
    with pytest.raises(InputError, match="dead-letter") as info:
        Event.from_json(_raw(**over), source="ingest.files/0@3")
    assert problem in str(info.value) and info.value.source == "ingest.files/0@3"
    assert len(str(info.value)) < 600  # a huge input is never echoed whole


def test_deeply_nested_event_is_malformed_not_a_crash() -> None:
    with pytest.raises(InputError, match="malformed event"):
        Event.from_json(b'{"data":' * 100_000 + b"1" + b"}" * 100_000)
