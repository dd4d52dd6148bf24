//! The `todoql` binary: parse the command line, start logging, run the command.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc is faster than glibc's malloc on the allocation-heavy GraphQL path, and returns
/// freed memory where glibc's per-thread arenas keep it (see README, Performance). argon2's
/// 19 MiB blocks bypass the allocator altogether (`auth::passwords`'s memory module).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = todoql::config::Cli::parse();
    todoql::telemetry::init();
    match todoql::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One clear line, no backtrace: this is what an operator sees on a bad start.
            eprintln!("todoql: {error}");
            ExitCode::FAILURE
        }
    }
}
