//! A TCP proxy in front of NATS that a test can cut and restore: the agent's connection really
//! breaks, and its reconnection attempts really fail, until the test says otherwise.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    /// `nats://127.0.0.1:<port>` of the proxy.
    pub url: String,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Forwards a local port to the NATS server at `target` (`nats://host:port`).
    pub async fn start(target: &str) -> Self {
        let upstream = target
            .trim_start_matches("nats://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds a port");
        let url = format!("nats://{}", listener.local_addr().expect("local address"));
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, connections) = (Arc::clone(&up), Arc::clone(&connections));
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        // Down: the connection opens and closes at once, as a dead route would.
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let forward = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    if let Ok(mut open) = connections.lock() {
                        open.push(forward);
                    }
                }
            }
        });
        Self {
            url,
            up,
            connections,
            accept,
        }
    }

    /// Breaks every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        if let Ok(mut open) = self.connections.lock() {
            for connection in open.drain(..) {
                connection.abort();
            }
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
