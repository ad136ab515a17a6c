"""SIGTERM with a call up and `[limits] drain_timeout_s = 0` (no drain): the gateway ends the call with
BYE at once (sipp receives it and exits 0), tells the RTMP client (status 0, or at least closes the
connection cleanly), and exits with code 0 within 8 s. The drain itself (a call kept up to
drain_timeout_s while new calls get 503) is in test_reload.py."""
import signal
import time

from helpers.calls import dial_connected
from helpers.rtmp_control import NOT_CONNECTED, RtmpControl
from helpers.sipp import Sipp

EXIT_WITHIN_S = 8


def test_sigterm_ends_calls_with_bye_and_exits_0(gateway_factory, procs, out_dir, ports, measure):
    gw = gateway_factory({"limits": {"drain_timeout_s": 0}}, name="gw_shutdown")
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu_silent.xml").start()
    ctl = RtmpControl(gw.url())
    try:
        dial_connected(ctl, sipp.uri("bob"))
        before = len(ctl.statuses())
        t0 = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        rc = gw.proc.wait(EXIT_WITHIN_S)
        took = time.monotonic() - t0
        measure("SIGTERM -> exit (s)", round(took, 2))
        assert rc is not None, f"gateway still running {EXIT_WITHIN_S} s after SIGTERM\n" + gw.log_since(0)
        assert rc == 0, f"gateway exit code after SIGTERM: {rc}\n" + gw.log_since(0)
        src = sipp.wait_exit(10)
        assert src == 0, "sipp should have received BYE at shutdown:\n" + sipp.report()
        assert "BYE sip:" in sipp.messages(), sipp.report()
        # The client: status 0 for its call, or at least a connection the gateway closed.
        deadline = time.monotonic() + 3
        while ctl.closed_reason is None and time.monotonic() < deadline:
            time.sleep(0.05)
        codes = ctl.status_codes()[before:]
        assert NOT_CONNECTED in codes or ctl.closed_reason is not None, \
            f"client saw neither status 0 nor a closed connection: {codes}\n{ctl.dump()}"
        assert ctl.closed_reason is not None, f"the gateway exited but the connection is not closed: {ctl.dump()}"
        measure("statuses after SIGTERM", codes)
    finally:
        ctl.close()
