//! The internal listener (`CLUSTER_BIND`): inbound raft RPC and the admin calls, on their own
//! actix-web server, separate from the public API. Every request must carry a valid signature
//! (see `auth`), checked before the body is parsed; otherwise 401.
//!
//! Handlers are thin: verify, decode, one call, encode.

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;

use actix_web::dev::{Payload, ServerHandle};
use actix_web::{App, FromRequest, HttpRequest, HttpResponse, HttpServer, web};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    self, AddLearner, AdminError, AdminReply, Empty, Join, MembershipChange, Remove, StatusQuery,
};
use crate::auth::{self, AUTH_HEADER};
use crate::forward::LeaderOp;
use crate::handle::{Cluster, WRITE_TIMEOUT};
use crate::types::{ClusterStatus, Command, NodeId, TypeConfig};

/// Largest request body: a snapshot chunk (1 MiB of bytes, as a JSON number array) or a batch
/// of log entries.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Starts the listener on `listener`; returns the handle that stops it.
pub(crate) fn serve(cluster: Cluster, listener: TcpListener) -> std::io::Result<ServerHandle> {
    let data = web::Data::new(cluster);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route(api::RAFT_APPEND, web::post().to(append))
            .route(api::RAFT_VOTE, web::post().to(vote))
            .route(api::RAFT_SNAPSHOT, web::post().to(snapshot))
            .route(api::ADD_LEARNER, web::post().to(leader_op::<AddLearner>))
            .route(
                api::CHANGE_MEMBERSHIP,
                web::post().to(leader_op::<MembershipChange>),
            )
            .route(api::FORWARD_PROPOSE, web::post().to(leader_op::<Command>))
            .route(api::STATUS, web::post().to(status))
            .route(api::INIT, web::post().to(init))
            .route(api::JOIN, web::post().to(join))
            .route(api::REMOVE, web::post().to(remove))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "cluster listener stopped");
        }
    });
    Ok(handle)
}

/// A request body whose signature checked out, decoded as `T`.
struct Signed<T>(T);

impl<T: DeserializeOwned + 'static> FromRequest for Signed<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let body = body.await?;
            let secret = req
                .app_data::<web::Data<Cluster>>()
                .and_then(|c| c.net().ok().map(|n| n.peers.clone()));
            let header = req.headers().get(AUTH_HEADER).and_then(|v| v.to_str().ok());
            let verdict = match &secret {
                Some(peers) => {
                    auth::verify(peers.secret(), header, req.path(), &body, auth::unix_now())
                }
                None => Err(auth::AuthError::Malformed),
            };
            if let Err(e) = verdict {
                tracing::warn!(peer = ?req.peer_addr(), path = req.path(), error = %e, "refused a cluster request");
                let resp =
                    HttpResponse::Unauthorized().json(serde_json::json!({"error": "unauthorized"}));
                return Err(actix_web::error::InternalError::from_response(e, resp).into());
            }
            serde_json::from_slice(&body).map(Signed).map_err(|e| {
                let resp =
                    HttpResponse::BadRequest().json(serde_json::json!({"error": e.to_string()}));
                actix_web::error::InternalError::from_response(e, resp).into()
            })
        })
    }
}

fn json<T: Serialize>(value: &T) -> HttpResponse {
    HttpResponse::Ok().json(value)
}

async fn append(
    c: web::Data<Cluster>,
    Signed(rpc): Signed<AppendEntriesRequest<TypeConfig>>,
) -> HttpResponse {
    json(&c.raft().append_entries(rpc).await)
}

async fn vote(c: web::Data<Cluster>, Signed(rpc): Signed<VoteRequest<NodeId>>) -> HttpResponse {
    json(&c.raft().vote(rpc).await)
}

async fn snapshot(
    c: web::Data<Cluster>,
    Signed(rpc): Signed<InstallSnapshotRequest<TypeConfig>>,
) -> HttpResponse {
    json(&c.raft().install_snapshot(rpc).await)
}

/// Runs a leader-only operation here (answers `NotLeader` on a follower), bounded by 5 s.
async fn leader_op<Op: LeaderOp + DeserializeOwned + 'static>(
    c: web::Data<Cluster>,
    Signed(op): Signed<Op>,
) -> HttpResponse {
    let reply: AdminReply<Op::Reply> = tokio::time::timeout(WRITE_TIMEOUT, op.run(&c))
        .await
        .unwrap_or_else(|_| {
            Err(AdminError::Unavailable(
                "not committed in time (no quorum?)".into(),
            ))
        });
    json(&reply)
}

async fn status(c: web::Data<Cluster>, Signed(q): Signed<StatusQuery>) -> HttpResponse {
    let status = if q.with_leader_lag {
        c.cluster_status().await
    } else {
        c.status()
    };
    json(&AdminReply::Ok(status))
}

/// Runs a local membership operation, then replies with the node's status.
async fn after<F: Future<Output = Result<(), crate::ClusterError>>>(
    c: &Cluster,
    op: F,
) -> HttpResponse {
    let reply: AdminReply<ClusterStatus> = match op.await {
        Ok(()) => Ok(c.cluster_status().await),
        Err(e) => Err(e.into()),
    };
    json(&reply)
}

async fn init(c: web::Data<Cluster>, Signed(_): Signed<Empty>) -> HttpResponse {
    after(&c, c.init()).await
}

async fn join(c: web::Data<Cluster>, Signed(j): Signed<Join>) -> HttpResponse {
    after(&c, c.join(&j.peer)).await
}

async fn remove(c: web::Data<Cluster>, Signed(r): Signed<Remove>) -> HttpResponse {
    after(&c, c.remove(r.node_id)).await
}
