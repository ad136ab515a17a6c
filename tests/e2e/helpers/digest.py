"""SIP Digest credentials (RFC 3261 section 22.4, RFC 2617 section 3.2.2) read back from a sipp message
trace and checked against a password, for the authentication tests."""
import hashlib
import re

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)\s*,?')


def parse_credentials(value: str) -> dict:
    """'Digest username="u", nc=00000001, ...' -> {"scheme": "Digest", "username": "u", "nc": "00000001",
    ...}; quoted values are unquoted. `quoted` lists the names whose value was quoted."""
    scheme, _, rest = value.strip().partition(" ")
    out = {"scheme": scheme, "quoted": set()}
    for m in _PARAM.finditer(rest):
        k, v = m.group(1).lower(), m.group(2)
        if v.startswith('"'):
            v = v[1:-1]
            out["quoted"].add(k)
        out[k] = v
    return out


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def _sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def expected_response(cred: dict, method: str, password: str) -> str:
    """request-digest of RFC 2617 section 3.2.2.1 / RFC 7616 section 3.4.1 (MD5 or SHA-256 by the
    credentials' `algorithm`, qop=auth or no qop) for `cred` (as parsed) made with `password`."""
    h = _sha256 if cred.get("algorithm", "MD5").upper() == "SHA-256" else _md5
    ha1 = h(f"{cred['username']}:{cred['realm']}:{password}")
    ha2 = h(f"{method}:{cred['uri']}")
    if cred.get("qop"):
        return h(f"{ha1}:{cred['nonce']}:{cred['nc']}:{cred['cnonce']}:{cred['qop']}:{ha2}")
    return h(f"{ha1}:{cred['nonce']}:{ha2}")


def sipp_messages(trace: str) -> list:
    """sipp -trace_msg text -> [(direction "received"|"sent", message text)], in order."""
    out = []
    parts = re.split(r"^-{20,}[^\n]*\n", trace, flags=re.M)
    for p in parts:
        m = re.match(r"UDP message (received|sent)[^\n]*\n\s*\n?", p)
        if m:
            out.append((m.group(1), p[m.end():].lstrip("\n")))
    return out


def header(msg: str, name: str) -> list:
    """Values of header `name` (case-insensitive, full name only) in one SIP message's head."""
    head = msg.split("\n\n", 1)[0].replace("\r", "")
    pat = re.compile(rf"^{re.escape(name)}\s*:\s*(.*)$", re.I | re.M)
    return [m.group(1).strip() for m in pat.finditer(head)]
