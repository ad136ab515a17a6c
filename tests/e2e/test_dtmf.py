"""sendDTMF toward a SIP phone: RFC 4733 telephone-events when the far end accepts telephone-event, SIP INFO
(application/dtmf-relay) when it does not.

RFC 4733: sipp answers PCMU + telephone-event/8000 (PT 101) and sends nothing; ffmpeg publishes a Speex tone so
the gateway sends PCMU audio; the control client invokes sendDTMF("12#", 100) during the tone. tshark captures
sipp's media port, and the test checks every telephone-event packet (RFC 4733 sections 2.3 and 2.5.1) and its
place in the audio's RTP stream (same SSRC, one sequence space, section 2.1).
SIP INFO: sipp answers PCMU only and must receive one INFO per digit, checked by sipp (ereg) and from its trace."""
import re
import struct
import time

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.capture import Capture
from helpers.digest import header, sipp_messages
from helpers.sipp import Sipp

TE_PT = 101               # telephone-event PT of uas_pcmu_dtmf.xml's answer (and of the gateway's offer)
PCMU_PT = 0
DIGITS = "12#"
EVENTS = [1, 2, 11]       # RFC 4733 section 3.2: '#' is event 11
DIGIT_MS = 100
END_DURATION = DIGIT_MS * 8   # ticks of the 8000 Hz telephone-event clock
TONE_S = 4
EVENT_FLAG_E = 0x80


def send_dtmf(ctl, *args, timeout: float = 5.0):
    """sendDTMF(*args): the _result/_error reply (an Invoke)."""
    return ctl.reply(ctl.call("sendDTMF", *args), timeout)


def assert_dtmf_error(ctl, *args):
    r = send_dtmf(ctl, *args)
    assert r.method == "_error", f"sendDTMF{args!r} should get _error, got {r!r}\n{ctl.dump()}"
    assert r.info.get("code") == "Sono.Call.Failed", \
        f"sendDTMF{args!r}: _error code should be Sono.Call.Failed: {r!r}"
    assert r.info.get("level") == "error", f"_error info object should have level 'error': {r!r}"


def telephone_event(payload: bytes) -> dict:
    """RFC 4733 section 2.3 payload: event, E bit, volume, duration (ticks)."""
    assert len(payload) == 4, f"telephone-event payload must be 4 bytes, got {payload.hex()}"
    event, flags, duration = struct.unpack(">BBH", payload)
    return {"event": event, "end": bool(flags & EVENT_FLAG_E), "volume": flags & 0x3F, "duration": duration}


def group_events(packets: list) -> list:
    """Telephone-event RTP packets (capture order) -> [[packet, ...] per event], split where the RTP timestamp
    changes (all packets of one event carry its start timestamp)."""
    groups = []
    for p in packets:
        if groups and groups[-1][-1]["ts"] == p["ts"]:
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


def check_event(k: int, pkts: list, want_event: int):
    """One event's packets against RFC 4733 section 2.5.1 and the requested 100 ms."""
    te = [telephone_event(p["payload"]) for p in pkts]
    desc = "\n".join(f"  seq={p['seq']} ts={p['ts']} M={int(p['marker'])} {t}" for p, t in zip(pkts, te))
    what = f"event {k} (want {want_event}):\n{desc}"
    assert all(t["event"] == want_event for t in te), f"wrong event code in {what}"
    assert pkts[0]["marker"], f"first packet lacks the marker bit: {what}"
    assert not any(p["marker"] for p in pkts[1:]), f"marker bit on a later packet: {what}"
    assert len(pkts) >= 4, f"too few packets (progress + 3 end packets expected): {what}"
    ends = [t["end"] for t in te]
    assert ends[-3:] == [True] * 3, f"the final packet must carry the E bit and be sent 3 times: {what}"
    assert not any(ends[:-3]), f"E bit before the last 3 packets: {what}"
    assert len({t["duration"] for t in te[-3:]}) == 1, f"the 3 end packets differ in duration: {what}"
    progress = [t["duration"] for t in te[:-2]]
    assert all(a < b for a, b in zip(progress, progress[1:])), f"duration does not grow: {what}"
    assert te[-1]["duration"] == END_DURATION, \
        f"final duration {te[-1]['duration']}, expected {END_DURATION} ({DIGIT_MS} ms at 8000 Hz): {what}"


def test_rfc4733_telephone_events(gateway, rtmp_client, procs, out_dir, ports, measure):
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu_dtmf.xml", name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()

    ctl = rtmp_client()
    s4 = dial_connected(ctl, sipp.uri("bob"))
    publisher = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), TONE_S)
    time.sleep(1.5)                       # audio RTP flows before the digits
    assert_dtmf_error(ctl, "x")           # a bad digit: nothing queued, the call goes on
    r = send_dtmf(ctl, DIGITS, DIGIT_MS)
    assert r.method == "_result", f"sendDTMF({DIGITS!r}, {DIGIT_MS}) answered {r!r}\n{ctl.dump()}"
    media.wait_ok(publisher, TONE_S + 15, "ffmpeg publishing Speex to the gateway")
    time.sleep(0.5)

    hangup_ended(ctl)
    rc = sipp.wait_exit(10)
    assert rc == 0, "sipp should receive only the BYE after the ACK:\n" + sipp.report()
    assert_dtmf_error(ctl, "1")           # no call any more

    pcap = cap.stop()
    rtp = media.rtp_to(pcap, sipp.media_port)
    assert rtp, f"no RTP reached sipp's media port {sipp.media_port}; capture {pcap}"
    audio = [p for p in rtp if p["pt"] == PCMU_PT]
    te = [p for p in rtp if p["pt"] == TE_PT]
    others = sorted({p["pt"] for p in rtp} - {PCMU_PT, TE_PT})
    assert not others, f"unexpected payload types toward sipp: {others}"
    assert audio, "the gateway sent no PCMU audio while ffmpeg published"
    assert te, f"no telephone-event (PT {TE_PT}) packets reached sipp; capture {pcap}"
    measure("RFC 4733 packets for '12#' at 100 ms", len(te))

    ssrcs = {p["ssrc"] for p in audio}
    assert len(ssrcs) == 1, f"gateway audio uses several SSRCs: {sorted(ssrcs)}"
    audio_ssrc = ssrcs.pop()
    bad = {p["ssrc"] for p in te} - {audio_ssrc}
    assert not bad, f"telephone-events use SSRC {sorted(bad)}, audio uses {audio_ssrc} (RFC 4733 section 2.1)"

    first_te, last_te = rtp.index(te[0]), rtp.index(te[-1])
    assert any(p["pt"] == PCMU_PT for p in rtp[:first_te]), "no audio before the events: timing of the test"
    assert any(p["pt"] == PCMU_PT for p in rtp[last_te + 1:]), "audio did not resume after the events"
    gaps = [(a["seq"], a["pt"], b["seq"], b["pt"]) for a, b in zip(rtp, rtp[1:])
            if (a["seq"] + 1) & 0xFFFF != b["seq"]]
    assert not gaps, f"sequence numbers not continuous across audio and events: (seq, pt, next seq, pt) {gaps[:10]}"

    groups = group_events(te)
    got = [telephone_event(g[0]["payload"])["event"] for g in groups]
    assert got == EVENTS, f"events in order {got}, expected {EVENTS} for {DIGITS!r}"
    for k, (g, want) in enumerate(zip(groups, EVENTS)):
        check_event(k, g, want)
    starts = [g[0]["ts"] for g in groups]
    assert len(set(starts)) == len(starts), f"events share a start timestamp: {starts}"


def dtmf_infos(sipp: Sipp) -> list:
    """INFO requests sipp received, as (Content-Type values, body) in order."""
    out = []
    for direction, msg in sipp_messages(sipp.messages()):
        if direction == "received" and msg.startswith("INFO "):
            body = msg.replace("\r", "").partition("\n\n")[2]
            out.append((header(msg, "Content-Type"), body))
    return out


def test_sip_info_fallback(gateway, rtmp_client, procs, out_dir, ports):
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu_info.xml", name="sipp_uas").start()
    ctl = rtmp_client()
    dial_connected(ctl, sipp.uri("bob"))
    r = send_dtmf(ctl, "5#")
    assert r.method == "_result", f"sendDTMF('5#') answered {r!r}\n{ctl.dump()}"

    deadline = time.monotonic() + 8
    while len(dtmf_infos(sipp)) < 2 and time.monotonic() < deadline and sipp.proc.alive():
        time.sleep(0.1)
    time.sleep(0.3)                        # sipp answers the second INFO
    hangup_ended(ctl)
    rc = sipp.wait_exit(10)
    infos = dtmf_infos(sipp)
    assert rc == 0, ("sipp needs two INFOs (application/dtmf-relay, Signal=5 then Signal=#, Duration=) "
                     "and then a BYE:\n" + sipp.report())
    assert len(infos) == 2, f"expected exactly 2 INFO requests, got {len(infos)}:\n{sipp.report()}"
    for (ctype, body), sig in zip(infos, "5#"):
        assert ctype and ctype[0].split(";")[0].strip().lower() == "application/dtmf-relay", \
            f"INFO Content-Type {ctype}, expected application/dtmf-relay"
        signals = re.findall(r"^Signal\s*=\s*(\S+)\s*$", body, re.M)
        durations = re.findall(r"^Duration\s*=\s*([0-9]+)\s*$", body, re.M)
        assert signals == [sig], f"INFO body should carry Signal={sig}: {body!r}"
        assert durations == ["160"], f"INFO body should carry Duration=160 (the default): {body!r}"
