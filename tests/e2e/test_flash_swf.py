"""flash_phone/phone.swf, built from flash_phone/src by flash_phone/build.sh (Debian's haxe 4.2.5), read back
with a short SWF/ABC reader of our own (below): no Flash Player exists to run it, so the test checks what the
player would be given.

- the SWF header: signature CWS (zlib) or FWS, file version >= 11 (haxe's -swf-version 11 writes 13: Flash
  Player 11), the declared length equals the uncompressed length, the stage rectangle, FileAttributes with
  ActionScript 3;
- one DoABC tag (SWF 10 spec, tag 82) whose ABC (AVM2 overview, "abcFile", major version 46) has in its
  constant pool the ActionScript classes (rtmp2sip.Main, Client, Bridge, Media, Ui), every ExternalInterface
  callback the SDK's Flash transport calls, every event it expects, the gateway methods of README's RTMP API,
  the NetConnection / NetStream / Microphone API the client uses (connect, call, publish, play,
  SoundCodec.SPEEX, framesPerPacket, encodeQuality, setSilenceLevel, getEnhancedMicrophone, ...);
- a SymbolClass tag binds haxe's boot class (which runs rtmp2sip.Main) to character 0.

Spec references: Adobe "SWF File Format Specification" v19 (header, RECORDHEADER, FileAttributes 69,
DoABC 82, SymbolClass 76) and "ActionScript Virtual Machine 2 (AVM2) Overview" §4.2-4.3 (abcFile,
cpool_info, u30)."""
import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from helpers.paths import REPO

BUILD = REPO / "flash_phone" / "build.sh"

# What the SDK's Flash transport (flash_phone/js/rtmp2sip-phone.js, FlashPhone) calls on the <object>.
CALLBACKS = ["connect", "disconnect", "dial", "hangup", "register", "unregister", "accept", "reject", "sendDTMF",
             "hold", "unhold", "transfer", "mute", "setQuality"]
# The event types the SWF reports through ExternalInterface.call(callback, type, detail).
EVENTS = ["ready", "reply", "connection", "onStatus", "stream", "media", "microphone"]
# Gateway methods (README "RTMP API") the SWF invokes by NetConnection.call.
GATEWAY_METHODS = ["dial", "hangup", "register", "unregister", "accept", "reject", "sendDTMF", "hold", "unhold",
                   "transfer"]
FLASH_API = ["flash.net:NetConnection", "flash.net:NetStream", "flash.net:Responder", "flash.media:Microphone",
             "flash.media:MicrophoneEnhancedOptions", "flash.external:ExternalInterface", "addCallback",
             "connect", "call", "close", "objectEncoding", "client", "publish", "play", "attachAudio", "bufferTime",
             "live", "getEnhancedMicrophone", "getMicrophone", "codec", "SPEEX", "framesPerPacket", "encodeQuality",
             "setSilenceLevel", "enhancedOptions", "FULL_DUPLEX", "flash.events:NetStatusEvent", "NET_STATUS", "Sono.Call.Status", "status_code",
             "early_media", "publish", "play", "dummy"]
CLASSES = ["rtmp2sip:Main", "rtmp2sip:Client", "rtmp2sip:Bridge", "rtmp2sip:Media", "rtmp2sip:Ui"]


# ---- a short SWF / ABC reader ----

class Swf:
    """Header fields and tags ([(code, body)]) of a SWF file."""

    def __init__(self, data: bytes):
        sig = data[:3]
        assert sig in (b"FWS", b"CWS"), f"not a SWF (or LZMA 'ZWS', which haxe does not write): {sig!r}"
        self.signature = sig.decode()
        self.version = data[3]
        self.file_length = struct.unpack_from("<I", data, 4)[0]
        body = data[8:] if sig == b"FWS" else zlib.decompress(data[8:])
        self.uncompressed_length = 8 + len(body)
        nbits = body[0] >> 3
        bits = "".join(f"{b:08b}" for b in body[:(5 + 4 * nbits + 7) // 8])
        vals = [int(bits[5 + i * nbits:5 + (i + 1) * nbits], 2) for i in range(4)]
        vals = [v - (1 << nbits) if v >> (nbits - 1) else v for v in vals]   # signed twips
        self.rect_twips = vals                                               # xmin, xmax, ymin, ymax
        p = (5 + 4 * nbits + 7) // 8
        self.frame_rate = body[p + 1] + body[p] / 256                        # 8.8 fixed point
        self.frame_count = struct.unpack_from("<H", body, p + 2)[0]
        p += 4
        self.tags = []
        while p < len(body):
            code_len = struct.unpack_from("<H", body, p)[0]
            code, ln = code_len >> 6, code_len & 0x3F
            p += 2
            if ln == 0x3F:
                ln = struct.unpack_from("<I", body, p)[0]
                p += 4
            assert p + ln <= len(body), f"tag {code} runs past the end"
            self.tags.append((code, body[p:p + ln]))
            p += ln
            if code == 0:
                break


def u30(b: bytes, p: int):
    """AVM2 variable-length unsigned integer (up to 5 bytes, 7 bits each, little-endian)."""
    v = shift = 0
    for _ in range(5):
        x = b[p]
        p += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            break
    return v, p


def abc_strings(abc: bytes):
    """(minor, major, constant pool strings, namespace-qualified names 'ns:name') of an abcFile."""
    minor, major = struct.unpack_from("<HH", abc, 0)
    p = 4
    n, p = u30(abc, p)                       # int pool (s32 as u30-encoded)
    for _ in range(max(n - 1, 0)):
        _, p = u30(abc, p)
    n, p = u30(abc, p)                       # uint pool
    for _ in range(max(n - 1, 0)):
        _, p = u30(abc, p)
    n, p = u30(abc, p)                       # doubles
    p += 8 * max(n - 1, 0)
    n, p = u30(abc, p)
    strings = [""]
    for _ in range(max(n - 1, 0)):
        ln, p = u30(abc, p)
        strings.append(abc[p:p + ln].decode("utf-8"))
        p += ln
    n, p = u30(abc, p)                       # namespaces: kind u8, name u30
    namespaces = [""]
    for _ in range(max(n - 1, 0)):
        p += 1
        s, p = u30(abc, p)
        namespaces.append(strings[s])
    n, p = u30(abc, p)                       # namespace sets: count, ns indices
    for _ in range(max(n - 1, 0)):
        c, p = u30(abc, p)
        for _ in range(c):
            _, p = u30(abc, p)
    n, p = u30(abc, p)                       # multinames: QName (0x07, 0x0D) ns + name; others skipped
    qnames = set()
    for _ in range(max(n - 1, 0)):
        kind = abc[p]
        p += 1
        if kind in (0x07, 0x0D):
            ns, p = u30(abc, p)
            nm, p = u30(abc, p)
            qnames.add(f"{namespaces[ns]}:{strings[nm]}")
        elif kind in (0x0F, 0x10):           # RTQName(A): name
            _, p = u30(abc, p)
        elif kind in (0x11, 0x12):           # RTQNameL(A)
            pass
        elif kind in (0x09, 0x0E):           # Multiname(A): name, ns set
            _, p = u30(abc, p)
            _, p = u30(abc, p)
        elif kind in (0x1B, 0x1C):           # MultinameL(A): ns set
            _, p = u30(abc, p)
        elif kind == 0x1D:                   # TypeName: qname, count, params
            _, p = u30(abc, p)
            c, p = u30(abc, p)
            for _ in range(c):
                _, p = u30(abc, p)
        else:
            raise AssertionError(f"unknown multiname kind {kind:#x}")
    return minor, major, strings, qnames


# ---- the tests ----

@pytest.fixture(scope="module")
def swf_path(tmp_path_factory) -> Path:
    """flash_phone/build.sh run from source into a temporary file (as CI does into flash_phone/phone.swf)."""
    out = tmp_path_factory.mktemp("swf") / "phone.swf"
    r = subprocess.run([str(BUILD)], env={**os.environ, "OUT": str(out)}, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"flash_phone/build.sh failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    assert out.exists() and out.stat().st_size > 1000
    return out


@pytest.fixture(scope="module")
def swf(swf_path) -> Swf:
    return Swf(swf_path.read_bytes())


@pytest.fixture(scope="module")
def abc(swf):
    doabc = [body for code, body in swf.tags if code == 82]
    assert len(doabc) == 1, f"expected one DoABC tag, tags: {[c for c, _ in swf.tags]}"
    body = doabc[0]
    flags = struct.unpack_from("<I", body, 0)[0]
    name_end = body.index(b"\0", 4)
    return flags, abc_strings(body[name_end + 1:])


def test_swf_header(swf, swf_path):
    assert swf.signature == "CWS"
    assert swf.version >= 11, f"SWF file version {swf.version}: Flash Player 11 needs >= 11 (haxe writes 13)"
    assert swf.file_length == swf.uncompressed_length, (swf.file_length, swf.uncompressed_length)
    assert swf.rect_twips == [0, 320 * 20, 0, 240 * 20], swf.rect_twips
    assert swf.frame_count >= 1 and swf.frame_rate == 30
    codes = [c for c, _ in swf.tags]
    assert codes[0] == 69, f"FileAttributes must come first: {codes}"
    attrs = swf.tags[0][1][0]
    assert attrs & 0x08, "FileAttributes: ActionScript3 bit not set"
    assert 82 in codes and 76 in codes and codes[-1] == 0, codes
    print(f"phone.swf: {swf_path.stat().st_size} bytes, SWF {swf.version}, tags {codes}")


def test_symbol_class_binds_main(swf, abc):
    """Character 0 (the main timeline) is haxe's boot class (`boot_<hash>`, a flash.Boot subclass that runs
    rtmp2sip.Main.main), defined in the ABC."""
    body = [b for c, b in swf.tags if c == 76][0]
    n = struct.unpack_from("<H", body, 0)[0]
    p, syms = 2, {}
    for _ in range(n):
        cid = struct.unpack_from("<H", body, p)[0]
        end = body.index(b"\0", p + 2)
        syms[cid] = body[p + 2:end].decode()
        p = end + 1
    assert syms.get(0, "").startswith("boot_"), syms
    assert f":{syms[0]}" in abc[1][3], f"{syms[0]} not defined in the ABC"


def test_abc_has_classes_callbacks_and_netconnection_calls(abc):
    flags, (minor, major, strings, qnames) = abc
    assert flags & 1, "DoABC kDoAbcLazyInitializeFlag expected from haxe"
    assert major == 46, (major, minor)
    pool = set(strings)
    missing = [c for c in CLASSES if c not in qnames]
    assert not missing, f"classes missing from the ABC: {missing}"
    for group, names in (("ExternalInterface callbacks", CALLBACKS), ("events", EVENTS),
                         ("gateway methods", GATEWAY_METHODS)):
        missing = [s for s in names if s not in pool]
        assert not missing, f"{group} missing from the ABC constant pool: {missing}"
    missing = [s for s in FLASH_API if s not in pool and s not in qnames]
    assert not missing, f"Flash API names missing from the ABC: {missing}"
    # the version string the SDK checks in `ready`
    assert any(s.startswith("rtmp2sip-flash ") for s in strings)


def test_committed_sources_only(swf_path):
    """phone.swf is a build product: ignored by git, never committed."""
    r = subprocess.run(["git", "check-ignore", "-q", "flash_phone/phone.swf"], cwd=REPO)
    assert r.returncode == 0, "flash_phone/phone.swf should be ignored (built by CI)"
