"""Client authentication with JSON Web Tokens (issue 9, item 6): `[auth] mode = "jwt"`.

The module's gateway requires an HS256 token (secret in a file, issuer "test-site", audience
"rtmp2sip") and logs at trace level. python3-jwt mints the tokens, the way a web site's back end
would. Every refused connect must get `_error` NetConnection.Connect.Rejected with a description
naming the reason, and the connection must then be closed; every refused dial or register gets an
`_error` naming the claim. After each attack a client with a good token still completes an echo
call (status 4). Before this feature the gateway had no `[auth]` section at all: check-config
rejects the config, so every test here fails on the old binary."""
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import jwt
import librtmp
import pytest
from librtmp.amf import decode_amf

from helpers import paths
from helpers.calls import dial_connected, dial_error, hangup_ended
from helpers.rtmp_control import RtmpControl
from helpers.sipp import Sipp

SECRET = "e2e-secret-" + os.urandom(16).hex()   # 43 bytes, unique per run
ISSUER, AUDIENCE = "test-site", "rtmp2sip"
_KEYS = Path(tempfile.mkdtemp(prefix="rtmp2sip-auth-"))
SECRET_FILE = _KEYS / "jwt.secret"
SECRET_FILE.write_text(SECRET + "\n")

GATEWAY_OVERRIDES = {
    "auth": {"mode": "jwt", "algorithm": "HS256", "secret_file": str(SECRET_FILE),
             "issuer": ISSUER, "audience": AUDIENCE, "leeway_s": 5},
    "log": {"level": "trace"},
}


def token(sub="alice", ttl=300, key=SECRET, alg="HS256", **claims) -> str:
    now = int(time.time())
    body = {"sub": sub, "iat": now, "exp": now + ttl, "iss": ISSUER, "aud": AUDIENCE}
    body.update(claims)
    for k in [k for k, v in body.items() if v is None]:
        del body[k]
    return jwt.encode(body, key, algorithm=alg)


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256_by_hand(claims: dict, key: bytes) -> str:
    """An HS256 JWS built without a library, so any bytes (even a PEM public key) can be the key."""
    signing_input = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
        b64url(json.dumps(claims).encode())
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def with_token(url: str, tok: str) -> str:
    """librtmp's `conn=S:...` option: the token as the first connect argument after the command object."""
    return f"{url} conn=S:{tok}"


def connect_reply(url: str, timeout: float = 10.0):
    """Connects with librtmp and returns (method, info object, closed_after) of the reply to connect.
    closed_after: the gateway closed the connection within 5 s of its reply."""
    conn = librtmp.RTMP(url, live=True, timeout=int(timeout))
    conn.connect()
    deadline = time.monotonic() + timeout
    reply = None
    while reply is None and time.monotonic() < deadline:
        pkt = conn.read_packet()
        if pkt.type in (0x14, 0x11):
            body = pkt.body[1:] if pkt.type == 0x11 else pkt.body
            vals = decode_amf(body)
            if len(vals) >= 4 and vals[1] == 1 and vals[0] in ("_result", "_error"):
                reply = (vals[0], vals[3] if isinstance(vals[3], dict) else {})
        else:
            conn.handle_packet(pkt)
    assert reply is not None, f"no reply to connect from {url}"
    fd = librtmp.librtmp.RTMP_Socket(conn.rtmp)
    sock = socket.socket(fileno=os.dup(fd))
    sock.settimeout(5)
    try:
        closed = sock.recv(4096) == b""
        while not closed:           # drain what the gateway still sends, up to EOF
            closed = sock.recv(4096) == b""
    except socket.timeout:
        closed = False
    except OSError:
        closed = True
    finally:
        sock.close()
        conn.close()
    return reply[0], reply[1], closed


def assert_rejected(url: str, *words: str) -> str:
    method, info, closed = connect_reply(url)
    assert method == "_error", f"connect should be rejected, got {method} {info}"
    assert info.get("code") == "NetConnection.Connect.Rejected", info
    desc = info.get("description", "")
    for w in words:
        assert w in desc, f"description {desc!r} should mention {w!r}"
    assert closed, "the gateway must close a rejected connection"
    return desc


def still_serves(gateway):
    """A client with a good token connects and completes an echo call."""
    c = RtmpControl(with_token(gateway.url(), token("checker")))
    try:
        dial_connected(c, "sip:echo@127.0.0.1")
        hangup_ended(c)
    finally:
        c.close()


def test_no_token_is_rejected(gateway):
    assert_rejected(gateway.url(), "no token")
    still_serves(gateway)


def test_expired_token_is_rejected(gateway):
    assert_rejected(with_token(gateway.url(), token(ttl=-60)), "expired")
    still_serves(gateway)


def test_bad_signature_is_rejected(gateway):
    forged = token(key="not-the-gateway-secret-but-32-bytes-long")
    assert_rejected(with_token(gateway.url(), forged), "bad signature")
    # A token with its claims swapped for more powerful ones keeps the old signature: refused.
    good = token(sub="mallory")
    h, _, s = good.split(".")
    _, c, _ = token(sub="mallory", dial=["*"], max_calls=1000).split(".")
    assert_rejected(with_token(gateway.url(), f"{h}.{c}.{s}"), "bad signature")
    # alg "none" (RFC 7519 section 6): unsigned.
    unsigned = jwt.encode({"sub": "mallory", "exp": int(time.time()) + 60, "iss": ISSUER, "aud": AUDIENCE},
                          None, algorithm="none")
    assert_rejected(with_token(gateway.url(), unsigned), "wrong algorithm", "`none`")
    still_serves(gateway)


def test_wrong_issuer_or_audience_is_rejected(gateway):
    assert_rejected(with_token(gateway.url(), token(iss="evil-site")), "iss")
    assert_rejected(with_token(gateway.url(), token(aud="another-service")), "aud")
    assert_rejected(with_token(gateway.url(), token(iss=None)), "iss")
    still_serves(gateway)


def test_bad_claims_are_rejected(gateway):
    assert_rejected(with_token(gateway.url(), token(sub="eve\r\nX-Evil: 1")), "sub")
    assert_rejected(with_token(gateway.url(), token(sub="eve@evil.invalid")), "sub")
    assert_rejected(with_token(gateway.url(), token(dial=["sip:*@127.0.0.1*"])), "dial")
    assert_rejected(with_token(gateway.url(), token(max_calls="many")), "max_calls")
    assert_rejected(with_token(gateway.url(), token(nbf=int(time.time()) + 3600)), "nbf")
    still_serves(gateway)


def test_dial_claim_narrows_the_policy(gateway):
    c = RtmpControl(with_token(gateway.url(), token(dial=["sip:echo@*"])))
    try:
        # Allowed by [policy] dial_allow (loopback), not by the token.
        info = dial_error(c, "sip:bob@127.0.0.1")
        assert info.get("code") == "Sono.Call.Forbidden", info
        assert "`dial` claim" in info.get("description", ""), info
        dial_connected(c, "sip:echo@127.0.0.1")
        hangup_ended(c)
    finally:
        c.close()
    c = RtmpControl(with_token(gateway.url(), token(dial=[])))
    try:
        info = dial_error(c, "sip:echo@127.0.0.1")
        assert info.get("code") == "Sono.Call.Forbidden", info
    finally:
        c.close()
    still_serves(gateway)


def test_register_claim(gateway):
    c = RtmpControl(with_token(gateway.url(), token()))   # no `register` claim: false
    try:
        r = c.reply(c.call("register"))
        assert r.method == "_error", r
        assert r.info.get("code") == "Sono.Registration.Failed", r
        assert "`register` claim" in r.info.get("description", ""), r
    finally:
        c.close()
    c = RtmpControl(with_token(gateway.url(), token(register=True)))
    try:
        r = c.reply(c.call("register"))
        assert r.method == "_result", r
    finally:
        c.close()
    still_serves(gateway)


def test_max_calls_per_subject_across_connections(gateway):
    tok = token(sub="bounded", max_calls=1)
    a = RtmpControl(with_token(gateway.url(), tok))
    b = RtmpControl(with_token(gateway.url(), tok))
    try:
        dial_connected(a, "sip:echo@127.0.0.1")
        info = dial_error(b, "sip:echo@127.0.0.1")
        assert info.get("code") == "Sono.Call.Failed", info
        assert "max_calls" in info.get("description", ""), info
        # Another subject is not affected.
        still_serves(gateway)
        hangup_ended(a)
        time.sleep(0.3)
        dial_connected(b, "sip:echo@127.0.0.1")
        hangup_ended(b)
    finally:
        a.close()
        b.close()


def test_good_token_calls_with_sub_as_from(gateway, procs, out_dir, ports):
    c = RtmpControl(with_token(gateway.url(), token(sub="alice", dial=["sip:*@127.0.0.1"])))
    try:
        dial_connected(c, "sip:echo@127.0.0.1")
        hangup_ended(c)
        sipp = Sipp(procs, out_dir, ports, "uas_reject.xml", subst={"@CODE@": "486", "@REASON@": "Busy Here"},
                    name="sipp_from").start()
        before = len(c.statuses())
        c.call("dial", sipp.uri("bob"))
        c.wait_status(0, 15, after=before)
        assert sipp.wait_exit(15) == 0, sipp.report()
        from_lines = [l for l in sipp.messages().splitlines() if l.lower().startswith(("from:", "f:"))]
        assert from_lines, sipp.messages()
        f = from_lines[0]
        assert "<sip:alice@127.0.0.1" in f, f"From should carry the token's sub: {f!r}"
        assert "alice" in f.split("<", 1)[0], f"From's display name should be the sub: {f!r}"
    finally:
        c.close()


def test_token_in_tc_url_query(gateway):
    c = RtmpControl(f"{gateway.url()}?token={token(sub='query')}")
    try:
        dial_connected(c, "sip:echo@127.0.0.1")
        hangup_ended(c)
    finally:
        c.close()
    assert_rejected(f"{gateway.url()}?token={token(ttl=-60)}", "expired")


def test_token_minted_by_the_cli(gateway):
    minted = subprocess.run(
        [str(paths.gateway_binary()), "token", "--secret-file", str(SECRET_FILE), "--sub", "cli-user",
         "--dial", "sip:echo@*", "--ttl", "5m", "--max-calls", "1", "--iss", ISSUER, "--aud", AUDIENCE],
        capture_output=True, text=True, timeout=30)
    assert minted.returncode == 0, minted.stderr
    tok = minted.stdout.strip()
    claims = jwt.decode(tok, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == "cli-user" and claims["dial"] == ["sip:echo@*"] and claims["max_calls"] == 1
    assert 290 <= claims["exp"] - int(time.time()) <= 301
    c = RtmpControl(with_token(gateway.url(), tok))
    try:
        dial_connected(c, "sip:echo@127.0.0.1")
        hangup_ended(c)
    finally:
        c.close()
    bad = subprocess.run([str(paths.gateway_binary()), "token", "--secret-file", str(SECRET_FILE),
                          "--sub", "a b"], capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "sub" in bad.stderr, bad


def test_es256_and_eddsa_public_keys(gateway_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    for alg, priv in (("ES256", ec.generate_private_key(ec.SECP256R1())),
                      ("EdDSA", ed25519.Ed25519PrivateKey.generate())):
        pub = _KEYS / f"{alg}.pub.pem"
        pub.write_bytes(priv.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
        gw = gateway_factory({"auth": {"mode": "jwt", "algorithm": alg, "public_key_file": str(pub)}},
                             name=alg.lower())
        now = int(time.time())
        good = jwt.encode({"sub": "pk", "exp": now + 60}, priv, algorithm=alg)
        c = RtmpControl(with_token(gw.url(), good))
        try:
            dial_connected(c, "sip:echo@127.0.0.1")
            hangup_ended(c)
        finally:
            c.close()
        # An HS256 token whose "secret" is the public key (algorithm confusion): refused.
        forged = hs256_by_hand({"sub": "pk", "exp": now + 60}, pub.read_bytes())
        assert_rejected(with_token(gw.url(), forged), "algorithm")


def test_secret_and_token_never_logged(gateway):
    start = gateway.log_size()
    tok = token(sub="logcheck")
    still = RtmpControl(with_token(gateway.url(), tok))
    still.close()
    assert_rejected(f"{gateway.url()}?token={token(sub='logcheck2', key='x' * 40)}", "bad signature")
    time.sleep(0.5)
    log = gateway.log.read_text(errors="replace")
    assert "TRACE" in log or "trace" in log.lower(), "the module's gateway should log at trace level"
    assert SECRET not in log, "the HS256 secret appears in the log"
    assert tok.split(".")[2] not in log, "a client token's signature appears in the log"
    assert "client authenticated" in log[start:] and "logcheck" in log[start:], \
        "the authenticated subject should be logged"


def test_max_calls_counts_incoming_calls(gateway, procs, out_dir, ports):
    """A subject at its max_calls on one connection: a call to its other connection's registered address
    is answered 486 and never rings there."""
    from helpers.incoming import register_local, user_of
    tok = token(sub="bounded-in", max_calls=1, register=True)
    a = RtmpControl(with_token(gateway.url(), tok))
    b = RtmpControl(with_token(gateway.url(), tok))
    try:
        uri = register_local(b)
        dial_connected(a, "sip:echo@127.0.0.1")
        sipp = Sipp(procs, out_dir, ports, "uac_expect_reject.xml", name="sipp_in", subst={"@CODE@": 486})
        sipp.keys.update({"fromuser": "alice"})
        sipp.extra += ["-s", user_of(uri)]
        sipp.start(f"127.0.0.1:{gateway.sip_port}")
        assert sipp.wait_exit(10) == 0, "the subject is at max_calls: 486 expected:\n" + sipp.report()
        assert not [i for i in b.invokes if i.info.get("code") == "Sono.Call.Incoming"], b.dump()
        hangup_ended(a)
    finally:
        a.close()
        b.close()
    still_serves(gateway)
