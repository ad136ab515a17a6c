//! The `rtmp2sip` command.
//!
//! ```text
//! rtmp2sip --config FILE        run the gateway
//! rtmp2sip check-config FILE    validate FILE and exit (0: valid)
//! rtmp2sip healthcheck [URL]    GET URL (default http://127.0.0.1:8080/healthz);
//!                               exit 0 on 200, 1 otherwise (Docker HEALTHCHECK)
//! rtmp2sip --version
//! rtmp2sip token --secret-file F --sub USER [--dial PATTERN]... [--ttl 1h]
//!                [--register] [--max-calls N] [--iss ISSUER] [--aud AUDIENCE]
//!                               print an HS256 client token ([auth] mode = "jwt")
//! rtmp2sip status|calls [--url URL] [--token T] [-c FILE] [--json]
//! rtmp2sip hangup CALL-ID [--url URL] [--token T] [-c FILE]
//!                               the status API from the command line
//!                               (exit codes: `rtmp2sip::cli::Exit`)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rtmp2sip::auth::mint::{self, TokenRequest};
use rtmp2sip::config::Config;

mod health;

const USAGE: &str =
    "usage: rtmp2sip --config FILE | rtmp2sip check-config FILE | rtmp2sip --version\n       \
     rtmp2sip healthcheck [http://HOST:PORT/healthz]\n       \
     rtmp2sip token --secret-file F --sub USER [--dial PATTERN]... [--ttl 1h] [--register] \
     [--max-calls N] [--iss ISSUER] [--aud AUDIENCE]\n       \
     rtmp2sip status|calls [--url URL] [--token T] [-c FILE] [--json]\n       \
     rtmp2sip hangup CALL-ID [--url URL] [--token T] [-c FILE]";

enum Command {
    Run(PathBuf),
    Check(PathBuf),
    Version,
    Token(PathBuf, TokenRequest),
    Api(rtmp2sip::cli::Cli),
    Health(String),
}

/// `--ttl`: seconds, or a number with `s`, `m`, `h` or `d`.
fn parse_ttl(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("--ttl: `{s}` is not a duration (30s, 15m, 1h, 1d)"))?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(format!("--ttl: unknown unit in `{s}` (s, m, h, d)")),
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("--ttl: `{s}` is too long"))
}

fn parse_token_args(args: &[String]) -> Result<Command, String> {
    let mut secret = None;
    let mut req = TokenRequest {
        ttl: Duration::from_secs(3600),
        ..TokenRequest::default()
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--secret-file" => secret = Some(PathBuf::from(value()?)),
            "--sub" => req.sub = value()?,
            "--dial" => req.dial.push(value()?),
            "--ttl" => req.ttl = parse_ttl(&value()?)?,
            "--register" => req.register = true,
            "--max-calls" => {
                let v = value()?;
                req.max_calls = Some(
                    v.parse()
                        .map_err(|_| format!("--max-calls: `{v}` is not a number"))?,
                );
            }
            "--iss" => req.issuer = Some(value()?),
            "--aud" => req.audience = Some(value()?),
            other => return Err(format!("token: unknown option `{other}`\n{USAGE}")),
        }
    }
    let secret = secret.ok_or_else(|| format!("token needs --secret-file\n{USAGE}"))?;
    if req.sub.is_empty() {
        return Err(format!("token needs --sub\n{USAGE}"));
    }
    Ok(Command::Token(secret, req))
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    match args {
        [flag, file] if flag == "--config" || flag == "-c" => Ok(Command::Run(file.into())),
        [cmd, file] if cmd == "check-config" => Ok(Command::Check(file.into())),
        [flag] if flag == "--version" || flag == "-V" => Ok(Command::Version),
        [cmd, rest @ ..] if cmd == "token" => parse_token_args(rest),
        [cmd] if cmd == "healthcheck" => Ok(Command::Health(health::DEFAULT_URL.into())),
        [cmd, url] if cmd == "healthcheck" => Ok(Command::Health(url.clone())),
        other => match rtmp2sip::cli::parse(other) {
            Some(r) => r.map(Command::Api),
            None => Err(USAGE.to_string()),
        },
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match parse_args(&args) {
        Ok(c) => c,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match cmd {
        Command::Version => {
            println!("rtmp2sip {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check(file) => match Config::from_file(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Run(file) => run(&file),
        Command::Token(secret, req) => token(&secret, &req),
        Command::Api(cli) => ExitCode::from(rtmp2sip::cli::run(&cli) as u8),
        Command::Health(url) => match health::check(&url) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rtmp2sip healthcheck: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn token(secret_file: &std::path::Path, req: &TokenRequest) -> ExitCode {
    let secret = match mint::read_secret(secret_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtmp2sip token: {e}");
            return ExitCode::FAILURE;
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    match mint::mint_hs256(&secret, req, now) {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rtmp2sip token: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(file: &std::path::Path) -> ExitCode {
    let config = match Config::from_file(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let log = match rtmp2sip::runtime::init_logging(&config.log) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("{}: key `log.level`: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let source = rtmp2sip::runtime::reload::ReloadSource {
        path: Some(file.to_path_buf()),
        log: Some(log),
    };
    let media =
        match rtmp2sip::runtime::media_runtime::build(config.media.workers, config.media.tick) {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("cannot start the media workers: {e}");
                return ExitCode::FAILURE;
            }
        };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rtmp2sip")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(rtmp2sip::runtime::run(config, media.clone(), source));
    drop(rt);
    media.shutdown(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("rtmp2sip: {e}");
            ExitCode::FAILURE
        }
    }
}
