"""SIP-side attacks (issue 9): trust from the real UDP source, per-source rate limits and the refusal budget,
trunk credentials bound to their realm and host, no RFC 2069 digest, no password in a trace log, and a
burst of INVITEs during a call. After each attack a fresh RTMP connection's echo call must connect.

Peers: raw UDP SIP from a socket of the test's own (helpers/sip_udp.py), sipp (uas_digest_auth.xml with
its realm or qop substituted), python3-librtmp as the RTMP client."""
import time

from helpers import media
from helpers.calls import dial_connected, ended_info, hangup_ended
from helpers.digest import sipp_messages
from helpers.incoming import register_local, user_of
from helpers.rtmp_control import CONNECTED, RtmpControl
from helpers.sip_udp import SipSocket, status_code
from helpers.sipp import Sipp

USER, PASSWORD = "trunkuser", "S3cretTrunkPw-9f2c"
TRUSTED_ELSEWHERE = {"trusted": ["10.0.0.0/8"]}
PROXY = {"@CODE@": 407, "@REASON@": "Proxy Authentication Required", "@CHALLENGE@": "Proxy-Authenticate",
         "@CREDENTIALS@": "Proxy-Authorization", "@UNVERIFIABLE@": '<nop next="accept"/>'}


def auth(**kw) -> dict:
    a = {"username": USER, "password": PASSWORD, "realm": "test", "host": "127.0.0.1"}
    a.update(kw)
    return {"sip.auth": a}


def echo_still_works(gw):
    """A normal call after the attack: a new connection's dial to echo reaches status 4 and hangs up."""
    assert gw.alive(), "the gateway died"
    with RtmpControl(gw.url()) as ctl:
        dial_connected(ctl, "sip:echo@127.0.0.1")
        hangup_ended(ctl)
    assert gw.alive()


def incoming_events(ctl) -> list:
    return [i for i in ctl.invokes if i.info.get("code") == "Sono.Call.Incoming"]


def test_spoofed_received_does_not_make_a_source_trusted(gateway_factory):
    """trusted = 10.0.0.0/8; an INVITE from 127.0.0.1 whose top Via claims ;received=10.0.0.1 (sent-by =
    its real address, so rsipstack adds no received of its own) must not ring the client: 403 or nothing."""
    gw = gateway_factory({"sip": TRUSTED_ELSEWHERE}, name="gw_spoof")
    with RtmpControl(gw.url()) as ctl, SipSocket(gw.sip_port) as s:
        user = user_of(register_local(ctl))
        for via_extra in (";received=10.0.0.1", ";received=10.0.0.1;rport=5060", ";RECEIVED=10.0.0.7"):
            s.send(s.invite(user, via_extra=via_extra))
            got = s.collect(2.0)
            codes = [status_code(t) for t in got]
            assert not incoming_events(ctl), f"spoofed {via_extra!r} rang the client: {codes}\n{ctl.dump()}"
            assert not [c for c in codes if 100 <= c < 200 or 200 <= c < 300], \
                f"spoofed {via_extra!r} was processed as trusted: {codes}"
            assert all(c == 403 for c in codes), f"only 403 (or nothing) expected: {codes}"
    echo_still_works(gw)


def test_invite_flood_gets_at_most_the_refusal_budget(gateway_factory):
    """200 INVITEs (distinct Call-IDs) from one untrusted source within ~1 s: at most refusals_burst (5)
    + refusals_per_s (1/s) x the flood's duration 403s come back, each Call-ID at most once (no Timer G
    retransmissions of the 403: no reflection, no amplification)."""
    gw = gateway_factory({"sip": TRUSTED_ELSEWHERE}, name="gw_flood")
    with RtmpControl(gw.url()) as ctl, SipSocket(gw.sip_port) as s:
        user = user_of(register_local(ctl))
        t0 = time.monotonic()
        for i in range(200):
            s.send(s.invite(user, call_id=f"flood-{i}@attacker"))
            if i % 20 == 19:
                s.collect(0.05)
        got = s.collect(6.0)   # long enough to see Timer G retransmissions (0.5, 1, 2, 4 s)
        elapsed = time.monotonic() - t0
        responses = [t for _, t in s.received]
        codes = [status_code(t) for t in responses]
        assert set(codes) <= {403}, f"only 403s expected: {sorted(set(codes))}"
        budget = 5 + int(elapsed) + 1
        assert len(codes) <= budget, f"{len(codes)} responses to a 200-INVITE flood in {elapsed:.1f} s " \
                                     f"(budget {budget}): the gateway reflects"
        call_ids = [t.split("Call-ID:", 1)[1].split("\r\n", 1)[0].strip() for t in responses if "Call-ID:" in t]
        assert len(call_ids) == len(set(call_ids)), f"a 403 was retransmitted: {call_ids}"
        assert not incoming_events(ctl)
    time.sleep(3)   # the loopback source's request budget refills (50 at 20/s)
    echo_still_works(gw)


def challenged_call_refused(gw, sipp, expect_code: int):
    """dial the sipp UAS: the challenge must not be answered (exactly one INVITE reaches sipp) and the
    client gets status 0 with the challenge's code."""
    with RtmpControl(gw.url()) as ctl:
        ctl.call("dial", sipp.uri("bob"))
        s0 = ended_info(ctl, timeout=15)
        assert int(s0["sip_code"]) == expect_code, f"{s0}\n{ctl.dump()}"
        assert CONNECTED not in ctl.status_codes(), ctl.dump()
    time.sleep(1.0)
    invites = [m for d, m in sipp_messages(sipp.messages()) if d == "received" and m.startswith("INVITE ")]
    creds = [m for m in invites if "Authorization:" in m]
    assert len(invites) == 1 and not creds, \
        f"the gateway answered a challenge it must not answer ({len(invites)} INVITEs):\n" + sipp.report()


def auth_sipp(procs, out_dir, ports, name, subst=None) -> Sipp:
    return Sipp(procs, out_dir, ports, "uas_digest_auth.xml", subst={**PROXY, **(subst or {})},
                name=name).start()


def test_wrong_realm_challenge_not_answered(gateway_factory, procs, out_dir, ports):
    gw = gateway_factory(auth(), name="gw_realm")
    sipp = auth_sipp(procs, out_dir, ports, "sipp_realm", {'realm="test"': 'realm="evil"'})
    challenged_call_refused(gw, sipp, 407)
    echo_still_works(gw)


def test_wrong_host_challenge_not_answered(gateway_factory, procs, out_dir, ports):
    """The trunk is trunk.invalid; sipp at 127.0.0.1 challenges with the right realm: no credentials."""
    gw = gateway_factory(auth(host="trunk.invalid"), name="gw_host")
    sipp = auth_sipp(procs, out_dir, ports, "sipp_host")
    challenged_call_refused(gw, sipp, 407)
    echo_still_works(gw)


def test_rfc2069_challenge_refused(gateway_factory, procs, out_dir, ports):
    """A challenge without qop (RFC 2069: no cnonce) is not answered unless allow_rfc2069."""
    gw = gateway_factory(auth(), name="gw_2069")
    sipp = auth_sipp(procs, out_dir, ports, "sipp_2069", {', qop="auth"': ""})
    challenged_call_refused(gw, sipp, 407)
    echo_still_works(gw)


def test_trace_log_has_no_password(gateway_factory, procs, out_dir, ports):
    """[log] level = "trace" through a challenged call that connects: the password is nowhere in the log."""
    gw = gateway_factory({**auth(), "log": {"level": "trace"}}, name="gw_trace")
    sipp = auth_sipp(procs, out_dir, ports, "sipp_trace")
    with RtmpControl(gw.url()) as ctl:
        dial_connected(ctl, sipp.uri("bob"))
        hangup_ended(ctl)
    assert sipp.wait_exit(15) == 0, sipp.report()
    log = gw.log.read_bytes()
    assert len(log) > 10_000, "a trace log should be long: is the level applied?"
    assert PASSWORD.encode() not in log, "the trunk password is in the trace log"
    echo_still_works(gw)


def test_invite_burst_during_a_call_keeps_its_audio(gateway_factory, procs, out_dir, measure):
    """An echo call carries a 5 s tone while one untrusted source sends 500 INVITEs and 500 OPTIONS:
    the echoed tone must still come back clean (the SIP flood is dropped at the transport, cheaply)."""
    gw = gateway_factory({"sip": TRUSTED_ELSEWHERE}, name="gw_burst")
    tone_s = 5
    with RtmpControl(gw.url()) as ctl, SipSocket(gw.sip_port) as s:
        s4 = dial_connected(ctl, "sip:echo@127.0.0.1")
        played = out_dir / "burst_played.flv"
        player = media.librtmp_play(procs, gw.url(s4["play"]), played, tone_s + 2.5)
        time.sleep(0.5)
        publisher = media.ffmpeg_publish_tone(procs, gw.url(s4["publish"]), tone_s)
        t0 = time.monotonic()
        for i in range(500):
            s.send(s.invite("nobody", call_id=f"burst-{i}@attacker"))
            s.send(s.options())
            if i % 50 == 49:
                s.collect(0.2)
        s.collect(1.0)
        elapsed = time.monotonic() - t0
        media.wait_ok(publisher, tone_s + 20, "ffmpeg publishing Speex to the gateway")
        media.wait_ok(player, 20, "librtmp playing the echo")
        hangup_ended(ctl)
        answered = len(s.received)
    # requests_burst 50 + 20/s pass (OPTIONS answered 200), refusals 5 + 1/s (403)
    budget = 50 + 5 + int(21 * elapsed) + 21
    assert answered <= budget, f"{answered} answers to a 1000-request burst in {elapsed:.1f} s (budget {budget})"
    wav = media.flv_to_wav(played, out_dir / "burst_played.wav")
    t = media.assert_tone(wav, 25, "echoed tone during an INVITE burst")
    measure("SNR echo during SIP burst (dB)", t["snr"])
    active = t["windows"] - t["dropouts"]
    assert active * 0.02 >= tone_s * 0.8, f"echo carried only {active * 0.02:.1f} s: {t['text']}"
    time.sleep(3)
    echo_still_works(gw)


def registrar_reply(req: str, code: int, extra: str = "") -> str:
    """A response to `req` (a REGISTER we received) with To tagged."""
    keep = [line for line in req.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
            if line.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
    keep = [line + ";tag=reg1" if line.lower().startswith("to:") and "tag=" not in line else line for line in keep]
    return f"SIP/2.0 {code} X\r\n" + "\r\n".join(keep) + f"\r\n{extra}Content-Length: 0\r\n\r\n"


def next_register(s: SipSocket, timeout: float) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for text in s.collect(0.2):
            if text.startswith("REGISTER "):
                return text
    return ""


def test_upstream_register_answers_only_the_trunk_realm(gateway_factory):
    """[sip] registrar with [sip.auth] (realm "test", host defaulting to the registrar's): a raw UDP
    registrar challenges the upstream REGISTER with realm "evil" -> no REGISTER with credentials follows;
    the same registrar challenging with realm "test" -> the retried REGISTER carries Authorization."""
    with SipSocket(0) as s:
        gw = gateway_factory({"sip": {"registrar": f"sip:127.0.0.1:{s.port}"},
                              "sip.auth": {"username": USER, "password": PASSWORD, "realm": "test"}},
                             name="gw_reg_realm")
        s.gw = ("127.0.0.1", gw.sip_port)
        for realm, answered in (("evil", False), ("test", True)):
            with RtmpControl(gw.url()) as ctl:
                register_local(ctl)
                first = next_register(s, 5)
                assert first, f"no upstream REGISTER reached the registrar ({realm})"
                s.send(registrar_reply(first, 401, f'WWW-Authenticate: Digest realm="{realm}", '
                                                    f'nonce="n{realm}", qop="auth", algorithm=MD5\r\n'))
                retry = next_register(s, 3)
                with_creds = "Authorization:" in retry
                assert with_creds == answered, \
                    f"realm {realm!r}: credentials {'expected' if answered else 'sent to a foreign realm'}:\n{retry}"
                if retry:
                    s.send(registrar_reply(retry, 200, "Expires: 600\r\n"))
                    s.collect(0.5)
    echo_still_works(gw)
