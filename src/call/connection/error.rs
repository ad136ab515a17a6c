//! [`ApiError`]: why an RTMP API invoke was refused before it reached the
//! call state, with the `_error` info object's `code` it is reported as.

use thiserror::Error;

use crate::call::uri::DialUriError;

/// A refused invoke of the product API (README.md, "RTMP API"). Its
/// [`Display`](std::fmt::Display) is the `_error` info object's
/// `description`; [`ApiError::code`] its `code`. The description may quote
/// the client's own text (it goes back to that client only); log it with
/// `{:?}`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A method this gateway does not offer (its name, as sent).
    #[error("`{0}` is not supported by this gateway")]
    Unsupported(String),
    /// `dial` without a string argument.
    #[error("dial needs a SIP URI")]
    DialNoUri,
    /// `dial(uri)` with a URI [`crate::call::uri::DialUri::parse`] refuses.
    #[error("not a usable SIP URI: {0}")]
    DialBadUri(DialUriError),
    /// `reject(code)` with a code outside 400..=699 (RFC 3261 §21), or not
    /// an integer; the number as sent.
    #[error("reject needs a 4xx-6xx code, not {0}")]
    RejectCode(String),
    /// `sendDTMF` without digits.
    #[error("sendDTMF needs digits")]
    DtmfEmpty,
    /// `sendDTMF` with more than [`super::api::DTMF_MAX_DIGITS`] digits.
    #[error("at most {} digits per sendDTMF", super::api::DTMF_MAX_DIGITS)]
    DtmfTooLong,
    /// `sendDTMF` with a character outside `0-9 * # A-D` (RFC 4733 §3.2).
    #[error("`{0}` is not a DTMF digit (0-9 * # A-D)")]
    DtmfDigit(char),
    /// `register(user)` without a registrar.
    #[error("register needs (user, registrar, password)")]
    RegisterArgs,
    /// `transfer` without a string argument.
    #[error("transfer needs a SIP URI")]
    TransferNoUri,
    /// `transfer(uri)` with a URI [`crate::call::uri::DialUri::parse`]
    /// refuses.
    #[error("not a usable SIP URI: {0}")]
    TransferBadUri(DialUriError),
}

impl ApiError {
    /// The `_error` info object's `code`: `Sono.Call.NoUri` for a bad dial
    /// or transfer target, `Sono.Registration.Failed` for `register`,
    /// `NetConnection.Call.Failed` for an unknown method, `Sono.Call.Failed`
    /// otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unsupported(_) => "NetConnection.Call.Failed",
            ApiError::DialNoUri
            | ApiError::DialBadUri(_)
            | ApiError::TransferNoUri
            | ApiError::TransferBadUri(_) => "Sono.Call.NoUri",
            ApiError::RegisterArgs => "Sono.Registration.Failed",
            ApiError::RejectCode(_)
            | ApiError::DtmfEmpty
            | ApiError::DtmfTooLong
            | ApiError::DtmfDigit(_) => "Sono.Call.Failed",
        }
    }
}
