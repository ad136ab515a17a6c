//! `rtmp2sip-load`: the project's load generator. N RTMP clients each place
//! a call through the gateway, publish real encoded audio in real time, play
//! the return and measure setup time, frames, gaps, delay variation and
//! tone-burst round trips; the gateway's CPU and RSS come from `/proc`.
//! See `load/README.md`.
#![warn(missing_docs)]

mod args;
mod client;
mod codec;
mod conn;
mod measure;
mod procstat;
mod report;
mod run;
mod setup_rate;
mod stats;
mod tone;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let opts = match args::parse(&argv) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rtmp2sip-load: {e}");
            return ExitCode::from(2);
        }
    };
    // One thread: the generator must stay far cheaper than the gateway, and
    // its own CPU (reported) then reads as a share of one core.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rtmp2sip-load: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let frames = match codec::FrameLoop::new(opts.codec) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rtmp2sip-load: encoder: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = opts.json;
    let result = rt.block_on(run::run(opts, frames));
    let j = report::to_json(&result);
    if json {
        println!("{j}");
    } else {
        print!("{}", report::to_text(&j));
    }
    if j["calls_connected"] == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
