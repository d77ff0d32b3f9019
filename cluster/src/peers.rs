//! Outbound calls to other nodes' internal listeners: one keep-alive `reqwest::Client` per peer
//! address (shared by the raft network, forwarding and membership calls), every request signed
//! with the cluster secret.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{self, AUTH_HEADER};
use crate::error::ClusterError;

/// How long opening a TCP connection to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Idle keep-alive connections are dropped after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a call to a peer produced no reply.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// Nothing was sent (connection refused, DNS, connect timeout): safe to retry.
    #[error("cannot reach {addr}: {msg}")]
    Connect { addr: String, msg: String },
    /// The peer refused our signature.
    #[error("{addr} refused the cluster signature (HTTP 401)")]
    Unauthorized { addr: String },
    /// Sent, but no reply in time: the request may or may not have taken effect.
    #[error("no reply from {addr} in time")]
    Timeout { addr: String },
    #[error("call to {addr} failed: {msg}")]
    Other { addr: String, msg: String },
}

impl From<TransportError> for ClusterError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unauthorized { .. } => ClusterError::Unauthorized(e.to_string()),
            TransportError::Connect { .. } | TransportError::Timeout { .. } => {
                ClusterError::Unavailable(e.to_string())
            }
            TransportError::Other { .. } => ClusterError::Other(e.to_string()),
        }
    }
}

/// The signing key and the per-peer clients.
pub(crate) struct Peers {
    secret: Vec<u8>,
    clients: Mutex<HashMap<String, reqwest::Client>>,
}

impl Peers {
    pub(crate) fn new(secret: &str) -> Peers {
        Peers {
            secret: secret.as_bytes().to_vec(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The client for `addr`, created on first use and reused (keep-alive) afterwards.
    fn client(&self, addr: &str) -> Result<reqwest::Client, TransportError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(addr) {
            return Ok(c.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(IDLE_TIMEOUT)
            .tcp_nodelay(true)
            // Cluster traffic is internal: never route it through an HTTP(S)_PROXY.
            .no_proxy()
            .build()
            .map_err(|e| TransportError::Other {
                addr: addr.to_owned(),
                msg: format!("cannot build an HTTP client: {e}"),
            })?;
        clients.insert(addr.to_owned(), client.clone());
        Ok(client)
    }

    /// Signs and POSTs `req` as JSON to `http://{addr}{path}`; decodes the JSON reply.
    pub(crate) async fn post<Req, Resp>(
        &self,
        addr: &str,
        path: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, TransportError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let other = |msg: String| TransportError::Other {
            addr: addr.to_owned(),
            msg,
        };
        let body = serde_json::to_vec(req).map_err(|e| other(format!("encode: {e}")))?;
        let signature = auth::sign(&self.secret, auth::unix_now(), path, &body);
        let resp = self
            .client(addr)?
            .post(format!("http://{addr}{path}"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(AUTH_HEADER, signature)
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| classify(addr, e))?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(TransportError::Unauthorized {
                addr: addr.to_owned(),
            });
        }
        let bytes = resp.bytes().await.map_err(|e| classify(addr, e))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(other(format!("HTTP {status}: {text}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| other(format!("decode reply: {e}")))
    }
}

fn classify(addr: &str, e: reqwest::Error) -> TransportError {
    let addr = addr.to_owned();
    if e.is_connect() {
        TransportError::Connect {
            addr,
            msg: e.to_string(),
        }
    } else if e.is_timeout() {
        TransportError::Timeout { addr }
    } else {
        TransportError::Other {
            addr,
            msg: e.to_string(),
        }
    }
}
