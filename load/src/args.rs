//! Command-line options (hand-parsed: `--name value` pairs and flags).

use std::net::SocketAddr;
use std::time::Duration;

use crate::codec::Codec;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Gateway RTMP address (`--rtmp`, default 127.0.0.1:1935).
    pub rtmp: SocketAddr,
    /// RTMP application (`--app`, default "phone").
    pub app: String,
    /// Calls, one connection each (`--calls`, default 10).
    pub calls: usize,
    /// New connections, and then new dials, per second (`--ramp`, default 50).
    pub ramp_per_s: f64,
    /// Steady window, s (`--duration`, default 30).
    pub duration: Duration,
    /// Published codec (`--codec`, default speex).
    pub codec: Codec,
    /// Destination (`--dial`, default the gateway's echo `sip:echo@127.0.0.1`).
    pub dial: String,
    /// Gateway process to measure (`--gateway-pid`).
    pub gateway_pid: Option<u32>,
    /// Print JSON instead of text (`--json`).
    pub json: bool,
    /// Seconds to wait for every call to be up before the window starts
    /// (`--setup-timeout`, default 20).
    pub setup_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rtmp: SocketAddr::from(([127, 0, 0, 1], 1935)),
            app: "phone".into(),
            calls: 10,
            ramp_per_s: 50.0,
            duration: Duration::from_secs(30),
            codec: Codec::Speex,
            dial: "sip:echo@127.0.0.1".into(),
            gateway_pid: None,
            json: false,
            setup_timeout: Duration::from_secs(20),
        }
    }
}

/// Usage text.
pub const USAGE: &str = "\
rtmp2sip-load: N RTMP clients each place a call through rtmp2sip, publish
real encoded audio (a 1 kHz burst of 100 ms every second over a speech-like
bed) in real time, play the return and measure it.

Options:
  --rtmp HOST:PORT        gateway RTMP address (127.0.0.1:1935)
  --app NAME              RTMP application (phone)
  --calls N               calls, one connection each (10; 1..=100000)
  --ramp PER_S            connections, then dials, started per second (50)
  --duration S            steady window once every call is up, s (30)
  --codec C               speex | speex-nb | nellymoser | pcmu | pcma | opus (speex;
                          opus is Enhanced RTMP, announced with fourCcList in connect)
  --dial URI              destination (sip:echo@127.0.0.1: the gateway's echo)
  --gateway-pid PID       read the gateway's CPU and RSS from /proc
  --setup-timeout S       wait for calls to come up, s (20)
  --json                  print one JSON object instead of text
  --help
";

/// Parses `args` (without the program name). `Ok(None)` for `--help`.
///
/// # Errors
/// A message naming the bad option.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--json" => o.json = true,
            "--rtmp" => o.rtmp = parse_value(flag, value()?)?,
            "--app" => o.app = value()?.clone(),
            "--calls" => o.calls = parse_value(flag, value()?)?,
            "--ramp" => o.ramp_per_s = parse_value(flag, value()?)?,
            "--duration" => o.duration = Duration::from_secs_f64(parse_value(flag, value()?)?),
            "--setup-timeout" => {
                o.setup_timeout = Duration::from_secs_f64(parse_value(flag, value()?)?)
            }
            "--codec" => {
                let v = value()?;
                o.codec = Codec::parse(v).ok_or_else(|| {
                    format!("--codec {v:?}: one of speex, speex-nb, nellymoser, pcmu, pcma, opus")
                })?;
            }
            "--dial" => o.dial = value()?.clone(),
            "--gateway-pid" => o.gateway_pid = Some(parse_value(flag, value()?)?),
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
        }
    }
    if !(1..=100_000).contains(&o.calls) {
        return Err("--calls must be 1..=100000".into());
    }
    if !(o.ramp_per_s > 0.0 && o.ramp_per_s <= 100_000.0) {
        return Err("--ramp must be > 0 and <= 100000".into());
    }
    if o.duration > Duration::from_secs(86_400) || o.setup_timeout > Duration::from_secs(3600) {
        return Err("--duration at most 86400 s, --setup-timeout at most 3600 s".into());
    }
    Ok(Some(o))
}

fn parse_value<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: bad value {v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_every_option() {
        let o = parse(&args(
            "--rtmp 127.0.0.1:2000 --calls 20 --ramp 5 --duration 10 --codec pcmu \
             --dial sip:bob@127.0.0.1:5070 --gateway-pid 42 --json --app x --setup-timeout 3",
        ))
        .expect("ok")
        .expect("options");
        assert_eq!(o.rtmp.port(), 2000);
        assert_eq!(o.calls, 20);
        assert_eq!(o.ramp_per_s, 5.0);
        assert_eq!(o.duration, Duration::from_secs(10));
        assert_eq!(o.codec, Codec::Pcmu);
        assert_eq!(o.dial, "sip:bob@127.0.0.1:5070");
        assert_eq!(o.gateway_pid, Some(42));
        assert!(o.json);
        assert_eq!(o.app, "x");
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&args("--calls 0")).is_err());
        assert!(parse(&args("--calls")).is_err());
        assert!(parse(&args("--codec g729")).unwrap_err().contains("one of"));
        assert!(parse(&args("--bogus")).is_err());
        assert!(parse(&args("--ramp -1")).is_err());
        assert_eq!(parse(&args("--help")), Ok(None));
    }
}
