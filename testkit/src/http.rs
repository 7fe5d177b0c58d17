//! A minimal HTTP/1.1 client for medic's admin server on 127.0.0.1 (one request per connection, or
//! [`KeepAlive`] for a poller), and a minimal server for tests that play another service (no dependency).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `GET path` on 127.0.0.1:`port`: status and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path)
}

/// `<method> path` (no body) on 127.0.0.1:`port`: status and body.
pub fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    Some((
        status,
        response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned(),
    ))
}

/// One connection to 127.0.0.1:`port` kept open from one `GET` to the next, as Prometheus keeps its
/// scrape connections: a poller that reads `/metrics` fifty times a second would otherwise have the
/// server accept a connection and set up its HTTP state each time (in perf profiles of `medic bench e2e`
/// that was about half of what the scrapes cost a stage). Reconnects once when the connection was
/// closed; answers without a `Content-Length` are read to the end and the connection dropped.
pub struct KeepAlive {
    port: u16,
    stream: Option<BufReader<TcpStream>>,
}

impl KeepAlive {
    /// A client for 127.0.0.1:`port`; it connects on its first request.
    #[must_use]
    pub fn new(port: u16) -> Self {
        Self { port, stream: None }
    }

    /// `GET path`: status and body; `None` when neither the open connection nor a new one answers.
    pub fn get(&mut self, path: &str) -> Option<(u16, String)> {
        if let Some(stream) = self.stream.as_mut()
            && let Some(answer) = get_on(stream, path)
        {
            return Some(answer);
        }
        self.stream = None;
        let stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_nodelay(true).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut stream = BufReader::new(stream);
        let (status, body, reusable) = exchange(&mut stream, path)?;
        if reusable {
            self.stream = Some(stream);
        }
        Some((status, body))
    }
}

/// A `GET` on an open connection; `None` when it fails or the server closes the connection after it
/// (the caller then reconnects).
fn get_on(stream: &mut BufReader<TcpStream>, path: &str) -> Option<(u16, String)> {
    match exchange(stream, path)? {
        (status, body, true) => Some((status, body)),
        _ => None,
    }
}

/// Sends `GET path` and reads the answer: status, body and whether the connection can carry another
/// request (the answer had a `Content-Length` and no `Connection: close`).
fn exchange(stream: &mut BufReader<TcpStream>, path: &str) -> Option<(u16, String, bool)> {
    // One write: `write!` on the socket sends each piece of the format on its own, and on a connection
    // past its first exchanges the server's delayed ACK then holds the rest back (about 40 ms).
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).ok()?;
    let mut line = String::new();
    stream.read_line(&mut line).ok()?;
    let status = line.split(' ').nth(1)?.parse().ok()?;
    let (mut length, mut close) = (None, false);
    loop {
        line.clear();
        if stream.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().ok()?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            stream.read_exact(&mut body).ok()?;
        }
        None => {
            stream.read_to_end(&mut body).ok()?;
        }
    }
    Some((
        status,
        String::from_utf8(body).ok()?,
        length.is_some() && !close,
    ))
}

/// A minimal HTTP/1.1 server on 127.0.0.1 for tests that play another service (an exporter, an API):
/// each connection's request head (request line and headers) goes to `answer`, whose status and body
/// are sent back as `text/plain` and the connection closed. It stops when dropped.
pub struct Server {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Server {
    /// Starts serving on a free port.
    ///
    /// # Panics
    /// When no port can be bound.
    #[must_use]
    pub fn start(answer: impl Fn(&str) -> (u16, Vec<u8>) + Send + 'static) -> Self {
        use std::io::BufRead;
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test server");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
                let mut head = String::new();
                while reader.read_line(&mut head).is_ok_and(|read| read > 0) {
                    if head.ends_with("\r\n\r\n") || head == "\r\n" {
                        break;
                    }
                }
                let (status, body) = answer(&head);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        Self { port, stop }
    }

    /// Its port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A server that answers every request of a connection with a `Content-Length` (as hyper does) and
    /// counts the connections it accepted.
    fn keep_alive_server() -> (u16, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                let mut served = 0;
                loop {
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                        line.clear();
                    }
                    if line != "\r\n" {
                        break;
                    }
                    served += 1;
                    let body = format!("connection {n} request {served}");
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                    if writer
                        .write_all(format!("{head}{body}").as_bytes())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        });
        (port, accepted)
    }

    #[test]
    fn keep_alive_reuses_its_connection_and_reconnects_to_a_server_that_closes_each() {
        let (port, accepted) = keep_alive_server();
        let mut client = KeepAlive::new(port);
        for request in 1..=3 {
            let (status, body) = client.get("/metrics").expect("an answer");
            assert_eq!(
                (status, body),
                (200, format!("connection 1 request {request}"))
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        let closing = Server::start(|_| (200, b"closed after each".to_vec()));
        let mut client = KeepAlive::new(closing.port());
        for _ in 0..2 {
            assert_eq!(
                client.get("/metrics"),
                Some((200, "closed after each".to_owned()))
            );
        }
    }
}
