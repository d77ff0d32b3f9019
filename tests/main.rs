//! The one integration-test binary. Modules by concern, all against real servers on loopback.

mod common;

mod foundation;
mod process;
mod tokens;
