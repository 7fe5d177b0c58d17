//! [`BoundedResolver`]: name resolution with a deadline, for the observer's HTTP client. The system
//! resolver (`getaddrinfo`) takes no timeout of its own and may block for as long as its configuration
//! retries; a lookup that outlives the query's timeout fails instead, so a slow DNS server cannot hold
//! the observer past its read budget.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// How a name is looked up (the system resolver; a slow one in tests).
type Lookup = Arc<dyn Fn(&str) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// Lookups that may still be running after their deadline passed; past this many, a new lookup fails
/// at once (a resolver that hangs must not pile up a thread per query).
pub const MAX_PENDING_LOOKUPS: usize = 4;

/// Resolves on a thread of its own and gives up after `timeout`.
#[derive(Clone)]
pub struct BoundedResolver {
    timeout: Duration,
    lookup: Lookup,
    pending: Arc<AtomicUsize>,
}

impl BoundedResolver {
    /// The system resolver, bounded by `timeout`.
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        Self::with_lookup(
            timeout,
            Arc::new(|netloc: &str| netloc.to_socket_addrs().map(Iterator::collect)),
        )
    }

    fn with_lookup(timeout: Duration, lookup: Lookup) -> Self {
        Self {
            timeout,
            lookup,
            pending: Arc::default(),
        }
    }
}

impl ureq::Resolver for BoundedResolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        if self.pending.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING_LOOKUPS {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("resolving {netloc}: {MAX_PENDING_LOOKUPS} earlier lookups still hang"),
            ));
        }
        let (sender, answer) = std::sync::mpsc::channel();
        let (lookup, name) = (Arc::clone(&self.lookup), netloc.to_owned());
        // Released when the lookup ends, however it ends (a panicking lookup included).
        let pending = Pending(Arc::clone(&self.pending));
        std::thread::Builder::new()
            .name("medic-resolve".into())
            .spawn(move || {
                let _pending = pending;
                let _ = sender.send(lookup(&name));
            })?;
        answer.recv_timeout(self.timeout).unwrap_or_else(|error| {
            Err(match error {
                RecvTimeoutError::Timeout => io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "resolving {netloc} took longer than {} ms",
                        self.timeout.as_millis()
                    ),
                ),
                RecvTimeoutError::Disconnected => {
                    io::Error::other(format!("resolving {netloc}: the lookup failed"))
                }
            })
        })
    }
}

/// One lookup counted in [`BoundedResolver`]'s pending ones, until dropped.
struct Pending(Arc<AtomicUsize>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use ureq::Resolver;

    #[test]
    fn a_lookup_past_its_deadline_fails_and_hung_lookups_do_not_pile_up() {
        let resolver = BoundedResolver::new(Duration::from_secs(5));
        let addresses = resolver
            .resolve("localhost:9090")
            .expect("localhost resolves");
        assert!(
            addresses
                .iter()
                .all(|a| a.port() == 9090 && a.ip().is_loopback())
        );

        let hung = BoundedResolver::with_lookup(
            Duration::from_millis(50),
            Arc::new(|_: &str| {
                std::thread::sleep(Duration::from_secs(5));
                Ok(Vec::new())
            }),
        );
        let started = Instant::now();
        let error = hung.resolve("prometheus:9090").expect_err("too slow");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(error.to_string().contains("prometheus:9090"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(3));
        for _ in 1..MAX_PENDING_LOOKUPS {
            assert!(hung.resolve("prometheus:9090").is_err());
        }
        let error = hung
            .resolve("prometheus:9090")
            .expect_err("refused at once");
        assert!(error.to_string().contains("still hang"), "{error}");

        // A lookup that panics frees its place.
        let panicking = BoundedResolver::with_lookup(
            Duration::from_secs(5),
            Arc::new(|_: &str| panic!("resolver bug")),
        );
        for _ in 0..=MAX_PENDING_LOOKUPS {
            let error = panicking.resolve("prometheus:9090").expect_err("no answer");
            assert!(error.to_string().contains("the lookup failed"), "{error}");
        }
    }
}
