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
            spacing: rate.and_then(|r| Duration::try_from_secs_f64(1.0 / r).ok()),
            next_start: Mutex::new(Instant::now()),
        }
    }

    /// Waits for a free slot and for the next start time the rate allows. Starts are spaced
    /// evenly (no bursts), so any window of T seconds holds at most `T * rate + 1` requests.
    /// The request counts as in flight until the permit is dropped. (`None` only if the
    /// semaphore were closed, which it never is: the request then goes without a slot.)
    pub async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        let permit = self.in_flight.acquire().await.ok();
        let start = {
            let mut next = self.next_start();
            let start = (*next).max(Instant::now());
            *next = start + self.spacing.unwrap_or(Duration::ZERO);
            start
        };
        tokio::time::sleep_until(start).await;
        permit
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
