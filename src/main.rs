//! The `todoql` binary: parse the command line, start logging, run the command.

use std::process::ExitCode;

use clap::Parser;

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
