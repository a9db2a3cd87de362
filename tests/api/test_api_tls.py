"""`labstream serve --tls-cert --tls-key`: a real server process speaking HTTPS with a self-signed
certificate (made with `cryptography`); httpx verifies that exact certificate, plain HTTP is refused."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.integration


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labstream-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_serve_over_tls_with_a_verified_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "LABSTREAM_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "labstream.cli.main", "serve", "--port", str(port)]
    cmd += ["--tls-cert", str(cert), "--tls-key", str(key)]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        base = f"https://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                r = httpx.get(f"{base}/healthz", verify=trust, timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.time() < deadline, "server did not answer over TLS"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert r.http_version == "HTTP/1.1"
        info = httpx.get(f"{base}/ga4gh/wes/v1/service-info", verify=trust, timeout=5).json()
        assert info["type"]["artifact"] == "wes"
        assert httpx.get(f"{base}/api/v1/me", verify=trust, timeout=5).status_code == 401
        # a client that does not trust this certificate refuses the connection
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/healthz", verify=ssl.create_default_context(), timeout=5)
        # plain HTTP to the TLS port gets no HTTP answer
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode is not None
