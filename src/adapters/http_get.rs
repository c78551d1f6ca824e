//! One HTTP/1.1 GET with hyper's connection-level client, for scraping cardano-node's metrics
//! endpoint and probing a region's health endpoint.
//!
//! No pool and no executor: each GET opens one connection, drives it in the same task and drops
//! it, so the two limits the sidecar needs hold without configuring layers: one deadline for the
//! whole exchange (connect, request, headers, body) and a cap on the body's size. hyper handles
//! framing (`Content-Length`, chunked, read-to-close) and refuses malformed responses.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where to send the GET, from an `http://host:port/path` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// Host name or IP literal (without brackets).
    host: String,
    /// TCP port (80 when the URL has none).
    port: u16,
    /// `Host` header value.
    authority: String,
    /// Request target (`/metrics`, with query if any).
    path: String,
}

/// Why a GET failed; each variant keeps its cause.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// No complete response within the deadline.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The TCP connection could not be opened.
    #[error("connection failed: {0}")]
    Connect(#[source] std::io::Error),
    /// The exchange failed: a reset, a closed connection, or bytes that are not HTTP/1.x.
    #[error("HTTP exchange failed: {0}")]
    Exchange(#[from] hyper::Error),
    /// The body is larger than allowed.
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    /// Reading the body failed for another reason.
    #[error("reading the response body failed: {0}")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request could not be built from the target (a path hyper refuses).
    #[error("bad request target: {0}")]
    Request(#[from] http::Error),
}

impl Target {
    /// Parses an `http://` URL; `https` and anything without a host are refused.
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            other => {
                return Err(format!(
                    "{url:?}: scheme {other:?} (only http is supported)"
                ));
            }
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?}: no host"))?
            .clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        Ok(Target {
            host,
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_string(),
            path,
        })
    }
}

/// GETs `target`, all of it (connect, request, response) within `deadline`; returns the status
/// code and the body, refusing bodies over `max_body` bytes.
pub(crate) async fn get(
    target: &Target,
    deadline: Duration,
    max_body: usize,
) -> Result<(u16, Vec<u8>), HttpError> {
    tokio::time::timeout(deadline, exchange(target, max_body))
        .await
        .map_err(|_| HttpError::Timeout(deadline))?
}

async fn exchange(target: &Target, max_body: usize) -> Result<(u16, Vec<u8>), HttpError> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(HttpError::Connect)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let request = http::Request::get(target.path.as_str())
        .header(http::header::HOST, target.authority.as_str())
        .header(http::header::USER_AGENT, "forge-manager")
        .header(http::header::ACCEPT, "text/plain")
        .header(http::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())?;
    let response = async {
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        // A declared length over the cap is refused before any of the body is read.
        if hyper::body::Body::size_hint(response.body())
            .exact()
            .is_some_and(|n| n > max_body as u64)
        {
            return Err(HttpError::TooLarge(max_body));
        }
        let body = Limited::new(response.into_body(), max_body)
            .collect()
            .await
            .map_err(|e| match e.downcast::<LengthLimitError>() {
                Ok(_) => HttpError::TooLarge(max_body),
                Err(e) => match e.downcast::<hyper::Error>() {
                    Ok(e) => HttpError::Exchange(*e),
                    Err(e) => HttpError::Body(e),
                },
            })?;
        Ok((status, body.to_bytes().to_vec()))
    };
    // The connection future moves the bytes; it is polled here, in this task, so the deadline
    // above cancels both. If it ends first (the peer closed), the response finishes from what
    // was already read, or fails.
    let mut connection = std::pin::pin!(connection);
    let mut response = std::pin::pin!(response);
    tokio::select! {
        biased;
        done = &mut response => done,
        closed = &mut connection => {
            closed?;
            response.await
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn urls_are_split_into_host_port_and_path() {
        let t = Target::parse("http://127.0.0.1:12798/metrics").expect("parse");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 12798, "/metrics")
        );
        let t = Target::parse("http://[::1]/m?x=1").expect("parse");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 80, "/m?x=1")
        );
        assert!(Target::parse("https://h/metrics").is_err());
        assert!(Target::parse("not a url").is_err());
    }

    /// Serves `reply` (raw bytes, then close unless `hang`) to one connection; returns the URL
    /// and the request the client sent.
    async fn serve(
        reply: &'static [u8],
        hang: bool,
    ) -> (Target, tokio::sync::oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (sent, request_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let _ = sent.send(String::from_utf8_lossy(&request).into_owned());
            socket.write_all(reply).await.expect("write");
            if hang {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        });
        let target = Target::parse(&format!("http://127.0.0.1:{port}/metrics")).expect("url");
        (target, request_rx)
    }

    const DEADLINE: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_response_with_content_length_is_read_without_waiting_for_close() {
        let (t, server) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true).await;
        let got = get(&t, DEADLINE, 100).await.expect("get");
        assert_eq!(got, (200, b"hello".to_vec()));
        let request = server.await.unwrap_or_default();
        assert!(
            request.starts_with("GET /metrics HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.to_ascii_lowercase().contains("connection: close"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_chunked_response_is_decoded_and_its_size_limited() {
        const CHUNKED: &[u8] =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let (t, _server) = serve(CHUNKED, false).await;
        assert_eq!(
            get(&t, DEADLINE, 100).await.expect("get"),
            (200, b"abcde".to_vec())
        );
        let (t, _server) = serve(CHUNKED, false).await;
        let err = get(&t, DEADLINE, 4).await.expect_err("too large");
        assert!(matches!(err, HttpError::TooLarge(4)), "{err}");
    }

    #[tokio::test]
    async fn a_response_without_length_ends_at_close() {
        let (t, _server) = serve(b"HTTP/1.0 500 Oops\r\n\r\nbody", false).await;
        assert_eq!(
            get(&t, DEADLINE, 100).await.expect("get"),
            (500, b"body".to_vec())
        );
    }

    #[tokio::test]
    async fn garbage_a_declared_oversize_body_and_a_cut_body_are_refused() {
        let (t, _server) = serve(b"SSH-2.0-OpenSSH\r\n\r\n", false).await;
        let err = get(&t, DEADLINE, 100).await.expect_err("not http");
        assert!(matches!(err, HttpError::Exchange(_)), "{err}");
        let (t, _server) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nab", false).await;
        let err = get(&t, DEADLINE, 10).await.expect_err("declared too large");
        assert!(matches!(err, HttpError::TooLarge(10)), "{err}");
        let (t, _server) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", false).await;
        let err = get(&t, DEADLINE, 100).await.expect_err("cut short");
        assert!(matches!(err, HttpError::Exchange(_)), "{err}");
    }

    #[tokio::test]
    async fn a_hung_endpoint_and_a_closed_port_fail_within_the_deadline() {
        let (t, _server) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", true).await;
        let err = get(&t, Duration::from_millis(200), 100)
            .await
            .expect_err("hung");
        assert!(matches!(err, HttpError::Timeout(_)), "{err}");
        let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let t = Target::parse(&format!("http://127.0.0.1:{port}/")).expect("url");
        let err = get(&t, DEADLINE, 100).await.expect_err("closed port");
        assert!(matches!(err, HttpError::Connect(_)), "{err}");
    }
}
