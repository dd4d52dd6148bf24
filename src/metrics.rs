//! Prometheus metrics: request counts and latency by operation, authentication failures by
//! reason, document cache hits and misses, database statements and pool usage. Plain atomics behind one lock per family: the
//! label sets are small and bounded (operations are named by their root fields).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::graphql::CacheCounts;

/// Latency bucket bounds, seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Distinct operation labels kept; later ones are counted as `other`.
const MAX_OPERATIONS: usize = 200;

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    /// By operation, then outcome.
    requests: Mutex<BTreeMap<String, BTreeMap<&'static str, Histogram>>>,
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Records one GraphQL request: its operation label, outcome and duration.
    pub fn request(&self, operation: &str, outcome: &'static str, elapsed: Duration) {
        let Ok(mut requests) = self.requests.lock() else { return };
        // A known operation is found without allocating its label again.
        let label =
            if requests.contains_key(operation) || requests.len() < MAX_OPERATIONS { operation } else { "other" };
        if !requests.contains_key(label) {
            requests.insert(label.to_owned(), BTreeMap::new());
        }
        let Some(outcomes) = requests.get_mut(label) else { return };
        let histogram = outcomes.entry(outcome).or_default();
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += secs;
    }

    /// Records a refused token.
    pub fn auth_failure(&self, reason: &'static str) {
        if let Ok(mut failures) = self.auth_failures.lock() {
            *failures.entry(reason).or_default() += 1;
        }
    }

    /// The Prometheus text exposition, with the document cache's and the database's figures
    /// appended.
    pub fn render(&self, statements: u64, pool_size: u32, pool_idle: usize, documents: CacheCounts) -> String {
        let mut out = String::new();
        out.push_str("# HELP todoql_graphql_requests_seconds GraphQL requests by operation and outcome.\n");
        out.push_str("# TYPE todoql_graphql_requests_seconds histogram\n");
        if let Ok(requests) = self.requests.lock() {
            let series =
                requests.iter().flat_map(|(operation, outcomes)| outcomes.iter().map(move |(o, h)| (operation, o, h)));
            for (operation, outcome, h) in series {
                let labels = format!("operation=\"{}\",outcome=\"{outcome}\"", escape(operation));
                for (count, bound) in h.buckets.iter().zip(BUCKETS) {
                    let _ = writeln!(out, "todoql_graphql_requests_seconds_bucket{{{labels},le=\"{bound}\"}} {count}");
                }
                let _ = writeln!(out, "todoql_graphql_requests_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "todoql_graphql_requests_seconds_sum{{{labels}}} {}", h.sum);
                let _ = writeln!(out, "todoql_graphql_requests_seconds_count{{{labels}}} {}", h.count);
            }
        }
        out.push_str("# HELP todoql_auth_failures_total Refused bearer tokens by reason.\n");
        out.push_str("# TYPE todoql_auth_failures_total counter\n");
        if let Ok(failures) = self.auth_failures.lock() {
            for (reason, count) in failures.iter() {
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
