//! The real `kube` client over turmoil's simulated network (the recipe in docs/development.md): a
//! connector dialing `turmoil::net::TcpStream`, hyper-util's client on it, kube's base-URI layer
//! and our `Date` layer. Only the constructor differs from production; the adapter above it is the
//! same code.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use forge_manager::adapters::kube::{DateLayer, DateSlot};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Port every simulated API server listens on.
pub const API_PORT: u16 = 6443;

/// The pairs of turmoil hosts partitioned now (both directions), kept by the world and read by
/// every connector.
///
/// Why: turmoil 0.7.2's `TcpStream::connect` registers the socket pair before it sends the SYN and
/// never removes it when the SYN is dropped by a partition (the connect fails, the ephemeral port
/// stays taken). A sidecar retrying through a long partition thus exhausted its host's ports (a
/// panic, "ports exhausted") or wedged its connections for good. A connector that knows the
/// partition does not dial: it waits, as a SYN into a black hole does, until the caller's timeout
/// gives up.
pub type Partitions =
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<(String, String)>>>;

/// Whether `from` → `to` is cut.
fn cut(partitions: &Partitions, from: &str, to: &str) -> bool {
    partitions
        .lock()
        .is_ok_and(|p| p.contains(&(from.to_owned(), to.to_owned())))
}

/// A turmoil TCP stream that hyper-util can use (a newtype for the orphan rule).
pub struct Stream(turmoil::net::TcpStream);

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Dials `host:port` of a URI over turmoil from host `from` (see [`Partitions`]).
#[derive(Clone, Debug, Default)]
pub struct Connector {
    /// The dialing host's name.
    pub from: String,
    /// The world's partitions.
    pub partitions: Partitions,
}

impl tower::Service<http::Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let from = self.from.clone();
        let partitions = self.partitions.clone();
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().to_owned();
            let port = uri.port_u16().unwrap_or(API_PORT);
            if cut(&partitions, &from, &host) {
                // A SYN into a black hole: the caller's timeout ends the wait.
                tokio::time::sleep(std::time::Duration::from_secs(75)).await;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connect {host}:{port}: partitioned"),
                ));
            }
            Ok(TokioIo::new(Stream(
                turmoil::net::TcpStream::connect((host.as_str(), port)).await?,
            )))
        })
    }
}

/// A kube client for the API server on simulated host `host`, recording `Date` headers into the
/// returned slot. Call it inside a turmoil host.
pub fn kube_client(
    host: &str,
    namespace: &str,
    connector: Connector,
) -> Result<(kube::Client, DateSlot), http::uri::InvalidUri> {
    let base: http::Uri = format!("http://{host}:{API_PORT}").parse()?;
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, kube::client::Body>(connector);
    let dates = DateSlot::default();
    let service = tower::ServiceBuilder::new()
        .layer(DateLayer::new(dates.clone()))
        .layer(kube::client::middleware::BaseUriLayer::new(base))
        .service(http);
    Ok((
        kube::client::ClientBuilder::new(service, namespace).build(),
        dates,
    ))
}
