//! The load a run puts on the API: at most N requests in flight, at most R started per second,
//! and none while the API asked for a pause (`Retry-After`).
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

#[derive(Debug)]
pub struct Limiter {
    in_flight: Semaphore,
    /// The gap between two request starts (`1 / rate`), if a rate is set.
    spacing: Option<Duration>,
    /// The earliest instant the next request may start (the rate's spacing, or a pause).
    next_start: Mutex<Instant>,
}

impl Limiter {
    /// `concurrency` is at least 1; a `rate` of `None` means no limit.
    pub fn new(concurrency: usize, rate: Option<f64>) -> Limiter {
        Limiter {
            in_flight: Semaphore::new(concurrency.max(1)),
            // A rate too small for a `Duration` is the longest spacing, not "no limit".
            spacing: rate.map(|r| Duration::try_from_secs_f64(1.0 / r).unwrap_or(Duration::MAX)),
            next_start: Mutex::new(Instant::now()),
        }
    }

    /// Waits for a free slot and for the next start time the rate allows. Starts are spaced
    /// evenly (no bursts), so any window of T seconds holds at most `T * rate + 1` requests.
    /// The request counts as in flight until the permit is dropped. (`None` only if the
    /// semaphore were closed, which it never is: the request then goes without a slot.)
    pub async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        let permit = self.in_flight.acquire().await.ok();
        self.pace().await;
        permit
    }

    /// Waits for the next start time the rate allows, without taking a slot: a redirect hop
    /// of a request that already holds one is a request of its own for the rate.
    pub async fn pace(&self) {
        let start = {
            let mut next = self.next_start();
            let start = (*next).max(Instant::now());
            // A spacing beyond what the clock can add (a rate the command line refuses)
            // holds every later start as far as it can, never panics.
            *next = start
                .checked_add(self.spacing.unwrap_or(Duration::ZERO))
                .unwrap_or(start + Duration::from_secs(86_400 * 365));
            start
        };
        tokio::time::sleep_until(start).await;
    }

    /// No request starts before `until`: the API answered 429 with `Retry-After`, which is
    /// about the client, not one request, so the others hold off too.
    pub fn pause_until(&self, until: Instant) {
        let mut next = self.next_start();
        *next = (*next).max(until);
    }

    fn next_start(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.next_start
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn starts_are_spaced_by_the_rate() {
        block_on(async {
            let limiter = Limiter::new(8, Some(50.0));
            let t0 = Instant::now();
            for _ in 0..6 {
                let _permit = limiter.acquire().await;
            }
            // Five gaps of 20 ms: the sixth start is 100 ms after the first.
            assert!(t0.elapsed() >= Duration::from_millis(100));
        });
    }

    #[test]
    fn an_absurd_rate_never_panics_and_never_means_no_limit() {
        block_on(async {
            for rate in [1e-19, 1e-30] {
                let limiter = Limiter::new(8, Some(rate));
                let _first = limiter.acquire().await;
                let second =
                    tokio::time::timeout(Duration::from_millis(50), limiter.acquire()).await;
                assert!(second.is_err(), "rate {rate}: the second start must wait");
            }
        });
    }

    #[test]
    fn a_pause_holds_every_start() {
        block_on(async {
            let limiter = Limiter::new(8, None);
            let t0 = Instant::now();
            limiter.pause_until(t0 + Duration::from_millis(80));
            // An earlier pause does not shorten a later one.
            limiter.pause_until(t0 + Duration::from_millis(10));
            let _permit = limiter.acquire().await;
            assert!(t0.elapsed() >= Duration::from_millis(80));
            let t1 = Instant::now();
            let _again = limiter.acquire().await;
            assert!(t1.elapsed() < Duration::from_millis(50), "no rate: no wait");
        });
    }

    #[test]
    fn at_most_n_in_flight() {
        block_on(async {
            let limiter = Limiter::new(2, None);
            let a = limiter.acquire().await;
            let _b = limiter.acquire().await;
            let third = tokio::time::timeout(Duration::from_millis(20), limiter.acquire()).await;
            assert!(third.is_err());
            drop(a);
            let third = tokio::time::timeout(Duration::from_secs(5), limiter.acquire()).await;
            assert!(third.is_ok());
        });
    }
}
