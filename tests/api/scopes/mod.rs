//! Scopes and personal access tokens (issue 15), over real HTTP: the schema declares every
//! field's requirement (`deny_by_default`), every root operation is allowed or refused as
//! declared for every set of scopes (`matrix`), refusals clients can act on (`refusals`),
//! personal access tokens (`tokens`), the REST routes (`rest`) and, on PostgreSQL, revocation
//! across instances (`instances`). Subscriptions: `subscriptions::tokens`.

mod deny_by_default;
mod instances;
mod matrix;
mod refusals;
mod rest;
pub(crate) mod support;
mod tokens;
