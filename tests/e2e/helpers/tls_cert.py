"""A self-signed test certificate made at test time with openssl (EC P-256, CN=localhost, SAN localhost and
127.0.0.1), for wss://, https:// and rtmps:// tests."""
from pathlib import Path

from .procs import run


def make_cert(d: Path) -> tuple:
    """(cert.pem, key.pem) in `d`, made once per folder."""
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    if not cert.exists():
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], timeout=30)
    return cert, key
