//! When to try a registry request again, and how long to wait: jittered exponential back-off
//! within a bounded number of tries and a bounded total time, honouring `Retry-After`.

use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The longest single wait between two tries.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// How hard to try before giving up on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries after the first (0: never retry).
    pub retries: u32,
    /// The bound on one request's tries and waits together.
    pub max_time: Duration,
    /// The first wait; each later one doubles, up to 30 s, with full jitter.
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 5,
            max_time: Duration::from_secs(300),
            first_delay: Duration::from_millis(500),
        }
    }
}

/// Statuses worth another try: the registry (or something in front of it) is overloaded,
/// restarting or timed out, and the same request may well succeed later.
pub(super) fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Transport errors worth another try: resets, timeouts, refused connections (a registry
/// restarting), bodies cut short. Errors in building the request or in TLS verification are not.
pub(super) fn is_transient_error(error: &reqwest::Error) -> bool {
    if error.is_builder() || error.is_redirect() {
        return false;
    }
    if is_certificate_error(error) {
        return false;
    }
    // A body cut short surfaces as a body or a decode error, depending on where it broke.
    error.is_connect()
        || error.is_timeout()
        || error.is_request()
        || error.is_body()
        || error.is_decode()
}

fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("invalid peer") {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The wait a response asks for: `Retry-After` in seconds or as an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The tries of one request. The time bound runs from the first failure, and starts again
/// when a long transfer makes progress after one ([`Attempts::progressed`]).
#[derive(Debug)]
pub(super) struct Attempts {
    policy: RetryPolicy,
    first_failure: Option<Instant>,
    /// Failed tries so far.
    pub tries: u32,
}

impl Attempts {
    pub fn new(policy: RetryPolicy) -> Self {
        Attempts {
            policy,
            first_failure: None,
            tries: 0,
        }
    }

    /// The time since the first failure.
    pub fn elapsed(&self) -> Duration {
        self.first_failure.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// A transfer moved on after a failure: its next failure gets a full set of tries.
    pub fn progressed(&mut self) {
        self.first_failure = None;
        self.tries = 0;
    }

    /// Counts a try that failed in a way worth retrying, and says how long to wait before the
    /// next; `None` when the tries or the time are used up (or `asked` is past the bound).
    pub fn next_delay(&mut self, asked: Option<Duration>) -> Option<Duration> {
        self.first_failure.get_or_insert_with(Instant::now);
        self.tries += 1;
        if self.tries > self.policy.retries {
            return None;
        }
        let delay = match asked {
            Some(asked) => asked,
            None => jittered(self.policy.first_delay, self.tries),
        };
        if self.elapsed() + delay > self.policy.max_time {
            return None;
        }
        Some(delay)
    }
}

/// Full jitter (a uniform wait between zero and the exponential bound), so that many clients
/// failing together don't come back together.
fn jittered(first: Duration, retry: u32) -> Duration {
    let bound = first
        .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
        .min(MAX_DELAY);
    bound.mul_f64(random_fraction())
}

/// A fraction in [0, 1) from the clock and a per-process counter: jitter needs spread, not
/// unpredictability.
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn transient_statuses() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(
                is_transient_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 405, 413, 501] {
            assert!(
                !is_transient_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(60);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn tries_are_bounded_in_number() {
        let mut attempts = Attempts::new(RetryPolicy {
            retries: 3,
            max_time: Duration::from_secs(60),
            first_delay: Duration::from_millis(100),
        });
        for retry in 1..=3u32 {
            let delay = attempts.next_delay(None).expect("a retry left");
            assert!(
                delay <= Duration::from_millis(100) * 2u32.pow(retry - 1),
                "{delay:?}"
            );
        }
        assert_eq!(attempts.next_delay(None), None);
        assert_eq!(attempts.tries, 4);
        attempts.progressed();
        assert!(
            attempts.next_delay(None).is_some(),
            "progress gives the tries back"
        );
    }

    #[test]
    fn tries_are_bounded_in_time() {
        let mut attempts = Attempts::new(RetryPolicy {
            retries: 100,
            max_time: Duration::from_secs(10),
            first_delay: Duration::from_millis(1),
        });
        assert_eq!(
            attempts.next_delay(Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            attempts.next_delay(Some(Duration::from_secs(11))),
            None,
            "past the bound"
        );
    }

    #[test]
    fn waits_grow_exponentially_up_to_the_cap() {
        let first = Duration::from_millis(500);
        for retry in 1..=20 {
            let bound = (first * 2u32.saturating_pow(retry - 1)).min(MAX_DELAY);
            assert!(jittered(first, retry) <= bound);
        }
        let spread: std::collections::HashSet<_> =
            (0..20).map(|_| jittered(first, 4).as_micros()).collect();
        assert!(spread.len() > 10, "jitter spreads the waits: {spread:?}");
    }
}
