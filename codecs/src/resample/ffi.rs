//! A minimal safe wrapper over speexdsp's C resampler (`speex_resampler.h`
//! of libspeexdsp 1.2.1, linked from the system: Debian `libspeexdsp-dev`
//! at build time, `libspeexdsp1` at run time).
//!
//! Invariants kept here so that callers cannot break them:
//! - the state pointer is non-null, created by `speex_resampler_init` and
//!   destroyed exactly once in `Drop`;
//! - every length handed to C is the length of the Rust slice it describes
//!   (clamped to `u32`), and C reports back how much it used and wrote, never
//!   more than it was given.

use core::ffi::c_int;
use core::ptr::NonNull;

use crate::CodecError;

/// Opaque `SpeexResamplerState`.
#[repr(C)]
struct RawState {
    _private: [u8; 0],
}

/// `RESAMPLER_ERR_SUCCESS` in `speex_resampler.h`.
const ERR_SUCCESS: c_int = 0;

#[link(name = "speexdsp")]
extern "C" {
    fn speex_resampler_init(
        nb_channels: u32,
        in_rate: u32,
        out_rate: u32,
        quality: c_int,
        err: *mut c_int,
    ) -> *mut RawState;
    fn speex_resampler_destroy(st: *mut RawState);
    fn speex_resampler_process_int(
        st: *mut RawState,
        channel_index: u32,
        input: *const i16,
        in_len: *mut u32,
        output: *mut i16,
        out_len: *mut u32,
    ) -> c_int;
    fn speex_resampler_get_output_latency(st: *mut RawState) -> c_int;
    fn speex_resampler_reset_mem(st: *mut RawState) -> c_int;
}

/// One mono speexdsp resampler state.
pub struct State {
    raw: NonNull<RawState>,
}

// SAFETY: the state is heap memory owned by this value alone; speexdsp
// keeps no global or thread-local reference to it, and every method takes
// `&mut self` (or `&self` for a read-only query), so moving it to another
// thread is sound.
unsafe impl Send for State {}

impl State {
    /// Creates a mono state from `from_hz` to `to_hz` at `quality` 0..=10.
    ///
    /// Errors: [`CodecError::Init`] if speexdsp refuses the settings or
    /// cannot allocate.
    pub fn new(from_hz: u32, to_hz: u32, quality: u8) -> Result<Self, CodecError> {
        let mut err: c_int = ERR_SUCCESS;
        // SAFETY: plain integer arguments and a valid pointer to `err`.
        let raw =
            unsafe { speex_resampler_init(1, from_hz, to_hz, c_int::from(quality), &mut err) };
        match NonNull::new(raw) {
            Some(raw) if err == ERR_SUCCESS => Ok(Self { raw }),
            Some(raw) => {
                // SAFETY: `raw` came from `speex_resampler_init` and is
                // destroyed once, here, as no `State` owns it.
                unsafe { speex_resampler_destroy(raw.as_ptr()) };
                Err(CodecError::Init("speexdsp resampler"))
            }
            None => Err(CodecError::Init("speexdsp resampler")),
        }
    }

    /// Resamples from the start of `input` into the start of `output`;
    /// returns `(input samples used, output samples written)`.
    pub fn process(&mut self, input: &[i16], output: &mut [i16]) -> (usize, usize) {
        let mut in_len = u32::try_from(input.len()).unwrap_or(u32::MAX);
        let mut out_len = u32::try_from(output.len()).unwrap_or(u32::MAX);
        // SAFETY: `self.raw` is live; `input` holds at least `in_len`
        // readable samples and `output` at least `out_len` writable ones;
        // speexdsp reads and writes no more and stores back the counts.
        let rc = unsafe {
            speex_resampler_process_int(
                self.raw.as_ptr(),
                0,
                input.as_ptr(),
                &mut in_len,
                output.as_mut_ptr(),
                &mut out_len,
            )
        };
        if rc != ERR_SUCCESS {
            return (0, 0);
        }
        (
            (in_len as usize).min(input.len()),
            (out_len as usize).min(output.len()),
        )
    }

    /// The delay the filter adds, in output samples.
    pub fn output_latency(&self) -> usize {
        // SAFETY: `self.raw` is live; the call only reads the state.
        let latency = unsafe { speex_resampler_get_output_latency(self.raw.as_ptr()) };
        usize::try_from(latency).unwrap_or(0)
    }

    /// Clears the filter history.
    pub fn reset(&mut self) {
        // SAFETY: `self.raw` is live and exclusively borrowed.
        unsafe { speex_resampler_reset_mem(self.raw.as_ptr()) };
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from `speex_resampler_init` and is
        // destroyed exactly once, here.
        unsafe { speex_resampler_destroy(self.raw.as_ptr()) };
    }
}
