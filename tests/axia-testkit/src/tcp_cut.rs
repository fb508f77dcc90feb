//! [`TcpCut`], a TCP proxy on loopback that can cut every connection through it and refuse new
//! ones: a server (PostgreSQL, Redis) becomes unreachable for the clients behind the proxy
//! while the test itself still reaches it directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A TCP proxy to one server that can be taken down and brought back.
pub struct TcpCut {
    port: u16,
    down: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl TcpCut {
    /// Proxies a port on 127.0.0.1 to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(tokio::sync::watch::channel(0u64).0);
        let (d, g, target) = (down.clone(), generation.clone(), target.to_owned());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    // Refused: the socket is closed at once.
                    continue;
                }
                let target = target.clone();
                let mut cut = g.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            port,
            down,
            generation,
        }
    }

    /// The proxy's port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `url` (a `scheme://[user[:password]@]host:port/...` URL) with its host and port replaced
    /// by the proxy's, and the server's `host:port` it named.
    #[must_use]
    pub fn target_of(url: &str) -> String {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
        rest.split_once('/').map_or(rest, |(h, _)| h).to_owned()
    }

    /// `url` through this proxy (its host and port replaced).
    #[must_use]
    pub fn through(&self, url: &str) -> String {
        url.replacen(
            &Self::target_of(url),
            &format!("127.0.0.1:{}", self.port),
            1,
        )
    }

    /// Down: every open connection is cut and new ones are closed at once. Up: connections
    /// pass again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.generation.send_modify(|g| *g += 1);
        }
    }
}
