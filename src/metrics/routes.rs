//! Request latency of the plain HTTP routes (the REST routes of `rest/`) by route and status:
//! the counterpart of the GraphQL histogram, which names requests by operation instead.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::RwLock;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{BUCKETS, Histogram, escape};

/// Histograms by route (the router's matched path, e.g. `/api/{user_id}/tasks`), then method
/// and status code. Routes are the router's own, methods and statuses a handful, so the label
/// set is bounded; requests that match no route are not counted here.
#[derive(Default)]
pub(super) struct Routes(RwLock<BTreeMap<String, ByMethodAndStatus>>);

/// One route's histograms, by method and status code.
type ByMethodAndStatus = BTreeMap<(&'static str, u16), Histogram>;

impl Routes {
    /// Records one request.
    pub(super) fn observe(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        if let Ok(routes) = self.0.read()
            && let Some(histogram) = routes.get(route).and_then(|by| by.get(&(method, status)))
        {
            histogram.observe(elapsed);
            return;
        }
        if let Ok(mut routes) = self.0.write() {
            let by = routes.entry(route.to_owned()).or_default();
            by.entry((method, status)).or_default().observe(elapsed);
        }
    }

    /// Appends the `todoql_http_requests_seconds` family.
    pub(super) fn render(&self, out: &mut String) {
        out.push_str("# HELP todoql_http_requests_seconds REST requests by route, method and status.\n");
        out.push_str("# TYPE todoql_http_requests_seconds histogram\n");
        let Ok(routes) = self.0.read() else { return };
        let series = routes.iter().flat_map(|(route, by)| by.iter().map(move |(key, h)| (route, key, h)));
        for (route, (method, status), h) in series {
            let labels = format!("route=\"{}\",method=\"{method}\",status=\"{status}\"", escape(route));
            // The count first, as for the GraphQL histogram: no bucket ever exceeds it.
            let count = h.count.load(Relaxed);
            let mut cumulative = 0;
            for (bucket, bound) in h.buckets.iter().zip(BUCKETS) {
                cumulative = (cumulative + bucket.load(Relaxed)).min(count);
                let _ = writeln!(out, "todoql_http_requests_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let sum = h.micros.load(Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "todoql_http_requests_seconds_bucket{{{labels},le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "todoql_http_requests_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "todoql_http_requests_seconds_count{{{labels}}} {count}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_labelled_by_route_and_status_with_cumulative_buckets() {
        let routes = Routes::default();
        routes.observe("/api/{user_id}/tasks", "GET", 200, Duration::from_millis(2));
        routes.observe("/api/{user_id}/tasks", "GET", 200, Duration::from_millis(40));
        routes.observe("/api/{user_id}/tasks", "GET", 401, Duration::ZERO);
        routes.observe("/api/{user_id}/tasks", "POST", 201, Duration::ZERO);
        let mut text = String::new();
        routes.render(&mut text);
        let ok = "route=\"/api/{user_id}/tasks\",method=\"GET\",status=\"200\"";
        assert!(text.contains(&format!("todoql_http_requests_seconds_bucket{{{ok},le=\"0.0025\"}} 1\n")), "{text}");
        assert!(text.contains(&format!("todoql_http_requests_seconds_bucket{{{ok},le=\"0.05\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("todoql_http_requests_seconds_count{{{ok}}} 2\n")), "{text}");
        let refused = "route=\"/api/{user_id}/tasks\",method=\"GET\",status=\"401\"";
        assert!(text.contains(&format!("todoql_http_requests_seconds_count{{{refused}}} 1\n")), "{text}");
        let created = "route=\"/api/{user_id}/tasks\",method=\"POST\",status=\"201\"";
        assert!(text.contains(&format!("todoql_http_requests_seconds_count{{{created}}} 1\n")), "{text}");
    }
}
