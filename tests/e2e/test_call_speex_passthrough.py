"""Speex passthrough: with a far end that answers speex/16000, Speex frames cross the gateway unchanged.

RTMP -> SIP: python3-librtmp publishes an ffmpeg-made Speex FLV tag by tag; the RTP payloads that reach
sipp (tshark capture) must be those tag bodies minus the FLV audio header byte, byte for byte, in order.
SIP -> RTMP: sipp plays a speex/16000 RTP pcap; the FLV audio tags python3-librtmp receives must carry
those RTP payloads, byte for byte, in order, behind the header byte 0xB2."""
import re
import time

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.capture import Capture
from helpers.sipp import Sipp

SPEEX_PT = 97          # the pcap sipp plays is made with this payload type (the gateway's default)
MAX_MISSING_AT_START = 3


def contiguous_match(sent: list, got: list, what: str) -> int:
    """Asserts `got` is sent[k:k+len(got)] for some k <= MAX_MISSING_AT_START; returns k."""
    assert got, f"{what}: nothing arrived"
    for k in range(min(MAX_MISSING_AT_START, len(sent) - 1) + 1):
        if sent[k:k + len(got)] == got:
            return k
    first_bad = next((i for i, (a, b) in enumerate(zip(sent, got)) if a != b), None)
    known = sum(1 for g in got if g in set(sent))
    raise AssertionError(
        f"{what}: the {len(got)} payloads received are not the {len(sent)} sent, in order, from the "
        f"start (at most {MAX_MISSING_AT_START} missing): {known} of them occur among the sent ones; "
        f"first difference when aligned at 0: index {first_bad}; sizes sent {sorted(set(map(len, sent)))}, "
        f"received {sorted(set(map(len, got)))}")


def test_call_speex_passthrough(gateway, rtmp_client, procs, out_dir, assets, ports, measure):
    sent_to_sip = media.flv_speex_payloads(assets.publish_flv)
    sent_by_sipp = [r["payload"] for r in media.pcap_file_rtp(assets.speex_pcap)]

    sipp = Sipp(procs, out_dir, ports, "uas_speex.xml", pcap=assets.speex_pcap, name="sipp_uas")
    cap = Capture(procs, out_dir, sipp.media_port, name="at_sipp").start()
    sipp.start()

    ctl = rtmp_client()
    s4 = dial_connected(ctl, sipp.uri("bob"))
    m = re.search(r"speex PT in offer: (\d+)", sipp.logs())
    assert m and int(m[1]) == SPEEX_PT, (f"the gateway's offer should carry speex/16000 as PT {SPEEX_PT} "
                                         f"(the far-end pcap uses it); sipp logged: {sipp.logs()[-500:]}")

    played = out_dir / "played.flv"
    player = media.librtmp_play(procs, gateway.url(s4["play"]), played, 7.5)
    time.sleep(0.3)
    publisher = media.librtmp_publish(procs, gateway.url(s4["publish"]), assets.publish_flv)
    media.wait_ok(publisher, 25, "librtmp publishing the Speex FLV")
    media.wait_ok(player, 20, "librtmp playing the far end")
    time.sleep(0.5)

    hangup_ended(ctl)
    rc = sipp.wait_exit(15)
    assert rc == 0, "sipp's call did not complete (it must receive BYE):\n" + sipp.report()

    pcap = cap.stop()
    rtp = [r for r in media.rtp_to(pcap, sipp.media_port)]
    pts = sorted({r["pt"] for r in rtp})
    speex = [r for r in rtp if r["pt"] == SPEEX_PT]
    assert speex, f"no speex RTP (PT {SPEEX_PT}) reached sipp; payload types seen: {pts}"
    got = [r["payload"] for r in speex]
    # Anything the gateway may send before the first published frame (e.g. silence) is skipped.
    start = next((i for i, g in enumerate(got) if g in sent_to_sip[:MAX_MISSING_AT_START + 1]), 0)
    k = contiguous_match(sent_to_sip, got[start:], "RTMP -> SIP speex payloads")
    n = len(got) - start
    assert k + n == len(sent_to_sip), (f"RTMP -> SIP: only {n} of {len(sent_to_sip)} published frames "
                                       f"reached sipp (from frame {k})")
    seqs = [r["seq"] for r in speex[start:]]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:])), "RTP sequence numbers not consecutive"
    tss = [r["ts"] for r in speex[start:]]
    assert all((b - a) & 0xFFFFFFFF == 320 for a, b in zip(tss, tss[1:])), \
        "RTP timestamps should advance 320 per 20 ms frame (RFC 5574)"
    measure("RTMP->SIP frames identical", f"{n}/{len(sent_to_sip)} (skipped {start} leading)")

    got_rtmp = media.flv_speex_payloads(played, expect_header=0xB2)
    k = contiguous_match_anywhere(sent_by_sipp, got_rtmp, "SIP -> RTMP speex payloads")
    assert len(got_rtmp) >= 0.7 * len(sent_by_sipp), \
        f"SIP -> RTMP: only {len(got_rtmp)} of {len(sent_by_sipp)} frames reached the player"
    measure("SIP->RTMP frames identical", f"{len(got_rtmp)}/{len(sent_by_sipp)} (from frame {k})")


def contiguous_match_anywhere(sent: list, got: list, what: str) -> int:
    """Asserts `got` equals sent[k:k+len(got)] for some k (a player joins a little after the far end
    starts sending); returns k."""
    assert got, f"{what}: nothing arrived"
    for k in range(len(sent) - len(got) + 1):
        if sent[k] == got[0] and sent[k:k + len(got)] == got:
            return k
    known = sum(1 for g in got if g in set(sent))
    raise AssertionError(f"{what}: the {len(got)} payloads received are not a contiguous run of the "
                         f"{len(sent)} sent; {known} of them occur among the sent ones")
