"""The exact command sequence flash_phone/phone.swf makes the Flash Player send (flash_phone/src/rtmp2sip/Client.hx
and Media.hx), replayed with python3-librtmp against the real gateway, and the gateway's answers checked. No Flash
Player exists here; this is what one running the SWF sends (Adobe RTMP specification §7.2, the Flash Player's
NetConnection/NetStream behaviour):

1. `NetConnection.connect(url, token)` with `objectEncoding = AMF0`: `connect(cmdObj, token)`, cmdObj with
   app, flashVer "LNX 11,...", tcUrl, fpad, capabilities, audioCodecs (librtmp fills these as a Flash Player
   does) and objectEncoding 0; the token is the first argument after the command object ([auth] mode = "jwt").
   -> `_result` NetConnection.Connect.Success (objectEncoding 0 echoed); a bad token -> `_error`
   NetConnection.Connect.Rejected (the SWF reports it as `reply {ok: false}`).
2. `NetConnection.call("dial", responder, uri)`: `dial(null, uri)` -> no `_result`; onStatus Sono.Call.Status 1,
   2, 4 on stream 0 (status 4 with `publish` and `play`).
3. On status 4 the SWF makes two NetStreams (player first, then publisher): `createStream` twice -> `_result`
   with two distinct stream ids; then `play(null, <play>, -2000)` on the first (Flash's default start -2 s) with
   Set Buffer Length 0, and `publish(null, <publish>, "live")` on the second -> NetStream.Play.Reset/Start on the
   play stream, NetStream.Publish.Start on the publish stream (each on its own stream id).
4. The microphone: Speex with framesPerPacket 1, so one 20 ms frame per audio message, header byte 0xB2 (Flash's:
   Speex, 16-bit, mono), timestamps +20 ms, on the publish stream; the echo destination sends it back as Speex
   (0xB2) on the play stream, and the returned audio is the 1 kHz tone (SNR).
5. Hang up: `hangup(null)` -> `_result`, statuses 3 and 0; the SWF's NetStream.close() sends closeStream on each
   stream and deleteStream for each id on stream 0; the connection stays usable (a second dial connects).
"""
import os
import socket
import struct
import tempfile
import threading
import time
from pathlib import Path

import jwt
import librtmp
import pytest
from librtmp import librtmp as _c
from librtmp.amf import AMFError, decode_amf, encode_amf
from librtmp.packet import PACKET_SIZE_LARGE, RTMPPacket

from helpers import media

SECRET = "flash-secret-" + os.urandom(16).hex()
ISSUER, AUDIENCE = "test-site", "rtmp2sip"
_KEYS = Path(tempfile.mkdtemp(prefix="rtmp2sip-flash-"))
(_KEYS / "jwt.secret").write_text(SECRET + "\n")
GATEWAY_OVERRIDES = {
    "auth": {"mode": "jwt", "algorithm": "HS256", "secret_file": str(_KEYS / "jwt.secret"),
             "issuer": ISSUER, "audience": AUDIENCE, "leeway_s": 5},
}
FLASH_VER = "LNX 11,2,202,644"   # the last Linux NPAPI Flash Player
ECHO = "sip:echo@127.0.0.1"
TONE_S = 3
MIN_SNR_DB = 20


def token(sub="flash-user", ttl=300, **claims) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + ttl, "iss": ISSUER, "aud": AUDIENCE, **claims}, SECRET,
                      algorithm="HS256")


class FlashSession:
    """librtmp connection sending what the SWF makes the Flash Player send. Records every command (name, txn,
    obj, args, stream id) and every audio message (stream id, timestamp, body) the gateway sends."""

    def __init__(self, url: str, tok):
        self.commands, self.audio = [], []
        self.closed = None
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        self.conn = librtmp.RTMP(url, live=True, timeout=600, flashver=FLASH_VER,
                                 connect_data=tok if tok is not None else None)
        self.conn.connect()
        self.fd = _c.RTMP_Socket(self.conn.rtmp)
        self.txn = 1   # librtmp's connect was transaction 1
        self._thread = threading.Thread(target=self._reader, name="flash-session-reader", daemon=True)
        self._thread.start()

    def _reader(self):
        while True:
            try:
                pkt = self.conn.read_packet()
            except (librtmp.RTMPError, librtmp.RTMPTimeoutError) as e:
                with self._cond:
                    self.closed = str(e) or "closed"
                    self._cond.notify_all()
                return
            sid = pkt.packet.m_nInfoField2
            if pkt.type in (0x14, 0x11):
                body = pkt.body[1:] if pkt.type == 0x11 else pkt.body
                try:
                    v = decode_amf(body)
                except AMFError:
                    v = ["<undecodable>", -1, None]
                with self._cond:
                    self.commands.append((v[0], v[1], v[2], list(v[3:]), sid))
                    self._cond.notify_all()
            elif pkt.type == 8:
                with self._cond:
                    self.audio.append((sid, pkt.timestamp, bytes(pkt.body), time.monotonic()))
            else:
                with self._lock:
                    self.conn.handle_packet(pkt)

    def send(self, type_, body: bytes, stream_id: int = 0, channel: int = 3, ts: int = 0):
        pkt = RTMPPacket(type=type_, format=PACKET_SIZE_LARGE,   # full header: first message of a chunk stream
                         channel=channel, timestamp=ts, absolute_timestamp=True, body=body)
        pkt.packet.m_nInfoField2 = stream_id
        with self._lock:
            self.conn.send_packet(pkt, queue=False)

    def invoke(self, name: str, *args, stream_id: int = 0, txn=None) -> int:
        """`name(txn, null, *args)` on `stream_id`; NetStream commands use transaction 0, as Flash does."""
        if txn is None:
            self.txn += 1
            txn = self.txn
        body = b"".join(encode_amf(x) for x in [name, txn, None, *args])
        self.send(0x14, body, stream_id, channel=8 if stream_id else 3)
        return txn

    def wait(self, pred, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for c in self.commands:
                    if pred(c):
                        return c
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(f"no {what} ({self.closed or 'timeout'}); got: {self.commands}")
                self._cond.wait(min(left, 0.3))

    def reply(self, txn: int, timeout: float = 5.0):
        return self.wait(lambda c: c[1] == txn and c[0] in ("_result", "_error"), timeout, f"reply to {txn}")

    def status(self, code: int, timeout: float = 15.0, after: int = 0) -> dict:
        """The first Sono.Call.Status `code` among the statuses from index `after` on."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                sts = [c[3][0] for c in self.commands if c[0] == "onStatus" and c[4] == 0 and c[3]
                       and isinstance(c[3][0], dict) and c[3][0].get("code") == "Sono.Call.Status"]
                for st in sts[after:]:
                    if int(st.get("status_code", -1)) == code:
                        return st
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(f"no Sono.Call.Status {code} ({self.closed or 'timeout'}); got: {self.commands}")
                self._cond.wait(min(left, 0.3))

    def statuses(self) -> list:
        with self._cond:
            return [int(c[3][0]["status_code"]) for c in self.commands if c[0] == "onStatus" and c[3]
                    and isinstance(c[3][0], dict) and c[3][0].get("code") == "Sono.Call.Status"]

    def stream_status(self, sid: int, code: str, timeout: float = 5.0) -> dict:
        c = self.wait(lambda c: c[0] == "onStatus" and c[4] == sid and c[3] and isinstance(c[3][0], dict)
                      and c[3][0].get("code") == code, timeout, f"{code} on stream {sid}")
        return c[3][0]

    def close(self):
        """Shut the socket down (wakes the reader), wait for the reader, then free librtmp's state: freeing it
        under a blocked read_packet crashes the interpreter."""
        try:
            s = socket.socket(fileno=os.dup(self.fd))
            s.shutdown(socket.SHUT_RDWR)
            s.close()
        except OSError:
            pass
        self._thread.join(5)
        if self._thread.is_alive():
            return   # leak rather than crash
        try:
            self.conn.close()
        except Exception:
            pass


def write_flv(path: Path, tags: list) -> Path:
    """An audio-only FLV of [(timestamp_ms, body)] (FLV spec v10.1 annex E)."""
    out = bytearray(b"FLV\x01\x04" + struct.pack(">I", 9) + b"\0\0\0\0")
    for ts, body in tags:
        out += bytes([8]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([ts >> 24 & 0xFF])
        out += b"\0\0\0" + body + struct.pack(">I", 11 + len(body))
    Path(path).write_bytes(bytes(out))
    return Path(path)


def flash_call(s: FlashSession) -> tuple:
    """Steps 2-3: dial echo, and on status 4 the SWF's two NetStreams. Returns (status 4 info, play id, publish id)."""
    before = len(s.statuses())
    txn = s.invoke("dial", ECHO)
    s4 = s.status(4, after=before)
    assert s.statuses()[before:] == [1, 2, 4], s.statuses()
    assert not [c for c in s.commands if c[1] == txn], "dial must get no _result on success"
    assert s4["publish"] and s4["play"] and s4["publish"] != s4["play"], s4
    t_play = s.invoke("createStream")
    t_pub = s.invoke("createStream")
    play_id, pub_id = (int(s.reply(t)[3][0]) for t in (t_play, t_pub))
    assert s.reply(t_play)[0] == "_result" and play_id > 0 and pub_id > 0 and play_id != pub_id
    s.invoke("play", s4["play"], -2000, stream_id=play_id, txn=0)
    # User Control Set Buffer Length (event 3): stream id, buffer 0 ms (bufferTime = 0)
    s.send(0x04, struct.pack(">HII", 3, play_id, 0), 0, channel=2)
    s.invoke("publish", s4["publish"], "live", stream_id=pub_id, txn=0)
    return s4, play_id, pub_id


def test_flash_sequence_echo_call(gateway, assets, out_dir, measure):
    s = FlashSession(gateway.url(), token())
    try:
        # 1. connect with the token
        res = s.reply(1)
        assert res[0] == "_result", res
        assert res[3][0]["code"] == "NetConnection.Connect.Success" and res[3][0].get("objectEncoding") == 0, res
        # 2-3. dial, statuses, the two NetStreams
        s4, play_id, pub_id = flash_call(s)
        s.stream_status(play_id, "NetStream.Play.Start")
        s.stream_status(pub_id, "NetStream.Publish.Start")
        assert s.wait(lambda c: c[3] and isinstance(c[3][0], dict) and c[3][0].get("code") == "NetStream.Play.Reset",
                      2, "Play.Reset")[4] == play_id
        # 4. the microphone: Speex, one frame per message, header 0xB2, 20 ms steps, in real time
        frames = [b for _, b in media.flv_audio_tags(assets.publish_flv)][:TONE_S * 50]
        assert all(f[0] >> 4 == 11 for f in frames)
        t0 = time.monotonic()
        for i, f in enumerate(frames):
            s.send(0x08, b"\xb2" + f[1:], pub_id, channel=4, ts=20 * i)
            delay = t0 + 0.02 * (i + 1) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        time.sleep(1.0)
        back = [(ts, b) for sid, ts, b, _ in s.audio if sid == play_id]
        assert len(back) >= TONE_S * 50 * 0.7, f"{len(back)} audio messages back on the play stream"
        assert {b[0] for _, b in back} == {0xB2}, {hex(b[0]) for _, b in back}
        assert not [1 for sid, *_ in s.audio if sid != play_id], "audio on another stream than play"
        base = back[0][0]
        wav = media.flv_to_wav(write_flv(out_dir / "flash_echo.flv", [(ts - base, b) for ts, b in back]),
                               out_dir / "flash_echo.wav")
        t = media.assert_tone(wav, MIN_SNR_DB, "echo of the SWF-shaped Speex")
        measure("SNR Flash-shaped Speex echo (dB)", t["snr"])
        # 5. hang up; the SWF's NetStream.close() for both streams
        n = len(s.statuses())
        h = s.invoke("hangup")
        assert s.reply(h)[0] == "_result"
        s.status(0, after=n)
        assert s.statuses()[n:] == [3, 0], s.statuses()
        for sid in (pub_id, play_id):
            s.invoke("closeStream", stream_id=sid, txn=0)
            s.invoke("deleteStream", sid, txn=0)
        # the connection is still usable: a second call from the same NetConnection
        s4b, play2, pub2 = flash_call(s)
        assert s4b["call_id"] != s4["call_id"]
        s.stream_status(pub2, "NetStream.Publish.Start")
        n = len(s.statuses())
        h = s.invoke("hangup")
        assert s.reply(h)[0] == "_result"
        s.status(0, after=n)
        assert s.closed is None
    finally:
        s.close()


def test_flash_connect_token_refused(gateway):
    """The SWF passes the token unchanged: a bad or missing one gets NetConnection.Connect.Rejected."""
    for tok in ("not-a-jwt", None):
        s = FlashSession(gateway.url(), tok)
        try:
            res = s.reply(1)
            assert res[0] == "_error" and res[3][0]["code"] == "NetConnection.Connect.Rejected", res
        finally:
            s.close()


def test_flash_register_and_refusals(gateway):
    """The SWF's `register(id)` (embedded registrar) and `register(id, user, registrar, password)`: NetConnection.call
    with a Responder; `_result {uri}` for the first, `_error` Sono.Registration.Failed for a registrar outside
    `[policy] registrar_allow`. NetConnection.call("dial") outside dial_allow: Sono.Call.Forbidden. Both reach
    the SWF's Responder status handler (`reply {ok: false}`)."""
    s = FlashSession(gateway.url(), token(register=True))
    try:
        assert s.reply(1)[0] == "_result"
        r = s.reply(s.invoke("register"))
        assert r[0] == "_result" and str(r[3][0].get("uri", "")).startswith("sip:"), r
        r = s.reply(s.invoke("register", "alice", "10.0.0.1", "pw"))
        assert r[0] == "_error" and r[3][0]["code"] == "Sono.Registration.Failed", r
        r = s.reply(s.invoke("dial", "sip:bob@10.0.0.1"))
        assert r[0] == "_error" and r[3][0]["code"] == "Sono.Call.Forbidden", r
        assert s.statuses() == []
    finally:
        s.close()
