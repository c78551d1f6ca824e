//! A region's way to the API server: a TCP proxy the region's pods connect through, so the lab
//! can cut the region off (`cut REGION`) and heal it. A cut region's connections are dropped and
//! new ones are accepted but never answered, as behind a partition: requests time out rather
//! than fail fast.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy: its address, and the switch that cuts it.
pub struct Proxy {
    /// Where the region's pods connect.
    pub addr: SocketAddr,
    cut: watch::Sender<bool>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, watching) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream, watching.clone()));
            }
        });
        Ok(Proxy { addr, cut })
    }

    /// Cuts (`true`) or heals (`false`) the region.
    pub fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }

    /// Whether the region is cut off.
    pub fn is_cut(&self) -> bool {
        *self.cut.borrow()
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr, mut cut: watch::Receiver<bool>) {
    if *cut.borrow_and_update() {
        // Held unanswered until the region heals, then closed: the client retries.
        let _ = cut.wait_for(|c| !*c).await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|c| *c) => {}
    }
}
