"""Digest authentication toward the far end (RFC 3261 section 22, RFC 2617 qop=auth): with
[sip.auth] username/password the gateway answers a 407 (Proxy-Authorization) or 401 (Authorization)
challenge with a second INVITE whose credentials are correct, and the call connects; with a wrong password
the far end's 403 ends the call (status 0, sip_code 403) and the gateway keeps serving.

sipp 3.6's <verifyauth> reads only the Authorization header, so sipp verifies the 401 case itself and the
harness recomputes every digest (both cases) from sipp's message trace."""
from helpers.calls import dial_connected, ended_info, hangup_ended
from helpers.digest import expected_response, header, parse_credentials, sipp_messages
from helpers.rtmp_control import CONNECTED, RtmpControl
from helpers.sipp import Sipp

USER, PASSWORD = "trunkuser", "trunkpw"
# realm and host bind the credentials to sipp's challenges (realm "test", host 127.0.0.1, any port)
TRUNK = {"realm": "test", "host": "127.0.0.1"}
GATEWAY_OVERRIDES = {"sip.auth": {"username": USER, "password": PASSWORD, **TRUNK}}

PROXY = {"@CODE@": 407, "@REASON@": "Proxy Authentication Required", "@CHALLENGE@": "Proxy-Authenticate",
         "@CREDENTIALS@": "Proxy-Authorization", "@UNVERIFIABLE@": '<nop next="accept"/>',
         "@ALGORITHM@": "MD5"}
WWW = {"@CODE@": 401, "@REASON@": "Unauthorized", "@CHALLENGE@": "WWW-Authenticate",
       "@CREDENTIALS@": "Authorization", "@UNVERIFIABLE@": "", "@ALGORITHM@": "MD5"}
# RFC 7616 / RFC 8760: SHA-256 on an INVITE challenge (sipp cannot verify it: the harness does)
PROXY_SHA256 = {**PROXY, "@ALGORITHM@": "SHA-256", "algorithm=MD5,": "algorithm=SHA-256,"}


def auth_sipp(procs, out_dir, ports, mode: dict, name: str) -> Sipp:
    return Sipp(procs, out_dir, ports, "uas_digest_auth.xml", subst=mode, name=name).start()


def invites(sipp: Sipp) -> list:
    return [m for d, m in sipp_messages(sipp.messages()) if d == "received" and m.startswith("INVITE ")]


def challenge_nonce(sipp: Sipp, mode: dict) -> str:
    sent = [m for d, m in sipp_messages(sipp.messages()) if d == "sent" and m.startswith(f"SIP/2.0 {mode['@CODE@']}")]
    assert sent, "sipp sent no challenge:\n" + sipp.report()
    return parse_credentials(header(sent[0], mode["@CHALLENGE@"])[0])["nonce"]


def check_credentials(sipp: Sipp, mode: dict, password: str) -> dict:
    """The INVITEs sipp received: the first without credentials, the second (same Call-ID, higher CSeq)
    with Digest credentials for USER answering sipp's challenge; returns them parsed, after checking the
    response against `password`."""
    invs = invites(sipp)
    assert len(invs) == 2, f"expected exactly 2 INVITEs (plain, then with credentials), got {len(invs)}:\n" \
        + sipp.report()
    hdr = mode["@CREDENTIALS@"]
    assert not header(invs[0], hdr), f"the first INVITE already carried {hdr}:\n{invs[0]}"
    assert header(invs[0], "Call-ID") == header(invs[1], "Call-ID"), "the retried INVITE changed Call-ID"
    cseq = [int(header(m, "CSeq")[0].split()[0]) for m in invs]
    assert cseq[1] > cseq[0], f"the retried INVITE must have a higher CSeq (RFC 3261 8.1.3.5): {cseq}"
    vals = header(invs[1], hdr)
    assert len(vals) == 1, f"second INVITE should carry one {hdr}: {vals}\n{invs[1]}"
    cred = parse_credentials(vals[0])
    ruri = invs[1].split("\n", 1)[0].split()[1]
    assert cred["scheme"] == "Digest", cred
    assert cred.get("username") == USER, cred
    assert cred.get("realm") == "test", cred
    assert cred.get("nonce") == challenge_nonce(sipp, mode), f"credentials must echo sipp's nonce: {cred}"
    assert cred.get("uri") == ruri, f"digest uri must be the Request-URI {ruri}: {cred}"
    assert cred.get("algorithm", "MD5").upper() == mode["@ALGORITHM@"], cred
    assert cred.get("qop") == "auth", f"qop=auth was offered, so it must be used: {cred}"
    assert cred.get("cnonce") and cred.get("nc"), f"qop=auth needs cnonce and nc: {cred}"
    want = expected_response(cred, "INVITE", password)
    assert cred.get("response") == want, f"digest response {cred.get('response')} != {want} " \
        f"computed with password {password!r}: {cred}"
    return cred


def connected_call(gateway, rtmp_client, procs, out_dir, ports, mode, name):
    sipp = auth_sipp(procs, out_dir, ports, mode, name)
    ctl = rtmp_client()
    dial_connected(ctl, sipp.uri("bob"))
    check_credentials(sipp, mode, PASSWORD)
    hangup_ended(ctl)
    rc = sipp.wait_exit(15)
    assert rc == 0, "sipp should have accepted the credentials and received the BYE:\n" + sipp.report()
    return sipp


def test_proxy_auth_407(gateway, rtmp_client, procs, out_dir, ports):
    connected_call(gateway, rtmp_client, procs, out_dir, ports, PROXY, "sipp_407")


def test_proxy_auth_407_sha256(gateway, rtmp_client, procs, out_dir, ports):
    connected_call(gateway, rtmp_client, procs, out_dir, ports, PROXY_SHA256, "sipp_407_sha256")


def test_www_auth_401_verified_by_sipp(gateway, rtmp_client, procs, out_dir, ports):
    sipp = connected_call(gateway, rtmp_client, procs, out_dir, ports, WWW, "sipp_401")
    assert "verifyauth (Authorization header only) says true" in sipp.logs(), sipp.logs()


def test_wrong_password_ends_call_and_gateway_serves(gateway_factory, procs, out_dir, ports):
    gw = gateway_factory({"sip.auth": {"username": USER, "password": "wrongpw", **TRUNK}},
                         name="gw_wrongpw")
    sipp = auth_sipp(procs, out_dir, ports, WWW, "sipp_wrongpw")
    with RtmpControl(gw.url()) as ctl:
        ctl.call("dial", sipp.uri("bob"))
        s0 = ended_info(ctl, timeout=15)
        assert int(s0["sip_code"]) == 403, f"far end rejected the credentials with 403: {s0}\n{ctl.dump()}"
        assert CONNECTED not in ctl.status_codes(), ctl.dump()
    rc = sipp.wait_exit(10)
    assert rc not in (None, 0), "sipp's scenario fails on purpose after rejecting credentials:\n" + sipp.report()
    assert "verifyauth (Authorization header only) says false" in sipp.logs(), sipp.logs()
    cred = check_credentials(sipp, WWW, "wrongpw")
    assert cred["response"] != expected_response(cred, "INVITE", PASSWORD)
    acks = [m for d, m in sipp_messages(sipp.messages()) if d == "received" and m.startswith("ACK ")]
    assert len(acks) == 2, f"the 401 and the 403 must each be ACKed: {len(acks)} ACKs\n" + sipp.report()
    assert gw.alive()
    with RtmpControl(gw.url()) as again:
        dial_connected(again, "sip:echo@127.0.0.1")
        hangup_ended(again)
    assert gw.alive()
