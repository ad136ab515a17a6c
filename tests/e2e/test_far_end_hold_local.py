"""Gateway-initiated hold and resume (RTMP `hold()` then `unhold()`) against real softphones: baresip
(baresip-core 1.0.0) and linphone (linphonec 5.1), in calls placed by the gateway (`out`) and by the
softphone (`in`). `test_far_ends.py` covers the softphone's own hold; this is the other direction.

- `hold()` gets `_result`, the gateway re-INVITEs with `a=sendonly` (RFC 3264 §8.4, RFC 6337), the softphone
  answers 200 with `a=recvonly` (read from the gateway's debug log of what it received), the gateway ACKs
  (the softphone's own SIP trace) and the client gets `Sono.Call.Hold {held: true, by: "local"}`.
- While held the softphone sends no RTP (tshark at its RTP port: at most a few packets in flight).
- `unhold()` gets `_result`, a re-INVITE with `a=sendrecv` answered 200 `a=sendrecv`, and
  `Sono.Call.Hold {held: false, by: "local"}`; the call never ends (no status 3 or 0).
- After the resume audio flows both ways: the softphone sends RTP again, the PCMU reaching it carries the
  published 1 kHz tone (SNR >= 25 dB) and the RTMP player gets the softphone's 700 Hz tone (>= 20 dB).
  baresip 1.0's recording stops after a re-INVITE, so the far end's audio is read from the capture.

Each case takes about 15 s."""
import re
import subprocess
import time

import pytest

from helpers import media
from helpers.calls import hangup_ended
from helpers.capture import Capture
from helpers.rtmp_control import DISCONNECTING, NOT_CONNECTED
from test_far_ends import (MIN_SNR_PEER_DB, MIN_SNR_RTMP_DB, PEER_TONE_HZ, call_in, call_out, make_peer,
                           media_both_ways, wait_peer_ended)

HOLD_S = 3.0
#: RTP the softphone may still send once the hold is answered (packets already in flight, and the
#: event reaches the client a little after the 200).
MAX_HELD_PACKETS = 10


def invoke(ctl, method, *args):
    return ctl.reply(ctl.call(method, *args))


def hold_events(ctl) -> list:
    return [i.info for i in ctl.invokes if i.method == "onStatus" and i.info.get("code") == "Sono.Call.Hold"]


def wait_hold_event(ctl, n: int, timeout: float = 10.0) -> dict:
    end = time.monotonic() + timeout
    while len(hold_events(ctl)) < n and time.monotonic() < end:
        time.sleep(0.05)
    evs = hold_events(ctl)
    failed = [i.info for i in ctl.invokes if i.method == "onStatus" and i.info.get("code") == "Sono.Call.HoldFailed"]
    assert len(evs) >= n, f"expected {n} Sono.Call.Hold events, got {evs} (HoldFailed: {failed})\n{ctl.dump()}"
    return evs[n - 1]


def reinvite_answers(gw_log) -> list:
    """The final responses to INVITEs that the gateway received (its debug log of every
    datagram), as message texts, oldest first."""
    out = []
    for line in gw_log.read_text(errors="replace").splitlines():
        if "udp received" not in line or not re.search(r'raw_message="SIP/2.0 [2-6]', line):
            continue
        if not re.search(r"cseq=\d+ INVITE", line):
            continue
        raw = line.split('raw_message="', 1)[1].rsplit('"', 1)[0]
        out.append(raw.replace("\\r\\n", "\r\n").replace("\\n", "\n"))
    return out


def direction_of(msg: str) -> str:
    m = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", msg.split("\r\n\r\n", 1)[-1], re.M)
    return m[1] if m else "sendrecv"


def rtp_times(pcap, sport: int = None, dport: int = None) -> list:
    """Capture times (Unix s) of the RTP packets from `sport` / to `dport` in a capture."""
    r = subprocess.run(["tshark", "-r", pcap, "-Y", "udp", "-T", "fields", "-e", "frame.time_epoch",
                        "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload"],
                       capture_output=True, text=True, timeout=60, check=True)
    out = []
    for line in r.stdout.splitlines():
        p = line.split("\t")
        if len(p) != 4 or not p[3]:
            continue
        if (sport and int(p[1]) != sport) or (dport and int(p[2]) != dport):
            continue
        if media.parse_rtp(bytes.fromhex(p[3].replace(":", ""))):
            out.append(float(p[0]))
    return out


def count(times: list, start: float, end: float) -> int:
    return sum(1 for t in times if start <= t < end)


# Each softphone once, in one call direction each (baresip called by the gateway, linphone calling it):
# the hold itself is the same re-INVITE in both directions, and the four combinations cost ~72 s of CI.
@pytest.mark.parametrize("kind,direction", [("baresip", "out"), ("linphone", "in")])
def test_gateway_holds_and_resumes_far_end(kind, direction, gateway, rtmp_client, procs, out_dir, ports,
                                           measure):
    peer = make_peer(kind, "PCMU", procs, out_dir, ports)
    cap = Capture(procs, out_dir, peer.rtp_port, name="at_far_end").start()
    ctl = rtmp_client()
    before = len(ctl.statuses())
    s4 = call_out(ctl, peer) if direction == "out" else call_in(ctl, peer)
    label = f"{kind} local hold ({direction})"
    pub = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), 30, name="ffmpeg_publish_hold")
    time.sleep(2.5)   # the softphone's lead silence is over: it sends its tone

    mark = len(peer.received_messages())
    r = invoke(ctl, "hold")
    assert r.method == "_result", f"hold() answered {r!r}"
    ev = wait_hold_event(ctl, 1)
    t_held = time.time()
    assert ev.get("held") is True and ev.get("by") == "local", ev
    time.sleep(HOLD_S)
    t_unhold = time.time()
    r = invoke(ctl, "unhold")
    assert r.method == "_result", f"unhold() answered {r!r}"
    ev = wait_hold_event(ctl, 2)
    t_resumed = time.time()
    assert ev.get("held") is False and ev.get("by") == "local", ev
    time.sleep(2.0)
    t_end = time.time()
    got = peer.received_messages()[mark:]
    print(f"{kind} received:", got)
    invites = [m for m in got if m[0].startswith("INVITE ")]
    acks = [m for m in got if m[0].startswith("ACK ")]
    assert len(invites) == 2 and len(acks) >= 2, f"{kind} should get two re-INVITEs, each ACKed: {got}"
    answers = reinvite_answers(gateway.log)
    print("re-INVITE answers:", [(a.split("\r\n", 1)[0], direction_of(a)) for a in answers])
    assert len(answers) >= 2, f"the gateway got no answers to its re-INVITEs: {answers}"
    assert answers[-2].startswith("SIP/2.0 200") and direction_of(answers[-2]) in ("recvonly", "inactive"), \
        f"hold answer:\n{answers[-2]}"
    assert answers[-1].startswith("SIP/2.0 200") and direction_of(answers[-1]) == "sendrecv", \
        f"resume answer:\n{answers[-1]}"
    codes = ctl.status_codes()[before:]
    assert NOT_CONNECTED not in codes and DISCONNECTING not in codes, f"hold ended the call: {codes}"

    pub.stop()   # media_both_ways publishes its own tone into the same name
    played = media_both_ways(gateway, procs, out_dir, s4)
    hangup_ended(ctl)
    print("far end:", wait_peer_ended(peer))
    pcap = cap.stop()

    from_peer = rtp_times(pcap, sport=peer.rtp_port)
    to_peer = rtp_times(pcap, dport=peer.rtp_port)
    held = count(from_peer, t_held + 0.3, t_unhold)
    before_hold = count(from_peer, t_held - 2.0, t_held - 0.5)
    after = count(from_peer, t_resumed + 0.5, t_end)
    measure(f"{label}: far end RTP/s before hold, held, after resume",
            (round(before_hold / 1.5), round(held / (t_unhold - t_held - 0.3)), round(after / (t_end - t_resumed - 0.5))))
    measure(f"{label}: gateway RTP to the far end while held", count(to_peer, t_held + 0.3, t_unhold))
    assert before_hold >= 50, f"the far end sent no audio before the hold ({before_hold} packets in 1.5 s)"
    assert held <= MAX_HELD_PACKETS, f"the far end kept sending while held: {held} packets"
    assert after >= 50, f"the far end's audio did not resume: {after} packets in {t_end - t_resumed - 0.5:.1f} s"
    assert count(to_peer, t_resumed + 0.5, t_end) >= 50, "the gateway's audio did not flow after the resume"

    rx = out_dir / "at_far_end.wav"
    print("RTP at the far end:", media.rtp_to_wav(pcap, rx, "pcmu", dport=peer.rtp_port, pt=0))
    t = media.assert_tone(rx, MIN_SNR_PEER_DB, f"{label}: 1 kHz tone in the PCMU reaching the far end")
    measure(f"{label}: SNR RTMP->far end PCMU (dB)", t["snr"])
    wav = media.flv_to_wav(played, out_dir / "played.wav")
    t = media.assert_tone(wav, MIN_SNR_RTMP_DB, f"{label}: far end's tone at the RTMP player", expect_hz=PEER_TONE_HZ)
    measure(f"{label}: SNR far end->RTMP Speex (dB)", t["snr"])
    peer.stop()


def test_hold_while_the_far_end_holds_offers_inactive(gateway, rtmp_client, procs, ports):
    """Both sides hold (plain-Python far end, `helpers/dialog_uas.py`). The far end holds first
    (`a=sendonly`, the gateway answers `a=recvonly`); then `hold()` must offer `a=inactive`, not
    `a=sendonly`: RFC 3264 §8.4, "if the stream to be placed on hold was previously a recvonly media
    stream, it is placed on hold by marking it inactive" (RFC 6337 §5.3). No RTP flows either way. The far
    end resumes (`a=sendrecv`): the gateway, still holding, answers `a=sendonly`; `unhold()` offers
    `a=sendrecv` and audio reaches the far end again. Each side's hold and resume is told to the client
    on its own (`Sono.Call.Hold` remote held, local held, remote resumed, local resumed). The old binary
    offers `a=sendonly` while held (and before per-side hold state told neither the client's hold nor
    the far end's resume)."""
    from helpers.calls import dial_connected
    from helpers.dialog_uas import DialogPeer, body_of
    peer = DialogPeer(ports.port(), ports.range(2)[0])
    ctl = rtmp_client()
    pub = None
    try:
        s4 = dial_connected(ctl, peer.uri("bob"))
        peer.wait_answered()
        pub = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), 15)
        time.sleep(1.0)
        resp = peer.reinvite("sendonly")
        assert resp.startswith("SIP/2.0 200") and direction_of(resp) == "recvonly", resp
        ev = wait_hold_event(ctl, 1)
        assert ev.get("held") is True and ev.get("by") == "remote", ev
        assert invoke(ctl, "hold").method == "_result"
        end = time.monotonic() + 5
        while not peer.reinvites_in and time.monotonic() < end:
            time.sleep(0.05)
        assert peer.reinvites_in, f"hold() sent no re-INVITE:\n{peer.dump()}"
        offer = body_of(peer.reinvites_in[0])
        assert direction_of("\r\n\r\n" + offer) == "inactive", \
            f"hold() of a recvonly stream must offer a=inactive (RFC 3264 §8.4):\n{offer}"
        ev = wait_hold_event(ctl, 2)
        assert ev.get("held") is True and ev.get("by") == "local", \
            f"the client's hold while the far end holds must be told: {ev}"
        time.sleep(0.5)
        t = time.monotonic()
        time.sleep(1.0)
        sent = peer.rtp_count(peer.rtp_port, t)
        assert sent == 0, f"the gateway sent {sent} RTP packets while both sides hold"
        resp = peer.reinvite("sendrecv")
        assert resp.startswith("SIP/2.0 200") and direction_of(resp) == "sendonly", \
            f"the far end resumed while the gateway holds: the answer must be a=sendonly:\n{resp}"
        ev = wait_hold_event(ctl, 3)
        assert ev.get("held") is False and ev.get("by") == "remote", \
            f"the far end's resume while the client holds must be told: {ev}"
        assert invoke(ctl, "unhold").method == "_result"
        end = time.monotonic() + 5
        while len(peer.reinvites_in) < 2 and time.monotonic() < end:
            time.sleep(0.05)
        assert len(peer.reinvites_in) >= 2, f"unhold() sent no re-INVITE:\n{peer.dump()}"
        assert direction_of("\r\n\r\n" + body_of(peer.reinvites_in[1])) == "sendrecv", peer.reinvites_in[1]
        ev = wait_hold_event(ctl, 4)
        assert ev.get("held") is False and ev.get("by") == "local", ev
        time.sleep(0.5)
        t = time.monotonic()
        time.sleep(1.2)
        assert peer.rtp_count(peer.rtp_port, t) >= 30, "audio did not reach the far end after unhold()"
    finally:
        if pub is not None:
            pub.stop()
        hangup_ended(ctl)
        peer.close()
