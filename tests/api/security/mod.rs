//! Abuse resistance (issue 3), each protection proven against the real server: sign-in rate
//! limits, the bounded hashing queue, hostile documents, transport limits, and secrets kept out
//! of the log.
//!
//! Timeouts here only turn a hang into a failure; no test asserts how fast anything is.

mod connections;
mod documents;
mod fairness;
mod grammar;
mod hashing;
mod nesting;
mod rate_limits;
mod scans;
mod secrets;
mod support;
mod transport;
