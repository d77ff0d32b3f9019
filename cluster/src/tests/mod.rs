//! Tests: openraft's storage conformance suite, the apply rules, whole-node restarts, and
//! multi-node clusters over the internal listener.

mod cluster;
mod multi;
mod net;
mod rules;
mod suite;
