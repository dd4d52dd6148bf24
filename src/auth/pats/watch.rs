//! A socket's watch on the personal access token that authenticated it: resolves once the
//! token is revoked, so the socket can close with 4403.

use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError};

use super::revocations::Revoked;
use super::verify::still_valid;
use crate::state::State;

/// Watches one token's revocation. Made before the token is looked up, so that a revocation
/// committed after the lookup cannot slip between the two.
pub struct Watch {
    receiver: broadcast::Receiver<Revoked>,
    state: State,
    token_id: Option<String>,
    /// Announcements may have been missed: the token must be looked up again. Kept across
    /// cancellations (a socket's loop drops this future whenever it sends something).
    recheck: bool,
}

impl Watch {
    /// Starts watching revocations, for a token not looked up yet.
    pub fn start(state: &State) -> Self {
        Self { receiver: state.pats.watch(), state: state.clone(), token_id: None, recheck: false }
    }

    /// Names the token to watch, once the lookup found it.
    pub fn of(mut self, token_id: String) -> Self {
        self.token_id = Some(token_id);
        self
    }

    /// Resolves once the token is revoked (or found gone after missed announcements).
    pub async fn revoked(&mut self) {
        let Some(token_id) = self.token_id.clone() else {
            return std::future::pending().await;
        };
        loop {
            if self.recheck {
                match still_valid(&self.state, &token_id).await {
                    Ok(false) => return,
                    Ok(true) => self.recheck = false,
                    // The database cannot say now: ask again shortly.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            match self.receiver.recv().await {
                Ok(Revoked::Token(id)) if *id == *token_id => return,
                Ok(Revoked::Token(_)) => {}
                Ok(Revoked::Unknown) | Err(RecvError::Lagged(_)) => self.recheck = true,
                Err(RecvError::Closed) => return std::future::pending().await,
            }
        }
    }
}

/// Resolves once the watched token is revoked; never without a watch.
pub async fn revoked(watch: &mut Option<Watch>) {
    match watch {
        Some(watch) => watch.revoked().await,
        None => std::future::pending().await,
    }
}
