//! Command messages (RTMP spec 1.0, 7.1.1 and 7.2) parsed into a typed
//! [`Command`]: AMF positions are method name, transaction id, command
//! object, then arguments.

use crate::amf::{self, AmfError, Limits, Value};

/// A command message that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The body is not valid AMF.
    #[error("invalid AMF in command: {0}")]
    Amf(#[from] AmfError),
    /// The first value is not a string (the method name).
    #[error("command message does not start with a method name")]
    NoMethodName,
}

/// A command message's AMF values, split into their roles.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoke {
    /// Method name ("connect", "dial", ...).
    pub name: String,
    /// Transaction id; 0 for commands that expect no answer.
    pub txn: f64,
    /// The command object (null for most commands).
    pub object: Value,
    /// Arguments after the command object.
    pub args: Vec<Value>,
}

/// A parsed command, by method.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// NetConnection.connect(cmdObj, ...args) (RTMP 1.0 §7.2.1.1).
    Connect {
        /// Transaction ID (AMF0 Number; 0 when absent or not a Number).
        txn: f64,
        /// The command object: an Object with `app`, `tcUrl`, ... (or
        /// anything the client sent).
        object: Value,
        /// Optional user arguments after it (a JWT first with `[auth]`).
        args: Vec<Value>,
    },
    /// NetConnection.createStream() (RTMP 1.0 §7.2.1.3): answered with a
    /// new message stream ID.
    CreateStream {
        /// Transaction ID (AMF0 Number; 0 when absent or not a Number).
        txn: f64,
    },
    /// deleteStream(stream id) (RTMP 1.0 §7.2.2.3).
    DeleteStream {
        /// The message stream ID to delete; `None` when absent, not a
        /// Number, negative or above `u32::MAX`.
        stream_id: Option<u32>,
    },
    /// closeStream on a NetStream (message stream id of the message).
    CloseStream,
    /// releaseStream(name): sent by ffmpeg and FMLE before publishing (a
    /// Flash Media Server convention, not in RTMP 1.0).
    ReleaseStream {
        /// Transaction ID (AMF0 Number; 0 when absent or not a Number).
        txn: f64,
        /// First argument: the stream name; `None` when absent or not a
        /// String.
        name: Option<String>,
    },
    /// FCPublish(name): sent by ffmpeg and FMLE before `publish` (FMS
    /// convention; answered with `onFCPublish`).
    FcPublish {
        /// Transaction ID (AMF0 Number; 0 when absent or not a Number).
        txn: f64,
        /// First argument: the stream name; `None` when absent or not a
        /// String.
        name: Option<String>,
    },
    /// FCUnpublish(name): sent by ffmpeg when it stops publishing (FMS
    /// convention; answered with `onFCUnpublish`).
    FcUnpublish {
        /// Transaction ID (AMF0 Number; 0 when absent or not a Number).
        txn: f64,
        /// First argument: the stream name; `None` when absent or not a
        /// String.
        name: Option<String>,
    },
    /// NetStream.publish(name, type) (RTMP 1.0 §7.2.2.6).
    Publish {
        /// Transaction ID (AMF0 Number; 0 when absent or not a Number).
        txn: f64,
        /// First argument: the stream name; `None` when absent or not a
        /// String.
        name: Option<String>,
    },
    /// NetStream.play(name, start, duration, reset) (RTMP 1.0 §7.2.2.1).
    Play {
        /// Transaction ID (AMF0 Number; 0 when absent or not a Number).
        txn: f64,
        /// First argument: the stream name; `None` when absent or not a
        /// String.
        name: Option<String>,
    },
    /// getStreamLength(name): asked by some players before `play` (FMS
    /// convention); live streams have no length.
    GetStreamLength {
        /// Transaction ID (AMF0 Number; 0 when absent or not a Number).
        txn: f64,
    },
    /// receiveAudio / receiveVideo / pause / seek / FCSubscribe (RTMP 1.0
    /// §7.2.2.4-8): stream housekeeping the gateway needs no answer for.
    StreamHousekeeping {
        /// The method name as received, for the log.
        name: String,
    },
    /// An answer to one of our invokes (`_result`/`_error`), or `onBWDone`-like
    /// client callbacks: ignored.
    Response,
    /// Any other method: the product API (dial, hangup, ...) or unknown.
    App(Invoke),
}

/// Decodes a command message body: AMF0 for type 0x14, and for type 0x11
/// the AMF3 form (a 0x00 format byte, then AMF0 values that may switch to
/// AMF3 with marker 0x11).
///
/// # Errors
/// [`CommandError`] when the body is not valid AMF or has no method name.
pub fn decode_invoke(body: &[u8], amf3: bool, limits: Limits) -> Result<Invoke, CommandError> {
    let values = if amf3 {
        amf::decode_amf3_command_body_with(body, limits)?
    } else {
        amf::decode_amf0_all_with(body, limits)?
    };
    let mut it = values.into_iter();
    let name = match it.next() {
        Some(Value::String(s)) => s,
        _ => return Err(CommandError::NoMethodName),
    };
    let txn = it.next().and_then(|v| v.as_f64()).unwrap_or(0.0);
    let object = it.next().unwrap_or(Value::Null);
    Ok(Invoke {
        name,
        txn,
        object,
        args: it.collect(),
    })
}

fn arg_str(args: &[Value], i: usize) -> Option<String> {
    args.get(i).and_then(|v| v.as_str()).map(str::to_string)
}

fn arg_u32(args: &[Value], i: usize) -> Option<u32> {
    args.get(i)
        .and_then(|v| v.as_f64())
        .filter(|f| f.is_finite() && *f >= 0.0 && *f <= f64::from(u32::MAX))
        .map(|f| f as u32)
}

impl Command {
    /// Classifies an [`Invoke`].
    pub fn from_invoke(inv: Invoke) -> Command {
        let txn = inv.txn;
        let a = &inv.args;
        match inv.name.as_str() {
            "connect" => Command::Connect {
                txn,
                object: inv.object,
                args: inv.args,
            },
            "createStream" => Command::CreateStream { txn },
            "deleteStream" => Command::DeleteStream {
                stream_id: arg_u32(a, 0),
            },
            "closeStream" => Command::CloseStream,
            "releaseStream" => Command::ReleaseStream {
                txn,
                name: arg_str(a, 0),
            },
            "FCPublish" => Command::FcPublish {
                txn,
                name: arg_str(a, 0),
            },
            "FCUnpublish" => Command::FcUnpublish {
                txn,
                name: arg_str(a, 0),
            },
            "publish" => Command::Publish {
                txn,
                name: arg_str(a, 0),
            },
            "play" => Command::Play {
                txn,
                name: arg_str(a, 0),
            },
            "getStreamLength" => Command::GetStreamLength { txn },
            "receiveAudio" | "receiveVideo" | "pause" | "seek" | "FCSubscribe" => {
                Command::StreamHousekeeping { name: inv.name }
            }
            "_result" | "_error" | "onBWDone" | "_checkbw" => Command::Response,
            _ => Command::App(inv),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(values: &[Value]) -> Vec<u8> {
        amf::encode_amf0_all(values)
    }

    #[test]
    fn dial_with_uri() {
        let b = body(&[
            "dial".into(),
            3.0.into(),
            Value::Null,
            "sip:bob@127.0.0.1".into(),
        ]);
        let inv = decode_invoke(&b, false, Limits::default()).unwrap();
        match Command::from_invoke(inv) {
            Command::App(inv) => {
                assert_eq!(inv.name, "dial");
                assert_eq!(inv.txn, 3.0);
                assert_eq!(inv.args[0].as_str(), Some("sip:bob@127.0.0.1"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn amf3_command_body() {
        let mut b = vec![0u8];
        b.extend(body(&["createStream".into(), 2.0.into(), Value::Null]));
        let inv = decode_invoke(&b, true, Limits::default()).unwrap();
        assert_eq!(
            Command::from_invoke(inv),
            Command::CreateStream { txn: 2.0 }
        );
    }

    #[test]
    fn publish_and_delete_stream_args() {
        let b = body(&[
            "publish".into(),
            5.0.into(),
            Value::Null,
            "abc".into(),
            "live".into(),
        ]);
        let c = Command::from_invoke(decode_invoke(&b, false, Limits::default()).unwrap());
        assert_eq!(
            c,
            Command::Publish {
                txn: 5.0,
                name: Some("abc".into())
            }
        );
        let b = body(&["deleteStream".into(), 0.0.into(), Value::Null, 1.0.into()]);
        let c = Command::from_invoke(decode_invoke(&b, false, Limits::default()).unwrap());
        assert_eq!(c, Command::DeleteStream { stream_id: Some(1) });
        let b = body(&[
            "deleteStream".into(),
            0.0.into(),
            Value::Null,
            (-1.0).into(),
        ]);
        let c = Command::from_invoke(decode_invoke(&b, false, Limits::default()).unwrap());
        assert_eq!(c, Command::DeleteStream { stream_id: None });
    }

    #[test]
    fn not_a_command() {
        assert!(decode_invoke(&body(&[1.0.into()]), false, Limits::default()).is_err());
        assert!(decode_invoke(&[0x02, 0x00], false, Limits::default()).is_err());
    }
}
