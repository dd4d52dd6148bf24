//! Each user's cost budget (issue 13), in the style of Shopify's and GitHub's GraphQL rate
//! limits: a leaky bucket per user that every query and mutation draws its calculated cost
//! from (the complexity the limits already compute: a connection's fields count once per item
//! it may hold), refilling at a steady rate.
//!
//! An operation that does not fit in what is left is refused before it runs (`RATE_LIMITED`
//! with `retryAfter`, the seconds until it fits), and every response to a signed-in user
//! carries `extensions.cost` — what the operation cost, what is left, the bucket's size and
//! its refill rate — so a client can pace itself.
//!
//! Charging happens in memory, on the request's thread. With PostgreSQL, instances share the
//! budget through the `cost_budgets` table: every [`SYNC_EVERY`], each instance adds what its
//! users spent since the last sync to their shared level (leaked to now, in one upsert) and
//! takes back the total, which counts the other instances' spending. Between two syncs an
//! instance does not see the others' spending, so a user spread over `n` instances can spend at
//! most `n` syncs' worth past the limit.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_graphql::Value;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

use crate::clock;
use crate::error::{Error, Result};

/// How often an instance shares its users' spending (PostgreSQL).
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The cost budgets of this instance's users.
pub struct CostBudget {
    /// The bucket's size: the most one user may spend at once (0: no budget).
    capacity: f64,
    /// Cost that leaks out of a bucket per second.
    rate: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// One user's bucket.
struct Bucket {
    /// Cost in the bucket as of `at`.
    level: f64,
    at: Instant,
    /// Spent here and not yet added to the shared level.
    unshared: f64,
}

impl Bucket {
    /// The level at `now`, having leaked at `rate` per second since `at`.
    fn level_at(&self, rate: f64, now: Instant) -> f64 {
        (self.level - rate * now.duration_since(self.at).as_secs_f64()).max(0.0)
    }
}

/// What an admitted operation was charged, for `extensions.cost`.
#[derive(Clone, Copy, Debug)]
pub struct Charge {
    /// The operation's calculated cost.
    pub requested: u64,
    /// What is left in the budget after it.
    pub remaining: u64,
    /// The budget's size.
    pub limit: u64,
    /// What comes back per second.
    pub restore_rate: u64,
}

impl Charge {
    /// `extensions.cost`.
    pub fn to_value(self) -> Value {
        let mut cost = async_graphql::indexmap::IndexMap::new();
        cost.insert(async_graphql::Name::new("requested"), Value::from(self.requested));
        cost.insert(async_graphql::Name::new("remaining"), Value::from(self.remaining));
        cost.insert(async_graphql::Name::new("limit"), Value::from(self.limit));
        cost.insert(async_graphql::Name::new("restoreRate"), Value::from(self.restore_rate));
        Value::Object(cost)
    }
}

impl CostBudget {
    /// Buckets of `capacity` that refill at `rate` per second; a capacity of 0 turns the
    /// budget off.
    pub fn new(capacity: u64, rate: u64) -> Self {
        Self { capacity: capacity as f64, rate: rate.max(1) as f64, buckets: Mutex::default() }
    }

    /// Whether there is a budget at all.
    pub fn is_on(&self) -> bool {
        self.capacity > 0.0
    }

    /// Draws `cost` from `user_id`'s bucket, or says when it will fit (`RATE_LIMITED`).
    pub fn charge(&self, user_id: &str, cost: u64) -> Result<Charge> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = self.leaked(&mut buckets, user_id, now);
        // An operation bigger than the whole bucket (it cannot be: the complexity limit is
        // smaller) waits for an empty bucket rather than for ever.
        let cost_f = (cost as f64).min(self.capacity);
        let over = bucket.level + cost_f - self.capacity;
        if over > 0.0 {
            return Err(Error::BudgetSpent { retry_after: self.seconds_to_leak(over) });
        }
        bucket.level += cost_f;
        bucket.unshared += cost_f;
        Ok(Charge {
            requested: cost,
            remaining: (self.capacity - bucket.level).floor() as u64,
            limit: self.capacity as u64,
            restore_rate: self.rate as u64,
        })
    }

    /// When `user_id`'s bucket has not one unit of cost left, the seconds until it has:
    /// whatever their next operation, it would be refused, so it is before it is parsed.
    pub fn exhausted(&self, user_id: &str) -> Option<u64> {
        if !self.is_on() {
            return None;
        }
        let now = Instant::now();
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let over = buckets.get(user_id)?.level_at(self.rate, now) + 1.0 - self.capacity;
        (over > 0.0).then(|| self.seconds_to_leak(over))
    }

    /// Draws `cost` from `user_id`'s bucket, past what is left if need be (a debt of at most
    /// one bucket, paid back by the refill before anything else runs): for work done and
    /// refused (an operation that failed validation), which is not refused again. Charging
    /// only what was left would let a client whose bucket is empty have an operation
    /// validated each time one unit came back, thousands a second.
    pub fn spend(&self, user_id: &str, cost: u64) {
        if !self.is_on() {
            return;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = self.leaked(&mut buckets, user_id, now);
        let spent = (cost as f64).min(2.0 * self.capacity - bucket.level).max(0.0);
        bucket.level += spent;
        bucket.unshared += spent;
    }

    /// `user_id`'s bucket (a new, empty one for a user not seen), leaked to `now`.
    fn leaked<'a>(&self, buckets: &'a mut HashMap<String, Bucket>, user_id: &str, now: Instant) -> &'a mut Bucket {
        let bucket = buckets.entry(user_id.to_owned()).or_insert(Bucket { level: 0.0, at: now, unshared: 0.0 });
        bucket.level = bucket.level_at(self.rate, now);
        bucket.at = now;
        bucket
    }

    /// Whole seconds until `over` units have leaked out, at least one.
    fn seconds_to_leak(&self, over: f64) -> u64 {
        (over / self.rate).ceil().max(1.0) as u64
    }

    /// Forgets users whose buckets have emptied and whose spending is shared: the map holds
    /// only users active in the last `capacity / rate` seconds.
    pub fn forget_idle(&self) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets.retain(|_, b| b.unshared > 0.0 || b.level_at(self.rate, now) > 0.0);
    }

    /// Adds this instance's unshared spending to the shared levels and takes back the
    /// totals, one upsert per user that spent (PostgreSQL; SQLite has one instance).
    pub async fn share(&self, db: &DatabaseConnection) -> Result<()> {
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let spent: Vec<(String, f64)> = {
            let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            buckets
                .iter_mut()
                .filter(|(_, b)| b.unshared > 0.0)
                .map(|(user, b)| (user.clone(), std::mem::take(&mut b.unshared)))
                .collect()
        };
        let sql = "INSERT INTO cost_budgets (user_id, level, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (user_id) DO UPDATE SET \
                   level = GREATEST(0, cost_budgets.level - $4 * (EXCLUDED.updated_at - cost_budgets.updated_at) / 1e6) \
                   + EXCLUDED.level, updated_at = EXCLUDED.updated_at \
                   RETURNING level";
        for (user_id, amount) in spent {
            let now = clock::now_micros();
            let values = vec![user_id.clone().into(), amount.into(), now.into(), self.rate.into()];
            let statement = Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values);
            let shared = match db.query_one_raw(statement).await {
                Ok(Some(row)) => row.try_get::<f64>("", "level")?,
                Ok(None) => continue,
                Err(error) => {
                    // Not shared this time: kept for the next sync.
                    self.unshare(&user_id, amount);
                    return Err(error.into());
                }
            };
            let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(bucket) = buckets.get_mut(&user_id) {
                // What was spent here since the upsert was taken stays on top of the total.
                let moment = Instant::now();
                bucket.level = (shared + bucket.unshared).min(self.capacity * 2.0);
                bucket.at = moment;
            }
        }
        Ok(())
    }

    fn unshare(&self, user_id: &str, amount: f64) {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bucket) = buckets.get_mut(user_id) {
            bucket.unshared += amount;
        }
    }
}

/// Deletes shared levels that have leaked out entirely.
pub async fn sweep(db: &DatabaseConnection, capacity: u64, rate: u64) -> Result<u64> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(0);
    }
    let empty_after = i64::try_from(capacity.saturating_mul(2_000_000) / rate.max(1)).unwrap_or(i64::MAX);
    let before = clock::now_micros().saturating_sub(empty_after);
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "DELETE FROM cost_budgets WHERE updated_at < $1",
        vec![before.into()],
    );
    Ok(db.execute_raw(statement).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_what_does_not_fit_says_when_it_will_and_refills() {
        // A slow refill, so that a busy machine's pause between two lines changes nothing:
        // 20 short at 10/s is 2 s away (1 s if the thread stalled a whole second).
        let budget = CostBudget::new(100, 10);
        let charge = budget.charge("a", 60).unwrap();
        assert_eq!((charge.requested, charge.remaining, charge.limit, charge.restore_rate), (60, 40, 100, 10));
        match budget.charge("a", 60) {
            Err(Error::BudgetSpent { retry_after }) => assert!((1..=2).contains(&retry_after), "{retry_after}"),
            other => panic!("expected BudgetSpent, got {other:?}"),
        }
        assert!(budget.charge("b", 100).is_ok(), "each user has a bucket of their own");
        // A fast one refills in milliseconds (a pause only refills more).
        let fast = CostBudget::new(100, 1_000);
        fast.charge("a", 100).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert!(fast.charge("a", 25).is_ok(), "30 ms refill 30 at 1000/s");
    }

    #[test]
    fn retry_after_counts_the_seconds_until_the_cost_fits() {
        let budget = CostBudget::new(1_000, 10);
        budget.charge("a", 1_000).unwrap();
        match budget.charge("a", 500) {
            Err(Error::BudgetSpent { retry_after }) => assert!((49..=50).contains(&retry_after), "{retry_after}"),
            other => panic!("expected BudgetSpent, got {other:?}"),
        }
    }

    #[test]
    fn idle_users_are_forgotten_once_their_buckets_are_empty_and_shared() {
        let budget = CostBudget::new(100, 100_000);
        budget.charge("a", 10).unwrap();
        budget.buckets.lock().unwrap().get_mut("a").unwrap().unshared = 0.0;
        std::thread::sleep(Duration::from_millis(5));
        budget.forget_idle();
        assert!(budget.buckets.lock().unwrap().is_empty());
    }

    #[test]
    fn work_refused_after_it_was_done_drains_the_bucket_and_an_empty_bucket_is_known() {
        let budget = CostBudget::new(1_000, 10);
        assert_eq!(budget.exhausted("a"), None, "no bucket yet: a full budget");
        budget.spend("a", 600);
        assert_eq!(budget.exhausted("a"), None);
        // More than is left is charged in full, into a debt…
        budget.spend("a", 600);
        let retry_after = budget.exhausted("a").expect("nothing left");
        assert!((20..=21).contains(&retry_after), "the 200 of debt and one unit at 10/s: {retry_after}");
        assert!(matches!(budget.charge("a", 1), Err(Error::BudgetSpent { .. })));
        // …of at most one bucket.
        budget.spend("a", 5_000);
        let retry_after = budget.exhausted("a").expect("nothing left");
        assert!((100..=101).contains(&retry_after), "{retry_after}");
        assert_eq!(CostBudget::new(0, 10).exhausted("a"), None, "no budget at all");
    }
}
