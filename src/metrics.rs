//! Prometheus metrics: request counts and latency by operation, authentication failures by
//! reason, document cache hits and misses, database statements and pool usage. Atomic counters
//! behind one read-write lock per family: the label sets are small and bounded (operations are
//! named by their root fields).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::graphql::CacheCounts;

mod routes;

/// Latency bucket bounds, seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Distinct operation labels kept; later ones are counted as `other`.
const MAX_OPERATIONS: usize = 200;

/// One latency histogram: a count per bucket (not cumulative: each request adds to one
/// bucket, the exposition sums them), the request count and the summed microseconds.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|&bound| secs <= bound) {
            self.buckets[bucket].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }
}

/// The process's metrics. Requests only read-lock the families (a label seen before is found,
/// its counters are atomics), so the runtime's threads never wait on each other to count;
/// only a new label takes the write lock.
#[derive(Default)]
pub struct Metrics {
    /// By operation, then outcome.
    requests: RwLock<BTreeMap<String, BTreeMap<&'static str, Histogram>>>,
    auth_failures: RwLock<BTreeMap<&'static str, AtomicU64>>,
    /// The REST routes, by route, method and status.
    routes: routes::Routes,
}

impl Metrics {
    /// Records one GraphQL request: its operation label, outcome and duration.
    pub fn request(&self, operation: &str, outcome: &'static str, elapsed: Duration) {
        if let Ok(requests) = self.requests.read()
            && let Some(histogram) = requests.get(operation).and_then(|outcomes| outcomes.get(outcome))
        {
            histogram.observe(elapsed);
            return;
        }
        let Ok(mut requests) = self.requests.write() else { return };
        let label =
            if requests.contains_key(operation) || requests.len() < MAX_OPERATIONS { operation } else { "other" };
        let outcomes = requests.entry(label.to_owned()).or_default();
        outcomes.entry(outcome).or_default().observe(elapsed);
    }

    /// Records one request of a plain HTTP route: its matched path, method and status.
    pub fn route(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        self.routes.observe(route, method, status, elapsed);
    }

    /// Records a refused token.
    pub fn auth_failure(&self, reason: &'static str) {
        if let Ok(failures) = self.auth_failures.read()
            && let Some(count) = failures.get(reason)
        {
            count.fetch_add(1, Relaxed);
            return;
        }
        if let Ok(mut failures) = self.auth_failures.write() {
            failures.entry(reason).or_default().fetch_add(1, Relaxed);
        }
    }

    /// The Prometheus text exposition, with the document cache's and the database's figures
    /// appended.
    pub fn render(&self, statements: u64, pool_size: u32, pool_idle: usize, documents: CacheCounts) -> String {
        let mut out = String::new();
        out.push_str("# HELP todoql_graphql_requests_seconds GraphQL requests by operation and outcome.\n");
        out.push_str("# TYPE todoql_graphql_requests_seconds histogram\n");
        if let Ok(requests) = self.requests.read() {
            let series =
                requests.iter().flat_map(|(operation, outcomes)| outcomes.iter().map(move |(o, h)| (operation, o, h)));
            for (operation, outcome, h) in series {
                let labels = format!("operation=\"{}\",outcome=\"{outcome}\"", escape(operation));
                // Read the count first: a request counted meanwhile may show in a bucket and
                // not yet in the count, never the other way round past +Inf.
                let count = h.count.load(Relaxed);
                let mut cumulative = 0;
                for (bucket, bound) in h.buckets.iter().zip(BUCKETS) {
                    cumulative = (cumulative + bucket.load(Relaxed)).min(count);
                    let _ =
                        writeln!(out, "todoql_graphql_requests_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
                }
                let sum = h.micros.load(Relaxed) as f64 / 1e6;
                let _ = writeln!(out, "todoql_graphql_requests_seconds_bucket{{{labels},le=\"+Inf\"}} {count}");
                let _ = writeln!(out, "todoql_graphql_requests_seconds_sum{{{labels}}} {sum}");
                let _ = writeln!(out, "todoql_graphql_requests_seconds_count{{{labels}}} {count}");
            }
        }
        self.routes.render(&mut out);
        out.push_str("# HELP todoql_auth_failures_total Refused bearer tokens by reason.\n");
        out.push_str("# TYPE todoql_auth_failures_total counter\n");
        if let Ok(failures) = self.auth_failures.read() {
            for (reason, count) in failures.iter() {
                let count = count.load(Relaxed);
                let _ = writeln!(out, "todoql_auth_failures_total{{reason=\"{}\"}} {count}", escape(reason));
            }
        }
        let CacheCounts { parse_hits, parse_misses, validation_hits, validation_misses, entries } = documents;
        let _ = write!(
            out,
            "# HELP todoql_graphql_document_cache_total Document cache lookups by stage and result \
             (a miss parses or validates afresh).\n\
             # TYPE todoql_graphql_document_cache_total counter\n\
             todoql_graphql_document_cache_total{{stage=\"parse\",result=\"hit\"}} {parse_hits}\n\
             todoql_graphql_document_cache_total{{stage=\"parse\",result=\"miss\"}} {parse_misses}\n\
             todoql_graphql_document_cache_total{{stage=\"validation\",result=\"hit\"}} {validation_hits}\n\
             todoql_graphql_document_cache_total{{stage=\"validation\",result=\"miss\"}} {validation_misses}\n\
             # HELP todoql_graphql_document_cache_entries Query texts held by the document cache.\n\
             # TYPE todoql_graphql_document_cache_entries gauge\n\
             todoql_graphql_document_cache_entries {entries}\n"
        );
        let _ = write!(
            out,
            "# HELP todoql_db_statements_total SQL statements issued.\n\
             # TYPE todoql_db_statements_total counter\n\
             todoql_db_statements_total {statements}\n\
             # HELP todoql_db_pool_connections Open database connections.\n\
             # TYPE todoql_db_pool_connections gauge\n\
             todoql_db_pool_connections {pool_size}\n\
             # HELP todoql_db_pool_idle_connections Idle database connections.\n\
             # TYPE todoql_db_pool_idle_connections gauge\n\
             todoql_db_pool_idle_connections {pool_idle}\n"
        );
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_in_the_exposition_and_labels_are_bounded() {
        let metrics = Metrics::default();
        for millis in [0, 2, 2, 40, 20_000] {
            metrics.request("todos", "ok", Duration::from_millis(millis));
        }
        metrics.request("todos", "error", Duration::from_millis(1));
        for n in 0..MAX_OPERATIONS + 5 {
            metrics.request(&format!("op{n}"), "ok", Duration::ZERO);
        }
        metrics.auth_failure("the token has expired");
        metrics.auth_failure("the token has expired");
        let text = metrics.render(0, 0, 0, CacheCounts::default());
        let series = |s: &str| {
            let line = text.lines().find(|l| l.starts_with(s)).unwrap_or_else(|| panic!("no {s} in\n{text}"));
            line.rsplit(' ').next().unwrap().to_owned()
        };
        let ok = "operation=\"todos\",outcome=\"ok\"";
        assert_eq!(series(&format!("todoql_graphql_requests_seconds_bucket{{{ok},le=\"0.001\"}}")), "1");
        assert_eq!(series(&format!("todoql_graphql_requests_seconds_bucket{{{ok},le=\"0.0025\"}}")), "3");
        assert_eq!(series(&format!("todoql_graphql_requests_seconds_bucket{{{ok},le=\"0.05\"}}")), "4");
        assert_eq!(series(&format!("todoql_graphql_requests_seconds_bucket{{{ok},le=\"10\"}}")), "4");
        assert_eq!(series(&format!("todoql_graphql_requests_seconds_bucket{{{ok},le=\"+Inf\"}}")), "5");
        assert_eq!(series(&format!("todoql_graphql_requests_seconds_count{{{ok}}}")), "5");
        assert_eq!(series(&format!("todoql_graphql_requests_seconds_sum{{{ok}}}")), "20.044");
        assert_eq!(series("todoql_graphql_requests_seconds_count{operation=\"todos\",outcome=\"error\"}"), "1");
        // 200 labels at most: the todos one and 199 others; the rest count as `other`.
        assert_eq!(series("todoql_graphql_requests_seconds_count{operation=\"other\",outcome=\"ok\"}"), "6");
        assert_eq!(series("todoql_auth_failures_total{reason=\"the token has expired\"}"), "2");
    }
}
