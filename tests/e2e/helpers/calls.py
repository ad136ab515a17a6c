"""The call flow of the RTMP API, as a client sees it (README.md, "RTMP API")."""
from .rtmp_control import (CONNECT_STREAMS, CONNECTED, DISCONNECTING, IN_PROGRESS, NOT_CONNECTED,
                           RtmpControl)


def dial_connected(ctl: RtmpControl, uri: str, timeout: float = 15.0) -> dict:
    """dial(uri) and wait for Sono.Call.Status 4. Asserts: no _result/_error for the dial, the first status
    is 1, statuses 2 and 4 arrive with no 3/0 before them, and status 4 carries distinct non-empty
    `publish` and `play` names. Returns the status-4 info object."""
    before = len(ctl.statuses())
    txn = ctl.call("dial", uri)
    s4 = ctl.wait_status(CONNECT_STREAMS, timeout, after=before)
    ctl.wait_status(CONNECTED, 5, after=before)
    replies = ctl.replies_to(txn)
    assert not replies, f"dial({uri!r}) got a reply, expected none on success: {replies}\n{ctl.dump()}"
    codes = ctl.status_codes()[before:]
    upto = codes[:max(i for i, c in enumerate(codes) if c in (CONNECTED, CONNECT_STREAMS)) + 1]
    assert upto and upto[0] == IN_PROGRESS, f"first status should be 1 (in progress): {codes}\n{ctl.dump()}"
    assert not set(upto) & {NOT_CONNECTED, DISCONNECTING}, f"call ended while connecting: {codes}\n{ctl.dump()}"
    pub, play = s4.get("publish"), s4.get("play")
    assert isinstance(pub, str) and len(pub) >= 16, f"status 4 lacks a random `publish` name: {s4}"
    assert isinstance(play, str) and len(play) >= 16, f"status 4 lacks a random `play` name: {s4}"
    assert pub != play, f"publish and play names are equal: {s4}"
    return s4


def hangup_ended(ctl: RtmpControl, timeout: float = 10.0) -> dict:
    """hangup(): asserts a _result, then status 3 and then status 0; returns the status-0 info object,
    which must carry call_id (sip_code and reason are only required when SIP ended the call)."""
    before = len(ctl.statuses())
    txn = ctl.call("hangup")
    r = ctl.reply(txn, timeout)
    assert r.method == "_result", f"hangup() answered {r!r}\n{ctl.dump()}"
    ctl.wait_status(NOT_CONNECTED, timeout, after=before)
    codes = ctl.status_codes()[before:]
    assert DISCONNECTING in codes and codes.index(DISCONNECTING) < codes.index(NOT_CONNECTED), \
        f"expected status 3 then 0 after hangup, got {codes}\n{ctl.dump()}"
    return ended_info(ctl, before, require=("call_id",))


def ended_info(ctl: RtmpControl, after: int = 0, timeout: float = 10.0,
               require: tuple = ("sip_code", "reason", "call_id")) -> dict:
    """The status-0 info object (index >= after), checked for the `require`d keys."""
    s0 = ctl.wait_status(NOT_CONNECTED, timeout, after=after)
    for k in require:
        assert k in s0, f"status 0 lacks `{k}`: {s0}"
    return s0


def dial_error(ctl: RtmpControl, *args, timeout: float = 5.0) -> dict:
    """dial(*args) that must fail at once: asserts an _error whose info object (the 4th AMF value) has
    level "error"; returns that info object."""
    txn = ctl.call("dial", *args)
    r = ctl.reply(txn, timeout)
    assert r.method == "_error", f"dial{args!r} should get _error, got {r!r}\n{ctl.dump()}"
    info = r.info
    assert info.get("level") == "error", f"_error info object should have level 'error': {r!r}"
    return info
