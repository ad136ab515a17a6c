//! The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, POSIX
//! `clock_gettime`): time the thread actually ran, so a worker preempted
//! by another process is not counted busy.

/// CPU time the calling thread has used, in ns (0 if the clock fails).
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time the whole process has used, every thread's, in ns
/// (`CLOCK_PROCESS_CPUTIME_ID`; 0 if the clock fails).
pub fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration;
    // clock_gettime only writes it.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_work_not_sleep() {
        let a = thread_cpu_ns();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let b = thread_cpu_ns();
        assert!(b >= a);
        assert!(b - a < 20_000_000, "sleeping is not CPU time: {} ns", b - a);
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(20) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(thread_cpu_ns() - b >= 5_000_000, "spinning is");
    }
}
