//! `[policy]`: who may call and register where.

use std::path::Path;

use serde::Deserialize;

use super::{invalid, ConfigError};
use crate::call::policy::DialPolicy;

/// `[policy]`: who may call where (pattern rules: [`crate::call::policy`]).
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// Patterns a dialled URI must match; empty forbids all.
    pub dial_allow: DialPolicy,
    /// Patterns `sip:<user>@<registrar host>[:port]` must match for a
    /// client's `register(user, registrar, ...)`; empty forbids all.
    pub registrar_allow: DialPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct PolicyFile {
    dial_allow: Vec<String>,
    registrar_allow: Vec<String>,
}

impl Default for PolicyFile {
    fn default() -> Self {
        Self {
            dial_allow: vec!["sip:echo@*".into(), "sip:*@127.0.0.1".into()],
            registrar_allow: vec!["sip:*@127.0.0.1".into()],
        }
    }
}

pub(super) fn validate_policy(file: &Path, p: PolicyFile) -> Result<PolicyConfig, ConfigError> {
    let compile = |key, patterns: &[String]| {
        DialPolicy::parse(patterns).map_err(|e| invalid(file, key, e.to_string()))
    };
    Ok(PolicyConfig {
        dial_allow: compile("policy.dial_allow", &p.dial_allow)?,
        registrar_allow: compile("policy.registrar_allow", &p.registrar_allow)?,
    })
}
