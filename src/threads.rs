//! Thread priorities: work that may run long and that no one is waiting on interactively —
//! password hashing, SQL statements that left the request's thread for being long — runs at a
//! lower priority than the runtime's threads, so it yields the CPU to requests instead of
//! competing with them as an equal.

use std::cell::Cell;

thread_local! {
    /// Whether this thread already lowered its scheduling priority.
    static LOWERED: Cell<bool> = const { Cell::new(false) };
}

/// The cores available to the process (two when the OS does not say).
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// Lowers the calling thread's priority (nice 10), once per thread.
pub fn lower_this_thread() {
    if LOWERED.replace(true) {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority and gettid only read their integer arguments; on Linux, PRIO_PROCESS
    // with a thread id changes that one thread.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}
