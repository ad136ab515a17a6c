"""RTP that cannot be hijacked (issue 9, item 4): a stream sprayed at a call's RTP port from another address
must not take the call over, before or after the far end speaks, and RTCP from that address is ignored.

The far end is a raw Python UAS (helpers/raw_uas.py) on 127.0.0.1 that answers the gateway's INVITE with
PCMU at 127.0.0.1 and sends a 1 kHz tone; the injector sits on 127.0.0.2 and sprays RTP with its own SSRC
and a 2.5 kHz tone at the gateway's RTP port (read from the INVITE's SDP), in bursts of 10 packets per
20 ms (the old code re-latched to any source that sent 5 packets in a row, and latched the first packet
from anyone), plus RTCP RR+BYE at the RTCP port. The gateway runs the shipped default `latching = "ip"`.
After each attack the gateway still completes an echo call.

RTMP control: python3-librtmp. RTMP media: ffmpeg publishes Speex and plays."""
import signal
import time

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.raw_uas import Injector, RawUas

TONE_S = 5
LEGIT_HZ = 1000
EVIL_HZ = 2500
MIN_SNR_DB = 20        # PCMU -> Speex WB; the clean path measures ~39 dB (test_call_pcmu)


def still_serves(rtmp_client):
    c = rtmp_client()
    dial_connected(c, "sip:echo@127.0.0.1")
    hangup_ended(c)
    c.close()


def foreign_drops(gateway, offset: int, what: str) -> list:
    text = gateway.log.read_text(errors="replace")[offset:]
    return [l for l in text.splitlines() if f"dropping {what} packet" in l and "127.0.0.2" in l]


def start_call(rtmp_client, ports, rtcp_mux: bool = False):
    uas = RawUas(ports.port(), ports.range(2)[0], rtcp_mux=rtcp_mux)
    ctl = rtmp_client()
    s4 = dial_connected(ctl, uas.uri("bob"))
    gw_rtp = uas.wait_answered()
    assert gw_rtp[0] == "127.0.0.1", f"the gateway's offer names {gw_rtp}: {uas.offer}"
    return uas, ctl, s4, gw_rtp


def end_call(uas, ctl):
    hangup_ended(ctl)
    deadline = time.monotonic() + 5
    while "BYE" not in uas.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "BYE" in uas.requests, f"the far end got no BYE: {uas.requests}"


def test_sprayed_stream_does_not_take_over_the_call(gateway, rtmp_client, procs, out_dir, ports, measure):
    offset = gateway.log.stat().st_size
    uas, ctl, s4, gw_rtp = start_call(rtmp_client, ports)
    inj = Injector("127.0.0.2", ports.range(2)[0])
    try:
        played = out_dir / "played.flv"
        player = media.ffmpeg_play(procs, gateway.url(s4["play"]), played, TONE_S)
        publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S + 1)
        uas.send_tone(LEGIT_HZ, TONE_S, lead_silence_s=1.0)
        time.sleep(1.5)    # the far end has latched; now the attack
        spray = inj.spray(gw_rtp, EVIL_HZ, TONE_S - 1, burst=10)
        inj.send_rtcp_bye((gw_rtp[0], gw_rtp[1] + 1))
        spray.join(TONE_S + 5)
        media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
        if player.wait(8) is None:
            player.stop(signal.SIGINT, grace=6)
        end_call(uas, ctl)

        sent_to_attacker = inj.received()
        assert len(sent_to_attacker) == 0, (f"the gateway sent {len(sent_to_attacker)} datagrams to the "
                                            f"injector on 127.0.0.2 (the call was hijacked)")
        to_far_end = uas.rtp_from_gateway()
        assert len(to_far_end) >= 100, f"the far end got only {len(to_far_end)} RTP packets from the gateway"
        assert foreign_drops(gateway, offset, "RTP"), "no RTP from 127.0.0.2 was dropped as foreign"
        assert foreign_drops(gateway, offset, "RTCP"), "the RTCP BYE from 127.0.0.2 was not dropped as foreign"

        assert played.exists(), f"ffmpeg player wrote nothing: {player.tail(30)}"
        wav = media.flv_to_wav(played, out_dir / "played.wav")
        heard = media.tonecheck(wav, LEGIT_HZ, MIN_SNR_DB)
        print("client hears:", heard["text"])
        measure("SNR legit tone under RTP spray (dB)", heard["snr"])
        assert heard["ok"], (f"the client should hear the far end's {LEGIT_HZ} Hz tone, not the injected "
                             f"{EVIL_HZ} Hz: {heard['text']}")
        assert abs(heard["peak"] - LEGIT_HZ) < 50, f"the loudest tone is {heard['peak']} Hz: {heard['text']}"
    finally:
        inj.close()
        uas.close()
    still_serves(rtmp_client)


def test_injected_first_packet_does_not_latch(gateway, rtmp_client, procs, ports):
    offset = gateway.log.stat().st_size
    uas, ctl, s4, gw_rtp = start_call(rtmp_client, ports)
    inj = Injector("127.0.0.2", ports.range(2)[0])
    try:
        # Before the far end says anything: a short stream and an RTCP BYE from the injector.
        inj.spray(gw_rtp, EVIL_HZ, 0.5, burst=1).join(5)
        inj.send_rtcp_bye((gw_rtp[0], gw_rtp[1] + 1))
        publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), 3)
        time.sleep(1.0)
        uas.send_tone(LEGIT_HZ, 2)
        media.wait_ok(publisher, 20, "ffmpeg publishing Speex to the gateway")
        time.sleep(0.5)
        statuses = ctl.status_codes()
        assert statuses[-1] == 4 or 2 in statuses[-2:], f"the call did not stay up: {statuses}"
        end_call(uas, ctl)

        sent_to_attacker = inj.received()
        assert len(sent_to_attacker) == 0, (f"an injected first packet latched: the gateway sent "
                                            f"{len(sent_to_attacker)} datagrams to 127.0.0.2")
        to_far_end = uas.rtp_from_gateway()
        assert len(to_far_end) >= 50, f"the far end got only {len(to_far_end)} RTP packets from the gateway"
        assert foreign_drops(gateway, offset, "RTP"), "no RTP from 127.0.0.2 was dropped as foreign"
        assert foreign_drops(gateway, offset, "RTCP"), "the RTCP BYE from 127.0.0.2 was not dropped as foreign"
    finally:
        inj.close()
        uas.close()
    still_serves(rtmp_client)


def test_rtp_ports_are_not_sequential(gateway, rtmp_client, ports):
    """Four calls in a row: their RTP ports are not consecutive pairs of the range (drawn at random)."""
    got = []
    for _ in range(4):
        uas, ctl, _, gw_rtp = start_call(rtmp_client, ports)
        try:
            got.append(gw_rtp[1])
            end_call(uas, ctl)
        finally:
            uas.close()
        ctl.close()
    lo, hi = gateway.rtp_ports
    assert all(lo <= p <= hi and p % 2 == 0 for p in got), f"ports {got} outside {lo}-{hi} or odd"
    steps = [(b - a) % (hi - lo + 1) for a, b in zip(got, got[1:])]
    assert steps != [2, 2, 2], f"RTP ports walk the range in order: {got}"


def test_rtcp_mux_when_the_answer_has_it(gateway, rtmp_client, procs, ports):
    """RFC 5761: the offer carries a=rtcp-mux; the far end answers with it, so the gateway's RTCP (its BYE
    at hangup, RFC 3550 section 6.6) arrives at the far end's RTP port, none at RTP port + 1."""
    uas, ctl, s4, gw_rtp = start_call(rtmp_client, ports, rtcp_mux=True)
    try:
        assert "a=rtcp-mux" in uas.offer, f"the gateway's offer lacks a=rtcp-mux:\n{uas.offer}"
        publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), 2)
        uas.send_tone(LEGIT_HZ, 2)
        media.wait_ok(publisher, 20, "ffmpeg publishing Speex to the gateway")
        end_call(uas, ctl)
        time.sleep(0.5)
        assert len(uas.rtp_from_gateway()) >= 50, "the far end got too little RTP from the gateway"
        on_rtp = uas.rtcp_at(uas.rtp)
        assert 203 in on_rtp, f"no RTCP BYE on the far end's RTP port (RTCP types there: {on_rtp})"
        on_rtcp = uas.rtcp_at(uas.rtcp)
        assert not on_rtcp, f"RTCP went to RTP port + 1 despite rtcp-mux: {on_rtcp}"
    finally:
        uas.close()
