//! The `todoql` binary: parse the command line, start logging, run the command.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc returns the 19 MiB argon2 buffers to the system: with glibc's malloc, freed
/// buffers pile up in per-thread arenas (hundreds of MiB under a sign-in flood), and it is
/// faster on the allocation-heavy GraphQL path too (see README, Performance).
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
