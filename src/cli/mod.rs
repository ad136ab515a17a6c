//! `rtmp2sip status`, `rtmp2sip calls`, `rtmp2sip hangup CALL-ID`: the
//! status API (`runtime::http::api`) from the command line.
//!
//! ```text
//! rtmp2sip status  [--url URL] [--token T] [-c FILE] [--ca PEM]... [--server-name N] [--json]
//! rtmp2sip calls   [--url URL] [--token T] [-c FILE] [--ca PEM]... [--server-name N] [--json]
//! rtmp2sip hangup CALL-ID [--url URL] [--token T] [-c FILE] [--ca PEM]... [--server-name N]
//! ```
//!
//! The token is `--token`, else `RTMP2SIP_ADMIN_TOKEN`, else `[http]
//! admin_token` of the `-c` file. The URL is `--url`, else the first
//! `[http] listen` address of the `-c` file (an unspecified address as
//! loopback; `https://` when that file gives `[http] tls_cert`, which is
//! then also trusted), else `http://127.0.0.1:8080`. `https://` checks the
//! certificate against the system roots and every `--ca` file, for the
//! URL's host or `--server-name` ([`client::Trust`]).
//!
//! Exit codes ([`Exit`]): 0 done; 1 the API answered with an error (no
//! such call, ...); 2 usage; 3 the gateway could not be reached or
//! answered garbage; 4 unauthorised (401) or the API is off (404 on
//! `/api/v1/status`: no `[http] admin_token`).

pub mod client;
pub mod pin;
pub mod table;

use std::path::PathBuf;

use hyper::Method;
use serde_json::Value;

use crate::config::Config;
use client::Answer;

/// The CLI's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// 0: done.
    Ok = 0,
    /// 1: the API answered with an error (e.g. 404 no such call).
    Api = 1,
    /// 2: bad arguments or configuration file.
    Usage = 2,
    /// 3: the gateway could not be reached, or its answer was not JSON.
    Unreachable = 3,
    /// 4: 401 (no or wrong token), or the API is off (404).
    Unauthorized = 4,
}

/// Usage of the API subcommands.
pub const USAGE: &str = "rtmp2sip status|calls [--url URL] [--token T] [-c FILE] [--ca PEM]... [--server-name NAME] [--json]\n       \
     rtmp2sip hangup CALL-ID [--url URL] [--token T] [-c FILE] [--ca PEM]... [--server-name NAME]";

/// What to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Gateway summary, connections, registrations and calls.
    Status,
    /// The calls table.
    Calls,
    /// End one call.
    Hangup(String),
}

/// A parsed API subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    /// What to do.
    pub action: Action,
    /// `--url`.
    pub url: Option<String>,
    /// `--token`.
    pub token: Option<String>,
    /// `-c` / `--config`.
    pub config: Option<PathBuf>,
    /// `--json`: print the API's JSON instead of tables.
    pub json: bool,
    /// `--ca` files and `--server-name` for `https://`.
    pub trust: client::Trust,
}

/// Where and how the API is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The base URL, `http://` or `https://`.
    pub url: String,
    /// The bearer token.
    pub token: Option<String>,
    /// What `https://` trusts.
    pub trust: client::Trust,
}

/// Parses `status|calls|hangup ...` (`args[0]` is the subcommand); `None`
/// when `args[0]` is not one of them.
pub fn parse(args: &[String]) -> Option<Result<Cli, String>> {
    let (cmd, rest) = args.split_first()?;
    let action = match cmd.as_str() {
        "status" => Action::Status,
        "calls" => Action::Calls,
        "hangup" => Action::Hangup(String::new()),
        _ => return None,
    };
    Some(parse_rest(action, rest))
}

fn parse_rest(mut action: Action, rest: &[String]) -> Result<Cli, String> {
    let mut cli = Cli {
        action: Action::Status,
        url: None,
        token: None,
        config: None,
        json: false,
        trust: client::Trust::default(),
    };
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--url" => cli.url = Some(value()?),
            "--token" => cli.token = Some(value()?),
            "-c" | "--config" => cli.config = Some(PathBuf::from(value()?)),
            "--json" => cli.json = true,
            "--ca" => cli.trust.roots.push(PathBuf::from(value()?)),
            "--server-name" => cli.trust.server_name = Some(value()?),
            s if !s.starts_with('-') => match &mut action {
                Action::Hangup(id) if id.is_empty() => *id = s.to_string(),
                _ => return Err(format!("unexpected argument `{s}`\n{USAGE}")),
            },
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
    }
    if action == Action::Hangup(String::new()) {
        return Err(format!("hangup needs a CALL-ID\n{USAGE}"));
    }
    cli.action = action;
    Ok(cli)
}

/// The base URL and token, from the flags, the environment (`env` is
/// `RTMP2SIP_ADMIN_TOKEN`) and the configuration file.
pub fn resolve(cli: &Cli, env: Option<String>) -> Result<Target, String> {
    let config = match &cli.config {
        Some(p) => Some(Config::from_file(p).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut trust = cli.trust.clone();
    let own_cert = config.as_ref().and_then(|c| c.http.tls_cert.clone());
    if let Some(cert) = &own_cert {
        trust.roots.push(cert.clone());
    }
    let scheme = if own_cert.is_some() { "https" } else { "http" };
    let url = cli.url.clone().unwrap_or_else(|| {
        config
            .as_ref()
            .and_then(|c| c.http.listen.first().copied())
            .map(|mut a| {
                if a.ip().is_unspecified() {
                    a.set_ip(match a {
                        std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                        std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                    });
                }
                format!("{scheme}://{a}")
            })
            .unwrap_or_else(|| "http://127.0.0.1:8080".into())
    });
    let token = cli
        .token
        .clone()
        .or(env.filter(|t| !t.is_empty()))
        .or_else(|| {
            config
                .as_ref()
                .and_then(|c| c.http.admin_token.as_ref())
                .map(|t| t.expose().to_string())
        });
    Ok(Target { url, token, trust })
}

/// Runs the subcommand; prints to stdout/stderr, returns the exit code.
pub fn run(cli: &Cli) -> Exit {
    let target = match resolve(cli, std::env::var("RTMP2SIP_ADMIN_TOKEN").ok()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rtmp2sip: {e}");
            return Exit::Usage;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rtmp2sip: {e}");
            return Exit::Unreachable;
        }
    };
    rt.block_on(run_async(cli, &target))
}

async fn get(t: &Target, path: &str) -> Result<Value, Exit> {
    let a = call(t, Method::GET, path).await?;
    serde_json::from_slice(&a.body).map_err(|_| {
        eprintln!("rtmp2sip: {}{path}: the answer is not JSON", t.url);
        Exit::Unreachable
    })
}

async fn call(t: &Target, method: Method, path: &str) -> Result<Answer, Exit> {
    let url = &t.url;
    let a = client::request(url, method, path, t.token.as_deref(), &t.trust)
        .await
        .map_err(|e| {
            eprintln!("rtmp2sip: {e}");
            Exit::Unreachable
        })?;
    match a.status {
        200..=299 => Ok(a),
        401 => {
            eprintln!("rtmp2sip: unauthorised: give the [http] admin_token with --token, RTMP2SIP_ADMIN_TOKEN or -c FILE");
            Err(Exit::Unauthorized)
        }
        404 if path == "/api/v1/status" => {
            eprintln!("rtmp2sip: {url}: no status API (is [http] admin_token set?)");
            Err(Exit::Unauthorized)
        }
        code => {
            let why = serde_json::from_slice::<Value>(&a.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_default();
            eprintln!("rtmp2sip: {code} {why}");
            Err(Exit::Api)
        }
    }
}

async fn run_async(cli: &Cli, t: &Target) -> Exit {
    match run_action(cli, t).await {
        Ok(()) => Exit::Ok,
        Err(e) => e,
    }
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map_or(&[], Vec::as_slice)
}

async fn run_action(cli: &Cli, t: &Target) -> Result<(), Exit> {
    match &cli.action {
        Action::Calls => {
            let v = get(t, "/api/v1/calls").await?;
            if cli.json {
                println!("{v}");
            } else {
                print!("{}", table::calls(list(&v, "calls")));
            }
        }
        Action::Status => {
            let s = get(t, "/api/v1/status").await?;
            let conns = get(t, "/api/v1/connections").await?;
            let regs = get(t, "/api/v1/registrations").await?;
            let calls = get(t, "/api/v1/calls").await?;
            if cli.json {
                let all = serde_json::json!({
                    "status": s,
                    "connections": conns["connections"],
                    "registrations": regs["registrations"],
                    "calls": calls["calls"],
                });
                println!("{all}");
            } else {
                print!("{}", table::summary(&s));
                println!("\nConnections:");
                print!("{}", table::connections(list(&conns, "connections")));
                println!("\nRegistrations:");
                print!("{}", table::registrations(list(&regs, "registrations")));
                println!("\nCalls:");
                print!("{}", table::calls(list(&calls, "calls")));
            }
        }
        Action::Hangup(id) => {
            let path = format!("/api/v1/calls/{}", percent_encode(id));
            call(t, Method::DELETE, &path).await?;
            println!("{id}: hanging up");
        }
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `@`
/// (a Call-ID in a path segment).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn subcommands_parse() {
        assert!(parse(&args("token --sub x")).is_none());
        let c = parse(&args("calls --url http://h:1 --json"))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Calls);
        assert_eq!(c.url.as_deref(), Some("http://h:1"));
        assert!(c.json);
        let c = parse(&args("hangup abc@gw --token t")).unwrap().unwrap();
        assert_eq!(c.action, Action::Hangup("abc@gw".into()));
        assert!(parse(&args("hangup")).unwrap().is_err());
        assert!(parse(&args("status extra")).unwrap().is_err());
        assert!(parse(&args("status --url")).unwrap().is_err());
    }

    #[test]
    fn the_token_comes_from_flag_then_env() {
        let c = parse(&args("status")).unwrap().unwrap();
        let t = resolve(&c, Some("from-env".into())).unwrap();
        assert_eq!(t.url, "http://127.0.0.1:8080");
        assert_eq!(t.token.as_deref(), Some("from-env"));
        let c = parse(&args("status --token flag")).unwrap().unwrap();
        assert_eq!(
            resolve(&c, Some("e".into())).unwrap().token.as_deref(),
            Some("flag")
        );
    }

    #[test]
    fn url_and_token_come_from_the_config_file() {
        let dir = std::env::temp_dir().join(format!("rtmp2sip-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("gw.toml");
        std::fs::write(
            &f,
            "[http]\nlisten = [\"0.0.0.0:8081\"]\nadmin_token = \"0123456789abcdef\"\n",
        )
        .unwrap();
        let mut c = parse(&args("calls")).unwrap().unwrap();
        c.config = Some(f.clone());
        let t = resolve(&c, None).unwrap();
        assert_eq!(t.url, "http://127.0.0.1:8081");
        assert_eq!(t.token.as_deref(), Some("0123456789abcdef"));
        assert!(t.trust.roots.is_empty());
        c.config = Some(dir.join("missing.toml"));
        assert!(resolve(&c, None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tls_flags_parse() {
        let c = parse(&args(
            "status --ca a.pem --ca b.pem --server-name gw.example.com",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.trust.roots, vec![PathBuf::from("a.pem"), "b.pem".into()]);
        assert_eq!(c.trust.server_name.as_deref(), Some("gw.example.com"));
        assert!(parse(&args("status --ca")).unwrap().is_err());
    }

    #[test]
    fn call_ids_are_escaped_in_the_path() {
        assert_eq!(percent_encode("a1b2@10.0.0.1"), "a1b2@10.0.0.1");
        assert_eq!(percent_encode("x/y z"), "x%2Fy%20z");
    }
}
