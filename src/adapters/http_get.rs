//! A minimal HTTP/1.1 GET over a tokio TCP stream, for scraping cardano-node's metrics endpoint.
//!
//! Why not hyper-util's client: the sidecar needs one plain-HTTP GET to a loopback port every few
//! seconds, with two hard limits: one deadline for the whole exchange (connect, request, headers,
//! body) and a cap on the response size, headers included. Written out, those limits are visible in
//! one screen of code, with no connection pool, executor or body-collecting layers to configure.
//! (Binary size is not the reason: the kube client links hyper and hyper-util already.) The reader
//! handles `Content-Length`, chunked encoding and read-to-close.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most bytes of status line and headers accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

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

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// No complete response within the deadline.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// Connect, write or read failed.
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The response is larger than allowed.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The bytes are not an HTTP/1.x response.
    #[error("malformed HTTP response: {0}")]
    Malformed(&'static str),
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
/// code and the decoded body, refusing bodies over `max_body` bytes.
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
    let mut stream = TcpStream::connect((target.host.as_str(), target.port)).await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: forge-manager\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream.write_all(request.as_bytes()).await?;
    let limit = MAX_HEAD_BYTES + max_body;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        let eof = n == 0;
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > limit {
            return Err(HttpError::TooLarge(max_body));
        }
        if let Some(done) = complete(&buf, eof, max_body)? {
            return Ok(done);
        }
        if eof {
            return Err(HttpError::Malformed("connection closed mid-response"));
        }
    }
}

/// The response in `buf` if it is complete (`eof`: the peer closed), `None` if more is needed.
fn complete(buf: &[u8], eof: bool, max_body: usize) -> Result<Option<(u16, Vec<u8>)>, HttpError> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD_BYTES {
            return Err(HttpError::TooLarge(MAX_HEAD_BYTES));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| HttpError::Malformed("headers are not text"))?;
    let mut lines = head.split("\r\n");
    let status = status_code(lines.next().unwrap_or_default())?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            return Err(HttpError::Malformed("header line without ':'"));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            let n: usize = v
                .parse()
                .map_err(|_| HttpError::Malformed("bad Content-Length"))?;
            if n > max_body {
                return Err(HttpError::TooLarge(max_body));
            }
            length = Some(n);
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = &buf[head_end + 4..];
    if chunked {
        // A chunked body always ends with an empty line; decoding only then keeps a large body
        // from being re-decoded after every read.
        if !eof && !body.ends_with(b"\r\n\r\n") {
            return Ok(None);
        }
        return dechunk(body, max_body).map(|b| b.map(|b| (status, b)));
    }
    match length {
        Some(n) if body.len() >= n => Ok(Some((status, body[..n].to_vec()))),
        Some(_) => Ok(None),
        None if eof => Ok(Some((status, body.to_vec()))),
        None => Ok(None),
    }
}

fn status_code(line: &str) -> Result<u16, HttpError> {
    let mut parts = line.split_ascii_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code
            .parse()
            .map_err(|_| HttpError::Malformed("bad status code")),
        _ => Err(HttpError::Malformed("bad status line")),
    }
}

/// Decodes a chunked body; `None` until the last (zero-size) chunk has arrived.
fn dechunk(mut rest: &[u8], max_body: usize) -> Result<Option<Vec<u8>>, HttpError> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let size_line = std::str::from_utf8(&rest[..eol])
            .map_err(|_| HttpError::Malformed("chunk size is not text"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| HttpError::Malformed("bad chunk size"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailers (rare) end with an empty line; the body is complete either way.
            return Ok(Some(out));
        }
        if out.len().saturating_add(size) > max_body {
            return Err(HttpError::TooLarge(max_body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn a_response_with_content_length_is_complete_without_waiting_for_close() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let got = complete(r, false, 100).expect("ok");
        assert_eq!(got, Some((200, b"hello".to_vec())));
        assert_eq!(complete(&r[..r.len() - 1], false, 100).expect("ok"), None);
    }

    #[test]
    fn a_chunked_response_is_decoded() {
        let r = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(
            complete(r, false, 100).expect("ok"),
            Some((200, b"abcde".to_vec()))
        );
        assert!(matches!(complete(r, false, 4), Err(HttpError::TooLarge(4))));
    }

    #[test]
    fn a_response_without_length_ends_at_close_and_garbage_is_refused() {
        let r = b"HTTP/1.0 500 Oops\r\n\r\nbody";
        assert_eq!(complete(r, false, 100).expect("ok"), None);
        assert_eq!(
            complete(r, true, 100).expect("ok"),
            Some((500, b"body".to_vec()))
        );
        assert!(complete(b"SSH-2.0-OpenSSH\r\n\r\n", true, 100).is_err());
        assert!(matches!(
            complete(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
                false,
                10
            ),
            Err(HttpError::TooLarge(10))
        ));
    }
}
