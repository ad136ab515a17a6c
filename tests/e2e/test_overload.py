"""Load shedding ([limits] media_max_load): once the media workers' measured load over the last second
reaches the limit, a new dial gets `_error` Sono.Call.Failed with sip_code 503 and a description that
starts "503 Service Unavailable", and a new INVITE gets 503 with Retry-After, while the admitted call keeps its audio; once
the load falls below 0.8 x the limit, calls are admitted again.

The gateway is made to refuse deterministically: one media worker and media_max_load = 0.002, so one
running transcoded echo call (Speex decoded and encoded again, a few % of a core) is past the limit,
while an idle gateway (no media work at all) admits."""
import time

from helpers import media
from helpers.calls import dial_connected, dial_error, hangup_ended
from helpers.incoming import register_local, user_of
from helpers.rtmp_control import NOT_CONNECTED, RtmpControl
from helpers.sip_udp import SipSocket, header, status_code

ECHO = "sip:echo@127.0.0.1"
TONE_S = 6
MIN_SNR_DB = 20

OVERLOAD = {"media": {"workers": 1}, "limits": {"media_max_load": 0.002}}


def test_overload_refuses_new_calls_and_keeps_the_admitted_one(gateway_factory, procs, out_dir):
    gw = gateway_factory(OVERLOAD, name="gw_overload")
    with RtmpControl(gw.url()) as a, RtmpControl(gw.url()) as b, RtmpControl(gw.url()) as c:
        callee = user_of(register_local(c))
        s4 = dial_connected(a, ECHO)
        played = out_dir / "overload_played.flv"
        player = media.librtmp_play(procs, gw.url(s4["play"]), played, TONE_S + 2.5)
        time.sleep(0.5)
        publisher = media.ffmpeg_publish_tone(procs, gw.url(s4["publish"]), TONE_S)
        time.sleep(2.5)   # > 1 s window of media work

        info = dial_error(b, ECHO)
        assert info.get("code") == "Sono.Call.Failed", f"dial while overloaded: {info}\n{b.dump()}"
        desc = info.get("description", "")
        assert desc.startswith("503") and "overload" in desc, f"description should say 503 overload: {info}"
        assert info.get("sip_code") == 503, f"_error should carry sip_code 503: {info}"

        with SipSocket(gw.sip_port) as sip:
            sip.send(sip.invite(callee))
            finals = [t for t in sip.collect(3.0) if status_code(t) >= 200]
        assert finals, "no final response to the INVITE while overloaded"
        assert status_code(finals[0]) == 503, f"INVITE while overloaded: {finals[0][:300]}"
        assert header(finals[0], "Retry-After").strip().isdigit(), f"503 lacks Retry-After: {finals[0][:400]}"
        assert not any(status_code(t) == 180 for _, t in sip.received), "a refused INVITE must not ring"

        media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex")
        media.wait_ok(player, 20, "librtmp playing the echo")
        assert NOT_CONNECTED not in a.status_codes(), f"the admitted call must go on: {a.dump()}"
        wav = media.flv_to_wav(played, out_dir / "overload_played.wav")
        t = media.assert_tone(wav, MIN_SNR_DB, "the admitted call's echo while new calls are refused")
        active = t["windows"] - t["dropouts"]
        assert active * 0.02 >= TONE_S * 0.8, f"the admitted call carried only {active * 0.02:.1f} s: {t['text']}"
        hangup_ended(a)

        # Idle again: below the hysteresis within ~1 s, and B's dial connects.
        deadline = time.monotonic() + 8
        while True:
            time.sleep(0.5)
            txn = b.call("dial", ECHO)
            try:
                r = b.reply(txn, 1.0)
            except AssertionError:
                r = None   # no reply: the dial went ahead
            if r is None:
                break
            assert time.monotonic() < deadline, f"still refused 8 s after the load ended: {r!r}"
        b.wait_status(2, 10)
        hangup_ended(b)
    assert gw.alive()
