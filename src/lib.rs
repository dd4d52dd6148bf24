//! todoql: a GraphQL API server for a multi-user todo application.
//!
//! A map of the crate:
//!
//! - [`config`]: the command line and environment, read once.
//! - [`app`]: builds the database, schema and router, and serves them.
//! - [`http`]: routes: GraphQL over HTTP, health, playground.
//! - [`graphql`]: the schema, merged from each domain, and its limits.
//! - [`rest`]: the REST routes of the FastAPI-era frontend and their OpenAPI document.
//! - [`auth`]: tokens, passwords, refresh tokens, the caller and the guards.
//! - [`users`], [`todos`]: one folder per domain, each with its GraphQL types and store.
//! - [`db`], [`error`], [`state`], [`clock`]: plumbing shared by all of them.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod loaders;
pub mod metrics;
pub mod rest;
pub mod state;
pub mod telemetry;
pub mod threads;
pub mod todos;
pub mod users;

use config::{Cli, Command};

/// Runs one `todoql` command to completion.
pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Some(Command::Schema) => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Some(Command::Openapi) => {
            print!("{}", rest::openapi());
            Ok(())
        }
        Some(Command::Migrate(database)) => {
            let config = config::Config::for_database(database.database_url);
            db::migrate(&config).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Some(Command::Serve(config)) => serve(*config).await,
        None => serve(cli.config).await,
    }
}

async fn serve(config: config::Config) -> Result<(), Box<dyn std::error::Error>> {
    let grace = std::time::Duration::from_secs(config.shutdown_grace);
    let listener = app::bind(&config).await?;
    let served = app::build(config).await?;
    tracing::info!(addr = %listener.local_addr()?, "todoql is serving GraphQL at /graphql");
    app::serve(listener, served, app::shutdown_signal(), grace).await?;
    tracing::info!("stopped");
    Ok(())
}
