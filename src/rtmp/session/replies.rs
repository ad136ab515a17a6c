//! Replies and status messages the session sends, shaped the way Flash
//! Media Server sends them.

use bytes::Bytes;

use super::caps::AudioCodecs;
use super::{Session, CSID_COMMAND, CSID_STREAM};
use crate::amf::{self, Value};
use crate::rtmp::message::type_id;

/// `fmsVer` we announce: clients (Flash, librtmp) only log it.
const FMS_VERSION: &str = "FMS/3,5,7,7009";

impl Session {
    pub(super) fn send_connect_success(&mut self, txn: f64, encoding: f64) {
        let props = Value::object_builder()
            .set("fmsVer", FMS_VERSION)
            .set("capabilities", 31.0)
            .set("mode", 1.0)
            .set("audioFourCcInfoMap", super::caps::server_audio_map())
            .build();
        let info = Value::object_builder()
            .set("level", "status")
            .set("code", "NetConnection.Connect.Success")
            .set("description", "Connection succeeded.")
            .set("objectEncoding", encoding)
            .build();
        self.send_invoke(CSID_COMMAND, 0, "_result", txn, &[props, info]);
    }

    pub(super) fn send_connect_rejected(&mut self, txn: f64, why: &str, encoding: f64) {
        let info = Value::object_builder()
            .set("level", "error")
            .set("code", "NetConnection.Connect.Rejected")
            .set("description", why)
            .set("objectEncoding", encoding)
            .build();
        self.send_invoke(CSID_COMMAND, 0, "_error", txn, &[Value::Null, info]);
    }

    /// `onStatus` on the NetStream's own message stream id.
    pub(super) fn send_stream_status(
        &mut self,
        stream_id: u32,
        level: &str,
        code: &str,
        description: &str,
        details: &str,
    ) {
        let info = Value::object_builder()
            .set("level", level)
            .set("code", code)
            .set("description", description)
            .set("details", details)
            .set("clientid", 1.0)
            .build();
        self.send_invoke(
            CSID_STREAM,
            stream_id,
            "onStatus",
            0.0,
            &[Value::Null, info],
        );
    }

    /// `onFCPublish` / `onFCUnpublish`, which ffmpeg and FMLE wait for.
    pub(super) fn send_fc_status(&mut self, method: &str, code: &str, name: Option<&str>) {
        let info = Value::object_builder()
            .set("code", code)
            .set("description", name.unwrap_or_default())
            .build();
        self.send_invoke(CSID_COMMAND, 0, method, 0.0, &[Value::Null, info]);
    }

    /// `|RtmpSampleAccess` and `onMetaData` for a Speex 16 kHz mono stream,
    /// or for a client that can play Opus, Opus 48 kHz mono
    /// (`audiocodecid` = the FourCC as a number, E-RTMP v2 "Metadata").
    pub(super) fn send_play_data(&mut self, stream_id: u32) {
        let access = amf::encode_amf0_all(&["|RtmpSampleAccess".into(), true.into(), true.into()]);
        self.write_message(
            CSID_STREAM,
            type_id::DATA_AMF0,
            stream_id,
            0,
            Bytes::from(access),
        );
        // The downlink the runtime picks from these caps (media_task's
        // `downlink`): Opus, else G.711 for a mask without Speex, else Speex.
        let g711 = self
            .caps
            .audio_codecs()
            .filter(|_| self.caps.lacks_speex())
            .and_then(|m| {
                if m.has(AudioCodecs::G711U) {
                    Some(8.0)
                } else if m.has(AudioCodecs::G711A) {
                    Some(7.0)
                } else {
                    None
                }
            });
        let (codec_id, rate) = if self.caps.plays_opus() {
            (f64::from(u32::from_be_bytes(*b"Opus")), 48_000.0)
        } else if let Some(id) = g711 {
            (id, 8_000.0)
        } else {
            (11.0, 16_000.0)
        };
        let meta = Value::ecma_array([
            ("audiocodecid", Value::from(codec_id)),
            ("audiosamplerate", Value::from(rate)),
            ("audiosamplesize", Value::from(16.0)),
            ("stereo", Value::from(false)),
        ]);
        let body = amf::encode_amf0_all(&["onMetaData".into(), meta]);
        self.write_message(
            CSID_STREAM,
            type_id::DATA_AMF0,
            stream_id,
            0,
            Bytes::from(body),
        );
    }
}
