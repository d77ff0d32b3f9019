//! The one integration-test binary. Modules by concern, all against real servers on loopback.

mod common;

mod authorize_flow;
mod cluster;
mod foundation;
mod keys_at_rest;
mod oidc_rp;
mod process;
mod sessions;
mod users;
mod tokens;
mod admin_api;
mod console;
mod deploy;
mod webdriver;
mod cluster_haproxy;
