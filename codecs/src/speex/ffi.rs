//! A minimal safe wrapper over libspeex 1.2.1 (`speex/speex.h`,
//! `speex/speex_bits.h`), linked from the system: Debian `libspeex-dev` at
//! build time, `libspeex1` at run time (one of the crate's two unsafe files;
//! the other is `resample/ffi.rs`).
//!
//! Debian builds libspeex with its SSE code paths (`_USE_SSE`: `vq_sse.h`,
//! `ltp_sse.h`, `filters_sse.h`), which make the wideband encoder about 1.6x
//! faster than the plain `-DFLOATING_POINT` build `speex-sys` 0.4 bundled
//! (BENCHMARKS.md). The SSE sums round differently, so at complexity 1..=4
//! the bitstream differs slightly from a scalar build's; PESQ on speech is
//! the same within 0.01.
//!
//! Only the functions below are declared; the ABI used (`SpeexBits`'s layout,
//! the request numbers, the mode ids) is the one fixed since libspeex 1.0.
//!
//! Invariants kept here so that callers cannot break them:
//! - every state pointer is non-null, created by `speex_*_init` and destroyed
//!   exactly once in `Drop`;
//! - every PCM buffer handed to libspeex holds at least the mode's frame
//!   size, queried from the state itself;
//! - payloads are bounded by [`MAX_PAYLOAD_BYTES`] before libspeex sees them,
//!   so its internal bit buffer grows to at most that size.

use core::ffi::{c_char, c_int, c_void};
use core::ptr::NonNull;

use super::SpeexMode;
use crate::CodecError;

/// `SpeexBits` (`speex/speex_bits.h`): a bit stream over a heap buffer that
/// libspeex allocates (`speex_bits_init`) and frees (`speex_bits_destroy`).
#[repr(C)]
struct RawBits {
    chars: *mut c_char,
    nb_bits: c_int,
    char_ptr: c_int,
    bit_ptr: c_int,
    owner: c_int,
    overflow: c_int,
    buf_size: c_int,
    reserved1: c_int,
    reserved2: *mut c_void,
}

/// Opaque `SpeexMode` (a static table inside libspeex).
#[repr(C)]
struct RawMode {
    _private: [u8; 0],
}

/// `SPEEX_GET_FRAME_SIZE` in `speex/speex.h`.
const SPEEX_GET_FRAME_SIZE: c_int = 3;
/// `SPEEX_MODEID_NB` in `speex/speex.h`.
const SPEEX_MODEID_NB: c_int = 0;
/// `SPEEX_MODEID_WB` in `speex/speex.h`.
const SPEEX_MODEID_WB: c_int = 1;

#[link(name = "speex")]
extern "C" {
    fn speex_bits_init(bits: *mut RawBits);
    fn speex_bits_destroy(bits: *mut RawBits);
    fn speex_bits_reset(bits: *mut RawBits);
    fn speex_bits_read_from(bits: *mut RawBits, bytes: *const c_char, len: c_int);
    fn speex_bits_write(bits: *mut RawBits, bytes: *mut c_char, max_len: c_int) -> c_int;
    fn speex_bits_nbytes(bits: *mut RawBits) -> c_int;
    fn speex_bits_remaining(bits: *mut RawBits) -> c_int;
    fn speex_lib_get_mode(mode: c_int) -> *const RawMode;
    fn speex_encoder_init(mode: *const RawMode) -> *mut c_void;
    fn speex_encoder_destroy(state: *mut c_void);
    fn speex_encoder_ctl(state: *mut c_void, request: c_int, ptr: *mut c_void) -> c_int;
    fn speex_encode_int(state: *mut c_void, input: *mut i16, bits: *mut RawBits) -> c_int;
    fn speex_decoder_init(mode: *const RawMode) -> *mut c_void;
    fn speex_decoder_destroy(state: *mut c_void);
    fn speex_decoder_ctl(state: *mut c_void, request: c_int, ptr: *mut c_void) -> c_int;
    fn speex_decode_int(state: *mut c_void, bits: *mut RawBits, out: *mut i16) -> c_int;
}

/// An integer encoder setting (`speex_encoder_ctl` SET request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderSetting {
    /// `SPEEX_SET_QUALITY` (4): 0..=10.
    Quality,
    /// `SPEEX_SET_COMPLEXITY` (16): 1..=10.
    Complexity,
    /// `SPEEX_SET_VAD` (30): 0 or 1.
    Vad,
    /// `SPEEX_SET_DTX` (34): 0 or 1.
    Dtx,
}

impl EncoderSetting {
    fn request(self) -> c_int {
        match self {
            Self::Quality => 4,
            Self::Complexity => 16,
            Self::Vad => 30,
            Self::Dtx => 34,
        }
    }
}

/// Largest payload handed to libspeex, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// Owned `SpeexBits` with its own buffer.
pub struct Bits {
    raw: RawBits,
}

// SAFETY: `SpeexBits` owns its heap buffer exclusively; libspeex keeps no
// thread-local or global reference to it, so moving it to another thread
// is sound. `&mut self` on every method prevents concurrent access.
unsafe impl Send for Bits {}

impl Bits {
    /// Allocates an empty bit stream.
    pub fn new() -> Result<Self, CodecError> {
        let mut raw = RawBits {
            chars: core::ptr::null_mut(),
            nb_bits: 0,
            char_ptr: 0,
            bit_ptr: 0,
            owner: 0,
            overflow: 0,
            buf_size: 0,
            reserved1: 0,
            reserved2: core::ptr::null_mut(),
        };
        // SAFETY: `raw` is a valid, exclusively borrowed `SpeexBits`;
        // `speex_bits_init` allocates its buffer and sets every field.
        unsafe { speex_bits_init(&mut raw) };
        if raw.chars.is_null() {
            return Err(CodecError::Init("speex_bits_init: out of memory"));
        }
        Ok(Self { raw })
    }

    /// Clears the stream for writing.
    pub fn reset(&mut self) {
        // SAFETY: `self.raw` was initialised by `speex_bits_init`.
        unsafe { speex_bits_reset(&mut self.raw) };
    }

    /// Loads `payload` for reading; it must be at most [`MAX_PAYLOAD_BYTES`].
    pub fn load(&mut self, payload: &[u8]) -> Result<(), CodecError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(CodecError::InvalidPayload("Speex payload too large"));
        }
        let len = c_int::try_from(payload.len())
            .map_err(|_| CodecError::InvalidPayload("Speex payload too large"))?;
        // SAFETY: `payload` is valid for `len` bytes and only read; libspeex
        // copies it into its own buffer (growing it to at most `len` bytes).
        unsafe { speex_bits_read_from(&mut self.raw, payload.as_ptr().cast::<c_char>(), len) };
        Ok(())
    }

    /// Bits left to read, or a negative value after reading past the end.
    pub fn remaining(&mut self) -> i32 {
        // SAFETY: `self.raw` is initialised; the call only reads its fields.
        unsafe { speex_bits_remaining(&mut self.raw) }
    }

    /// Pads to a byte boundary with the terminator and appends the bytes to `out`.
    pub fn write_to(&mut self, out: &mut Vec<u8>) {
        // SAFETY: `self.raw` is initialised; the call only reads its fields.
        let needed = unsafe { speex_bits_nbytes(&mut self.raw) };
        let Ok(needed_len) = usize::try_from(needed) else {
            return;
        };
        let start = out.len();
        out.resize(start + needed_len, 0);
        let Some(dest) = out.get_mut(start..) else {
            return;
        };
        // SAFETY: `dest` is a writable buffer of exactly `needed` bytes and
        // libspeex writes at most `max_len` = `needed` bytes into it.
        let written =
            unsafe { speex_bits_write(&mut self.raw, dest.as_mut_ptr().cast::<c_char>(), needed) };
        out.truncate(start + usize::try_from(written).unwrap_or(0).min(needed_len));
    }
}

impl Drop for Bits {
    fn drop(&mut self) {
        // SAFETY: initialised by `speex_bits_init`, destroyed only here.
        unsafe { speex_bits_destroy(&mut self.raw) };
    }
}

fn mode_ptr(mode: SpeexMode) -> Result<*const RawMode, CodecError> {
    let id = match mode {
        SpeexMode::Narrowband => SPEEX_MODEID_NB,
        SpeexMode::Wideband => SPEEX_MODEID_WB,
    };
    // SAFETY: `speex_lib_get_mode` returns a pointer to a static mode table
    // (or null for an unknown id, checked below).
    let ptr = unsafe { speex_lib_get_mode(id) };
    if ptr.is_null() {
        return Err(CodecError::Init("speex_lib_get_mode returned null"));
    }
    Ok(ptr)
}

/// An owned libspeex encoder state.
pub struct EncoderState {
    state: NonNull<c_void>,
    frame_size: usize,
}

// SAFETY: the state is exclusively owned and libspeex keeps no thread
// affinity; `&mut self` on every use prevents concurrent access.
unsafe impl Send for EncoderState {}

impl EncoderState {
    /// Creates an encoder for `mode`.
    pub fn new(mode: SpeexMode) -> Result<Self, CodecError> {
        let mode = mode_ptr(mode)?;
        // SAFETY: `mode` points to a static libspeex mode table.
        let raw = unsafe { speex_encoder_init(mode) };
        let state = NonNull::new(raw).ok_or(CodecError::Init("speex_encoder_init failed"))?;
        let mut encoder = Self {
            state,
            frame_size: 0,
        };
        let frame_size = encoder.ctl_get(SPEEX_GET_FRAME_SIZE)?;
        encoder.frame_size = usize::try_from(frame_size)
            .map_err(|_| CodecError::Init("negative Speex frame size"))?;
        Ok(encoder)
    }

    /// Samples per frame, from libspeex.
    pub fn frame_size(&self) -> usize {
        self.frame_size
    }

    /// Sets an integer parameter.
    ///
    /// Errors: [`CodecError::Init`] if libspeex rejects the request.
    pub fn set(&mut self, setting: EncoderSetting, value: i32) -> Result<(), CodecError> {
        let mut value: i32 = value;
        // SAFETY: every SET request of `EncoderSetting` reads one
        // `spx_int32_t` (`i32`) through the pointer, valid for the call.
        let ret = unsafe {
            speex_encoder_ctl(
                self.state.as_ptr(),
                setting.request(),
                (&mut value as *mut i32).cast::<c_void>(),
            )
        };
        if ret == 0 {
            Ok(())
        } else {
            Err(CodecError::Init("speex_encoder_ctl rejected a request"))
        }
    }

    fn ctl_get(&mut self, request: c_int) -> Result<i32, CodecError> {
        let mut value: i32 = 0;
        // SAFETY: every GET request used here writes one `spx_int32_t`
        // through the pointer, which is valid for the call.
        let ret = unsafe {
            speex_encoder_ctl(
                self.state.as_ptr(),
                request,
                (&mut value as *mut i32).cast::<c_void>(),
            )
        };
        if ret == 0 {
            Ok(value)
        } else {
            Err(CodecError::Init("speex_encoder_ctl rejected a request"))
        }
    }

    /// Encodes one frame into `bits`. `frame` is used as scratch by libspeex.
    pub fn encode(&mut self, frame: &mut [i16], bits: &mut Bits) -> Result<(), CodecError> {
        if frame.len() != self.frame_size {
            return Err(CodecError::FrameLength {
                expected: self.frame_size,
                got: frame.len(),
            });
        }
        // SAFETY: `frame` holds exactly `frame_size` samples, which is all
        // libspeex reads (and may overwrite); `bits` is initialised.
        unsafe { speex_encode_int(self.state.as_ptr(), frame.as_mut_ptr(), &mut bits.raw) };
        Ok(())
    }
}

impl Drop for EncoderState {
    fn drop(&mut self) {
        // SAFETY: created by `speex_encoder_init`, destroyed only here.
        unsafe { speex_encoder_destroy(self.state.as_ptr()) };
    }
}

/// Outcome of decoding one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameResult {
    /// A frame was written to the output buffer.
    Decoded,
    /// No more frames (`speex_decode` returned -1).
    EndOfStream,
    /// The stream is corrupt (`speex_decode` returned -2 or another error).
    Corrupt,
}

/// An owned libspeex decoder state.
pub struct DecoderState {
    state: NonNull<c_void>,
    frame_size: usize,
}

// SAFETY: as for `EncoderState`.
unsafe impl Send for DecoderState {}

impl DecoderState {
    /// Creates a decoder for `mode` (perceptual enhancement on, the
    /// libspeex default).
    pub fn new(mode: SpeexMode) -> Result<Self, CodecError> {
        let mode = mode_ptr(mode)?;
        // SAFETY: `mode` points to a static libspeex mode table.
        let raw = unsafe { speex_decoder_init(mode) };
        let state = NonNull::new(raw).ok_or(CodecError::Init("speex_decoder_init failed"))?;
        let mut frame_size: i32 = 0;
        // SAFETY: SPEEX_GET_FRAME_SIZE writes one `spx_int32_t` through the
        // pointer, which is valid for the call.
        unsafe {
            speex_decoder_ctl(
                state.as_ptr(),
                SPEEX_GET_FRAME_SIZE,
                (&mut frame_size as *mut i32).cast::<c_void>(),
            )
        };
        let decoder = Self {
            state,
            frame_size: usize::try_from(frame_size).unwrap_or(0),
        };
        if decoder.frame_size == 0 {
            return Err(CodecError::Init("Speex decoder reported no frame size"));
        }
        Ok(decoder)
    }

    /// Samples per frame, from libspeex.
    pub fn frame_size(&self) -> usize {
        self.frame_size
    }

    /// Decodes the next frame of `bits` into `out` (`frame_size` samples),
    /// or, with `bits` = `None`, produces one frame of concealment.
    pub fn decode(&mut self, bits: Option<&mut Bits>, out: &mut [i16]) -> FrameResult {
        if out.len() != self.frame_size {
            return FrameResult::Corrupt;
        }
        let bits_ptr = bits.map_or(core::ptr::null_mut(), |b| &mut b.raw as *mut _);
        // SAFETY: `out` holds exactly `frame_size` samples, all libspeex
        // writes; `bits_ptr` is an initialised `SpeexBits` or null, which
        // libspeex documents as "packet lost".
        let ret = unsafe { speex_decode_int(self.state.as_ptr(), bits_ptr, out.as_mut_ptr()) };
        match ret {
            0 => FrameResult::Decoded,
            -1 => FrameResult::EndOfStream,
            _ => FrameResult::Corrupt,
        }
    }
}

impl Drop for DecoderState {
    fn drop(&mut self) {
        // SAFETY: created by `speex_decoder_init`, destroyed only here.
        unsafe { speex_decoder_destroy(self.state.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SPEEX_GET_BITRATE`, `SPEEX_GET_COMPLEXITY`, `SPEEX_GET_VAD`,
    /// `SPEEX_GET_DTX` in `speex/speex.h`.
    const GET_BITRATE: c_int = 19;
    const GET_COMPLEXITY: c_int = 17;
    const GET_VAD: c_int = 31;
    const GET_DTX: c_int = 35;

    #[test]
    fn settings_reach_the_linked_library() {
        // The request numbers are ours, not bindgen's: read each back.
        let mut enc = EncoderState::new(SpeexMode::Wideband).unwrap();
        assert_eq!(enc.frame_size(), 320);
        enc.set(EncoderSetting::Complexity, 3).unwrap();
        assert_eq!(enc.ctl_get(GET_COMPLEXITY).unwrap(), 3);
        enc.set(EncoderSetting::Vad, 1).unwrap();
        assert_eq!(enc.ctl_get(GET_VAD).unwrap(), 1);
        enc.set(EncoderSetting::Dtx, 1).unwrap();
        assert_eq!(enc.ctl_get(GET_DTX).unwrap(), 1);
        // Quality 8 wideband: 27.8 kbit/s (Speex manual, table 9.2: NB mode 6 + WB 3).
        enc.set(EncoderSetting::Quality, 8).unwrap();
        assert_eq!(enc.ctl_get(GET_BITRATE).unwrap(), 27_800);
        let nb = EncoderState::new(SpeexMode::Narrowband).unwrap();
        assert_eq!(nb.frame_size(), 160);
    }

    #[test]
    fn bits_round_trip_through_the_library() {
        let mut enc = EncoderState::new(SpeexMode::Wideband).unwrap();
        let mut bits = Bits::new().unwrap();
        let mut frame = vec![1000i16; enc.frame_size()];
        bits.reset();
        enc.encode(&mut frame, &mut bits).unwrap();
        let mut payload = Vec::new();
        bits.write_to(&mut payload);
        assert!(!payload.is_empty());
        let mut dec = DecoderState::new(SpeexMode::Wideband).unwrap();
        let mut read = Bits::new().unwrap();
        read.load(&payload).unwrap();
        let mut out = vec![0i16; dec.frame_size()];
        assert_eq!(dec.decode(Some(&mut read), &mut out), FrameResult::Decoded);
        assert!(read.remaining() < 8, "one frame read, at most padding left");
        assert_eq!(dec.decode(None, &mut out), FrameResult::Decoded);
        assert!(read.load(&vec![0u8; MAX_PAYLOAD_BYTES + 1]).is_err());
    }
}
