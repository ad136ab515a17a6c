"""Real softphones as far ends: baresip (baresip-core 1.0.0) and linphone (linphone-cli 5.1, linphonec), both
directions, one codec per case.

Gateway -> far end: a python3-librtmp client dials the softphone's loopback URI (the test config's
`dial_allow` has "sip:*@127.0.0.1"), the softphone answers by itself, ffmpeg publishes a 1 kHz Speex tone
and python3-librtmp plays the call's stream. The softphone's own recording of the call must carry the
1 kHz tone, the RTMP player must get the softphone's 700 Hz tone, and after hangup() the softphone must
see the BYE (its call ends).

Far end -> gateway: the RTMP client register()s on the embedded registrar, the softphone calls that
address, the client gets Sono.Call.Incoming and accept()s, audio is checked both ways as above, the
softphone hangs up, and the client gets status 0 with sip_code 200.

The softphones are started by helpers/baresip.py and helpers/linphone.py (see the README section "Far
ends: baresip, linphone"); each case names the one codec the softphone may use ("any": its own list, as
shipped), and the codec it decoded is logged as a measurement.

Hold: the softphone puts the call on hold and resumes it (re-INVITEs with a=sendonly, then a=sendrecv);
both must get a 2xx and the call must go on with audio both ways."""
import time

import pytest

from helpers import media
from helpers.baresip import Baresip
from helpers.capture import Capture
from helpers.calls import dial_connected, ended_info, hangup_ended
from helpers.incoming import answer, event, register_local
from helpers.linphone import Linphone
from helpers.ports import wait_until
from helpers.rtmp_control import CONNECT_STREAMS, CONNECTED, DISCONNECTING, NOT_CONNECTED

TONE_S = 5
PEER_TONE_HZ = 700
#: The softphones' recordings hold their decoder's output after their own jitter buffer and resampler.
#: Through the gateway they measured 36-40 dB (RTMP Speex -> opus/PCMU/PCMA/G722/speex16) and the RTMP
#: player 30-36 dB (far end -> Speex); the thresholds leave ~10 dB and still fail on silence, the wrong
#: tone, a wrong rate (the tone lands at another frequency), gaps or noise.
MIN_SNR_PEER_DB = 25
MIN_SNR_RTMP_DB = 20

CASES = [
    ("baresip", "any"), ("baresip", "opus"), ("baresip", "PCMU"), ("baresip", "PCMA"), ("baresip", "G722"),
    ("linphone", "any"), ("linphone", "opus"), ("linphone", "PCMU"), ("linphone", "PCMA"), ("linphone", "speex16"),
]


def make_peer(kind: str, codec: str, procs, out_dir, ports):
    cls = {"baresip": Baresip, "linphone": Linphone}[kind]
    codecs = None if codec == "any" else [codec]     # "any": the softphone's own codec list
    return cls(procs, out_dir, ports, name=kind, tone_hz=PEER_TONE_HZ, codecs=codecs).start()


def wait_peer_up(peer, timeout: float = 10.0):
    """The softphone's side of the call is established."""
    if isinstance(peer, Baresip):
        peer.wait_event("CALL_ESTABLISHED", timeout)
    else:
        peer.wait_state("streams", timeout)


def wait_peer_ended(peer, timeout: float = 10.0) -> str:
    """The softphone's call has ended (for a BYE from the gateway: it received it); returns what it said."""
    if isinstance(peer, Baresip):
        return str(peer.wait_event("CALL_CLOSED", timeout))
    return str(peer.wait_state("ended", timeout))


def media_both_ways(gateway, procs, out_dir, s4: dict):
    """librtmp plays the call's `play` stream into played.flv while ffmpeg publishes a TONE_S s 1 kHz Speex
    tone into `publish`; returns the FLV path."""
    played = out_dir / "played.flv"
    player = media.librtmp_play(procs, gateway.url(s4["play"]), played, TONE_S + 2.5)
    time.sleep(0.5)   # the player joins during the peer's lead silence: the Speex decoder starts in step
    publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S)
    media.wait_ok(publisher, TONE_S + 20, "ffmpeg publishing Speex to the gateway")
    media.wait_ok(player, 20, "librtmp playing the far end")
    return played


def check_audio(peer, played, out_dir, measure, label: str):
    codec = peer.decoder()
    print(f"{label}: far end decoded {codec}")
    measure(f"{label}: far end's decoder", codec)
    t = media.assert_tone(peer.received_wav(), MIN_SNR_PEER_DB, f"{label}: 1 kHz tone recorded by the far end")
    measure(f"{label}: SNR RTMP->far end (dB)", t["snr"])
    wav = media.flv_to_wav(played, out_dir / "played.wav")
    t = media.assert_tone(wav, MIN_SNR_RTMP_DB, f"{label}: far end's tone at the RTMP player",
                          expect_hz=PEER_TONE_HZ)
    measure(f"{label}: SNR far end->RTMP Speex (dB)", t["snr"])


def call_out(ctl, peer) -> dict:
    """The RTMP client dials the far end, which answers; returns the status-4 info object."""
    s4 = dial_connected(ctl, peer.uri)
    wait_peer_up(peer)
    return s4


def call_in(ctl, peer) -> dict:
    """The far end calls the RTMP client's registered address; the client accepts. Returns the status-4
    info object; its index among the statuses is in s4["_before"]."""
    uri = register_local(ctl)
    mark = len(ctl.invokes)
    peer.dial(uri)
    inc = event(ctl, "Sono.Call.Incoming", 10, after=mark)
    print("incoming:", inc)
    before = len(ctl.statuses())
    answer(ctl, "accept")
    s4 = ctl.wait_status(CONNECT_STREAMS, 10, after=before)
    ctl.wait_status(CONNECTED, 5, after=before)
    wait_peer_up(peer)
    return dict(s4, _before=before)


def reinvite_answer(peer, after: int, timeout: float = 10.0) -> str:
    """Status line of the first final response to an INVITE that the far end received after its
    `after`-th received message (the answer to its own re-INVITE)."""
    def finals():
        return [m[0] for m in peer.received_messages()[after:]
                if m[0].startswith("SIP/2.0 ") and not m[0].startswith("SIP/2.0 1") and m[1].endswith("INVITE")]
    wait_until(lambda: bool(finals()), timeout, 0.1)
    got = finals()
    assert got, f"{peer.name}'s re-INVITE got no final response within {timeout} s: {peer.received_messages()}"
    return got[0]


@pytest.mark.parametrize("kind,codec", CASES, ids=[f"{k}-{c}" for k, c in CASES])
def test_gateway_calls_far_end(kind, codec, gateway, rtmp_client, procs, out_dir, ports, measure):
    peer = make_peer(kind, codec, procs, out_dir, ports)
    ctl = rtmp_client()
    s4 = call_out(ctl, peer)
    played = media_both_ways(gateway, procs, out_dir, s4)

    s0 = hangup_ended(ctl)
    print("ended:", s0)
    print("far end:", wait_peer_ended(peer))
    reqs = peer.received_requests()
    print("far end received:", reqs)
    assert reqs[:1] == ["INVITE"] and reqs[-1:] == ["BYE"], f"{kind} should get INVITE ... BYE: {reqs}"
    check_audio(peer, played, out_dir, measure, f"gateway->{kind} {codec}")
    peer.stop()


@pytest.mark.parametrize("kind,codec", CASES, ids=[f"{k}-{c}" for k, c in CASES])
def test_far_end_calls_gateway(kind, codec, gateway, rtmp_client, procs, out_dir, ports, measure):
    peer = make_peer(kind, codec, procs, out_dir, ports)
    ctl = rtmp_client()
    s4 = call_in(ctl, peer)
    before = s4["_before"]
    played = media_both_ways(gateway, procs, out_dir, s4)

    peer.hangup()
    print("far end:", wait_peer_ended(peer))
    s0 = ended_info(ctl, before)
    assert s0.get("sip_code") == 200, f"the far end's BYE ends the call: {s0}"
    check_audio(peer, played, out_dir, measure, f"{kind} {codec}->gateway")
    peer.stop()



@pytest.mark.parametrize("direction", ["out", "in"])
@pytest.mark.parametrize("kind", ["baresip", "linphone"])
def test_far_end_holds_and_resumes(kind, direction, gateway, rtmp_client, procs, out_dir, ports, measure):
    """The far end puts the call on hold (re-INVITE, a=sendonly) and takes it off hold (a=sendrecv). Each
    re-INVITE must get a 2xx (RFC 3264 section 8.4: the answer to a=sendonly is a=recvonly; RFC 3261
    section 14.2: a UAS that cannot take the new offer answers 488 and the session goes on), the call must
    survive on both sides, and after the resume audio flows both ways. `out`: the gateway placed the
    call; `in`: the far end did."""
    peer = make_peer(kind, "PCMU", procs, out_dir, ports)
    # baresip 1.0.0 stops its decoded-audio dump when a re-INVITE restarts its player: what reaches the
    # softphone after the resume is taken from a capture at its RTP port instead
    cap = Capture(procs, out_dir, peer.rtp_port, name="at_far_end").start()
    ctl = rtmp_client()
    before = len(ctl.statuses())
    s4 = call_out(ctl, peer) if direction == "out" else call_in(ctl, peer)

    mark = len(peer.received_messages())
    peer.hold()
    held = reinvite_answer(peer, mark)
    print("hold re-INVITE answered:", held)
    time.sleep(1.0)
    mark = len(peer.received_messages())
    peer.resume()
    resumed = reinvite_answer(peer, mark) if held.startswith("SIP/2.0 2") else "(not sent: hold failed)"
    print("resume re-INVITE answered:", resumed)
    time.sleep(0.5)
    print("far end received:", peer.received_messages())
    assert held.startswith("SIP/2.0 2"), f"the gateway must accept the far end's hold re-INVITE, got {held!r}"
    assert resumed.startswith("SIP/2.0 2"), f"the gateway must accept the resume re-INVITE, got {resumed!r}"
    codes = ctl.status_codes()[before:]
    assert NOT_CONNECTED not in codes and DISCONNECTING not in codes, f"hold ended the call: {codes}"

    played = media_both_ways(gateway, procs, out_dir, s4)
    hangup_ended(ctl)
    print("far end:", wait_peer_ended(peer))
    pcap = cap.stop()
    rx = out_dir / "at_far_end.wav"
    print("RTP at the far end:", media.rtp_to_wav(pcap, rx, "pcmu", dport=peer.rtp_port, pt=0))
    label = f"{kind} hold/resume ({direction})"
    t = media.assert_tone(rx, MIN_SNR_PEER_DB, f"{label}: 1 kHz tone in the PCMU reaching the far end")
    measure(f"{label}: SNR RTMP->far end PCMU (dB)", t["snr"])
    wav = media.flv_to_wav(played, out_dir / "played.wav")
    t = media.assert_tone(wav, MIN_SNR_RTMP_DB, f"{label}: far end's tone at the RTMP player", expect_hz=PEER_TONE_HZ)
    measure(f"{label}: SNR far end->RTMP Speex (dB)", t["snr"])
    peer.stop()
