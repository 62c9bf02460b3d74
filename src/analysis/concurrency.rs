//! Concurrency (docs/reference.md §5 and §7): a sweep over every participant's union gives the timeline,
//! the peak (value, first instant, time at it) and the empty time in one pass.
use super::intervals::Interval;
use crate::time::Millis;

/// One step of the timeline: from `at`, `concurrency` participants are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub at: Millis,
    pub concurrency: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concurrency {
    pub peak: u32,
    /// Earliest instant the peak is reached; `None` when the peak is 0.
    pub peak_at: Option<Millis>,
    /// Total time at the peak; 0 when the peak is 0.
    pub peak_ms: i64,
    /// Time inside the bounds with nobody present.
    pub empty_ms: i64,
    /// A step at `bounds.start`, then one at every change of value.
    pub timeline: Vec<Step>,
}

/// Sweeps the spans of the participants' unions, all of them in one list in any order (each
/// union is a list of disjoint spans inside `bounds`, so a participant counts once however many
/// connections it had).
///
/// The starts and the ends are sorted apart (two lists of plain instants sort faster than one
/// of `(instant, change)` pairs twice as long) and merged as the sweep goes.
pub fn sweep(bounds: Interval, spans: &[Interval]) -> Concurrency {
    let mut starts: Vec<Millis> = spans.iter().map(|span| span.start).collect();
    let mut ends: Vec<Millis> = spans.iter().map(|span| span.end).collect();
    starts.sort_unstable();
    ends.sort_unstable();

    // A step at the start, then at most one per instant that a span starts or ends.
    let mut timeline = Vec::with_capacity(1 + 2 * spans.len());
    timeline.push(Step {
        at: bounds.start,
        concurrency: 0,
    });
    let mut result = Concurrency {
        peak: 0,
        peak_at: None,
        peak_ms: 0,
        empty_ms: 0,
        timeline,
    };
    let mut value: u32 = 0;
    let mut since = bounds.start;
    let (mut started, mut ended) = (0, 0);
    loop {
        let at = match (starts.get(started), ends.get(ended)) {
            (Some(&start), Some(&end)) => start.min(end),
            (Some(&at), None) | (None, Some(&at)) => at,
            (None, None) => break,
        };
        result.account(value, since, at);
        let mut next = i64::from(value);
        while starts.get(started) == Some(&at) {
            next += 1;
            started += 1;
        }
        while ends.get(ended) == Some(&at) {
            next -= 1;
            ended += 1;
        }
        value = u32::try_from(next).unwrap_or(0);
        match result.timeline.last_mut() {
            Some(step) if step.at == at => step.concurrency = value,
            Some(step) if step.concurrency == value => {}
            _ => result.timeline.push(Step {
                at,
                concurrency: value,
            }),
        }
        since = at;
    }
    result.account(value, since, bounds.end.max(since));
    result
}

impl Concurrency {
    /// Books the span `[from, to)` spent at `value`.
    fn account(&mut self, value: u32, from: Millis, to: Millis) {
        let len = to - from;
        if len <= 0 {
            return;
        }
        if value == 0 {
            self.empty_ms += len;
        } else if value > self.peak {
            self.peak = value;
            self.peak_at = Some(from);
            self.peak_ms = len;
        } else if value == self.peak {
            self.peak_ms += len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: Millis, end: Millis) -> Interval {
        Interval { start, end }
    }

    fn steps(pairs: &[(Millis, u32)]) -> Vec<Step> {
        pairs
            .iter()
            .map(|&(at, concurrency)| Step { at, concurrency })
            .collect()
    }

    #[test]
    fn nobody_present_is_one_zero_step_and_all_empty() {
        let c = sweep(iv(0, 100), &[]);
        assert_eq!(
            (c.peak, c.peak_at, c.peak_ms, c.empty_ms),
            (0, None, 0, 100)
        );
        assert_eq!(c.timeline, steps(&[(0, 0)]));
    }

    #[test]
    fn peak_is_first_reached_and_its_time_summed() {
        let a = [iv(0, 50)];
        let b = [iv(10, 20), iv(30, 40)];
        let c = sweep(iv(0, 100), &[&a[..], &b[..]].concat());
        assert_eq!(
            (c.peak, c.peak_at, c.peak_ms, c.empty_ms),
            (2, Some(10), 20, 50)
        );
        assert_eq!(
            c.timeline,
            steps(&[(0, 1), (10, 2), (20, 1), (30, 2), (40, 1), (50, 0)])
        );
    }

    #[test]
    fn leave_and_join_at_the_same_instant_is_no_step() {
        let a = [iv(10, 20)];
        let b = [iv(20, 30)];
        let c = sweep(iv(0, 30), &[a, b].concat());
        assert_eq!(c.timeline, steps(&[(0, 0), (10, 1), (30, 0)]));
        assert_eq!(
            (c.peak, c.peak_at, c.peak_ms, c.empty_ms),
            (1, Some(10), 20, 10)
        );
    }

    #[test]
    fn presence_ending_at_the_session_end_gives_a_final_zero_step() {
        let a = [iv(0, 30)];
        let c = sweep(iv(0, 30), &a);
        assert_eq!(c.timeline, steps(&[(0, 1), (30, 0)]));
        assert_eq!(c.empty_ms, 0);
    }

    #[test]
    fn zero_length_session_has_a_single_zero_step() {
        let c = sweep(iv(7, 7), &[]);
        assert_eq!(c.timeline, steps(&[(7, 0)]));
        assert_eq!(c.empty_ms, 0);
    }
}
