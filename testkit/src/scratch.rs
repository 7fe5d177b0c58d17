//! Names, directories and ports of one test run.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// A name for one test run's topics and files: `<prefix><pid>x<ms since the epoch>`.
pub fn run_id(prefix: &str) -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    format!("{prefix}{}x{ms}", std::process::id())
}

/// A free TCP port on 127.0.0.1 for a server a test starts later: taken from outside the kernel's
/// ephemeral range (below it, or above it where it starts low), so that no outgoing connection (a Kafka client's, say) is given it between this
/// check and the server's bind, and never handed out twice by one process. Ports under 20000 are
/// left to the fixed ones of `scripts/` (the test broker's 19092, the API server's).
pub fn free_port() -> u16 {
    const LOWEST: u32 = 20_000;
    static HANDED_OUT: AtomicU32 = AtomicU32::new(0);
    let ephemeral: Vec<u32> = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .map(|range| {
            range
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // Ports from LOWEST up to the ephemeral range, or (when it starts lower) above it.
    let (low, high) = match ephemeral[..] {
        [start, _] if start > LOWEST + 1_000 => (LOWEST, start),
        [_, end] if end < 64_000 => (end + 1, 65_536),
        _ => (LOWEST, 32_768),
    };
    let span = high - low;
    // Each process starts at its own offset, so that two test binaries rarely probe the same ports.
    let offset = std::process::id().wrapping_mul(7_919) % span;
    (0..span)
        .map(|_| HANDED_OUT.fetch_add(1, Ordering::Relaxed))
        .map(|n| u16::try_from(low + (offset + n) % span).expect("a port"))
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port outside the ephemeral range")
}

/// A fresh, empty directory under the system's temporary directory, named after a new run id.
pub fn scratch_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(run_id(prefix));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_bindable_and_clear_of_the_fixed_ones() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len());
        assert!(ports.iter().all(|p| *p >= 20_000), "{ports:?}");
        assert!(TcpListener::bind(("127.0.0.1", ports[0])).is_ok());
    }
}
