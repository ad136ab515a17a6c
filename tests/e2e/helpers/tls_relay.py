"""A TLS far end for SIP tests: Debian's sipp is built without OpenSSL (`-t l1` is refused), so a
Python `ssl` server terminates TLS and relays each connection's bytes to sipp's TCP port. Also makes
a throwaway CA and a leaf certificate for 127.0.0.1 with openssl."""
import socket
import ssl
import subprocess
import threading
from pathlib import Path


def make_certs(d: Path) -> dict:
    """A CA and a leaf for 127.0.0.1 / localhost signed by it, as PEM files in `d`:
    {"ca": path, "cert": leaf chain path, "key": leaf key path}."""
    d.mkdir(parents=True, exist_ok=True)

    def run(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=rtmp2sip test CA", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", "/CN=localhost", "-keyout", str(d / "leaf.key"), "-out", str(d / "leaf.csr"))
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                               "extendedKeyUsage=serverAuth,clientAuth\n")
    run("x509", "-req", "-in", str(d / "leaf.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-days", "2", "-extfile", str(d / "ext.cnf"), "-out", str(d / "leaf.pem"))
    return {"ca": d / "ca.pem", "cert": d / "leaf.pem", "key": d / "leaf.key"}


class TlsRelay:
    """Listens with TLS on 127.0.0.1:`port` and relays each accepted connection to plain TCP
    127.0.0.1:`target`. `handshakes` counts completed TLS handshakes."""

    def __init__(self, port: int, target: int, cert: Path, key: Path):
        self.port, self.target = port, target
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.handshakes = 0
        self.failures = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            t = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.failures.append(repr(e))
            c.close()
            return
        self.handshakes += 1
        p = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._pump, args=(p, t), daemon=True).start()
        self._pump(t, p)

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def close(self):
        self._stop = True
        self.sock.close()
