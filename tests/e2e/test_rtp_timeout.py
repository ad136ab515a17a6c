"""[media] rtp_timeout_s: a far end that answers but never sends RTP is hung up by the gateway. sipp
answers PCMU and sends nothing; within rtp_timeout_s (+ slack) of status 2 the client gets status 3 and 0
with sip_code 408 and reason "RTP timeout", and sipp receives the BYE."""
from helpers.calls import dial_connected, ended_info
from helpers.rtmp_control import CONNECTED, DISCONNECTING, NOT_CONNECTED
from helpers.sipp import Sipp

RTP_TIMEOUT_S = 2
GATEWAY_OVERRIDES = {"media": {"rtp_timeout_s": RTP_TIMEOUT_S}}


def test_no_rtp_from_far_end_ends_call(gateway, rtmp_client, procs, out_dir, ports, measure):
    sipp = Sipp(procs, out_dir, ports, "uas_pcmu_silent.xml").start()
    ctl = rtmp_client()
    before = len(ctl.statuses())
    dial_connected(ctl, sipp.uri("bob"))
    t_connected = next(i.t for i in ctl.invokes if i.method == "onStatus"
                       and int(i.info.get("status_code", -1)) == CONNECTED)
    s0 = ended_info(ctl, after=before, timeout=RTP_TIMEOUT_S + 6)
    t_ended = max(i.t for i in ctl.invokes if i.method == "onStatus" and i.info is s0)
    took = t_ended - t_connected
    measure("RTP timeout: status 2 -> status 0 (s)", round(took, 2))
    assert int(s0["sip_code"]) == 408, f"RTP timeout should end with sip_code 408: {s0}\n{ctl.dump()}"
    assert "RTP timeout" in str(s0["reason"]), f"reason should say RTP timeout: {s0}"
    assert RTP_TIMEOUT_S - 0.5 <= took <= RTP_TIMEOUT_S + 4, \
        f"call ended {took:.2f} s after status 2, expected about {RTP_TIMEOUT_S} s\n{ctl.dump()}"
    codes = ctl.status_codes()[before:]
    assert codes[-2:] == [DISCONNECTING, NOT_CONNECTED], f"expected the call to end with status 3, 0: {codes}"
    rc = sipp.wait_exit(10)
    assert rc == 0, "sipp should have received the gateway's BYE:\n" + sipp.report()
    assert "BYE sip:" in sipp.messages(), sipp.report()
