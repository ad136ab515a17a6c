"""Incoming calls to an RTMP client registered on the embedded registrar (register() with no arguments).

SIP caller: sipp as UAC straight at the gateway. RTMP client: python3-librtmp (control), ffmpeg (media).
Covers: Sono.Call.Incoming with the caller's URI, accept() and audio both ways, reject() with a code and
with the default 603, the caller's CANCEL (487), the ring timeout (480), 486 while a call is up, 404 for an
unknown user, 488 with a Warning when no codec matches, 403 from outside [sip] trusted, and two RTMP
clients calling each other through the gateway with Speex passed through."""
import signal
import time

from helpers import media
from helpers.calls import dial_connected, ended_info
from helpers.capture import Capture
from helpers.incoming import answer, event, register_local, user_of
from helpers.rtmp_control import CONNECT_STREAMS, CONNECTED, NOT_CONNECTED
from helpers.sipp import Sipp

TONE_S = 5
MIN_SNR_DB = 25


def uac(procs, out_dir, ports, scenario, name, **kw):
    return Sipp(procs, out_dir, ports, scenario, name=name, **kw)


def call_in(sipp: Sipp, gateway, user: str, extra_keys: dict = None):
    sipp.keys.update({"fromuser": "alice", **(extra_keys or {})})
    sipp.extra += ["-s", user]
    sipp.start(f"127.0.0.1:{gateway.sip_port}")


def test_incoming_accept_audio_both_ways(gateway, rtmp_client, procs, out_dir, assets, ports, measure):
    ctl = rtmp_client()
    uri = register_local(ctl)
    sipp = uac(procs, out_dir, ports, "uac_speex.xml", "sipp_uac", pcap=assets.pcmu_pcap,
               keys={"pts": "0 101"}, extra=["-d", "9000", "-timeout", "40", "-timeout_error"])
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    mark = len(ctl.invokes)
    call_in(sipp, gateway, user_of(uri))

    inc = event(ctl, "Sono.Call.Incoming", 10, after=mark)
    assert inc.get("uri") == "sip:alice@127.0.0.1", f"uri must be the caller (From): {inc}"
    assert inc.get("display_name") == "alice", inc
    assert user_of(uri) in inc.get("to", ""), f"`to` must be the called address: {inc}"
    before = len(ctl.statuses())
    answer(ctl, "accept")
    s4 = ctl.wait_status(CONNECT_STREAMS, 10, after=before)
    ctl.wait_status(CONNECTED, 5, after=before)

    played = out_dir / "played.flv"
    player = media.ffmpeg_play(procs, gateway.url(s4["play"]), played, TONE_S)
    publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S)
    media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
    if player.wait(10) is None:
        player.stop(signal.SIGINT, grace=6)

    rc = sipp.wait_exit(20)
    assert rc == 0, "sipp's call did not complete (200, ACK, BYE, 200):\n" + sipp.report()
    s0 = ended_info(ctl, before)
    assert s0.get("sip_code") == 200, f"the caller's BYE ends the call: {s0}"

    pcap = cap.stop()
    rx = out_dir / "at_sipp.wav"
    print("RTP at sipp:", media.rtp_to_wav(pcap, rx, "pcmu", dport=sipp.media_port, pt=0))
    t = media.assert_tone(rx, MIN_SNR_DB, "tone at the SIP caller (PCMU)")
    measure("incoming: SNR RTMP->SIP PCMU (dB)", t["snr"])
    wav = media.flv_to_wav(played, out_dir / "played.wav")
    t = media.assert_tone(wav, MIN_SNR_DB, "tone at the RTMP client (Speex)")
    measure("incoming: SNR SIP PCMU->RTMP Speex (dB)", t["snr"])


def reject_case(gateway, rtmp_client, procs, out_dir, ports, args, code):
    ctl = rtmp_client()
    uri = register_local(ctl)
    sipp = uac(procs, out_dir, ports, "uac_expect_reject.xml", "sipp_uac", subst={"@CODE@": code})
    mark = len(ctl.invokes)
    call_in(sipp, gateway, user_of(uri))
    event(ctl, "Sono.Call.Incoming", 10, after=mark)
    before = len(ctl.statuses())
    answer(ctl, "reject", *args)
    assert sipp.wait_exit(15) == 0, f"the caller should get {code}:\n" + sipp.report()
    s0 = ended_info(ctl, before, require=("sip_code",))
    assert s0["sip_code"] == code, s0


def test_reject_with_code(gateway, rtmp_client, procs, out_dir, ports):
    reject_case(gateway, rtmp_client, procs, out_dir, ports, (486,), 486)


def test_reject_default_is_603(gateway, rtmp_client, procs, out_dir, ports):
    reject_case(gateway, rtmp_client, procs, out_dir, ports, (), 603)


def test_caller_cancel(gateway, rtmp_client, procs, out_dir, ports):
    ctl = rtmp_client()
    uri = register_local(ctl)
    sipp = uac(procs, out_dir, ports, "uac_cancel.xml", "sipp_uac", subst={"@PAUSE_MS@": 1500})
    mark = len(ctl.invokes)
    call_in(sipp, gateway, user_of(uri))
    inc = event(ctl, "Sono.Call.Incoming", 10, after=mark)
    assert sipp.wait_exit(15) == 0, "CANCEL must get 200 and the INVITE 487:\n" + sipp.report()
    s0 = ctl.wait_status(NOT_CONNECTED, 10)
    assert s0.get("sip_code") == 487 and s0.get("call_id") == inc.get("call_id"), s0
    txn = ctl.call("accept")
    assert ctl.reply(txn).method == "_error", "accept() after the caller gave up must fail"


def test_ring_timeout_480(gateway_factory, procs, out_dir, ports):
    from helpers.rtmp_control import RtmpControl
    gw = gateway_factory({"sip": {"ring_timeout_s": 2}})
    ctl = RtmpControl(gw.url())
    try:
        uri = register_local(ctl)
        sipp = uac(procs, out_dir, ports, "uac_expect_reject.xml", "sipp_uac", subst={"@CODE@": 480})
        call_in(sipp, gw, user_of(uri))
        event(ctl, "Sono.Call.Incoming", 10)
        t0 = time.monotonic()
        assert sipp.wait_exit(15) == 0, "the ring timeout must answer 480:\n" + sipp.report()
        assert time.monotonic() - t0 >= 1.0
        assert ctl.wait_status(NOT_CONNECTED, 5).get("sip_code") == 480
    finally:
        ctl.close()


def test_busy_while_in_a_call(gateway, rtmp_client, procs, out_dir, assets, ports):
    ctl = rtmp_client()
    uri = register_local(ctl)
    first = uac(procs, out_dir, ports, "uac_speex.xml", "sipp_first", pcap=assets.pcmu_pcap,
                keys={"pts": "0"}, extra=["-d", "4000"])
    call_in(first, gateway, user_of(uri))
    event(ctl, "Sono.Call.Incoming", 10)
    answer(ctl, "accept")
    ctl.wait_status(CONNECTED, 10)
    second = uac(procs, out_dir, ports, "uac_expect_reject.xml", "sipp_second", subst={"@CODE@": 486})
    call_in(second, gateway, user_of(uri))
    assert second.wait_exit(10) == 0, "a second call while one is up gets 486:\n" + second.report()
    assert first.wait_exit(20) == 0, first.report()


def test_unknown_user_404(gateway, procs, out_dir, ports):
    sipp = uac(procs, out_dir, ports, "uac_expect_reject.xml", "sipp_uac", subst={"@CODE@": 404})
    call_in(sipp, gateway, "nobody")
    assert sipp.wait_exit(10) == 0, sipp.report()


def test_no_common_codec_488_with_warning(gateway, rtmp_client, procs, out_dir, assets, ports):
    ctl = rtmp_client()
    uri = register_local(ctl)
    # Only G.729 (static PT 18), which the gateway does not speak.
    sipp = uac(procs, out_dir, ports, "uac_speex.xml", "sipp_uac", pcap=assets.pcmu_pcap,
               keys={"pts": "18"}, extra=["-timeout", "10"])
    call_in(sipp, gateway, user_of(uri))
    sipp.wait_exit(15)
    msgs = sipp.messages()
    assert "SIP/2.0 488" in msgs, "no common codec must be refused with 488:\n" + sipp.report()
    assert "Warning: 305" in msgs, "the 488 carries a Warning 305 (RFC 3261 20.43):\n" + msgs[-2000:]
    time.sleep(0.5)
    assert not [i for i in ctl.invokes if i.info.get("code") == "Sono.Call.Incoming"], \
        "the client must not ring for a call it cannot take"


def test_untrusted_source_403(gateway_factory, procs, out_dir, ports):
    from helpers.rtmp_control import RtmpControl
    gw = gateway_factory({"sip": {"trusted": ["10.0.0.0/8"]}})
    ctl = RtmpControl(gw.url())
    try:
        uri = register_local(ctl)
        sipp = uac(procs, out_dir, ports, "uac_expect_reject.xml", "sipp_uac", subst={"@CODE@": 403})
        call_in(sipp, gw, user_of(uri))
        assert sipp.wait_exit(10) == 0, "an INVITE from outside [sip] trusted gets 403:\n" + sipp.report()
    finally:
        ctl.close()


def test_two_rtmp_clients_through_the_gateway(gateway, rtmp_client, procs, out_dir, assets):
    callee = rtmp_client()
    uri = register_local(callee)
    caller = rtmp_client()
    mark = len(callee.invokes)
    txn = caller.call("dial", uri)
    inc = event(callee, "Sono.Call.Incoming", 10, after=mark)
    assert inc.get("uri", "").startswith("sip:"), inc
    answer(callee, "accept")
    s4_callee = callee.wait_status(CONNECT_STREAMS, 10)
    s4_caller = caller.wait_status(CONNECT_STREAMS, 10)
    assert not caller.replies_to(txn)
    log = gateway.log.read_text(errors="replace")
    assert log.count("codec=Speex16k") >= 2, "both legs should negotiate speex/16000 (passthrough)"

    sent = media.flv_speex_payloads(assets.publish_flv)
    played = out_dir / "played.flv"
    player = media.librtmp_play(procs, gateway.url(s4_callee["play"]), played, 7)
    time.sleep(0.3)
    publisher = media.librtmp_publish(procs, gateway.url(s4_caller["publish"]), assets.publish_flv)
    media.wait_ok(publisher, 25, "librtmp publishing the Speex FLV")
    media.wait_ok(player, 20, "librtmp playing at the callee")
    got = media.flv_speex_payloads(played)
    assert len(got) >= len(sent) // 2, f"only {len(got)} of {len(sent)} Speex messages arrived"
    common = set(sent) & set(got)
    assert len(common) >= len(got) - 3, "Speex must pass through unchanged (byte-identical frames)"
    txn = caller.call("hangup")
    assert caller.reply(txn).method == "_result"
    assert callee.wait_status(NOT_CONNECTED, 10).get("sip_code") == 200


def test_embedded_address_also_registered_upstream(gateway_factory, procs, out_dir, ports):
    """[sip] registrar: register() also REGISTERs the embedded address at the upstream registrar (here a
    sipp registrar without auth), with a Contact at this gateway; unregister() sends Expires: 0."""
    from helpers.rtmp_control import RtmpControl
    sipp = uac(procs, out_dir, ports, "uas_registrar.xml", "sipp_registrar")
    sipp.start()
    gw = gateway_factory({"sip": {"registrar": f"sip:127.0.0.1:{sipp.sip_port}"}})
    ctl = RtmpControl(gw.url())
    try:
        uri = register_local(ctl)
        ident = user_of(uri)
        st = event(ctl, "Sono.Registration.Status", 10)
        assert st.get("status") == "registered", st
        assert st.get("uri") == f"sip:{ident}@127.0.0.1:{sipp.sip_port}", st
        answer(ctl, "unregister")
        assert sipp.wait_exit(10) == 0, "sipp should see REGISTER then REGISTER Expires: 0:\n" + sipp.report()
        msgs = sipp.messages()
        regs = [m for m in msgs.split("REGISTER sip:")[1:]]
        assert len(regs) >= 2, msgs[-3000:]
        assert f"sip:{ident}@127.0.0.1:{sipp.sip_port}" in regs[0], "To is the embedded address"
        assert f"@127.0.0.1:{gw.sip_port}" in regs[0], "the Contact points at the gateway"
        assert "xpires: 0" in regs[1] or "expires=0" in regs[1], "the second REGISTER unregisters"
    finally:
        ctl.close()
