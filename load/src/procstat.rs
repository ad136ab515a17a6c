//! CPU time and resident memory of a process, from Linux `/proc`
//! (proc(5): `/proc/PID/stat` fields 14 utime and 15 stime in clock ticks,
//! `/proc/PID/status` `VmRSS` in KiB).

use std::time::Instant;

/// Clock ticks per second of `/proc/PID/stat` (USER_HZ: 100 in the Linux
/// user ABI on every architecture the project runs on).
const USER_HZ: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was read.
    pub at: Instant,
    /// User + system CPU time, s.
    pub cpu_s: f64,
    /// Resident set, KiB.
    pub rss_kib: u64,
}

/// Reads `pid` ("self" for this process); `None` if it is gone or unreadable.
pub fn sample(pid: &str) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Sample {
        at: Instant::now(),
        cpu_s: cpu_seconds(&stat)?,
        rss_kib: rss_kib(&status)?,
    })
}

/// utime + stime of a `/proc/PID/stat` line, s. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn cpu_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ")": field 3 (state) is index 0, so utime (14) is index 11.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// `VmRSS` of a `/proc/PID/status` text, KiB.
pub fn rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(cpu_seconds(stat), Some(3.0));
        assert_eq!(cpu_seconds("garbage"), None);
    }

    #[test]
    fn parses_vmrss() {
        let status = "Name:\trtmp2sip\nVmPeak:\t  9000 kB\nVmRSS:\t   41236 kB\n";
        assert_eq!(rss_kib(status), Some(41236));
        assert_eq!(rss_kib("Name: x\n"), None);
    }

    #[test]
    fn reads_itself() {
        let s = sample("self").expect("/proc/self");
        assert!(s.rss_kib > 0);
    }
}
