"""A raw TCP client that sends bytes no RTMP server should accept, for robustness tests."""
import os
import socket


def garbage_before_handshake(port: int, n: int = 4096):
    """Connect, send a bad version byte and random bytes, read what comes back until close/timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        try:
            s.sendall(b"\xff" + os.urandom(n))
            s.settimeout(2)
            while s.recv(65536):
                pass
        except OSError:
            pass


def garbage_after_handshake(port: int, n: int = 8192):
    """Plain handshake (C0 = 3, C1 = time 0, zero 0, random; C2 = S1 echoed, RTMP spec 5.2), then
    chunk-stream garbage: a type-0 chunk header claiming a 16 MiB command message, then random bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        try:
            s.sendall(b"\x03" + bytes(8) + os.urandom(1528))
            buf = b""
            while len(buf) < 1 + 1536 + 1536:
                d = s.recv(65536)
                if not d:
                    return
                buf += d
            s.sendall(buf[1:1 + 1536])
            s.sendall(b"\x03" + b"\x00\x00\x00" + b"\xff\xff\xff" + b"\x14" + b"\x00\x00\x00\x00")
            s.sendall(os.urandom(n))
            s.settimeout(2)
            while s.recv(65536):
                pass
        except OSError:
            pass
