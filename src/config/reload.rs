//! Live reload (SIGHUP): which keys of a newly loaded, already validated
//! configuration a running gateway takes, and which need a restart.
//!
//! Pure: [`plan`] compares the running [`Config`] with the new one and
//! returns the configuration to run with: the new values of the live keys
//! ([`LIVE_KEYS`]), the old values of every other key, and the names of
//! the keys that changed on each side. The runtime (`runtime::reload`)
//! carries the plan out.

use super::{AuthConfig, Config};

/// The keys a reload applies without a restart.
pub const LIVE_KEYS: &[&str] = &[
    "policy",
    "auth",
    "limits",
    "sip.trusted",
    "log.level",
    "rtmp.tls_cert",
    "rtmp.tls_key",
    "http.tls_cert",
    "http.tls_key",
    "http.admin_token",
];

/// What a reload does with a new configuration.
#[derive(Debug, Clone)]
pub struct ReloadPlan {
    /// The configuration to run with from now on: the new file's values of
    /// the live keys, the running values of all others.
    pub config: Config,
    /// Live sections and keys whose value changed (applied), in file order.
    pub applied: Vec<&'static str>,
    /// Keys whose value changed but that need a restart: they keep their
    /// running values (logged as "needs a restart").
    pub needs_restart: Vec<&'static str>,
}

/// Plans the reload from `old` (running) to `new` (just validated).
pub fn plan(old: &Config, new: &Config) -> ReloadPlan {
    let mut eff = old.clone();
    let mut applied = Vec::new();
    let mut restart = Vec::new();
    let note = |changed: bool, list: &mut Vec<&'static str>, key: &'static str| {
        if changed {
            list.push(key);
        }
    };

    // Live keys: take the new values.
    note(dbg(&old.policy) != dbg(&new.policy), &mut applied, "policy");
    eff.policy = new.policy.clone();
    note(!auth_eq(&old.auth, &new.auth), &mut applied, "auth");
    eff.auth = new.auth.clone();
    // The load sampler reads `media_max_load` at every sample.
    note(old.limits != new.limits, &mut applied, "limits");
    eff.limits = new.limits.clone();
    note(
        old.sip.trusted != new.sip.trusted,
        &mut applied,
        "sip.trusted",
    );
    eff.sip.trusted = new.sip.trusted.clone();
    note(old.log.level != new.log.level, &mut applied, "log.level");
    eff.log.level = new.log.level.clone();
    note(
        old.http.admin_token != new.http.admin_token,
        &mut applied,
        "http.admin_token",
    );
    eff.http.admin_token = new.http.admin_token.clone();

    // TLS files: live while the listeners stay as they are.
    let rtmp_tls = (&new.rtmp.tls_cert, &new.rtmp.tls_key);
    if old.rtmp.tls_listen != new.rtmp.tls_listen {
        restart.push("rtmp.tls_listen");
    } else {
        note(
            (&old.rtmp.tls_cert, &old.rtmp.tls_key) != rtmp_tls,
            &mut applied,
            "rtmp.tls_cert",
        );
        eff.rtmp.tls_cert = new.rtmp.tls_cert.clone();
        eff.rtmp.tls_key = new.rtmp.tls_key.clone();
    }
    if old.http.tls_cert.is_some() != new.http.tls_cert.is_some() {
        // HTTP <-> HTTPS changes what the listener speaks.
        restart.push("http.tls_cert");
    } else {
        note(
            (&old.http.tls_cert, &old.http.tls_key) != (&new.http.tls_cert, &new.http.tls_key),
            &mut applied,
            "http.tls_cert",
        );
        eff.http.tls_cert = new.http.tls_cert.clone();
        eff.http.tls_key = new.http.tls_key.clone();
    }

    // Everything else needs a restart: compare with the live keys masked.
    note(
        old.rtmp.listen != new.rtmp.listen,
        &mut restart,
        "rtmp.listen",
    );
    let mut r = new.rtmp.clone();
    r.listen = eff.rtmp.listen.clone();
    r.tls_listen = eff.rtmp.tls_listen.clone();
    r.tls_cert = eff.rtmp.tls_cert.clone();
    r.tls_key = eff.rtmp.tls_key.clone();
    note(dbg(&r) != dbg(&eff.rtmp), &mut restart, "rtmp");

    // `[sip] listen` is one list: the UDP address and the tcp:/tls: ones.
    note(
        old.sip.listen != new.sip.listen
            || dbg(&old.sip.stream_listen) != dbg(&new.sip.stream_listen),
        &mut restart,
        "sip.listen",
    );
    note(
        dbg(&old.sip.tls) != dbg(&new.sip.tls),
        &mut restart,
        "sip.tls",
    );
    note(
        !sip_auth_eq(&old.sip.auth, &new.sip.auth),
        &mut restart,
        "sip.auth",
    );
    let mut s = new.sip.clone();
    s.listen = eff.sip.listen;
    s.stream_listen = eff.sip.stream_listen.clone();
    s.tls = eff.sip.tls.clone();
    s.trusted = eff.sip.trusted.clone();
    s.auth = eff.sip.auth.clone();
    note(dbg(&s) != dbg(&eff.sip), &mut restart, "sip");

    note(
        old.media.rtp_ports != new.media.rtp_ports,
        &mut restart,
        "media.rtp_ports",
    );
    let mut m = new.media.clone();
    m.rtp_ports = eff.media.rtp_ports;
    note(dbg(&m) != dbg(&eff.media), &mut restart, "media");

    note(
        old.http.listen != new.http.listen,
        &mut restart,
        "http.listen",
    );
    let mut h = new.http.clone();
    h.listen = eff.http.listen.clone();
    h.tls_cert = eff.http.tls_cert.clone();
    h.tls_key = eff.http.tls_key.clone();
    h.admin_token = eff.http.admin_token.clone();
    note(dbg(&h) != dbg(&eff.http), &mut restart, "http");

    note(old.metrics != new.metrics, &mut restart, "metrics");
    note(old.log.format != new.log.format, &mut restart, "log.format");
    note(old.cdr != new.cdr, &mut restart, "cdr");

    ReloadPlan {
        config: eff,
        applied,
        needs_restart: restart,
    }
}

fn dbg<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}")
}

/// `AuthConfig` equality including the key bytes (its `Debug` hides them).
fn auth_eq(a: &AuthConfig, b: &AuthConfig) -> bool {
    a.mode == b.mode
        && a.algorithm == b.algorithm
        && a.key == b.key
        && a.issuer == b.issuer
        && a.audience == b.audience
        && a.leeway == b.leeway
}

/// `[sip.auth]` equality including the password (its `Debug` hides it).
fn sip_auth_eq(a: &Option<super::SipAuth>, b: &Option<super::SipAuth>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.password == b.password && dbg(a) == dbg(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    fn load(text: &str) -> Config {
        Config::from_toml(Path::new("t.toml"), text).expect(text)
    }

    const BASE: &str = "[rtmp]\nlisten = [\"127.0.0.1:1935\"]\n\
        [sip]\nlisten = \"127.0.0.1:5060\"\n\
        [policy]\ndial_allow = [\"sip:*@127.0.0.1\"]\n";

    #[test]
    fn same_file_changes_nothing() {
        let p = plan(&load(BASE), &load(BASE));
        assert!(p.applied.is_empty(), "{:?}", p.applied);
        assert!(p.needs_restart.is_empty(), "{:?}", p.needs_restart);
    }

    #[test]
    fn narrower_policy_and_limits_are_applied() {
        let old = load(BASE);
        let new = load(
            "[rtmp]\nlisten = [\"127.0.0.1:1935\"]\n[sip]\nlisten = \"127.0.0.1:5060\"\n\
             trusted = [\"10.0.0.0/8\"]\n\
             [policy]\ndial_allow = [\"sip:echo@*\"]\n\
             [limits]\nmax_calls = 3\ndrain_timeout_s = 5\n[log]\nlevel = \"warn\"\n",
        );
        let p = plan(&old, &new);
        assert_eq!(
            p.applied,
            ["policy", "limits", "sip.trusted", "log.level"],
            "{p:?}"
        );
        assert!(p.needs_restart.is_empty(), "{:?}", p.needs_restart);
        let uri = crate::call::uri::DialUri::parse("sip:bob@127.0.0.1").unwrap();
        assert!(!p.config.policy.dial_allow.allows(&uri));
        assert_eq!(p.config.limits.max_calls, 3);
        assert_eq!(p.config.limits.drain_timeout, Duration::from_secs(5));
        assert_eq!(p.config.sip.trusted.len(), 1);
        assert_eq!(p.config.log.level, "warn");
    }

    #[test]
    fn listen_addresses_and_ports_keep_their_old_values() {
        let old = load(BASE);
        let new = load(
            "[rtmp]\nlisten = [\"127.0.0.1:1936\"]\nchunk_size = 128\n\
             [sip]\nlisten = \"127.0.0.1:5070\"\nfrom_user = \"x\"\n\
             [media]\nrtp_ports = [30000, 30100]\n[http]\nlisten = [\"127.0.0.1:8080\"]\n\
             [metrics]\non_http = false\n\
             [policy]\ndial_allow = [\"sip:*@127.0.0.1\"]\n",
        );
        let p = plan(&old, &new);
        assert!(p.applied.is_empty(), "{:?}", p.applied);
        assert_eq!(
            p.needs_restart,
            [
                "rtmp.listen",
                "rtmp",
                "sip.listen",
                "sip",
                "media.rtp_ports",
                "http.listen",
                "metrics"
            ]
        );
        assert_eq!(p.config.rtmp.listen, old.rtmp.listen);
        assert_eq!(p.config.rtmp.chunk_size, old.rtmp.chunk_size);
        assert_eq!(p.config.sip.listen, old.sip.listen);
        assert_eq!(p.config.sip.from_user, old.sip.from_user);
        assert_eq!(p.config.media.rtp_ports, old.media.rtp_ports);
        assert!(p.config.http.listen.is_empty());
        assert_eq!(p.config.metrics, old.metrics);
    }

    #[test]
    fn sip_transports_cdr_log_format_need_a_restart_admin_token_and_max_load_are_live() {
        let old = load(BASE);
        let new = load(
            "[rtmp]\nlisten = [\"127.0.0.1:1935\"]\n\
             [sip]\nlisten = [\"127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]\n\
             [policy]\ndial_allow = [\"sip:*@127.0.0.1\"]\n\
             [limits]\nmedia_max_load = 0.5\n\
             [log]\nformat = \"json\"\n[cdr]\npath = \"-\"\n\
             [http]\nadmin_token = \"0123456789abcdef0123\"\n",
        );
        let p = plan(&old, &new);
        assert_eq!(p.applied, ["limits", "http.admin_token"], "{p:?}");
        assert_eq!(p.needs_restart, ["sip.listen", "log.format", "cdr"]);
        assert!(p.config.sip.stream_listen.is_empty());
        assert_eq!(p.config.limits.media_max_load.as_f64(), 0.5);
        assert_eq!(p.config.log.format, old.log.format);
        assert_eq!(p.config.cdr, old.cdr);
        assert_eq!(
            p.config.http.admin_token.as_ref().map(|t| t.expose()),
            Some("0123456789abcdef0123")
        );
    }

    #[test]
    fn speex_complexities_need_a_restart_like_the_rest_of_media() {
        let old = load(BASE);
        for key in [
            "speex_complexity",
            "speex_complexity_narrowband",
            "speex_quality_narrowband",
        ] {
            let new = load(&format!("{BASE}[media]\n{key} = 7\n"));
            let p = plan(&old, &new);
            assert!(p.applied.is_empty(), "{key}: {:?}", p.applied);
            assert_eq!(p.needs_restart, ["media"], "{key}");
            assert_eq!(
                p.config.media.speex_complexity, old.media.speex_complexity,
                "{key}: the running values stay"
            );
            assert_eq!(
                p.config.media.speex_quality_narrowband, old.media.speex_quality_narrowband,
                "{key}: the running values stay"
            );
        }
        let new = load(&format!(
            "{BASE}[media]\nspeex_mode_narrowband = \"wideband\"\n"
        ));
        let p = plan(&old, &new);
        assert_eq!(p.needs_restart, ["media"]);
        assert_eq!(
            p.config.media.speex_mode_narrowband,
            old.media.speex_mode_narrowband
        );
    }

    #[test]
    fn a_trunk_password_change_is_seen_though_debug_hides_it() {
        let auth = |pw: &str| {
            format!(
                "{BASE}[sip.auth]\nusername = \"u\"\npassword = \"{pw}\"\nrealm = \"r\"\nhost = \"h\"\n"
            )
        };
        let p = plan(&load(&auth("one")), &load(&auth("two")));
        assert_eq!(p.needs_restart, ["sip.auth"]);
        assert_eq!(
            p.config.sip.auth.as_ref().map(|a| a.password.as_str()),
            Some("one")
        );
    }

    #[test]
    fn tls_files_are_live_but_turning_tls_on_needs_a_restart() {
        let old = load(BASE);
        let on = load(&format!(
            "{BASE}[http]\nlisten = []\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n"
        ));
        let p = plan(&old, &on);
        assert_eq!(p.needs_restart, ["http.tls_cert"]);
        assert!(p.config.http.tls_cert.is_none());
        let moved = load(&format!(
            "{BASE}[http]\nlisten = []\ntls_cert = \"c2.pem\"\ntls_key = \"k2.pem\"\n"
        ));
        let p = plan(&on, &moved);
        assert_eq!(p.applied, ["http.tls_cert"]);
        assert!(p.needs_restart.is_empty(), "{:?}", p.needs_restart);
        assert_eq!(p.config.http.tls_cert.as_deref(), Some(Path::new("c2.pem")));
    }
}
