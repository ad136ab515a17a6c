//! The `Sono.*` info objects (README.md, "RTMP API"), built in one place
//! from their types. Each is an AMF object `{level: "status", code, ...}`
//! sent as an `onStatus` on message stream 0, or as a `_result` value.

use crate::amf::Value;
use crate::call::status::CallStatus;
use crate::call::transfer::TransferEvent;
use crate::call::IncomingCallInfo;
use crate::sip::event::SipStatus;
use crate::sip::registration::RegistrationEvent;

/// `Sono.Call.Status {status_code, call_id[, sip_code, reason, publish,
/// play, early_media]}`: optional fields are left out when `None`.
pub fn status_info(st: &CallStatus) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Call.Status")
        .set("status_code", f64::from(st.status as u8))
        .set("call_id", st.call_id.as_str())
        .set_opt("sip_code", st.sip_code.map(f64::from))
        .set_opt("reason", st.reason.clone())
        .set_opt("publish", st.publish.clone())
        .set_opt("play", st.play.clone())
        .set_opt("early_media", st.early_media)
        .build()
}

/// `Sono.Call.Incoming {uri, [display_name], to, call_id}`: the caller as
/// `uri` (the From URI).
pub fn incoming_info(info: &IncomingCallInfo) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Call.Incoming")
        .set("uri", info.uri.as_str())
        .set_opt("display_name", info.display_name.clone())
        .set("to", info.to.as_str())
        .set("call_id", info.call_id.as_str())
        .build()
}

/// `Sono.Call.DTMF {digit, call_id}`: the far end sent an RFC 4733
/// telephone-event.
pub fn dtmf_info(digit: char, call_id: &str) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Call.DTMF")
        .set("digit", digit.to_string())
        .set("call_id", call_id)
        .build()
}

/// `Sono.Call.Hold {call_id, held, by}`: one side put the call on hold
/// (`held: true`) or resumed it (RFC 3264 §8.4). `by: "remote"`: the far
/// end's re-INVITE/UPDATE (its `sendonly`/`inactive` offer, or a `0.0.0.0`
/// address); `by: "local"`: our `hold()`/`unhold()`. Each side's hold is
/// told on its own: the far end resuming while the client still holds
/// gives `held: false, by: "remote"`, and the call stays held by the client.
pub fn hold_info(call_id: &str, held: bool, by_remote: bool) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Call.Hold")
        .set("call_id", call_id)
        .set("held", held)
        .set("by", if by_remote { "remote" } else { "local" })
        .build()
}

/// `Sono.Call.HoldFailed {call_id, held, sip_code, reason}` (level
/// `error`): our hold (`held: true`) or resume re-INVITE was refused (a
/// 3xx-6xx, or 408 without an answer); the media stays as it was.
pub fn hold_failed_info(call_id: &str, held: bool, status: &SipStatus) -> Value {
    Value::object_builder()
        .set("level", "error")
        .set("code", "Sono.Call.HoldFailed")
        .set("call_id", call_id)
        .set("held", held)
        .set("sip_code", f64::from(status.code()))
        .set("reason", status.reason())
        .build()
}

/// `Sono.Call.Transfer {call_id, status[, sip_code, reason, target]}`:
/// a transfer's progress (`accepted`, `trying`, `succeeded`, `failed`;
/// RFC 3515 §2.4.5, the sipfrag status line's code and phrase), or a far
/// end's REFER honoured (`target`: the Refer-To URI called).
pub fn transfer_info(ev: &TransferEvent) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Call.Transfer")
        .set("call_id", ev.call_id.as_str())
        .set("status", ev.status.as_str())
        .set_opt("sip_code", ev.sip_code.map(f64::from))
        .set_opt("reason", ev.reason.clone())
        .set_opt("target", ev.target.clone())
        .build()
}

/// `register`'s `_result` value: `Sono.Registration.Result {uri}`.
pub fn registration_result(uri: &str) -> Value {
    Value::object_builder()
        .set("level", "status")
        .set("code", "Sono.Registration.Result")
        .set("uri", uri)
        .build()
}

/// `Sono.Registration.Status {status, uri[, sip_code, reason, expires]}`
/// for the AoR `aor`; `None` for an event the API does not report.
pub fn registration_status(aor: &str, ev: &RegistrationEvent) -> Option<Value> {
    let (status, code, reason, expires) = match ev {
        RegistrationEvent::Registered { expires } => {
            ("registered", Some(200u16), None, Some(*expires))
        }
        RegistrationEvent::Failed { code, reason, .. } => {
            ("failed", Some(*code), Some(reason.clone()), None)
        }
        RegistrationEvent::Expired => ("expired", None, Some("Registration expired".into()), None),
        RegistrationEvent::Unregistered => ("unregistered", None, None, Some(0)),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    Some(
        Value::object_builder()
            .set("level", "status")
            .set("code", "Sono.Registration.Status")
            .set("status", status)
            .set("uri", aor)
            .set_opt("sip_code", code.map(f64::from))
            .set_opt("reason", reason)
            .set_opt("expires", expires.map(f64::from))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::status::StatusCode;
    use crate::call::transfer::TransferStatus;

    fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
        v.get(key)
    }

    #[test]
    fn status_leaves_out_absent_fields() {
        let mut st = CallStatus::new(StatusCode::ConnectStreams, "abc");
        st.publish = Some("p".into());
        let v = status_info(&st);
        assert_eq!(
            field(&v, "code").and_then(Value::as_str),
            Some("Sono.Call.Status")
        );
        assert_eq!(field(&v, "status_code").and_then(Value::as_f64), Some(4.0));
        assert_eq!(field(&v, "publish").and_then(Value::as_str), Some("p"));
        assert!(field(&v, "play").is_none());
        assert!(field(&v, "sip_code").is_none());
    }

    #[test]
    fn every_info_object_has_level_and_code() {
        let info = IncomingCallInfo {
            call_id: "c".into(),
            uri: "sip:a@b".into(),
            display_name: None,
            to: "sip:x@y".into(),
        };
        let cases = [
            (incoming_info(&info), "Sono.Call.Incoming"),
            (dtmf_info('5', "c"), "Sono.Call.DTMF"),
            (hold_info("c", true, true), "Sono.Call.Hold"),
            (
                transfer_info(&TransferEvent::new(
                    "c",
                    TransferStatus::Succeeded,
                    Some(SipStatus::new(200, "OK")),
                )),
                "Sono.Call.Transfer",
            ),
            (registration_result("sip:u@h"), "Sono.Registration.Result"),
            (
                registration_status("sip:u@h", &RegistrationEvent::Expired).unwrap_or(Value::Null),
                "Sono.Registration.Status",
            ),
        ];
        let failed = hold_failed_info("c", true, &SipStatus::new(488, "Not Here"));
        assert_eq!(
            field(&failed, "level").and_then(Value::as_str),
            Some("error")
        );
        assert_eq!(
            field(&failed, "sip_code").and_then(Value::as_f64),
            Some(488.0)
        );
        for (v, code) in cases {
            assert_eq!(field(&v, "level").and_then(Value::as_str), Some("status"));
            assert_eq!(field(&v, "code").and_then(Value::as_str), Some(code));
        }
        let r = registration_status("sip:u@h", &RegistrationEvent::Registered { expires: 60 })
            .unwrap_or(Value::Null);
        assert_eq!(field(&r, "expires").and_then(Value::as_f64), Some(60.0));
        assert_eq!(field(&r, "sip_code").and_then(Value::as_f64), Some(200.0));
    }
}
