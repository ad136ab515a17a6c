"""Hold and resume, both directions (RFC 3264 §8.4, RFC 6337 §5.3). A plain-Python far end
(`helpers/dialog_uas.py`) answers the gateway's INVITE; the RTMP client publishes a tone.

- The far end holds (re-INVITE `a=sendonly`, then `a=inactive`) and resumes (`a=sendrecv`): the gateway
  answers `a=recvonly` / `a=inactive` / `a=sendrecv`, the client gets `Sono.Call.Hold {held, by:"remote"}`,
  and the gateway's RTP stops while held and comes back after.
- The client's `hold()` / `unhold()` send re-INVITEs with `a=sendonly` / `a=sendrecv`; 2xx gives
  `Sono.Call.Hold {by:"local"}`, a 488 gives `Sono.Call.HoldFailed`, a 491 is retried after 2.1-4 s.
- `hold()` without a call gets `_error` `Sono.Call.NoCall`.
The old binary answers the far end's re-INVITE 501 and does not know `hold()`."""
import time

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.dialog_call import publishing_call
from helpers.dialog_uas import DialogPeer, body_of, direction_of
from helpers.incoming import event


def invoke(ctl, method, *args):
    txn = ctl.call(method, *args)
    return ctl.reply(txn)


def hold_events(ctl, code="Sono.Call.Hold"):
    return [i.info for i in ctl.invokes if i.method == "onStatus" and i.info.get("code") == code]


def wait_hold_event(ctl, n, code="Sono.Call.Hold", timeout=8.0):
    end = time.monotonic() + timeout
    while len(hold_events(ctl, code)) < n and time.monotonic() < end:
        time.sleep(0.05)
    evs = hold_events(ctl, code)
    assert len(evs) >= n, f"expected {n} {code} events, got {evs}\n{ctl.dump()}"
    return evs[n - 1]


def test_far_end_holds_and_resumes(gateway, rtmp_client, procs, ports, measure):
    with publishing_call(rtmp_client, procs, gateway, ports) as (peer, ctl, pub):
        port = peer.rtp_port
        for n, (theirs, ours) in enumerate([("sendonly", "recvonly"), ("inactive", "inactive")], 1):
            resp = peer.reinvite(theirs)
            assert resp.startswith("SIP/2.0 200"), f"hold re-INVITE ({theirs}): {resp}\n{peer.dump()}"
            assert direction_of(body_of(resp)) == ours, f"{theirs} answered with: {body_of(resp)}"
            if n == 1:
                ev = wait_hold_event(ctl, 1)
                assert ev["held"] is True and ev["by"] == "remote" and ev.get("call_id"), ev
            t = time.monotonic()
            time.sleep(1.5)
            held = peer.rtp_count(port, t + 0.3)
            measure(f"far end hold ({theirs}): gateway RTP packets in 1.2 s", held)
            assert held <= 2, f"the gateway still sends audio while held ({theirs}): {held} packets"
        resp = peer.reinvite("sendrecv")
        assert resp.startswith("SIP/2.0 200") and direction_of(body_of(resp)) == "sendrecv", resp
        ev = wait_hold_event(ctl, 2)
        assert ev["held"] is False and ev["by"] == "remote", ev
        t = time.monotonic()
        time.sleep(1.5)
        resumed = peer.rtp_count(port, t + 0.3)
        measure("far end resume: gateway RTP packets in 1.2 s", resumed)
        assert resumed >= 40, f"audio did not resume: {resumed} packets"


def test_client_hold_and_unhold(gateway, rtmp_client, procs, ports):
    with publishing_call(rtmp_client, procs, gateway, ports, seconds=10) as (peer, ctl, pub):
        r = invoke(ctl, "hold")
        assert r.method == "_result", f"hold() answered {r!r}"
        ev = wait_hold_event(ctl, 1)
        assert ev["held"] is True and ev["by"] == "local", ev
        assert len(peer.reinvites_in) == 1, peer.dump()
        offer = body_of(peer.reinvites_in[0])
        assert direction_of(offer) == "sendonly", f"hold offer: {offer}"
        r = invoke(ctl, "unhold")
        assert r.method == "_result", f"unhold() answered {r!r}"
        ev = wait_hold_event(ctl, 2)
        assert ev["held"] is False and ev["by"] == "local", ev
        assert direction_of(body_of(peer.reinvites_in[1])) == "sendrecv", peer.dump()
        t = time.monotonic()
        time.sleep(1.2)
        assert peer.rtp_count(peer.rtp_port, t) >= 30, "audio did not flow after unhold()"


def test_hold_refused_and_glare(gateway, rtmp_client, procs, ports, measure):
    with publishing_call(rtmp_client, procs, gateway, ports, seconds=12,
                         reinvite_codes=[488, 491]) as (peer, ctl, pub):
        assert invoke(ctl, "hold").method == "_result"
        ev = wait_hold_event(ctl, 1, code="Sono.Call.HoldFailed")
        assert ev["held"] is True and int(ev["sip_code"]) == 488, ev
        assert not hold_events(ctl), "a refused hold must not report Sono.Call.Hold"
        # 491: the gateway (owner of the Call-ID) retries after 2.1..4 s (RFC 3261 §14.1).
        assert invoke(ctl, "hold").method == "_result"
        ev = wait_hold_event(ctl, 1, timeout=10)
        assert ev["held"] is True, ev
        times = [t for t, d, m in peer.log if d == "in" and m.startswith("INVITE ")]
        gap = times[-1] - times[-2]
        measure("491 -> re-INVITE retry (s)", round(gap, 2))
        assert 2.0 <= gap <= 4.5, f"retry after {gap:.2f} s, expected 2.1..4"


def test_hold_without_a_call(rtmp_client):
    ctl = rtmp_client()
    r = invoke(ctl, "hold")
    assert r.method == "_error" and r.info.get("code") == "Sono.Call.NoCall", f"{r!r}"
    r = invoke(ctl, "unhold")
    assert r.method == "_error" and r.info.get("code") == "Sono.Call.NoCall", f"{r!r}"


def test_held_call_survives_rtp_timeout(gateway_factory, procs, ports):
    """`[media] rtp_timeout_s = 2`: the far end sends audio, then holds with `a=inactive` and goes silent
    for 5 s; the call must not end by the RTP timeout, and it resumes."""
    from helpers.rtmp_control import NOT_CONNECTED, RtmpControl
    gw = gateway_factory({"media": {"rtp_timeout_s": 2}}, name="gw_rtp_timeout")
    peer = DialogPeer(ports.port(), ports.range(2)[0])
    with RtmpControl(gw.url()) as ctl:
        try:
            s4 = dial_connected(ctl, peer.uri("bob"))
            peer.wait_answered()
            pub = media.ffmpeg_publish_tone(procs, gw.url(s4["publish"]), 12)
            peer.send_tone(1000, 1.5).join(5)
            resp = peer.reinvite("inactive")
            assert resp.startswith("SIP/2.0 200"), resp
            time.sleep(5)
            assert NOT_CONNECTED not in ctl.status_codes()[-1:], f"the held call ended:\n{ctl.dump()}"
            resp = peer.reinvite("sendrecv")
            assert resp.startswith("SIP/2.0 200"), resp
            peer.send_tone(1000, 1.0).join(5)
            assert NOT_CONNECTED not in ctl.status_codes()[-1:], f"the resumed call ended:\n{ctl.dump()}"
            hangup_ended(ctl)
            pub.stop()
        finally:
            peer.close()


def test_sipp_far_end_holds_and_resumes(gateway, rtmp_client, procs, out_dir, ports):
    """sipp (`uas_hold_resume.xml`) re-INVITEs `a=sendonly` then `a=sendrecv` and checks the gateway's
    answers (`a=recvonly`, `a=sendrecv`); the client gets `Sono.Call.Hold` held true then false, by remote."""
    from helpers.sipp import Sipp
    sipp = Sipp(procs, out_dir, ports, "uas_hold_resume.xml", name="sipp_hold").start()
    ctl = rtmp_client()
    dial_connected(ctl, sipp.uri("bob"))
    first = wait_hold_event(ctl, 1)
    assert first["held"] is True and first["by"] == "remote", first
    second = wait_hold_event(ctl, 2)
    assert second["held"] is False and second["by"] == "remote", second
    hangup_ended(ctl)
    rc = sipp.wait_exit(10)
    assert rc == 0, "sipp's hold/resume scenario failed:\n" + sipp.report()
    logs = sipp.logs()
    assert "hold answered: a=recvonly" in logs and "resume answered: a=sendrecv" in logs, logs


def test_client_hold_answered_by_sipp(gateway, rtmp_client, procs, out_dir, ports):
    """sipp (`uas_answers_reinvite.xml`) checks that `hold()` offers `a=sendonly` and `unhold()`
    `a=sendrecv`, answering `a=recvonly` / `a=sendrecv`; the client gets `Sono.Call.Hold` by local."""
    from helpers.sipp import Sipp
    sipp = Sipp(procs, out_dir, ports, "uas_answers_reinvite.xml", name="sipp_reinvite").start()
    ctl = rtmp_client()
    dial_connected(ctl, sipp.uri("bob"))
    assert invoke(ctl, "hold").method == "_result"
    ev = wait_hold_event(ctl, 1)
    assert ev["held"] is True and ev["by"] == "local", ev
    assert invoke(ctl, "unhold").method == "_result"
    ev = wait_hold_event(ctl, 2)
    assert ev["held"] is False and ev["by"] == "local", ev
    hangup_ended(ctl)
    rc = sipp.wait_exit(10)
    assert rc == 0, "sipp's scenario failed:\n" + sipp.report()
    logs = sipp.logs()
    assert "re-INVITE offered a=sendonly" in logs and "re-INVITE offered a=sendrecv" in logs, logs
