//! Tests: openraft's storage conformance suite, the apply rules, and whole-node restarts.

mod cluster;
mod rules;
mod suite;
