"""A session-timer refresh (RFC 4028) through a proxy that requires it: Kamailio 5.6 with `dialog` + `sst`
(`tests/peers/kamailio/kamailio.cfg` started with `-A WITH_SST`).

The gateway (`[sip] session_expires_s = 90`, `outbound_proxy` = Kamailio) dials a far end in plain Python
(`helpers/dialog_uas.py`) that does not support timers: its 200 carries no Session-Expires. Kamailio
record-routes the call, tracks it as a dialog and, because the gateway's INVITE said `Supported: timer`,
appends `Session-Expires: 90;refresher=uac` to the 200 (RFC 4028 §8.2): the gateway is the refresher.
Kamailio keeps the dialog for 90 s only; a dialog whose refresh it does not see is ended by Kamailio with a
BYE to both sides (dialog `send_bye`). The test shows:

- the 200 reaching the gateway carries Kamailio's Session-Expires (Kamailio's log of the reply, then the
  gateway refreshing at all);
- about 45 s after the answer (43-48 s, half the interval, §7.2) the gateway's refresh re-INVITE with
  `Session-Expires: 90;refresher=uac` crosses Kamailio (its log, and the far end receives it with
  Kamailio's Via), the far end answers 200 and Kamailio relays that 200 back (the gateway ACKs it
  through Kamailio);
- Kamailio's dialog expiry moves forward by the refresh (`kamcmd dlg.list`: `timeout` before and after);
- the call still carries audio both ways after the refresh (PCMU tone at the far end, the far end's tone
  at the RTMP player), and no BYE came from anyone.

It takes about 52 s. The old binary (no session timers) never refreshes: Kamailio would BYE the call
90 s after the answer; the test fails at 55 s with "no session refresh"."""
import re
import subprocess
import time

import pytest

from helpers import media
from helpers.calls import dial_connected, hangup_ended
from helpers.dialog_uas import DialogPeer, header
from helpers.kamailio import Kamailio
from helpers.rtmp_control import RtmpControl

INTERVAL_S = 90
TONE_HZ = 1000
PEER_TONE_HZ = 700
MIN_SNR_DB = 20


def record_route(msg: str) -> list:
    """The Record-Route entries of a message, top first."""
    head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
    return [v.strip() for l in head[1:] if re.match(r"(?i)record-route:", l) for v in l.split(":", 1)[1].split(",")]


class RecordRoutingPeer(DialogPeer):
    """DialogPeer whose responses copy the request's Record-Route (RFC 3261 §12.1.1), as a UAS behind a
    record-routing proxy must: the gateway's route set then keeps Kamailio on the dialog's path. Its own
    in-dialog requests carry the route set (the INVITE's Record-Route, §12.1.1) as Route headers and go to
    the proxy."""

    route_set = ()

    def _reply(self, msg: str, src: tuple, status: str, body: str = "", extra: list = ()):
        head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
        rr = [l for l in head[1:] if re.match(r"(?i)record-route:", l)]
        if msg.startswith("INVITE ") and ";tag=" not in (header(msg, "To") or "") and not self.route_set:
            self.route_set = tuple(record_route(msg))
        super()._reply(msg, src, status, body, list(rr) + list(extra))

    def _send(self, text: str, dest: tuple):
        first, _, rest = text.partition("\r\n")
        if not first.startswith("SIP/2.0") and ";tag=" in (header(text, "To") or "") and self.route_set:
            text = first + "\r\n" + "".join(f"Route: {r}\r\n" for r in self.route_set) + rest
        super()._send(text, dest)


def dlg_timeouts(kam: Kamailio) -> list:
    """The `timeout` (absolute expiry, Unix seconds) of every dialog in `kamcmd dlg.list`."""
    out = kam.kamcmd("dlg.list") or ""
    return [int(v) for v in re.findall(r"^\s*timeout:\s*(\d+)\s*$", out, re.M)]


def pcmu_wav(packets: list, path):
    """The payloads of PCMU RTP packets (media.parse_rtp dicts), in sequence order, decoded by ffmpeg."""
    raw = path.with_suffix(".ulaw")
    raw.write_bytes(b"".join(p["payload"] for p in sorted(packets, key=lambda p: p["seq"])))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "mulaw", "-ar", "8000", "-ac", "1", "-i", raw, path],
                   check=True, timeout=30)
    return path


@pytest.fixture
def sst_kamailio(procs, out_dir, ports):
    k = Kamailio(procs, out_dir, ports, defines=("WITH_SST",), name="kamailio_sst").start()
    yield k
    k.stop()


def test_refresh_crosses_kamailio_and_keeps_the_call(gateway_factory, sst_kamailio, procs, out_dir, ports,
                                                     measure):
    kam = sst_kamailio
    gw = gateway_factory({"sip": {"session_expires_s": INTERVAL_S,
                                  "outbound_proxy": f"sip:127.0.0.1:{kam.port}"}}, name="gw_sst")
    peer = RecordRoutingPeer(ports.port(), ports.range(2)[0])
    ctl = RtmpControl(gw.url())
    pub = None
    try:
        s4 = dial_connected(ctl, peer.uri("bob"))
        peer.wait_answered()
        invite = next(m for _, d, m in peer.log if d == "in" and m.startswith("INVITE "))
        assert f"127.0.0.1:{kam.port}" in (header(invite, "Record-Route") or ""), \
            f"the INVITE did not come through Kamailio:\n{invite}"
        assert header(invite, "Session-Expires") == str(INTERVAL_S), invite
        assert "timer" in (header(invite, "Supported") or header(invite, "k") or ""), invite
        t_answer = next(t for t, d, m in peer.log if d == "out" and m.startswith("SIP/2.0 200"))
        # Kamailio appended its Session-Expires to the far end's 200 (the far end sent none).
        ok200 = next(m for _, d, m in peer.log if d == "out" and m.startswith("SIP/2.0 200"))
        assert header(ok200, "Session-Expires") is None, ok200
        log = kam.output()
        assert "SST FORWARD INVITE" in log, f"Kamailio did not put the call under sst:\n{kam.proc.tail(30)}"
        gw_200 = [l for l in gw.log.read_text(errors="replace").splitlines()
                  if "udp received" in l and "cseq=1 INVITE" in l and "SIP/2.0 200" in l]
        assert gw_200 and f"Session-Expires: {INTERVAL_S};refresher=uac" in gw_200[0], \
            f"the 200 reaching the gateway lacks Kamailio's Session-Expires: {gw_200[:1]}"
        time.sleep(1.0)
        before = dlg_timeouts(kam)
        assert len(before) == 1, f"Kamailio should track one dialog: {kam.kamcmd('dlg.list')}"
        print("dialog expiry before the refresh:", before[0] - time.time(), "s from now")

        pub = media.ffmpeg_publish_tone(procs, gw.url(s4["publish"]), 56)
        end = t_answer + 55
        while not peer.reinvites_in and time.monotonic() < end:
            time.sleep(0.2)
        assert peer.reinvites_in, f"no session refresh within 55 s:\n{peer.dump()}\n" + \
            "\n".join(l for l in kam.output().splitlines() if "SST" in l)
        refresh = peer.reinvites_in[0]
        t_refresh = next(t for t, d, m in peer.log if d == "in" and m is refresh)
        took = t_refresh - t_answer
        measure("session refresh through Kamailio after the 200 (s)", round(took, 1))
        assert 43 <= took <= 48, f"refresh after {took:.1f} s, expected ~45 (half of {INTERVAL_S})"
        se = (header(refresh, "Session-Expires") or "").replace(" ", "").lower()
        assert se == f"{INTERVAL_S};refresher=uac", f"refresh Session-Expires {se!r}:\n{refresh}"
        vias = re.findall(r"(?im)^(?:via|v):.*$", refresh.split("\r\n\r\n", 1)[0])
        assert len(vias) >= 2 and f"127.0.0.1:{kam.port}" in vias[0], \
            f"the refresh did not cross Kamailio (top Via should be Kamailio's): {vias}"
        # The far end's 200 went back through Kamailio and the gateway ACKed it (through Kamailio too).
        deadline = time.monotonic() + 5
        while not [m for m in peer.acks_in[1:]] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(peer.acks_in) >= 2, f"the refresh's 200 was not ACKed:\n{peer.dump()}"
        kl = kam.output().splitlines()
        cseq = header(refresh, "CSeq").split()[0]
        assert [l for l in kl if "SST IN-DIALOG INVITE" in l and f"cseq={cseq}" in l], \
            "Kamailio did not relay the refresh:\n" + "\n".join(l for l in kl if "SST" in l)
        assert [l for l in kl if "SST REPLY 200" in l and f"cseq={cseq}" in l], \
            "Kamailio did not see the refresh's 200:\n" + "\n".join(l for l in kl if "SST" in l)
        time.sleep(0.5)
        after = dlg_timeouts(kam)
        assert len(after) == 1, f"Kamailio lost the dialog: {kam.kamcmd('dlg.list')}"
        moved = after[0] - before[0]
        measure("Kamailio dialog expiry moved by the refresh (s)", moved)
        assert moved >= 40, f"Kamailio's dialog expiry did not move with the refresh: {before} -> {after}"

        # Audio after the refresh: the gateway's PCMU at the far end, the far end's tone at the player.
        t = time.monotonic()
        played = out_dir / "played.flv"
        player = media.librtmp_play(procs, gw.url(s4["play"]), played, 4.0)
        time.sleep(0.5)
        peer.send_tone(PEER_TONE_HZ, 3).join(6)
        media.wait_ok(player, 10, "librtmp playing the call after the refresh")
        pkts = [p for tt, _, d in peer.rtp[peer.rtp_port].got if tt >= t
                for p in [media.parse_rtp(d)] if p and p["pt"] == 0]
        measure("gateway RTP at the far end in the 3.5 s after the refresh", len(pkts))
        assert len(pkts) >= 150, f"audio to the far end after the refresh: {len(pkts)} packets"
        tone = media.tonecheck(pcmu_wav(pkts, out_dir / "far_end_after_refresh.wav"), TONE_HZ, MIN_SNR_DB)
        measure("SNR RTMP->far end after the refresh (dB)", tone["snr"])
        assert tone["ok"], tone["text"]
        heard = media.tonecheck(media.flv_to_wav(played, out_dir / "played.wav"), PEER_TONE_HZ, MIN_SNR_DB)
        measure("SNR far end->RTMP after the refresh (dB)", heard["snr"])
        assert heard["ok"], heard["text"]
        assert not [m for _, d, m in peer.log if d == "in" and m.startswith("BYE ")], "a BYE ended the call"
        assert 0 not in ctl.status_codes(), f"the call ended: {ctl.dump()}"
    finally:
        if pub is not None:
            pub.stop()
        try:
            hangup_ended(ctl)
        finally:
            ctl.close()
            peer.close()


class RoutedCaller(RecordRoutingPeer):
    """A caller (UAC) behind a record-routing proxy that does not support session timers: its INVITE has
    no `Supported: timer`, its in-dialog requests (ACK, BYE) carry the route set of the 200's Record-Route
    (reversed, RFC 3261 §12.1.2) and go to the proxy. The gateway's in-dialog requests (the refresh) are
    answered as DialogPeer does."""

    route_set = ()

    def invite_via(self, ruri: str, proxy: tuple, user: str = "carol"):
        self.gateway_sip = proxy
        self.call_id = f"sst{int(time.monotonic() * 1e6)}@{self.host}"
        self.local = f"<sip:{user}@{self.host}:{self.sip.addr[1]}>;tag={self.local_tag}"
        self.remote_target = ruri
        self.cseq += 1
        self._last_branch, self._last_ruri = f"z9hG4bKsst{self.cseq}", ruri
        body = self.sdp()
        lines = [f"INVITE {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.host}:{self.sip.addr[1]};branch={self._last_branch};rport",
                 f"From: {self.local}", f"To: <{ruri}>", f"Call-ID: {self.call_id}",
                 f"CSeq: {self.cseq} INVITE", "Max-Forwards: 70",
                 f"Contact: <sip:{user}@{self.host}:{self.sip.addr[1]}>",
                 "Content-Type: application/sdp", f"Content-Length: {len(body.encode())}"]
        self._send("\r\n".join(lines) + "\r\n\r\n" + body, proxy)

    def _on_response(self, msg: str, src: tuple):
        if msg.split(" ", 2)[1].startswith("2") and not self.route_set and "INVITE" in (header(msg, "CSeq") or ""):
            self.route_set = tuple(reversed(record_route(msg)))
        return super()._on_response(msg, src)


def test_gateway_as_uas_refreshes_through_kamailio(gateway, rtmp_client, sst_kamailio, procs, out_dir, ports,
                                                   measure):
    """An incoming call through Kamailio from a caller without timer support: Kamailio's sst asks for
    session timers on the INVITE, the gateway (UAS) answers `Session-Expires: N;refresher=uas` (RFC 4028
    §9: the UAC cannot refresh) and re-INVITEs the caller at half the interval, through Kamailio's
    Record-Route; the caller answers and the call keeps its audio."""
    from test_kamailio_calls import register
    kam = sst_kamailio
    ctl = rtmp_client()
    register(ctl, kam, "rtmpuser", "secret")
    caller = RoutedCaller(ports.port(), ports.range(2)[0])
    pub = None
    try:
        mark, before = len(ctl.invokes), len(ctl.statuses())
        caller.invite_via(kam.uri("rtmpuser"), ("127.0.0.1", kam.port))
        from helpers.incoming import answer, event
        from helpers.rtmp_control import CONNECT_STREAMS
        event(ctl, "Sono.Call.Incoming", 10, after=mark)
        answer(ctl, "accept")
        ok = caller.wait_final(10)
        assert ok.startswith("SIP/2.0 200"), f"the call through Kamailio was not answered: {ok}\n{caller.dump()}"
        t_answer = next(t for t, d, m in caller.log if d == "in" and m is ok)
        s4 = ctl.wait_status(CONNECT_STREAMS, 8, after=before)
        fwd = [l for l in kam.output().splitlines() if "FORWARD INVITE" in l and "rtmpuser" not in l.split(" to ")[0]]
        print("Kamailio:", fwd[-1:])
        print("200 to the caller:", ok.split("\r\n\r\n", 1)[0])
        assert caller.route_set and f"127.0.0.1:{kam.port}" in caller.route_set[0], \
            f"the gateway's 200 lacks Kamailio's Record-Route:\n{ok}"
        se = header(ok, "Session-Expires")
        assert se, f"the gateway's 200 has no Session-Expires (Kamailio asked for a session timer):\n{ok}"
        interval = int(se.split(";")[0])
        assert se.replace(" ", "").lower().endswith(";refresher=uas"), \
            f"the caller does not support timers, so the gateway must refresh (RFC 4028 §9): {se}"
        assert interval <= 180, f"interval {interval}: Kamailio's Session-Expires (Min-SE 90) should stand"
        acked = time.monotonic() + 3
        while not [1 for _, d, m in caller.log if d == "out" and m.startswith("ACK ")] and time.monotonic() < acked:
            time.sleep(0.05)
        time.sleep(1.0)
        before_dlg = dlg_timeouts(kam)
        assert len(before_dlg) == 1, f"Kamailio should track one dialog: {kam.kamcmd('dlg.list')}"

        pub = media.ffmpeg_publish_tone(procs, gateway.url(s4["publish"]), interval / 2 + 12)
        end = t_answer + interval / 2 + 10
        while not caller.reinvites_in and time.monotonic() < end:
            time.sleep(0.2)
        assert caller.reinvites_in, f"no session refresh from the gateway within {interval / 2 + 10:.0f} s:\n" \
            f"{caller.dump()}\n" + "\n".join(l for l in kam.output().splitlines() if "SST" in l)
        refresh = caller.reinvites_in[0]
        took = next(t for t, d, m in caller.log if d == "in" and m is refresh) - t_answer
        measure("gateway (UAS) refresh through Kamailio after the 200 (s)", round(took, 1))
        assert interval / 2 - 2 <= took <= interval / 2 + 3, f"refresh after {took:.1f} s, expected ~{interval / 2}"
        vias = re.findall(r"(?im)^(?:via|v):.*$", refresh.split("\r\n\r\n", 1)[0])
        assert len(vias) >= 2 and f"127.0.0.1:{kam.port}" in vias[0], f"the refresh bypassed Kamailio: {vias}"
        assert caller.local_tag in header(refresh, "To"), f"the refresh is not in the caller's dialog:\n{refresh}"
        deadline = time.monotonic() + 5
        while len([1 for _, d, m in caller.log if d == "in" and m.startswith("ACK ")]) < 1 and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert [m for _, d, m in caller.log if d == "in" and m.startswith("ACK ")], \
            f"the refresh's 200 was not ACKed:\n{caller.dump()}"
        time.sleep(0.5)
        after_dlg = dlg_timeouts(kam)
        assert len(after_dlg) == 1 and after_dlg[0] - before_dlg[0] >= interval / 2 - 5, \
            f"Kamailio's dialog expiry did not move with the refresh: {before_dlg} -> {after_dlg}"
        t = time.monotonic()
        time.sleep(1.5)
        pkts = [p for tt, _, d in caller.rtp[caller.rtp_port].got if tt >= t
                for p in [media.parse_rtp(d)] if p and p["pt"] == 0]
        measure("gateway RTP at the caller in 1.5 s after the refresh", len(pkts))
        assert len(pkts) >= 60, f"audio after the refresh: {len(pkts)} packets in 1.5 s"
        tone = media.tonecheck(pcmu_wav(pkts, out_dir / "caller_after_refresh.wav"), TONE_HZ, MIN_SNR_DB)
        assert tone["ok"], tone["text"]
        assert 0 not in ctl.status_codes()[before:], f"the call ended: {ctl.dump()}"
    finally:
        if pub is not None:
            pub.stop()
        try:
            hangup_ended(ctl)
        finally:
            caller.close()


def test_far_end_refreshes_through_kamailio(gateway_factory, sst_kamailio, procs, out_dir, ports, measure):
    """The far end is the refresher (its 200 says `Session-Expires: 90;refresher=uas`) and refreshes
    through Kamailio with an UPDATE without SDP and then a re-INVITE (RFC 4028 §7.4, §8.1): the gateway
    answers each 200 with `Session-Expires: 90;refresher=uac` and `Require: timer` (§9), so Kamailio's sst
    takes each as a refresh and pushes the dialog's expiry; the call goes on."""
    kam = sst_kamailio
    gw = gateway_factory({"sip": {"session_expires_s": INTERVAL_S,
                                  "outbound_proxy": f"sip:127.0.0.1:{kam.port}"}}, name="gw_sst_far")
    peer = RecordRoutingPeer(ports.port(), ports.range(2)[0], answer_session_expires=f"{INTERVAL_S};refresher=uas")
    ctl = RtmpControl(gw.url())
    try:
        dial_connected(ctl, peer.uri("bob"))
        peer.wait_answered()
        assert peer.route_set and f"127.0.0.1:{kam.port}" in peer.route_set[0], peer.dump()
        time.sleep(1.0)
        first = dlg_timeouts(kam)
        assert len(first) == 1, f"Kamailio should track one dialog: {kam.kamcmd('dlg.list')}"
        last = first[0]
        for method in ("UPDATE", "INVITE"):
            time.sleep(6.0)   # dlg.list has whole seconds: each refresh must move the expiry visibly
            extra = ["Supported: timer", f"Session-Expires: {INTERVAL_S};refresher=uac"]
            if method == "UPDATE":
                resp = peer.request("UPDATE", extra=extra)
            else:
                resp = peer.reinvite("sendrecv", extra=extra)
            assert resp.startswith("SIP/2.0 200"), f"the far end's {method} refresh: {resp}\n{peer.dump()}"
            se = (header(resp, "Session-Expires") or "").replace(" ", "").lower()
            assert se == f"{INTERVAL_S};refresher=uac", f"{method} refresh answered Session-Expires {se!r}:\n{resp}"
            assert "timer" in (header(resp, "Require") or ""), f"{method} 200 lacks Require: timer:\n{resp}"
            vias = re.findall(r"(?im)^(?:via|v):.*$", resp.split("\r\n\r\n", 1)[0])
            assert len(vias) == 1, f"the response came back with extra Vias: {vias}"
            time.sleep(0.5)
            now = dlg_timeouts(kam)
            assert len(now) == 1 and now[0] - last >= 4 and now[0] - time.time() >= INTERVAL_S - 3, \
                f"Kamailio did not take the {method} as a refresh: expiry {last} -> {now} (now {time.time():.0f})"
            measure(f"Kamailio dialog expiry moved by the far end's {method} (s)", now[0] - last)
            last = now[0]
        kl = [l for l in kam.output().splitlines() if "SST IN-DIALOG UPDATE" in l or "SST IN-DIALOG INVITE" in l]
        assert len(kl) >= 2, "the refreshes did not cross Kamailio:\n" + "\n".join(kl)
        assert 0 not in ctl.status_codes(), f"the call ended: {ctl.dump()}"
    finally:
        try:
            hangup_ended(ctl)
        finally:
            ctl.close()
            peer.close()


def test_proxy_422_raises_the_interval(gateway_factory, procs, out_dir, ports, measure):
    """Kamailio's sst with Min-SE 120 (`-A SST_MIN_SE=120`) answers the gateway's `Session-Expires: 90`
    with 422 and `Min-SE: 120` (RFC 4028 §8.1). The gateway retries once (same Call-ID, higher CSeq) with
    `Session-Expires: 120` and `Min-SE: 120` (§7.1), Kamailio relays it, and the call connects with
    Kamailio's `Session-Expires: 120;refresher=uac` in the 200."""
    kam = Kamailio(procs, out_dir, ports, defines=("WITH_SST", "SST_MIN_SE=120"), name="kamailio_sst120").start()
    gw = gateway_factory({"sip": {"session_expires_s": INTERVAL_S,
                                  "outbound_proxy": f"sip:127.0.0.1:{kam.port}"}}, name="gw_sst422")
    peer = RecordRoutingPeer(ports.port(), ports.range(2)[0])
    ctl = RtmpControl(gw.url())
    try:
        dial_connected(ctl, peer.uri("bob"))
        invites = [m for _, d, m in peer.log if d == "in" and m.startswith("INVITE ")]
        assert len(invites) == 1, f"only the retried INVITE reaches the far end:\n{peer.dump()}"
        assert header(invites[0], "Session-Expires") == "120", invites[0]
        assert header(invites[0], "Min-SE") == "120", invites[0]
        log = gw.log.read_text(errors="replace").splitlines()
        sent = [l for l in log if "udp send" in l and 'raw_message="INVITE ' in l]
        got422 = [l for l in log if "udp received" in l and 'raw_message="SIP/2.0 422' in l]
        assert got422 and "Min-SE: 120" in got422[0], f"no 422 from Kamailio: {got422}"
        assert len(sent) >= 2, f"the gateway did not retry after the 422: {sent}"
        cid = lambda l: re.search(r"Call-ID: ([^\\]+)\\r", l)[1]  # noqa: E731
        cseq = lambda l: int(re.search(r"cseq=(\d+) INVITE", l)[1])  # noqa: E731
        assert cid(sent[0]) == cid(sent[1]) and cseq(sent[1]) > cseq(sent[0]), (sent[0][:400], sent[1][:400])
        gw_200 = [l for l in log if "udp received" in l and "SIP/2.0 200" in l and "INVITE" in l]
        assert gw_200 and "Session-Expires: 120;refresher=uac" in gw_200[0], gw_200[:1]
        assert [l for l in kam.output().splitlines() if "SST 422" in l], "Kamailio logged no 422"
    finally:
        try:
            hangup_ended(ctl)
        finally:
            ctl.close()
            peer.close()
            kam.stop()
