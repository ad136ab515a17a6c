"""Incoming calls as an RTMP client sees them: register() on the embedded registrar, Sono.Call.Incoming,
accept() / reject()."""
from .rtmp_control import RtmpControl


def event(ctl: RtmpControl, code: str, timeout: float, after: int = 0) -> dict:
    """The info object of the first onStatus with `code` (index among all invokes >= after)."""
    inv = ctl.wait_for(lambda i: i.method == "onStatus" and i.info.get("code") == code, timeout,
                       what=f"{code} event", start=after)
    return inv.info


def register_local(ctl: RtmpControl) -> str:
    """register() with no arguments: returns the sip: address the embedded registrar gave."""
    txn = ctl.call("register")
    r = ctl.reply(txn)
    assert r.method == "_result", f"register() answered {r!r}\n{ctl.dump()}"
    uri = r.info.get("uri")
    assert isinstance(uri, str) and uri.startswith("sip:u"), f"register() result lacks a sip: uri: {r!r}"
    return uri


def user_of(uri: str) -> str:
    return uri.split(":", 1)[1].split("@", 1)[0]


def answer(ctl: RtmpControl, method: str, *args) -> None:
    """accept() / reject(code): asserts a _result."""
    txn = ctl.call(method, *args)
    r = ctl.reply(txn)
    assert r.method == "_result", f"{method}{args!r} answered {r!r}\n{ctl.dump()}"
