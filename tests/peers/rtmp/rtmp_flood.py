#!/usr/bin/python3
"""Flood a publish stream with Nellymoser 44.1 kHz audio at line rate: FLV tags of 4 KiB payload (64
blocks, ~371 ms of audio each, random bits) written as fast as librtmp sends them, for a wall time.
usage: rtmp_flood.py rtmp://127.0.0.1:1935/app/stream seconds"""
import os, sys, time, librtmp
url, seconds = sys.argv[1], float(sys.argv[2])
conn = librtmp.RTMP(url, live=True, timeout=5)
conn.connect()
stream = conn.create_stream(writeable=True)
BODY_LEN = 1 + 4096          # header byte 0x6E: Nellymoser, 44 kHz, 16-bit, mono
t0 = time.time(); n = 0; ts = 0
while time.time() - t0 < seconds:
    body = b"\x6e" + os.urandom(4096)
    tag = (b"\x08" + BODY_LEN.to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([ts >> 24 & 0xFF])
           + b"\x00\x00\x00" + body + (11 + BODY_LEN).to_bytes(4, "big"))
    stream.write(tag); n += 1; ts += 371
print("flooded %d messages (%.1f MB) in %.2f s" % (n, n * BODY_LEN / 1e6, time.time() - t0))
stream.close()
