//! A fake OANDA v20 pricing stream on loopback, written from OANDA's documented shapes:
//! `GET /v3/accounts/{id}/pricing/stream?instruments=…` with `Authorization: Bearer <token>`
//! answers a chunked body of newline-delimited JSON (`PRICE` and `HEARTBEAT` lines). Each
//! connection plays the next [`Connection`] script: its status (401, 429 with `Retry-After`,
//! 503, or 200), then its chunks each after a pause (a line may be split across chunks), then
//! it closes the connection or falls silent (no heartbeat) until the client leaves. A
//! connection beyond the scripts is answered 401.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one connection does.
#[derive(Debug, Clone)]
pub enum Connection {
    /// Answers this status with an OANDA error body (`Retry-After` when given).
    Refuse {
        /// 401, 403, 429, 503, …
        status: u16,
        /// The `Retry-After` header, seconds.
        retry_after: Option<u64>,
    },
    /// Answers 200 and sends `chunks`, each after its pause; then closes, or (`silent`) sends
    /// nothing more until the client leaves.
    Stream {
        /// (pause before, bytes).
        chunks: Vec<(Duration, String)>,
        /// Stay open without a byte after the last chunk.
        silent: bool,
    },
}

/// A `PRICE` line (with its newline) of `instrument` at `time`.
#[must_use]
pub fn price_line(instrument: &str, time: DateTime<Utc>, bid: &str, ask: &str) -> String {
    format!(
        "{{\"type\":\"PRICE\",\"time\":\"{}\",\"bids\":[{{\"price\":\"{bid}\",\"liquidity\":1000000}}],\"asks\":[{{\"price\":\"{ask}\",\"liquidity\":1000000}}],\"closeoutBid\":\"{bid}\",\"closeoutAsk\":\"{ask}\",\"status\":\"tradeable\",\"tradeable\":true,\"instrument\":\"{instrument}\"}}\n",
        time.to_rfc3339_opts(SecondsFormat::Nanos, true)
    )
}

/// A `HEARTBEAT` line (with its newline).
#[must_use]
pub fn heartbeat_line(time: DateTime<Utc>) -> String {
    format!(
        "{{\"type\":\"HEARTBEAT\",\"time\":\"{}\"}}\n",
        time.to_rfc3339_opts(SecondsFormat::Nanos, true)
    )
}

/// The fake stream server.
pub struct FakeOandaStream {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOandaStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeOandaStream {
    /// Serves `scripts`, one per connection in order, to clients with `token`.
    pub async fn start(token: &str, scripts: Vec<Connection>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scripts = Arc::new(Mutex::new(scripts.into_iter().collect::<VecDeque<_>>()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let token = format!("Bearer {token}");
        let seen = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let script = scripts.lock().unwrap().pop_front();
                let seen = Arc::clone(&seen);
                let token = token.clone();
                tokio::spawn(async move {
                    let Some(head) = read_head(&mut socket).await else {
                        return;
                    };
                    let first = head.lines().next().unwrap_or_default().to_owned();
                    seen.lock().unwrap().push(first.clone());
                    let authorized = head.lines().any(|l| {
                        l.to_ascii_lowercase().starts_with("authorization:")
                            && l[14..].trim() == token
                    });
                    let right_path =
                        first.contains("/pricing/stream?") && first.contains("instruments=");
                    let script = match (authorized, right_path, script) {
                        (true, true, Some(s)) => s,
                        (false, _, _) | (_, _, None) => Connection::Refuse {
                            status: 401,
                            retry_after: None,
                        },
                        (true, false, _) => Connection::Refuse {
                            status: 404,
                            retry_after: None,
                        },
                    };
                    play(&mut socket, script).await;
                });
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:{port}`: the streaming host to configure.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request lines received, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn read_head(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut byte).await.ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&byte[..n]);
    }
    String::from_utf8(head).ok()
}

async fn play(socket: &mut tokio::net::TcpStream, script: Connection) {
    match script {
        Connection::Refuse {
            status,
            retry_after,
        } => {
            let body = match status {
                401 => "{\"errorMessage\":\"Insufficient authorization to perform request.\"}",
                _ => "{\"errorMessage\":\"unavailable\"}",
            };
            let retry = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            let reply = format!(
                "HTTP/1.1 {status} Refused\r\nContent-Type: application/json\r\n{retry}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
        Connection::Stream { chunks, silent } => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for (pause, chunk) in chunks {
                tokio::time::sleep(pause).await;
                let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
                if socket.write_all(framed.as_bytes()).await.is_err() {
                    return;
                }
            }
            if silent {
                // Nothing more, until the client hangs up.
                let mut sink = [0u8; 64];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
            } else {
                // Dropped without the last chunk: the connection is lost mid-stream.
                let _ = socket.shutdown().await;
            }
        }
    }
}
