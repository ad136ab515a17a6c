//! The passthrough floor with real peers: what one core spends relaying
//! a call's frame pairs between TCP and UDP on loopback when the far ends
//! are other threads that must be woken, with no protocol work at all.
//!
//! A passthrough call costs the gateway four socket calls per 20 ms frame
//! pair: a TCP read (the client's message), a UDP send (RTP out), a UDP
//! receive (RTP back) and a TCP write (the message back). On loopback the
//! sender also pays for delivering each segment and datagram into the
//! receiver's socket and for waking the receiver. The C ceiling
//! (`codecs/examples/ceiling.rs`, `io_pair_us`) times the four calls in
//! one thread, where nobody sleeps and nothing is woken; this program
//! times them as the gateway meets them:
//!
//! - the **relay** (pinned to the first CPU it may use): one thread, a
//!   `mio` poller over `--calls` accepted TCP connections and as many UDP
//!   sockets, ticking every `--tick-ms` like a media worker (one
//!   `epoll_wait(0)` per tick): each TCP message goes out as one
//!   datagram to its call's far end, each datagram back as one TCP write;
//! - the **peers** (pinned to the other CPUs): one thread playing every
//!   client (a `--bytes` message per call every 20 ms, calls spread over
//!   the 20 ms, replies read) and every far end (each datagram echoed to
//!   its source), like `rtmp2sip-load` and `sipp -rtp_echo`.
//!
//! After `--warmup` s it measures the relay thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) over `--seconds` and prints, as one JSON
//! object: `pairs` (frame pairs relayed in the window), `us_per_pair`
//! (relay CPU per pair, µs) and `calls_per_core` (20 000 / `us_per_pair`),
//! and the relay thread's `cpu_fraction`. Errors (a socket that cannot be
//! opened) end it with a message and exit status 1.
//!
//! ```sh
//! cargo run --release -p rtmp2sip-load --example relay_floor -- --calls 300 --seconds 10
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

/// One frame per call every this long.
const FRAME: Duration = Duration::from_millis(20);

struct Args {
    calls: usize,
    bytes: usize,
    tick_ms: u64,
    warmup: f64,
    seconds: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        calls: 300,
        bytes: 80,
        tick_ms: 5,
        warmup: 2.0,
        seconds: 10.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = format!("{flag}: not a number: {value}");
        match flag.as_str() {
            "--calls" => a.calls = value.parse().map_err(|_| bad.clone())?,
            "--bytes" => a.bytes = value.parse().map_err(|_| bad.clone())?,
            "--tick-ms" => a.tick_ms = value.parse().map_err(|_| bad.clone())?,
            "--warmup" => a.warmup = value.parse().map_err(|_| bad.clone())?,
            "--seconds" => a.seconds = value.parse().map_err(|_| bad.clone())?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.calls == 0 || !(1..=1200).contains(&a.bytes) {
        return Err("--calls must be > 0 and --bytes 1..=1200".into());
    }
    Ok(a)
}

/// Pins the calling thread to `cpus` (ignored where it cannot).
fn pin(cpus: &[usize]) {
    // SAFETY: `set` is a plain bit set initialised by CPU_ZERO before use
    // and passed with its own size; sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The CPUs this process may use.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: as in `pin`; sched_getaffinity fills `set`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return vec![0];
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// This thread's CPU time, ns.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// The relay's sockets for one call.
struct RelayCall {
    tcp: mio::net::TcpStream,
    udp: mio::net::UdpSocket,
    far: SocketAddr,
    tcp_ready: bool,
    udp_ready: bool,
}

/// What the relay measured over its window.
struct Window {
    pairs: u64,
    cpu: Duration,
    wall: Duration,
}

/// The relay thread: relays for `warmup`, then measures itself over
/// `window`; `None` when its poller cannot be set up.
fn relay(
    mut calls: Vec<RelayCall>,
    tick: Duration,
    warmup: Duration,
    window: Duration,
) -> Option<Window> {
    let poll = Poll::new().ok()?;
    for (i, c) in calls.iter_mut().enumerate() {
        let r = poll.registry();
        r.register(&mut c.tcp, Token(2 * i), Interest::READABLE)
            .ok()?;
        r.register(&mut c.udp, Token(2 * i + 1), Interest::READABLE)
            .ok()?;
    }
    let mut poll = poll;
    let t0 = Instant::now();
    let (start, end) = (t0 + warmup, t0 + warmup + window);
    let mut mark: Option<(Instant, u64, u64)> = None;
    let mut pairs = 0u64;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 2048];
    let mut next = Instant::now() + tick;
    loop {
        let now = Instant::now();
        if mark.is_none() && now >= start {
            mark = Some((now, thread_cpu_ns(), pairs));
        }
        if now >= end {
            let (t, cpu, p) = mark?;
            return Some(Window {
                pairs: pairs - p,
                cpu: Duration::from_nanos(thread_cpu_ns().saturating_sub(cpu)),
                wall: now - t,
            });
        }
        if next > now {
            std::thread::sleep(next - now);
        }
        next += tick;
        if poll.poll(&mut events, Some(Duration::ZERO)).is_err() {
            continue;
        }
        for ev in events.iter() {
            let Token(t) = ev.token();
            if let Some(c) = calls.get_mut(t / 2) {
                if t % 2 == 0 {
                    c.tcp_ready = true;
                } else {
                    c.udp_ready = true;
                }
            }
        }
        for c in &mut calls {
            // TCP: one read; a short read means drained (as tokio does).
            if c.tcp_ready {
                match c.tcp.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = c.udp.send_to(&buf[..n], c.far);
                        c.tcp_ready = n == buf.len();
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    _ => c.tcp_ready = false,
                }
            }
            // UDP: until WouldBlock (as the media worker does).
            while c.udp_ready {
                match c.udp.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        let _ = c.tcp.write(&buf[..n]);
                        pairs += 1;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => c.udp_ready = false,
                }
            }
        }
    }
}

/// The peers' sockets for one call.
struct PeerCall {
    client: mio::net::TcpStream,
    far: mio::net::UdpSocket,
    due: Instant,
}

/// The peers thread: clients send a frame per call every 20 ms and read
/// the replies; far ends echo every datagram to its source.
fn peers(mut calls: Vec<PeerCall>, bytes: usize, stop: &AtomicBool) {
    let Ok(mut poll) = Poll::new() else { return };
    for (i, c) in calls.iter_mut().enumerate() {
        let r = poll.registry();
        if r.register(&mut c.client, Token(2 * i), Interest::READABLE)
            .is_err()
            || r.register(&mut c.far, Token(2 * i + 1), Interest::READABLE)
                .is_err()
        {
            return;
        }
    }
    let mut events = Events::with_capacity(1024);
    let frame = vec![0x5Au8; bytes];
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut wake = now + FRAME;
        for c in &mut calls {
            if c.due <= now {
                let _ = c.client.write(&frame);
                c.due += FRAME;
            }
            wake = wake.min(c.due);
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        if poll.poll(&mut events, Some(timeout)).is_err() {
            continue;
        }
        for ev in events.iter() {
            let Token(t) = ev.token();
            let Some(c) = calls.get_mut(t / 2) else {
                continue;
            };
            if t % 2 == 0 {
                while matches!(c.client.read(&mut buf), Ok(n) if n > 0) {}
            } else {
                while let Ok((n, from)) = c.far.recv_from(&mut buf) {
                    let _ = c.far.send_to(&buf[..n], from);
                }
            }
        }
    }
}

fn setup(a: &Args) -> std::io::Result<(Vec<RelayCall>, Vec<PeerCall>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let start = Instant::now() + Duration::from_millis(100);
    let (mut relay_calls, mut peer_calls) = (Vec::new(), Vec::new());
    for i in 0..a.calls {
        let client = TcpStream::connect(addr)?;
        let (accepted, _) = listener.accept()?;
        for s in [&client, &accepted] {
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
        }
        let far = UdpSocket::bind("127.0.0.1:0")?;
        let near = UdpSocket::bind("127.0.0.1:0")?;
        far.set_nonblocking(true)?;
        near.set_nonblocking(true)?;
        relay_calls.push(RelayCall {
            tcp: mio::net::TcpStream::from_std(accepted),
            far: far.local_addr()?,
            udp: mio::net::UdpSocket::from_std(near),
            tcp_ready: false,
            udp_ready: false,
        });
        // Calls spread over the 20 ms, like independent clients.
        let offset = FRAME.mul_f64(i as f64 / a.calls as f64);
        peer_calls.push(PeerCall {
            client: mio::net::TcpStream::from_std(client),
            far: mio::net::UdpSocket::from_std(far),
            due: start + offset,
        });
    }
    Ok((relay_calls, peer_calls))
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("relay_floor: {e}");
            std::process::exit(1);
        }
    };
    let (relay_calls, peer_calls) = match setup(&a) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("relay_floor: cannot open the sockets: {e}");
            std::process::exit(1);
        }
    };
    let cpus = allowed_cpus();
    let (relay_cpu, peer_cpus) = match cpus.split_first() {
        Some((&first, rest)) if !rest.is_empty() => (vec![first], rest.to_vec()),
        _ => (cpus.clone(), cpus.clone()),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let tick = Duration::from_millis(a.tick_ms.max(1));
    let peers_thread = {
        let stop = stop.clone();
        let bytes = a.bytes;
        std::thread::spawn(move || {
            pin(&peer_cpus);
            peers(peer_calls, bytes, &stop);
        })
    };
    let (warmup, window) = (
        Duration::from_secs_f64(a.warmup),
        Duration::from_secs_f64(a.seconds),
    );
    let relay_thread = std::thread::spawn(move || {
        pin(&relay_cpu);
        relay(relay_calls, tick, warmup, window)
    });
    let measured = relay_thread.join().ok().flatten();
    stop.store(true, Ordering::Relaxed);
    let _ = peers_thread.join();
    let Some(w) = measured else {
        eprintln!("relay_floor: the relay could not poll its sockets");
        std::process::exit(1);
    };
    let us_per_pair = w.cpu.as_secs_f64() * 1e6 / (w.pairs.max(1) as f64);
    let expected = a.calls as f64 * w.wall.as_secs_f64() / FRAME.as_secs_f64();
    println!(
        "{{\"calls\": {}, \"bytes\": {}, \"tick_ms\": {}, \"window_s\": {:.3}, \"pairs\": {}, \"pairs_expected\": {:.0}, \"cpu_fraction\": {:.4}, \"us_per_pair\": {:.3}, \"calls_per_core\": {:.0}}}",
        a.calls,
        a.bytes,
        a.tick_ms,
        w.wall.as_secs_f64(),
        w.pairs,
        expected,
        w.cpu.as_secs_f64() / w.wall.as_secs_f64().max(1e-9),
        us_per_pair,
        20_000.0 / us_per_pair.max(f64::MIN_POSITIVE),
    );
}
