//! When the JWKS may be fetched again: a cooldown between any two fetches (so tokens naming
//! random `kid`s cannot make todoql hammer the issuer) and a freshness lifetime taken from
//! `Cache-Control`. Pure bookkeeping over instants the caller passes in.

use std::time::{Duration, Instant};

/// The least time between two fetches of the JWKS, whatever asks for them.
pub const COOLDOWN: Duration = Duration::from_secs(5);
/// How long a JWKS stays fresh when its response says nothing (Better Auth's says nothing).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The longest a JWKS is trusted without a refetch, whatever its `max-age`.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// The fetch history of one key set.
#[derive(Debug)]
pub struct Schedule {
    cooldown: Duration,
    last_attempt: Option<Instant>,
    fresh_until: Option<Instant>,
    last_failed: bool,
}

impl Default for Schedule {
    fn default() -> Self {
        Self::with_cooldown(COOLDOWN)
    }
}

impl Schedule {
    /// A schedule that has never fetched, with its own cooldown.
    pub fn with_cooldown(cooldown: Duration) -> Self {
        Self { cooldown, last_attempt: None, fresh_until: None, last_failed: false }
    }

    /// Whether a fetch may start at `now`: none has started within the cooldown.
    pub fn may_fetch(&self, now: Instant) -> bool {
        self.last_attempt.is_none_or(|at| now.saturating_duration_since(at) >= self.cooldown)
    }

    /// How long until a fetch may start.
    pub fn wait(&self, now: Instant) -> Duration {
        self.last_attempt.map_or(Duration::ZERO, |at| (at + self.cooldown).saturating_duration_since(now))
    }

    /// Whether the keys held are past their freshness lifetime (or there are none).
    pub fn is_stale(&self, now: Instant) -> bool {
        self.fresh_until.is_none_or(|until| now >= until)
    }

    /// Whether the last fetch failed (or none has finished yet).
    pub fn is_unhealthy(&self) -> bool {
        self.last_failed || self.fresh_until.is_none()
    }

    /// Records that a fetch starts at `now`.
    pub fn started(&mut self, now: Instant) {
        self.last_attempt = Some(now);
    }

    /// Records a successful fetch at `now`, fresh for `max_age` (the default when `None`),
    /// bounded by the cooldown below and [`MAX_TTL`] above.
    pub fn succeeded(&mut self, now: Instant, max_age: Option<Duration>) {
        let ttl = max_age.unwrap_or(DEFAULT_TTL).clamp(self.cooldown, MAX_TTL);
        self.fresh_until = Some(now + ttl);
        self.last_failed = false;
    }

    /// Records a failed fetch: the keys held (if any) are kept.
    pub fn failed(&mut self) {
        self.last_failed = true;
    }
}

/// The freshness lifetime a `Cache-Control` value grants: `max-age` (`s-maxage` is for
/// shared caches and ignored), zero for `no-cache`/`no-store`, `None` when it says neither.
pub fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "no-cache" | "no-store" => return Some(Duration::ZERO),
            "max-age" => age = value.trim().trim_matches('"').parse().ok().map(Duration::from_secs),
            _ => {}
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(5);

    #[test]
    fn the_first_fetch_may_start_at_once() {
        let schedule = Schedule::with_cooldown(COOL);
        let now = Instant::now();
        assert!(schedule.may_fetch(now));
        assert!(schedule.is_stale(now));
        assert!(schedule.is_unhealthy());
        assert_eq!(schedule.wait(now), Duration::ZERO);
    }

    #[test]
    fn a_second_fetch_waits_for_the_cooldown_whatever_the_outcome_of_the_first() {
        let t0 = Instant::now();
        for succeeded in [true, false] {
            let mut schedule = Schedule::with_cooldown(COOL);
            schedule.started(t0);
            if succeeded {
                schedule.succeeded(t0, Some(Duration::ZERO));
            } else {
                schedule.failed();
            }
            assert!(!schedule.may_fetch(t0 + Duration::from_millis(10)));
            assert!(!schedule.may_fetch(t0 + COOL - Duration::from_millis(1)));
            assert_eq!(schedule.wait(t0 + Duration::from_secs(2)), Duration::from_secs(3));
            assert!(schedule.may_fetch(t0 + COOL));
        }
    }

    #[test]
    fn a_burst_of_unknown_kids_allows_one_fetch_per_cooldown() {
        let t0 = Instant::now();
        let mut schedule = Schedule::with_cooldown(COOL);
        let mut fetches = 0;
        // 1000 requests spread over 12 seconds, each asking for a refetch.
        for i in 0..1000u64 {
            let now = t0 + Duration::from_millis(i * 12);
            if schedule.may_fetch(now) {
                schedule.started(now);
                schedule.succeeded(now, None);
                fetches += 1;
            }
        }
        assert_eq!(fetches, 3, "at 0 s, 5 s and 10 s");
    }

    #[test]
    fn freshness_follows_max_age_within_bounds() {
        let t0 = Instant::now();
        let mut schedule = Schedule::with_cooldown(COOL);
        schedule.succeeded(t0, Some(Duration::from_secs(60)));
        assert!(!schedule.is_stale(t0 + Duration::from_secs(59)));
        assert!(schedule.is_stale(t0 + Duration::from_secs(60)));
        assert!(!schedule.is_unhealthy());

        schedule.succeeded(t0, None);
        assert!(!schedule.is_stale(t0 + DEFAULT_TTL - Duration::from_secs(1)));
        assert!(schedule.is_stale(t0 + DEFAULT_TTL));

        schedule.succeeded(t0, Some(Duration::ZERO));
        assert!(!schedule.is_stale(t0 + COOL - Duration::from_millis(1)), "never fresher than the cooldown allows");

        schedule.succeeded(t0, Some(Duration::from_secs(365 * 24 * 3600)));
        assert!(schedule.is_stale(t0 + MAX_TTL));
    }

    #[test]
    fn a_failure_keeps_the_keys_but_marks_the_set_unhealthy() {
        let t0 = Instant::now();
        let mut schedule = Schedule::with_cooldown(COOL);
        schedule.succeeded(t0, None);
        schedule.failed();
        assert!(schedule.is_unhealthy());
        assert!(!schedule.is_stale(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn cache_control_max_age_is_read() {
        assert_eq!(max_age("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(max_age("Max-Age = 30"), Some(Duration::from_secs(30)));
        assert_eq!(max_age("max-age=\"45\", must-revalidate"), Some(Duration::from_secs(45)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("max-age=600, no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("s-maxage=600"), None);
        assert_eq!(max_age("max-age=soon"), None);
        assert_eq!(max_age(""), None);
    }
}
