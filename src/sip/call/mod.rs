//! SIP call legs: one sans-IO [`CallLeg`] core per INVITE dialog (both
//! directions) and the tokio driver that maps rsipstack onto it.
//!
//! See `README.md` in this folder for the phases, the in-dialog features
//! (re-INVITE / UPDATE answers, hold, glare, session timers) and the
//! driver's wiring.

pub mod driver;
pub mod leg;
pub mod media;
pub mod refer;
pub mod replaces;
pub mod target;
pub mod timer;
pub mod types;

pub use leg::{CallLeg, LegConfig, Phase, Role};
pub use types::{
    Action, Command, FinalResponse, Header, InDialogRequest, Input, Method, RequestId,
};

#[cfg(test)]
mod dialog_tests;
#[cfg(test)]
mod tests;
