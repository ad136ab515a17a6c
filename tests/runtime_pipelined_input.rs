//! Pipelined input is handled whole: a client that sends C2, `connect`
//! and `dial` in one TCP write gets its answers without sending more.

mod support;

use std::time::Duration;

use rtmp2sip::amf::Value;
use support::{RawClient, TestGateway};

#[test]
fn c2_connect_and_empty_dial_in_one_write_get_the_error() {
    let gw = TestGateway::start("pipelined-error", "");
    let mut c = RawClient::connect(gw.rtmp_port);
    let mut bytes = c.connect_command("phone");
    bytes.extend(c.command("dial", 2.0, 0, &[Value::from("")]));
    c.send_with_c2(&bytes);
    let got = c.wait_for(Duration::from_secs(3), |r| {
        r.txn == 2.0 && (r.name == "_error" || r.name == "_result")
    });
    let got = got.unwrap_or_else(|| panic!("no answer to dial(\"\"); log:\n{}", gw.log()));
    assert_eq!(got.name, "_error", "{got:?}");
}

#[test]
fn c2_connect_and_echo_dial_in_one_write_get_status_events() {
    let gw = TestGateway::start("pipelined-echo", "");
    let mut c = RawClient::connect(gw.rtmp_port);
    let mut bytes = c.connect_command("phone");
    bytes.extend(c.command("dial", 2.0, 0, &[Value::from("sip:echo@127.0.0.1")]));
    c.send_with_c2(&bytes);
    let got = c.wait_for(Duration::from_secs(3), |r| {
        r.name == "onStatus" && r.code() == Some("Sono.Call.Status")
    });
    assert!(
        got.is_some(),
        "no Sono.Call.Status after a pipelined dial; log:\n{}",
        gw.log()
    );
}
