"""What only the embedded backend promises: retention, many processes on one file, group membership."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest
from _stream_helpers import drain

from labstream.core.errors import ConfigError, InputError
from labstream.stream import TopicPartition, open_stream
from labstream.stream.sqlite import SqliteStream, parse_sqlite_url


def test_url_forms_and_bad_options(tmp_path: Path) -> None:
    assert parse_sqlite_url("sqlite:///rel/s.db") == (Path("rel/s.db"), {})
    assert parse_sqlite_url("sqlite:////abs/s.db?batch=10") == (Path("/abs/s.db"), {"batch": "10"})
    for bad in ("sqlite://", "sqlite:///", "postgres:///x"):
        with pytest.raises(ConfigError):
            parse_sqlite_url(bad)
    with pytest.raises(ConfigError, match="synchronous"):
        SqliteStream(f"sqlite:///{tmp_path}/s.db?synchronous=sometimes")


def test_value_must_be_bytes(tmp_path: Path) -> None:
    stream = open_stream(f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(InputError, match=r"\(record k1\): record value must be bytes"):
        stream.publish("t", "text", key="k1")  # type: ignore[arg-type]
    stream.close()


def test_flushed_records_are_visible_buffered_ones_are_not(tmp_path: Path) -> None:
    stream = open_stream(f"sqlite:///{tmp_path}/s.db?batch=100")
    stream.create_topic("t", partitions=1)
    consumer = stream.consumer("g", ["t"])
    for i in range(10):
        stream.publish("t", b"%d" % i)
    assert consumer.poll(timeout=0.05) == []
    stream.flush()
    assert len(consumer.poll(timeout=1)) == 10
    for i in range(250):  # past the batch size: written without an explicit flush
        stream.publish("t", b"%d" % i)
    assert len(drain(consumer, 200, timeout=5)) == 200
    stream.close()


def test_retention_deletes_a_prefix_and_moves_committed_offsets(tmp_path: Path) -> None:
    stream = open_stream(f"sqlite:///{tmp_path}/s.db")
    stream.create_topic("t", partitions=1, retention_ms=300)
    for i in range(10):
        stream.publish("t", b"old%d" % i)
    stream.flush()
    consumer = stream.consumer("g", ["t"])
    consumer.commit({TopicPartition("t", 0): 3})
    time.sleep(0.5)
    for i in range(5):
        stream.publish("t", b"new%d" % i)
    stream.flush()
    assert stream.enforce_retention() == 10
    assert stream.enforce_retention() == 0
    assert consumer.committed(TopicPartition("t", 0)) == 10, "committed offset not moved to the log start"
    assert stream.end_offsets("t") == {0: 15}
    fresh = stream.consumer("g2", ["t"])
    got = drain(fresh, 5, timeout=3)
    assert [(r.offset, r.value) for r in got] == [(10 + i, b"new%d" % i) for i in range(5)]
    consumer.close()
    assert [r.offset for r in drain(stream.consumer("g", ["t"]), 5, timeout=3)] == [10, 11, 12, 13, 14]
    stream.close()


_WRITER = textwrap.dedent("""
    import sys
    from labstream.stream import open_stream
    url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    stream = open_stream(url)
    for i in range(n):
        stream.publish("shared", f"{name}:{i}".encode(), key=f"{name}-{i % 3}")
        if i % 50 == 49:
            stream.flush()  # many small transactions so the two writers interleave
    stream.close()
""")


@pytest.mark.slow
def test_two_processes_publish_to_one_file_every_record_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    stream = open_stream(url)
    stream.create_topic("shared", partitions=3)
    n = 3000
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, name, str(n)]) for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    got = drain(stream.consumer("g", ["shared"]), 2 * n, timeout=20)
    values = [r.value.decode() for r in got]
    assert len(values) == 2 * n and set(values) == {f"{w}:{i}" for w in "ab" for i in range(n)}
    offsets: dict[int, list[int]] = defaultdict(list)
    per_key: dict[str, list[int]] = defaultdict(list)
    for r in got:
        offsets[r.partition].append(r.offset)
        per_key[r.key].append(int(r.value.split(b":")[1]))
    assert all(o == list(range(len(o))) for o in offsets.values()), "offsets not contiguous"
    assert all(seq == sorted(seq) for seq in per_key.values()), "per-key order broken across processes"
    stream.close()


def test_group_members_split_partitions_and_take_over(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db?session_timeout_ms=600"
    stream = open_stream(url)
    stream.create_topic("t", partitions=4)
    a = stream.consumer("g", ["t"])
    b = stream.consumer("g", ["t"])
    time.sleep(0.25)
    a.poll(timeout=0.05)  # heartbeats every session_timeout / 3: a sees b now
    both = a.assignment() + b.assignment()
    assert sorted(both) == [TopicPartition("t", p) for p in range(4)] and len(set(both)) == 4
    assert a.assignment() and b.assignment()
    for i in range(40):
        stream.publish("t", b"%d" % i, key=str(i))
    stream.flush()
    got_a = drain(a, 1, timeout=2)
    got_b = drain(b, 1, timeout=2)
    assert {r.partition for r in got_a}.isdisjoint({r.partition for r in got_b})
    a.commit()
    # b "crashes" before committing (never closes, never heartbeats again): after the session timeout a
    # owns every partition and gets b's records again from the group's committed offsets
    time.sleep(0.8)
    rest = drain(a, len(got_b), timeout=5)
    assert len(a.assignment()) == 4
    assert sorted(r.value for r in rest) == sorted(r.value for r in got_b)
    assert sorted(int(r.value) for r in got_a + rest) == list(range(40))
    stream.close()


def test_close_is_idempotent_and_blocks_use(tmp_path: Path) -> None:
    stream = open_stream(f"sqlite:///{tmp_path}/s.db")
    consumer = stream.consumer("g", ["t"])
    stream.publish("t", b"x")
    stream.close()
    stream.close()
    consumer.close()
    from labstream.stream.errors import StreamClosed

    with pytest.raises(StreamClosed):
        stream.publish("t", b"y")
    with pytest.raises(StreamClosed):
        consumer.poll()
    reopened = open_stream(f"sqlite:///{tmp_path}/s.db")
    assert [r.value for r in drain(reopened.consumer("g", ["t"]), 1, timeout=2)] == [b"x"]
    reopened.close()


def test_key_partitioning_matches_partition_for(tmp_path: Path) -> None:
    from labstream.stream.base import partition_for

    stream = open_stream(f"sqlite:///{tmp_path}/s.db")
    stream.create_topic("t", partitions=5)
    keys = [f"plate-{i}" for i in range(50)]
    for k in keys:
        stream.publish("t", k.encode(), key=k)
    stream.flush()
    got = drain(stream.consumer("g", ["t"]), len(keys), timeout=3)
    assert {r.key: r.partition for r in got} == {k: partition_for(k, 5) for k in keys}
    stream.close()
