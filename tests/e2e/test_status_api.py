"""The status API (/api/v1 behind [http] admin_token), the CLI over it (`rtmp2sip status|calls|hangup`),
call detail records ([cdr] path) and JSON logs ([log] format = "json").

During a call to a PCMU-only sipp UAS the API lists the call with its codecs, state and parties; the
CLI prints it; DELETE ends it (sipp gets its BYE and exits 0, the client gets status 0 with reason
"Hung up by the operator"); a CDR line with every field appears. No token or a wrong one gets 401 with
`WWW-Authenticate: Bearer`; without admin_token the API answers 404. Every response's keys are
checked against docs/openapi.yaml. Every line of the gateway's log parses as JSON.

The binary before issue 12 has no [http] admin_token, [cdr] or [log] format: check-config rejects the
config, so every test here fails on it."""
import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from helpers import paths
from helpers.calls import dial_connected
from helpers.ports import wait_until
from helpers.rtmp_control import NOT_CONNECTED, RtmpControl
from helpers.sipp import Sipp
from helpers.ws_raw import http_get

TOKEN = "e2e-admin-token-0123456789"
OPENAPI = yaml.safe_load((paths.REPO / "docs" / "openapi.yaml").read_text())


@pytest.fixture(scope="module")
def api_gw(ports, tmp_path_factory):
    from helpers.gateway import Gateway
    d = tmp_path_factory.mktemp("gw-status-api")
    http_port = ports.port()
    gw = Gateway(d, ports, {
        "http": {"listen": [f"127.0.0.1:{http_port}"], "admin_token": TOKEN},
        "cdr": {"path": str(d / "cdr.jsonl")},
        "log": {"format": "json"},
    })
    gw.http_port = http_port
    gw.cdr = d / "cdr.jsonl"
    gw.start()
    yield gw
    gw.stop()


def api(port: int, method: str, path: str, token: str = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    status, hdrs, body = http_get(port, path, method=method, headers=headers)
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    return status, hdrs, doc


def schema(name: str) -> dict:
    return OPENAPI["components"]["schemas"][name]


def resolve(s: dict) -> dict:
    if "$ref" in s:
        return schema(s["$ref"].rsplit("/", 1)[1])
    if "allOf" in s:
        return resolve(s["allOf"][0])
    return s


def check_keys(value, s: dict, where: str = "$"):
    """The object's keys equal the schema's properties, recursively (arrays item by item)."""
    s = resolve(s)
    if value is None:
        return
    if s.get("type") == "array" or "items" in s:
        assert isinstance(value, list), f"{where}: not an array: {value!r}"
        for i, v in enumerate(value):
            check_keys(v, s["items"], f"{where}[{i}]")
    elif "properties" in s:
        assert isinstance(value, dict), f"{where}: not an object: {value!r}"
        assert set(value) == set(s["properties"]), \
            f"{where}: keys {sorted(value)} != openapi.yaml {sorted(s['properties'])}"
        for k, sub in s["properties"].items():
            check_keys(value[k], sub, f"{where}.{k}")


def cli(gw, *args, token=TOKEN, env_token=None):
    env = {"PATH": "/usr/bin:/bin"}
    if env_token:
        env["RTMP2SIP_ADMIN_TOKEN"] = env_token
    argv = [str(gw.binary), *args, "--url", f"http://127.0.0.1:{gw.http_port}"]
    if token:
        argv += ["--token", token]
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, env=env)


def test_unauthorised_requests_get_401(api_gw):
    for token in (None, "wrong-token-wrong-token"):
        for method, path in (("GET", "/api/v1/calls"), ("GET", "/api/v1/status"),
                             ("DELETE", "/api/v1/calls/x")):
            status, hdrs, doc = api(api_gw.http_port, method, path, token)
            assert status == 401, f"{method} {path} with token {token!r}: {status} {doc}"
            assert hdrs.get("www-authenticate", "").startswith("Bearer"), hdrs
    status, _, doc = api(api_gw.http_port, "GET", "/api/v1/status")
    assert status == 200, doc
    check_keys(doc, schema("Status"))
    r = cli(api_gw, "calls", token=None)
    assert r.returncode == 4, f"CLI without a token: exit {r.returncode}\n{r.stderr}"


def test_api_is_off_without_admin_token(gateway_factory, ports):
    port = ports.port()
    gw = gateway_factory({"http": {"listen": [f"127.0.0.1:{port}"]}}, "gw-no-token")
    for token in (None, TOKEN):
        status, _, _ = api(port, "GET", "/api/v1/calls", token)
        assert status == 404, f"API must be off without admin_token: {status}"
    status, _, body = http_get(port, "/healthz")
    assert status == 200, body


def test_call_listed_printed_and_hung_up(api_gw, procs, out_dir, ports):
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu_silent.xml", name="sipp_uas").start()
    port = api_gw.http_port
    ctl = RtmpControl(api_gw.url())
    try:
        s4 = dial_connected(ctl, sipp.uri("bob"))
        call_id = s4["call_id"]

        status, _, doc = api(port, "GET", "/api/v1/calls")
        assert status == 200, doc
        check_keys(doc, schema("CallList"))
        calls = [c for c in doc["calls"] if c["call_id"] == call_id]
        assert len(calls) == 1, f"call {call_id} not listed: {doc}"
        c = calls[0]
        assert c["direction"] == "outbound" and c["state"] == "connected", c
        assert c["codecs"]["sip"] == "PCMU/8000", c
        assert c["codecs"]["rtmp_out"] and c["codecs"]["path"] in ("transcode", "passthrough"), c
        assert c["sip"]["to"].startswith("sip:bob@127.0.0.1"), c
        assert c["rtmp"]["app"] == "phone", c
        assert c["answer_time"] and c["start_time"].endswith("Z"), c

        status, _, one = api(port, "GET", f"/api/v1/calls/{call_id}")
        assert status == 200 and one["call_id"] == call_id, one
        check_keys(one, schema("Call"))
        status, _, conns = api(port, "GET", "/api/v1/connections")
        assert status == 200, conns
        check_keys(conns, schema("ConnectionList"))
        mine = [x for x in conns["connections"] if x["call_id"] == call_id]
        assert mine and mine[0]["transport"] == "rtmp" and mine[0]["remote"].startswith("127.0.0.1:"), conns
        status, _, regs = api(port, "GET", "/api/v1/registrations")
        assert status == 200, regs
        check_keys(regs, schema("RegistrationList"))

        r = cli(api_gw, "calls")
        assert r.returncode == 0, r.stderr
        assert "CALL-ID" in r.stdout and call_id in r.stdout and "PCMU/8000" in r.stdout, r.stdout
        print(r.stdout)
        r = cli(api_gw, "status", token=None, env_token=TOKEN)
        assert r.returncode == 0, r.stderr
        assert "Connections:" in r.stdout and call_id in r.stdout, r.stdout

        before = len(ctl.statuses())
        r = cli(api_gw, "hangup", call_id)
        assert r.returncode == 0, f"hangup: {r.returncode} {r.stderr}"
        s0 = ctl.wait_status(NOT_CONNECTED, 10, after=before)
        assert s0.get("reason") == "Hung up by the operator", s0
        rc = sipp.wait_exit(15)
        assert rc == 0, "sipp must receive the BYE:\n" + sipp.report()
        assert "BYE sip:" in sipp.messages()

        assert wait_until(lambda: api(port, "GET", f"/api/v1/calls/{call_id}")[0] == 404, 5, 0.1)
        status, _, doc = api(port, "DELETE", f"/api/v1/calls/{call_id}")
        assert status == 404, doc
        check_keys(doc, schema("Error"))
        r = cli(api_gw, "hangup", call_id)
        assert r.returncode == 1, f"hangup of an ended call: {r.returncode} {r.stderr}"
    finally:
        ctl.close()

    def cdr_line():
        try:
            lines = api_gw.cdr.read_text().splitlines()
        except OSError:
            return None
        recs = [json.loads(ln) for ln in lines if ln.strip()]
        return next((x for x in recs if x["call_id"] == call_id), None)
    assert wait_until(lambda: cdr_line() is not None, 5, 0.1), "no CDR line for the call"
    rec = cdr_line()
    print("CDR:", rec)
    for k in ("call_id", "direction", "rtmp", "sip", "start_time", "answer_time", "end_time", "duration_s",
              "billable_s", "codecs", "sip_code", "reason", "rtp", "r_factor", "mos"):
        assert k in rec, f"CDR lacks {k}: {rec}"
    assert rec["reason"] == "Hung up by the operator" and rec["codecs"]["sip"] == "PCMU/8000", rec
    assert rec["end_time"] >= rec["answer_time"] >= rec["start_time"], rec
    assert rec["duration_s"] > 0 and "packets_sent" in rec["rtp"], rec


def test_json_log_lines_parse(api_gw):
    # a connection so that the log has more than the start-up lines
    with RtmpControl(api_gw.url()):
        pass
    time.sleep(0.3)
    # the harness writes the command line first ("$ rtmp2sip --config ...")
    lines = [ln for ln in Path(api_gw.log).read_text(errors="replace").splitlines()
             if ln.strip() and not ln.startswith("$ ")]
    assert len(lines) > 5, lines
    for ln in lines:
        try:
            obj = json.loads(ln)
        except ValueError:
            raise AssertionError(f"log line is not JSON: {ln!r}")
        assert "level" in obj and "timestamp" in obj, ln


def test_echo_call_counts_rtp_and_its_record_has_a_mos(api_gw, procs):
    from helpers import media
    port = api_gw.http_port
    ctl = RtmpControl(api_gw.url())
    try:
        s4 = dial_connected(ctl, "sip:echo@127.0.0.1")
        call_id = s4["call_id"]
        publisher = media.ffmpeg_publish_tone(procs, api_gw.url(s4["publish"]), 3)

        def counted():
            st, _, c = api(port, "GET", f"/api/v1/calls/{call_id}")
            return st == 200 and c["rtp"] and c["rtp"]["packets_sent"] > 20 and c["rtp"]["packets_received"] > 20
        assert wait_until(counted, 8, 0.2), api(port, "GET", f"/api/v1/calls/{call_id}")
        _, _, c = api(port, "GET", f"/api/v1/calls/{call_id}")
        assert c["direction"] == "echo" and c["codecs"]["rtmp_in"] == "speex", c
        media.wait_ok(publisher, 20, "ffmpeg publishing Speex to the gateway")
        before = len(ctl.statuses())
        status, _, doc = api(port, "DELETE", f"/api/v1/calls/{call_id}")
        assert status == 202, doc
        check_keys(doc, schema("HangupAccepted"))
        s0 = ctl.wait_status(NOT_CONNECTED, 10, after=before)
        assert s0.get("reason") == "Hung up by the operator", s0
    finally:
        ctl.close()

    def rec():
        try:
            lines = api_gw.cdr.read_text().splitlines()
        except OSError:
            return None
        return next((json.loads(x) for x in lines if x.strip() and json.loads(x)["call_id"] == call_id), None)
    assert wait_until(lambda: rec() is not None, 5, 0.1), "no CDR line for the echo call"
    r = rec()
    print("CDR:", r)
    assert r["direction"] == "echo" and r["rtp"]["packets_received"] > 20, r
    assert 1.0 <= r["mos"] <= 4.5 and 0 <= r["r_factor"] <= 93.2, r


def test_registrations_and_connections_are_listed(api_gw):
    from helpers.incoming import register_local
    port = api_gw.http_port
    ctl = RtmpControl(api_gw.url())
    try:
        uri = register_local(ctl)
        st, _, regs = api(port, "GET", "/api/v1/registrations")
        assert st == 200, regs
        check_keys(regs, schema("RegistrationList"))
        mine = [r for r in regs["registrations"] if r["aor"] == uri]
        assert mine and mine[0]["state"] == "registered", regs
        st, _, conns = api(port, "GET", "/api/v1/connections")
        assert any(c["id"] == mine[0]["connection"] and c["app"] == "phone" for c in conns["connections"]), conns
        txn = ctl.call("unregister")
        assert ctl.reply(txn, 5).method == "_result"
        st, _, regs = api(port, "GET", "/api/v1/registrations")
        assert not [r for r in regs["registrations"] if r["aor"] == uri], regs
    finally:
        ctl.close()
    assert wait_until(lambda: not api(port, "GET", "/api/v1/connections")[2]["connections"], 5, 0.1), \
        "a closed connection is still listed"


def test_cli_over_https(gateway_factory, ports, tmp_path):
    """An HTTPS-only [http] listener: `rtmp2sip status -c FILE` goes to https:// and trusts the
    listener's own (self-signed) tls_cert, pinned; `--url https://... --ca` works for a certificate from
    a private CA; a certificate nobody trusts, or a name it does not carry, is refused (exit 3); the
    health check speaks https:// too. The binary before this change only spoke http:// (exit 3)."""
    from helpers.tls_cert import make_cert
    from helpers.tls_relay import make_certs
    cert, key = make_cert(tmp_path / "self")
    port = ports.port()
    gw = gateway_factory({"http": {"listen": [f"127.0.0.1:{port}"], "admin_token": TOKEN,
                                   "tls_cert": str(cert), "tls_key": str(key)}}, "gw-https-cli")
    env = {"PATH": "/usr/bin:/bin"}

    def run(*args):
        return subprocess.run([str(gw.binary), *args], capture_output=True, text=True, timeout=20, env=env)
    r = run("status", "-c", str(gw.config_path))
    assert r.returncode == 0, f"status -c over https: exit {r.returncode}\n{r.stderr}{r.stdout}"
    assert "Calls:" in r.stdout, r.stdout
    url = f"https://127.0.0.1:{port}"
    r = run("calls", "--url", url, "--token", TOKEN)
    assert r.returncode == 3 and "certificate" in r.stderr.lower(), \
        f"an untrusted certificate must be refused: exit {r.returncode}\n{r.stderr}"
    r = run("calls", "--url", url, "--token", TOKEN, "--ca", str(cert), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["calls"] == [], f"exit {r.returncode}\n{r.stderr}"
    r = run("healthcheck", f"{url}/healthz")
    assert r.returncode == 1, "the health check trusts only the system roots"
    gw.stop()
    # A leaf from a private CA: --ca names the CA.
    certs = make_certs(tmp_path / "ca")
    port2 = ports.port()
    gw2 = gateway_factory({"http": {"listen": [f"127.0.0.1:{port2}"], "admin_token": TOKEN,
                                    "tls_cert": str(certs["cert"]), "tls_key": str(certs["key"])}},
                          "gw-https-cli-ca")
    def run2(*args):
        return subprocess.run([str(gw2.binary), "status", "--token", TOKEN, "--ca", str(certs["ca"]), *args],
                              capture_output=True, text=True, timeout=20, env=env)
    r = run2("--url", f"https://localhost:{port2}")
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr}"
    r = run2("--url", f"https://127.0.0.1:{port2}", "--server-name", "gw.example.com")
    assert r.returncode == 3, f"a name the certificate lacks must be refused: {r.returncode}\n{r.stderr}"
