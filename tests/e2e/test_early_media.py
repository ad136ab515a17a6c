"""Early media (RFC 3261 section 13.2.1, RFC 3960 section 3): a far end that answers the gateway's INVITE
183 Session Progress with SDP and sends a PCMU tone for a few seconds before its 200 OK.

The client dials, gets `Sono.Call.Status` 1 with `early_media: true` and the call's `publish`/`play`
names, plays `play` at once, and receives the tone's audio before status 4; the audio decodes to the
far end's 1 kHz tone. Then status 2 and 4 arrive with the same names. When the 200's SDP names another
RTP port, the gateway's RTP follows it (MediaHandle::update).

Far end: a Python UAS on raw UDP (helpers/far_end.py). RTMP: a raw client (helpers/rtmp_raw.py's
ErtmpClient) that keeps every audio message it receives, in order with the commands."""
import struct
import time

from helpers import media
from helpers.far_end import FarEnd
from helpers.raw_uas import Recorder, parse
from helpers.rtmp_raw import ErtmpClient

EARLY_S = 3.0
TONE_HZ = 1000


def status(c: ErtmpClient, code: int, timeout: float = 15.0, pred=lambda i: True) -> dict:
    def ok(n, v):
        return (n == "onStatus" and len(v) >= 2 and isinstance(v[1], dict)
                and v[1].get("code") == "Sono.Call.Status" and v[1].get("status_code") == code
                and pred(v[1]))
    r = c.next_command(ok, timeout)
    assert r, f"no Sono.Call.Status {code} within {timeout} s; commands: {c.cmd_inbox}"
    return r[2][1]


def write_flv(bodies: list, path):
    """An audio-only FLV of message bodies, 20 ms apart (enough for ffmpeg to decode them)."""
    out = bytearray(b"FLV\x01\x04\x00\x00\x00\x09" + bytes(4))
    for i, b in enumerate(bodies):
        ts = i * 20
        tag = bytes([8]) + len(b).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big") + \
            bytes([ts >> 24 & 0xFF]) + bytes(3) + b
        out += tag + struct.pack(">I", len(tag))
    path.write_bytes(bytes(out))
    return path


def dial_early(gateway, fe: FarEnd):
    c = ErtmpClient(gateway.rtmp_port)
    c.connect_ertmp()
    c.call("dial", fe.uri())
    s1 = status(c, 1, 10, lambda i: i.get("early_media") is True)
    assert s1.get("sip_code") == 183, s1
    assert s1.get("publish") and s1.get("play") and s1["publish"] != s1["play"], s1
    c.stream("play", s1["play"])
    return c, s1


def test_early_media_is_heard_before_the_answer(gateway, out_dir, ports, measure):
    fe = FarEnd(ports.port(), ports.range(2)[0], early_media_s=EARLY_S, early_hz=TONE_HZ)
    try:
        c, s1 = dial_early(gateway, fe)
        t1 = time.monotonic()
        s4 = status(c, 4, EARLY_S + 10)
        before = [b for sid, b in c.audio if b]
        t4 = time.monotonic()
        print(f"{len(before)} audio messages in {t4 - t1:.1f} s before status 4")
        measure("early media messages before status 4", len(before))
        # ~3 s of tone at 20 ms per message; allow for the player's start.
        assert len(before) >= 50, f"only {len(before)} audio messages before status 4"
        assert all(b[0] & 0xF0 == 0xB0 for b in before), "expected Speex (0xB?) toward a plain client"
        wav = media.flv_to_wav(write_flv(before, out_dir / "early.flv"), out_dir / "early.wav")
        heard = media.tonecheck(wav, TONE_HZ, 20)
        measure("SNR early media (dB)", heard["snr"])
        assert heard["ok"], heard["text"]
        # The answer confirms with the same names; status 2 came before 4.
        assert (s4.get("publish"), s4.get("play")) == (s1["publish"], s1["play"]), (s1, s4)
        c.call("hangup")
        status(c, 0, 10)
        fe.wait(lambda m: m.startswith("BYE "), 5, "BYE")
        c.close()
    finally:
        fe.close()


def test_answer_with_another_address_moves_the_media(gateway, procs, ports):
    """The 200's SDP names another RTP port than the 183's: the gateway's RTP goes there after the 200."""
    rtp_lo = ports.range(4)[0]
    moved = Recorder("127.0.0.1", rtp_lo + 2)
    fe = FarEnd(ports.port(), rtp_lo, early_media_s=1.5, answer_sdp_port=rtp_lo + 2)
    try:
        c, s1 = dial_early(gateway, fe)
        publisher = media.ffmpeg_publish_tone(procs, gateway.url(s1["publish"]), 6)
        s4 = status(c, 4, 15)
        assert s4.get("play") == s1["play"], (s1, s4)
        t_answer = time.monotonic()
        time.sleep(2.5)
        after = [p for t, src, d in moved.got if t > t_answer + 0.3 for p in [parse(d)] if p]
        assert len(after) >= 40, f"the gateway's RTP did not follow the answer's port: {len(after)} packets"
        early = [p for t, src, d in fe.rtp.got if t < t_answer for p in [parse(d)] if p]
        print(f"{len(early)} RTP packets to the early port, {len(after)} to the answer's")
        c.call("hangup")
        status(c, 0, 10)
        publisher.stop()
        c.close()
    finally:
        fe.close()
        moved.close()
