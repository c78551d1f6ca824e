//! Helpers shared by the API server tests: start a server on a loopback port, raw HTTP requests,
//! a kube client pointed at it.

#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;

use bytes::Bytes;
use forge_sim::apiserver::{ApiServer, Options};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A running server on 127.0.0.1.
pub struct Running {
    pub server: ApiServer,
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn kube(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().expect("url"));
        kube::Client::try_from(config).expect("kube client")
    }
}

/// Starts a server on the current tokio runtime.
pub async fn start(options: Options) -> Running {
    let server = ApiServer::new(options).expect("server");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(server.clone().serve(listener));
    Running { server, addr, task }
}

/// A raw answer.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

/// Sends one raw request; `body` is sent as is with `content_type`.
pub async fn request(
    url: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Answer {
    let client: HyperClient<_, Full<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let resp = client.request(req).await.expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}

/// Both project CRDs as JSON strings, ready to POST.
pub fn crd_bodies() -> Vec<String> {
    forge_manager::crd::crds_json()
        .expect("crds")
        .iter()
        .map(Value::to_string)
        .collect()
}
