//! The crate's only unsafe code: a minimal safe wrapper over libspeex 1.2.1
//! (`speex-sys`, bundled and statically linked).
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

use speex_sys as sys;

use super::SpeexMode;
use crate::CodecError;

/// Largest payload handed to libspeex, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// Owned `SpeexBits` with its own buffer.
pub struct Bits {
    raw: sys::SpeexBits,
}

// SAFETY: `SpeexBits` owns its heap buffer exclusively; libspeex keeps no
// thread-local or global reference to it, so moving it to another thread
// is sound. `&mut self` on every method prevents concurrent access.
unsafe impl Send for Bits {}

impl Bits {
    /// Allocates an empty bit stream.
    pub fn new() -> Result<Self, CodecError> {
        // SAFETY: `SpeexBits` is a plain C struct of integers and one
        // pointer, for which all-zero bytes are a valid value.
        let mut raw: sys::SpeexBits = unsafe { core::mem::zeroed() };
        // SAFETY: `raw` is a valid, exclusively borrowed `SpeexBits`;
        // `speex_bits_init` allocates its buffer and sets every field.
        unsafe { sys::speex_bits_init(&mut raw) };
        if raw.chars.is_null() {
            return Err(CodecError::Init("speex_bits_init: out of memory"));
        }
        Ok(Self { raw })
    }

    /// Clears the stream for writing.
    pub fn reset(&mut self) {
        // SAFETY: `self.raw` was initialised by `speex_bits_init`.
        unsafe { sys::speex_bits_reset(&mut self.raw) };
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
        unsafe { sys::speex_bits_read_from(&mut self.raw, payload.as_ptr().cast::<c_char>(), len) };
        Ok(())
    }

    /// Bits left to read, or a negative value after reading past the end.
    pub fn remaining(&mut self) -> i32 {
        // SAFETY: `self.raw` is initialised; the call only reads its fields.
        unsafe { sys::speex_bits_remaining(&mut self.raw) }
    }

    /// Pads to a byte boundary with the terminator and appends the bytes to `out`.
    pub fn write_to(&mut self, out: &mut Vec<u8>) {
        // SAFETY: `self.raw` is initialised; the call only reads its fields.
        let needed = unsafe { sys::speex_bits_nbytes(&mut self.raw) };
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
        let written = unsafe {
            sys::speex_bits_write(&mut self.raw, dest.as_mut_ptr().cast::<c_char>(), needed)
        };
        out.truncate(start + usize::try_from(written).unwrap_or(0).min(needed_len));
    }
}

impl Drop for Bits {
    fn drop(&mut self) {
        // SAFETY: initialised by `speex_bits_init`, destroyed only here.
        unsafe { sys::speex_bits_destroy(&mut self.raw) };
    }
}

fn mode_ptr(mode: SpeexMode) -> Result<*const sys::SpeexMode, CodecError> {
    let id = match mode {
        SpeexMode::Narrowband => sys::SPEEX_MODEID_NB,
        SpeexMode::Wideband => sys::SPEEX_MODEID_WB,
    };
    // SAFETY: `speex_lib_get_mode` returns a pointer to a static mode table
    // (or null for an unknown id, checked below).
    let ptr = unsafe { sys::speex_lib_get_mode(id) };
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
        let raw = unsafe { sys::speex_encoder_init(mode) };
        let state = NonNull::new(raw).ok_or(CodecError::Init("speex_encoder_init failed"))?;
        let mut encoder = Self {
            state,
            frame_size: 0,
        };
        let frame_size = encoder.ctl_get(sys::SPEEX_GET_FRAME_SIZE)?;
        encoder.frame_size = usize::try_from(frame_size)
            .map_err(|_| CodecError::Init("negative Speex frame size"))?;
        Ok(encoder)
    }

    /// Samples per frame, from libspeex.
    pub fn frame_size(&self) -> usize {
        self.frame_size
    }

    /// Sets an integer parameter (`SPEEX_SET_*`).
    pub fn ctl_set(&mut self, request: i32, value: i32) -> Result<(), CodecError> {
        let mut value: sys::spx_int32_t = value;
        // SAFETY: every SET request used here reads one `spx_int32_t`
        // through the pointer, which is valid for the call.
        let ret = unsafe {
            sys::speex_encoder_ctl(
                self.state.as_ptr(),
                request,
                (&mut value as *mut sys::spx_int32_t).cast::<c_void>(),
            )
        };
        if ret == 0 {
            Ok(())
        } else {
            Err(CodecError::Init("speex_encoder_ctl rejected a request"))
        }
    }

    fn ctl_get(&mut self, request: i32) -> Result<i32, CodecError> {
        let mut value: sys::spx_int32_t = 0;
        // SAFETY: every GET request used here writes one `spx_int32_t`
        // through the pointer, which is valid for the call.
        let ret = unsafe {
            sys::speex_encoder_ctl(
                self.state.as_ptr(),
                request,
                (&mut value as *mut sys::spx_int32_t).cast::<c_void>(),
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
        unsafe { sys::speex_encode_int(self.state.as_ptr(), frame.as_mut_ptr(), &mut bits.raw) };
        Ok(())
    }
}

impl Drop for EncoderState {
    fn drop(&mut self) {
        // SAFETY: created by `speex_encoder_init`, destroyed only here.
        unsafe { sys::speex_encoder_destroy(self.state.as_ptr()) };
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
        let raw = unsafe { sys::speex_decoder_init(mode) };
        let state = NonNull::new(raw).ok_or(CodecError::Init("speex_decoder_init failed"))?;
        let mut frame_size: sys::spx_int32_t = 0;
        // SAFETY: SPEEX_GET_FRAME_SIZE writes one `spx_int32_t` through the
        // pointer, which is valid for the call.
        unsafe {
            sys::speex_decoder_ctl(
                state.as_ptr(),
                sys::SPEEX_GET_FRAME_SIZE,
                (&mut frame_size as *mut sys::spx_int32_t).cast::<c_void>(),
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
        let ret = unsafe { sys::speex_decode_int(self.state.as_ptr(), bits_ptr, out.as_mut_ptr()) };
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
        unsafe { sys::speex_decoder_destroy(self.state.as_ptr()) };
    }
}
