//! Logging: readable lines on stderr by default, JSON with `LOG_FORMAT=json`, filtered by
//! `RUST_LOG` (default `info`). Every line logged while serving a request carries the
//! request's span: its id, method, path, and — for GraphQL — the operation and the caller.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    // Colours only for a person at a terminal: a log file or collector gets plain text, and
    // every request's span is formatted without escape codes (a few percent of a refused
    // request's CPU, `perf` of `scripts/load`'s reject).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}
