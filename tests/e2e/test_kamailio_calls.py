"""Calls from SIP phones to RTMP clients registered at a real registrar: Kamailio with digest auth.

An RTMP client (python3-librtmp) invokes register(user, registrar, password); sipp calls the user's AoR
through Kamailio, which challenges the caller with 407 when it claims a local user, looks the AoR up and
relays the INVITE to the Contact the gateway registered (its user part routes it to the connection).
Covers accept with audio both ways, reject with a code, the caller's CANCEL, the ring timeout, and two
gateway instances behind one Kamailio: each call reaches the instance that holds the registration."""
import signal
import time

import pytest

from helpers import media
from helpers.calls import ended_info
from helpers.capture import Capture
from helpers.incoming import answer, event
from helpers.kamailio import Kamailio
from helpers.rtmp_control import CONNECT_STREAMS, CONNECTED, NOT_CONNECTED, RtmpControl
from helpers.sipp import Sipp

TONE_S = 5
MIN_SNR_DB = 25
ANONYMOUS = {"alice <sip:alice@": "carol <sip:carol@"}   # a caller Kamailio relays without 407


@pytest.fixture
def kamailio(procs, out_dir, ports):
    k = Kamailio(procs, out_dir, ports).start()
    yield k
    k.stop()


def register(ctl: RtmpControl, kam: Kamailio, user: str, password: str) -> dict:
    mark = len(ctl.invokes)
    txn = ctl.call("register", user, kam.registrar, password)
    r = ctl.reply(txn)
    assert r.method == "_result", f"register answered {r!r}\n{ctl.dump()}"
    st = event(ctl, "Sono.Registration.Status", 10, after=mark)
    assert st.get("status") == "registered", f"registration failed: {st}\n{ctl.dump()}"
    return st


def via_proxy(sipp: Sipp, kam: Kamailio, user: str):
    sipp.extra += ["-s", user]
    sipp.start(f"127.0.0.1:{kam.port}")


def test_call_via_kamailio_with_407_accept_audio(gateway, rtmp_client, kamailio, procs, out_dir, assets,
                                                 ports, measure):
    ctl = rtmp_client()
    register(ctl, kamailio, "rtmpuser", "secret")
    sipp = Sipp(procs, out_dir, ports, "uac_speex.xml", name="sipp_alice", pcap=assets.pcmu_pcap,
                keys={"pts": "0 101", "fromuser": "alice"},
                extra=["-au", "alice", "-ap", "alicepw", "-d", "9000", "-timeout", "40", "-timeout_error"])
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    mark = len(ctl.invokes)
    via_proxy(sipp, kamailio, "rtmpuser")

    inc = event(ctl, "Sono.Call.Incoming", 15, after=mark)
    assert inc.get("uri") == "sip:alice@127.0.0.1", f"uri must be the caller: {inc}"
    before = len(ctl.statuses())
    answer(ctl, "accept")
    s4 = ctl.wait_status(CONNECT_STREAMS, 10, after=before)
    ctl.wait_status(CONNECTED, 5, after=before)
    assert "SIP/2.0 407" in sipp.messages(), "Kamailio should have challenged the caller with 407"

    played = out_dir / "played.flv"
    player = media.ffmpeg_play(procs, gateway.url(s4["play"]), played, TONE_S)
    publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S)
    media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
    if player.wait(10) is None:
        player.stop(signal.SIGINT, grace=6)
    assert sipp.wait_exit(25) == 0, "the call through Kamailio did not complete:\n" + sipp.report()
    assert ended_info(ctl, before).get("sip_code") == 200

    pcap = cap.stop()
    rx = out_dir / "at_sipp.wav"
    print("RTP at sipp:", media.rtp_to_wav(pcap, rx, "pcmu", dport=sipp.media_port, pt=0))
    t = media.assert_tone(rx, MIN_SNR_DB, "tone at the SIP caller behind Kamailio (PCMU)")
    measure("via Kamailio: SNR RTMP->SIP PCMU (dB)", t["snr"])
    t = media.assert_tone(media.flv_to_wav(played, out_dir / "played.wav"), MIN_SNR_DB,
                          "tone at the RTMP client (Speex)")
    measure("via Kamailio: SNR SIP PCMU->RTMP Speex (dB)", t["snr"])


def test_reject_and_cancel_via_kamailio(gateway, rtmp_client, kamailio, procs, out_dir, ports):
    ctl = rtmp_client()
    register(ctl, kamailio, "rtmpuser", "secret")
    sipp = Sipp(procs, out_dir, ports, "uac_expect_reject.xml", name="sipp_reject",
                subst={"@CODE@": 486, **ANONYMOUS})
    mark = len(ctl.invokes)
    via_proxy(sipp, kamailio, "rtmpuser")
    event(ctl, "Sono.Call.Incoming", 15, after=mark)
    answer(ctl, "reject", 486)
    assert sipp.wait_exit(15) == 0, "the caller gets the reject code through Kamailio:\n" + sipp.report()

    sipp = Sipp(procs, out_dir, ports, "uac_cancel.xml", name="sipp_cancel",
                subst={"@PAUSE_MS@": 1000, **ANONYMOUS})
    mark, before = len(ctl.invokes), len(ctl.statuses())
    via_proxy(sipp, kamailio, "rtmpuser")
    event(ctl, "Sono.Call.Incoming", 15, after=mark)
    assert sipp.wait_exit(15) == 0, "CANCEL through Kamailio: 200 then 487:\n" + sipp.report()
    assert ctl.wait_status(NOT_CONNECTED, 10, after=before).get("sip_code") == 487


def test_ring_timeout_via_kamailio(gateway_factory, kamailio, procs, out_dir, ports):
    gw = gateway_factory({"sip": {"ring_timeout_s": 2}})
    ctl = RtmpControl(gw.url())
    try:
        register(ctl, kamailio, "rtmpuser", "secret")
        sipp = Sipp(procs, out_dir, ports, "uac_expect_reject.xml", name="sipp_timeout",
                    subst={"@CODE@": 480, **ANONYMOUS})
        via_proxy(sipp, kamailio, "rtmpuser")
        event(ctl, "Sono.Call.Incoming", 15)
        assert sipp.wait_exit(15) == 0, "the ring timeout answers 480 through Kamailio:\n" + sipp.report()
        assert ctl.wait_status(NOT_CONNECTED, 5).get("sip_code") == 480
    finally:
        ctl.close()


def test_two_instances_behind_kamailio(gateway_factory, kamailio, procs, out_dir, ports):
    gw1 = gateway_factory(name="gw_a")
    gw2 = gateway_factory(name="gw_b")
    c1, c2 = RtmpControl(gw1.url()), RtmpControl(gw2.url())
    try:
        register(c1, kamailio, "rtmpuser", "secret")
        register(c2, kamailio, "bob", "bobpw")
        b1 = kamailio.bindings("rtmpuser")
        b2 = kamailio.bindings("bob")
        assert len(b1) == 1 and f":{gw1.sip_port}" in b1[0]["address"], f"rtmpuser -> gw_a: {b1}"
        assert len(b2) == 1 and f":{gw2.sip_port}" in b2[0]["address"], f"bob -> gw_b: {b2}"
        for user, ctl, other, code in (("rtmpuser", c1, c2, 486), ("bob", c2, c1, 603)):
            sipp = Sipp(procs, out_dir, ports, "uac_expect_reject.xml", name=f"sipp_{user}",
                        subst={"@CODE@": code, **ANONYMOUS})
            m_ctl, m_other = len(ctl.invokes), len(other.invokes)
            via_proxy(sipp, kamailio, user)
            inc = event(ctl, "Sono.Call.Incoming", 15, after=m_ctl)
            assert user in inc.get("to", ""), inc
            answer(ctl, "reject", code)
            assert sipp.wait_exit(15) == 0, f"call to {user}:\n" + sipp.report()
            time.sleep(0.3)
            assert not [i for i in other.invokes[m_other:] if i.info.get("code") == "Sono.Call.Incoming"], \
                f"the call to {user} must ring only at the instance holding its registration"
    finally:
        c1.close()
        c2.close()
