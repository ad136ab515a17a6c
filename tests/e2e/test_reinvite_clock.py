"""A far end's re-INVITE changes the codec on a running call (RFC 3264 §8), and the RTP clock rate decides
whether the gateway's RTP stream goes on (RFC 7160 §4.1, RFC 3550 §5.1, §8.2): PCMU -> G.722 keeps the 8000
RTP clock (RFC 3551 §4.5.2), so the same SSRC continues; G.722 -> opus/48000/2 changes it, so the gateway
starts a new SSRC and sends an RTCP BYE for the old one to the far end's RTCP port. Same setup as
test_reinvite.py (helpers/dialog_call.py: a plain-Python far end, the RTMP client publishing a tone).
The binary before this keeps one SSRC across the clock change and sends no BYE."""
import re
import struct
import time

from helpers.dialog_call import publishing_call
from helpers.dialog_uas import body_of
from helpers.raw_uas import Recorder, parse


def reoffer(peer, pt: int, rtpmap: str) -> str:
    """Re-INVITE with a one-codec offer at the far end's current RTP port; returns the final response."""
    peer.sdp_version += 1
    sdp = (f"v=0\r\no=far 1 {peer.sdp_version} IN IP4 {peer.host}\r\ns=-\r\nc=IN IP4 {peer.host}\r\n"
           f"t=0 0\r\nm=audio {peer.rtp_port} RTP/AVP {pt}\r\na=rtpmap:{pt} {rtpmap}\r\na=ptime:20\r\n"
           "a=sendrecv\r\n")
    resp = peer.request("INVITE", sdp)
    assert resp.startswith("SIP/2.0 200"), f"re-offer of {rtpmap}: {resp}\n{peer.dump()}"
    assert re.search(rf"^m=audio \d+ RTP/AVP {pt}\b", body_of(resp), re.M), f"{rtpmap} not taken: {resp}"
    return resp


def rtp_since(peer, since: float) -> list:
    """(pt, seq, ssrc) of the gateway's RTP at our current port after `since`."""
    return [p for t, _, d in peer.rtp[peer.rtp_port].got if t >= since for p in [parse(d)] if p]


def byes(rtcp: Recorder) -> list:
    """The SSRCs named by RTCP BYE packets (type 203, RFC 3550 §6.6) in the compounds received."""
    out = []
    for _, _, d in rtcp.got:
        off = 0
        while off + 8 <= len(d):
            count, kind = d[off] & 0x1F, d[off + 1]
            if kind == 203:
                out += [struct.unpack(">I", d[off + 4 + 4 * i:off + 8 + 4 * i])[0]
                        for i in range(count) if off + 8 + 4 * i <= len(d)]
            off += 4 * (1 + struct.unpack(">H", d[off + 2:off + 4])[0])
    return out


def test_clock_rate_change_starts_a_new_ssrc_with_a_bye(gateway, rtmp_client, procs, ports, measure):
    with publishing_call(rtmp_client, procs, gateway, ports, seconds=10) as (peer, ctl, pub):
        rtcp = Recorder(peer.host, peer.rtp_port + 1)
        try:
            first = {ssrc for _, _, ssrc in rtp_since(peer, 0)}
            assert len(first) == 1, f"PCMU call with SSRCs {first}"
            old = first.pop()

            # Same RTP clock: the stream goes on.
            reoffer(peer, 9, "G722/8000")
            t = time.monotonic()
            time.sleep(1.0)
            g722 = rtp_since(peer, t + 0.3)
            assert len(g722) >= 30 and {p[0] for p in g722} == {9}, f"G.722 audio: {g722[:5]}"
            assert {p[2] for p in g722} == {old}, "a codec on the same clock changed the SSRC"
            assert old not in byes(rtcp), "BYE on a change that kept the clock"

            # 8000 -> 48000: a new SSRC, and a BYE for the old one.
            reoffer(peer, 111, "opus/48000/2")
            t = time.monotonic()
            time.sleep(1.2)
            opus = rtp_since(peer, t + 0.3)
            ssrcs = {p[2] for p in opus}
            measure("opus after the clock change: packets, SSRCs", (len(opus), len(ssrcs)))
            assert len(opus) >= 30 and {p[0] for p in opus} == {111}, f"opus audio: {opus[:5]}"
            assert len(ssrcs) == 1 and old not in ssrcs, \
                f"the clock rate changed but the SSRC did not (RFC 7160 §4.1): {ssrcs}, old {old:#x}"
            assert old in byes(rtcp), f"no RTCP BYE for the old SSRC {old:#x}: {byes(rtcp)}"
        finally:
            rtcp.close()
