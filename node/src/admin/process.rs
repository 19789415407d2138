//! The process's own CPU time and resident memory, read from `/proc/self` (Linux; elsewhere
//! both read as zero).

/// CPU time and memory of this process at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time since the process started, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// Threads.
    pub threads: u64,
}

/// Reads this process's stats now.
pub fn now() -> ProcessStats {
    read("/proc/self/stat").unwrap_or_default()
}

/// Reads the stats of the process `pid` now (zero when it is gone or this is not Linux).
pub fn of(pid: u32) -> ProcessStats {
    read(&format!("/proc/{pid}/stat")).unwrap_or_default()
}

fn read(path: &str) -> Option<ProcessStats> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime 15, num_threads 20, rss 24.
    let ticks = 100.0; // USER_HZ is 100 on every Linux ABI Rust targets.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let threads: u64 = f.get(17)?.parse().ok()?;
    let rss_pages: u64 = f.get(21)?.parse().ok()?;
    Some(ProcessStats {
        cpu_seconds: (utime + stime) / ticks,
        rss_bytes: rss_pages * 4096,
        threads,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let s = super::now();
        if cfg!(target_os = "linux") {
            assert!(s.rss_bytes > 1 << 20, "{s:?}");
            assert!(s.threads >= 1, "{s:?}");
            // Burn a little CPU: the counter moves.
            let t = std::time::Instant::now();
            let mut x = 0u64;
            while t.elapsed().as_millis() < 60 {
                x = x.wrapping_mul(31).wrapping_add(7);
            }
            std::hint::black_box(x);
            assert!(super::now().cpu_seconds > s.cpu_seconds, "{s:?}");
        }
    }
}
