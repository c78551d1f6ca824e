//! Listeners for the API server: [`TurmoilListener`] (axum's `serve::Listener` over turmoil's
//! simulated TCP) and [`FaultyListener`], which wraps any listener so [`Faults`] can refuse
//! connections.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::faults::{Faults, Reset};

/// A listener address that may name the peer's IP (to reset a peer's connections).
pub trait PeerIp {
    /// The peer's IP, if the address has one.
    fn peer_ip(&self) -> Option<std::net::IpAddr>;
}

impl PeerIp for std::net::SocketAddr {
    fn peer_ip(&self) -> Option<std::net::IpAddr> {
        Some(self.ip())
    }
}

/// axum listener over a turmoil simulated TCP listener (bind it inside a turmoil host).
pub struct TurmoilListener(pub turmoil::net::TcpListener);

impl std::fmt::Debug for TurmoilListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TurmoilListener")
            .field(&self.0.local_addr().ok())
            .finish()
    }
}

impl TurmoilListener {
    /// Binds `addr` on the current simulated host.
    pub async fn bind(addr: impl turmoil::ToSocketAddrs) -> io::Result<Self> {
        Ok(Self(turmoil::net::TcpListener::bind(addr).await?))
    }
}

impl Listener for TurmoilListener {
    type Io = turmoil::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok(pair) => return pair,
                // Accept errors are transient in turmoil (as in axum's tokio impl): back off, retry.
                Err(err) => {
                    tracing::debug!(%err, "turmoil accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Wraps a listener: while [`Faults::refuse_connections`] is on, new connections are closed at
/// once and open ones fail their next read or write.
#[derive(Debug)]
pub struct FaultyListener<L> {
    inner: L,
    faults: Faults,
}

impl<L> FaultyListener<L> {
    /// Wraps `inner`.
    pub fn new(inner: L, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

impl<L: Listener> Listener for FaultyListener<L>
where
    L::Addr: PeerIp,
{
    type Io = FaultyIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            if self.faults.is_refusing() {
                drop(io);
                continue;
            }
            let reset = addr.peer_ip().map(|ip| self.faults.register_connection(ip));
            return (
                FaultyIo {
                    inner: io,
                    faults: self.faults.clone(),
                    reset,
                },
                addr,
            );
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails while connections are refused, or once reset.
#[derive(Debug)]
pub struct FaultyIo<T> {
    inner: T,
    faults: Faults,
    /// Set by [`Faults::reset_connections_from`].
    reset: Option<std::sync::Arc<Reset>>,
}

impl<T> FaultyIo<T> {
    fn failed(&self, cx: &Context<'_>) -> bool {
        self.faults.is_refusing() || self.reset.as_ref().is_some_and(|r| r.poll_reset(cx))
    }
}

fn refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "fault injected: connections refused",
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for FaultyIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.failed(cx) {
            return Poll::Ready(Err(refused()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FaultyIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.failed(cx) {
            return Poll::Ready(Err(refused()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
