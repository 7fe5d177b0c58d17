//! A minimal HTTP/1.1 client for medic's admin server on 127.0.0.1 (one request per connection, or
//! [`KeepAlive`] for a poller), and a minimal server for tests that play another service (no dependency).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `GET path` on 127.0.0.1:`port`: status and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path)
}

/// `<method> path` (no body) on 127.0.0.1:`port`, on a connection of its own that the server closes
/// after answering: status and body.
pub fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let (status, body, _) = exchange(&mut connect(port)?, method, path, false).ok()?;
    Some((status, body))
}

/// A connection to 127.0.0.1:`port`, each write a packet of its own, reads timing out after 5 s.
fn connect(port: u16) -> Option<BufReader<TcpStream>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_nodelay(true).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(BufReader::new(stream))
}

/// One connection to 127.0.0.1:`port` kept open from one `GET` to the next, as Prometheus keeps its
/// scrape connections: a poller that reads `/metrics` fifty times a second would otherwise have the
/// server accept a connection and set up its HTTP state each time (in perf profiles of `medic bench e2e`
/// that was about half of what the scrapes cost a stage).
///
/// A request on a kept connection that the server had closed (the write fails, or the connection ends
/// before the answer's first byte) is sent again once on a new one; any other failure (a timeout after
/// 5 s, an answer it cannot read) is not retried. An answer with `Connection: close` is returned and the
/// connection dropped. Answers need a `Content-Length` (axum's to a `String` body have one), unless the
/// server closes the connection after them.
pub struct KeepAlive {
    port: u16,
    stream: Option<BufReader<TcpStream>>,
}

/// Why an exchange failed: on a connection the server had already closed, or otherwise.
enum Failure {
    Stale,
    Broken,
}

impl KeepAlive {
    /// A client for 127.0.0.1:`port`; it connects on its first request.
    #[must_use]
    pub fn new(port: u16) -> Self {
        Self { port, stream: None }
    }

    /// `GET path`: status and body; `None` when no answer could be read.
    pub fn get(&mut self, path: &str) -> Option<(u16, String)> {
        if let Some(mut stream) = self.stream.take() {
            match exchange(&mut stream, "GET", path, true) {
                Ok(answer) => return Some(self.keep(stream, answer)),
                Err(Failure::Broken) => return None,
                Err(Failure::Stale) => {}
            }
        }
        let mut stream = connect(self.port)?;
        let answer = exchange(&mut stream, "GET", path, true).ok()?;
        Some(self.keep(stream, answer))
    }

    /// Keeps `stream` for the next request when the answer allows it; returns status and body.
    fn keep(
        &mut self,
        stream: BufReader<TcpStream>,
        (status, body, reusable): (u16, String, bool),
    ) -> (u16, String) {
        if reusable {
            self.stream = Some(stream);
        }
        (status, body)
    }
}

/// Sends `<method> path` (no body; asking the server to close the connection after its answer unless
/// `keep_alive`) and reads the answer: status, body and whether the connection can carry another
/// request (kept alive, and the answer had a `Content-Length` and no `Connection: close`).
fn exchange(
    stream: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    keep_alive: bool,
) -> Result<(u16, String, bool), Failure> {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    let connection = if keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    };
    // One write for the whole request (with TCP_NODELAY set, each write would be a packet of its own).
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n{connection}\r\n"
    );
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .map_err(|_| Failure::Stale)?;
    let mut line = String::new();
    match stream.read_line(&mut line) {
        Ok(0) => return Err(Failure::Stale),
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe) => {
            return Err(Failure::Stale);
        }
        Err(_) => return Err(Failure::Broken),
    }
    let broken = |_| Failure::Broken;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or(Failure::Broken)?;
    let (mut length, mut close) = (None, false);
    loop {
        line.clear();
        if stream.read_line(&mut line).map_err(broken)? == 0 {
            return Err(Failure::Broken);
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').ok_or(Failure::Broken)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| Failure::Broken)?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    // A connection that closes after the answer ends its body when no length is given.
    let close = close || !keep_alive;
    let mut body = Vec::new();
    match (length, close) {
        (Some(length), _) => {
            body.resize(length, 0);
            stream.read_exact(&mut body).map_err(broken)?;
        }
        (None, true) => {
            stream.read_to_end(&mut body).map_err(broken)?;
        }
        // Its end could only be found by a timeout.
        (None, false) => return Err(Failure::Broken),
    }
    let body = String::from_utf8(body).map_err(|_| Failure::Broken)?;
    Ok((status, body, length.is_some() && !close))
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

    /// A server that answers the requests of each connection with a `Content-Length` (as hyper does),
    /// counting the connections it accepted. It closes a connection silently after `serve_per_connection`
    /// requests; the answer to the request numbered `closing` of a connection says `Connection: close`.
    fn keep_alive_server(serve_per_connection: usize, closing: usize) -> (u16, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                for served in 1..=serve_per_connection {
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                        line.clear();
                    }
                    if line != "\r\n" {
                        break;
                    }
                    let body = format!("connection {n} request {served}");
                    let close = if served == closing {
                        "Connection: close\r\n"
                    } else {
                        ""
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\n{close}Content-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if writer
                        .write_all(format!("{head}{body}").as_bytes())
                        .is_err()
                        || served == closing
                    {
                        break;
                    }
                }
            }
        });
        (port, accepted)
    }

    /// Three reads through one [`KeepAlive`] from `keep_alive_server(serve_per_connection, closing)`:
    /// two on its first connection, the third on a second one.
    fn assert_third_read_on_a_second_connection(serve_per_connection: usize, closing: usize) {
        let (port, accepted) = keep_alive_server(serve_per_connection, closing);
        let mut client = KeepAlive::new(port);
        for expected in [
            "connection 1 request 1",
            "connection 1 request 2",
            "connection 2 request 1",
        ] {
            assert_eq!(client.get("/metrics"), Some((200, expected.to_owned())));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn keep_alive_reuses_its_connection_and_sends_again_once_on_a_new_one_when_the_server_closed_it()
     {
        // Two answers per connection, then a silent close: the third request goes out on the closed
        // connection and is sent again on a second one.
        assert_third_read_on_a_second_connection(2, 0);
        // An answer saying `Connection: close` is returned, and the next request opens a new connection.
        assert_third_read_on_a_second_connection(5, 2);
    }

    #[test]
    fn a_one_off_request_reads_the_answer_of_a_server_that_closes_after_it() {
        let server = Server::start(|head| (200, head.lines().next().unwrap_or("").into()));
        assert_eq!(
            http(server.port(), "POST", "/x"),
            Some((200, "POST /x HTTP/1.1".to_owned()))
        );
    }
}
