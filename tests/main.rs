//! The one integration-test binary. Modules by concern, all against real servers on loopback.

mod common;

mod cluster;
mod foundation;
mod keys_at_rest;
mod process;
