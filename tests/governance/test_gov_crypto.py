"""Envelope encryption: round trips, tamper detection, master-key rotation without re-encryption,
and the EncryptedStore keeping plaintext out of the object store."""

from __future__ import annotations

import random

import pytest

from labstream.core.errors import IntegrityError
from labstream.core.settings import Settings
from labstream.governance.crypto import SEGMENT, Keyring, LocalKeyFile, MemoryKeyStore
from labstream.governance.service import Governance


@pytest.fixture
def keyring(tmp_path) -> Keyring:
    return Keyring(LocalKeyFile(tmp_path / "master.json"), MemoryKeyStore())


@pytest.mark.parametrize("size", [0, 1, 1000, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17])
def test_round_trip(keyring: Keyring, size: int) -> None:
    data = random.Random(size).randbytes(size)
    ct = keyring.cipher("p").encrypt(data)
    assert keyring.decrypt(ct) == data
    assert keyring.cipher("p").encrypt(data) == ct  # same content, same project: same bytes (idempotent puts)
    assert keyring.cipher("q").encrypt(data) != ct  # another project: another key


def test_every_tampering_is_detected(keyring: Keyring) -> None:
    data = random.Random(1).randbytes(2 * SEGMENT + 100)
    ct = keyring.cipher("p").encrypt(data)
    rng = random.Random(7)
    positions = sorted(
        {0, 4, 6, len(ct) - 1, SEGMENT, SEGMENT + 40, *(rng.randrange(len(ct)) for _ in range(60))}
    )
    for pos in positions:
        bad = bytearray(ct)
        bad[pos] ^= 1 << rng.randrange(8)
        with pytest.raises(IntegrityError):
            keyring.decrypt(bytes(bad), source="obj")
    header = len(ct) - (2 * (SEGMENT + 16) + 100 + 16)
    seg = SEGMENT + 16
    truncated = ct[: header + seg]  # drop the last segments: the "last" flag no longer matches
    swapped = (
        ct[:header] + ct[header + seg : header + 2 * seg] + ct[header : header + seg] + ct[header + 2 * seg :]
    )
    for bad in (truncated, swapped, ct + b"\0" * 16, ct[:-1], b"", b"LSE1"):
        with pytest.raises(IntegrityError, match="tampered|truncated|not a labstream|another key"):
            keyring.decrypt(bad, source="obj")


def test_rotation_rewraps_keys_without_touching_data(tmp_path) -> None:
    settings = Settings(home=tmp_path / "home")
    gov = Governance.open(settings)
    cts = {p: gov.keyring.cipher(p).encrypt(f"secret of {p}".encode()) for p in ("a", "b", "c")}
    before = {k: gov.keyring.store.get(k) for k in gov.keyring.store.ids()}
    old_master = gov.provider.current_id()
    assert gov.keyring.rotate_master() == 3
    after = {k: gov.keyring.store.get(k) for k in gov.keyring.store.ids()}
    assert all(after[k].master_id != old_master and after[k].blob != before[k].blob for k in before)
    gov.provider.retire(old_master)
    gov.close()
    fresh = Governance.open(settings)  # new process view: only the new master key exists now
    for p, ct in cts.items():
        assert fresh.keyring.decrypt(ct) == f"secret of {p}".encode()
    fresh.close()


def test_wrapped_key_tampering_is_detected(tmp_path) -> None:
    store = MemoryKeyStore()
    ring = Keyring(LocalKeyFile(tmp_path / "m.json"), store)
    ct = ring.cipher("p").encrypt(b"x")
    w = store.get("p:1")
    store.put("p:1", type(w)(w.master_id, w.blob[:-1] + bytes([w.blob[-1] ^ 1])))
    with pytest.raises(IntegrityError, match="wrapped data key"):
        Keyring(ring.provider, store).decrypt(ct)


def test_encrypted_store_keeps_plaintext_out(tmp_path) -> None:
    gov = Governance.open(Settings(home=tmp_path / "home"))
    store = gov.store("alpha")
    secret = b"PLAINTEXT-MARKER-" * 1000
    ref = store.put_bytes(secret, suffix=".txt")
    assert store.put_bytes(secret, suffix=".txt") == ref  # idempotent
    assert store.get_bytes(ref.uri) == secret
    src = tmp_path / "f.bin"
    src.write_bytes(secret + b"tail")
    ref2 = store.put_file(src)
    with store.local_path(ref2.uri) as p:
        assert p.read_bytes() == secret + b"tail"
    rep = store.put_derived("reports/r1.html", b"<html>PLAINTEXT-MARKER-</html>")
    assert store.open(rep.uri).read() == b"<html>PLAINTEXT-MARKER-</html>"
    for f in (tmp_path / "home" / "objects").rglob("*"):
        if f.is_file():
            assert b"PLAINTEXT-MARKER" not in f.read_bytes(), f
    gov.close()


def test_encrypted_store_confines_and_verifies_claims(tmp_path) -> None:
    from labstream.core.errors import InputError
    from labstream.objects.errors import ClaimMismatch, OutsideStore

    gov = Governance.open(Settings(home=tmp_path / "home"))
    store = gov.store("alpha")
    ref = store.put_bytes(b"secret", suffix=".txt")
    assert store.get_bytes(ref.uri, expect_sha256=ref.sha256) == b"secret"
    for uri in ("file:///etc/hostname", ref.uri.replace("/raw/", "/raw/../../../../")):
        with pytest.raises(OutsideStore):
            store.get_bytes(uri)
        with pytest.raises(InputError), store.local_path(uri):
            pass
    with pytest.raises(ClaimMismatch):
        store.open(ref.uri, expect_sha256="b" * 64)
    with pytest.raises(ClaimMismatch), store.local_path(ref.uri, expect_sha256="b" * 64):
        pass
    gov.close()


@pytest.mark.parametrize("size", [0, 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17])
def test_streamed_decryption_equals_whole(keyring: Keyring, size: int) -> None:
    import io

    data = random.Random(size).randbytes(size)
    ct = keyring.cipher("p").encrypt(data)
    out = io.BytesIO()
    keyring.decrypt_to(io.BytesIO(ct), out, source="obj")
    assert out.getvalue() == data
    seg = SEGMENT + 16
    if size > SEGMENT:  # cut at a segment boundary: the stream must not end early, it must fail
        with pytest.raises(IntegrityError, match="tampered|truncated"):
            keyring.decrypt_to(io.BytesIO(ct[: len(ct) - (len(ct) - 24) % seg]), io.BytesIO())


def test_encrypted_object_is_read_in_bounded_memory(tmp_path) -> None:
    """A governed object of 24 MiB opens and copies out with a few segments in memory, not the object
    (the DRS and htsget routes stream BAMs of any size through this)."""
    import shutil
    import tracemalloc

    gov = Governance.open(Settings(home=tmp_path / "home"))
    store = gov.store("alpha")
    big = tmp_path / "big.bin"
    rng = random.Random(3)
    with open(big, "wb") as fh:
        for _ in range(24):
            fh.write(rng.randbytes(1 << 20))
    ref = store.put_file(big, suffix=".bam")
    tracemalloc.start()
    with store.open(ref.uri, expect_sha256=ref.sha256) as src, open(tmp_path / "out.bin", "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    with store.local_path(ref.uri) as p:
        same = p.stat().st_size
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (tmp_path / "out.bin").read_bytes() == big.read_bytes() and same == big.stat().st_size
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB for a 24 MiB object"
    gov.close()
