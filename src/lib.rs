//! Tessera: the server binary's library. Only this crate knows HTTP, JSON wire formats and HTML.

pub mod cli;
pub mod clients;
pub mod cluster_cli;
pub mod commands;
pub mod control;
pub mod datadir;
pub mod db;
pub mod http;
pub mod keys_view;
pub mod logging;
pub mod metrics;
pub mod server;
pub mod state;
pub mod oauth;
pub mod users;
pub mod csrf;
pub mod pages;
pub mod admin;
pub mod gdpr;
pub mod rbac;
pub mod read_cache;
pub mod console;
