//! The `rtmp2sip` command.
//!
//! ```text
//! rtmp2sip --config FILE        run the gateway
//! rtmp2sip check-config FILE    validate FILE and exit (0: valid)
//! rtmp2sip --version
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use rtmp2sip::config::Config;

const USAGE: &str =
    "usage: rtmp2sip --config FILE | rtmp2sip check-config FILE | rtmp2sip --version";

enum Command {
    Run(PathBuf),
    Check(PathBuf),
    Version,
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    match args {
        [flag, file] if flag == "--config" || flag == "-c" => Ok(Command::Run(file.into())),
        [cmd, file] if cmd == "check-config" => Ok(Command::Check(file.into())),
        [flag] if flag == "--version" || flag == "-V" => Ok(Command::Version),
        _ => Err(USAGE.to_string()),
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
    if let Err(e) = rtmp2sip::runtime::init_logging(&config.log) {
        eprintln!("{}: key `log.level`: {e}", file.display());
        return ExitCode::FAILURE;
    }
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
    match rt.block_on(rtmp2sip::runtime::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("rtmp2sip: {e}");
            ExitCode::FAILURE
        }
    }
}
