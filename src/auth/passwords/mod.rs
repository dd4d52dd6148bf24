//! argon2id password hashing: on the blocking pool, one hash per slot, each in memory that
//! goes back to the OS when it ends.

mod blocking;
mod memory;
mod phc;

pub use blocking::{hash, verify, warm_up};
