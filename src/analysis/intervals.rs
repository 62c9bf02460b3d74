//! Half-open millisecond intervals `[start, end)` (docs/reference.md §3): clipping, union, intersection.
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub start: Millis,
    pub end: Millis,
}

impl Interval {
    pub fn len(self) -> i64 {
        (self.end - self.start).max(0)
    }

    pub fn is_empty(self) -> bool {
        self.end <= self.start
    }

    /// The part inside `bounds`; an interval wholly outside becomes empty at the nearer bound.
    pub fn clip(self, bounds: Interval) -> Interval {
        let start = self.start.clamp(bounds.start, bounds.end);
        let end = self.end.clamp(start, bounds.end);
        Interval { start, end }
    }
}

/// The union of `intervals` as maximal disjoint spans in time order; touching spans
/// (`a.end == b.start`) are one, empty intervals vanish. Works in place: sorts `intervals`, then
/// gathers the spans at its front and returns them, so a caller's buffer serves every union;
/// what lies after them is left in no particular order.
pub fn union(intervals: &mut [Interval]) -> &[Interval] {
    intervals.sort_unstable();
    let mut spans: usize = 0;
    for i in 0..intervals.len() {
        let iv = intervals[i];
        if iv.is_empty() {
            continue;
        }
        match spans.checked_sub(1).map(|last| &mut intervals[last]) {
            Some(last) if iv.start <= last.end => last.end = last.end.max(iv.end),
            _ => {
                intervals[spans] = iv;
                spans += 1;
            }
        }
    }
    &intervals[..spans]
}

/// Total length of the intersection of two unions (sorted, disjoint spans), and the earliest
/// instant they share; `(0, None)` when they never meet.
pub fn intersection(a: &[Interval], b: &[Interval]) -> (i64, Option<Millis>) {
    let (mut i, mut j) = (0, 0);
    let mut total = 0;
    let mut first = None;
    while i < a.len() && j < b.len() {
        let start = a[i].start.max(b[j].start);
        let end = a[i].end.min(b[j].end);
        if start < end {
            total += end - start;
            first.get_or_insert(start);
        }
        if a[i].end <= b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    (total, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: Millis, end: Millis) -> Interval {
        Interval { start, end }
    }

    #[test]
    fn touching_intervals_are_one_span() {
        assert_eq!(union(&mut [iv(5, 9), iv(0, 5)]), [iv(0, 9)]);
    }

    #[test]
    fn nested_and_overlapping_intervals_merge() {
        assert_eq!(
            union(&mut [iv(0, 10), iv(2, 3), iv(8, 12), iv(20, 30)]),
            [iv(0, 12), iv(20, 30)]
        );
    }

    #[test]
    fn zero_length_intervals_add_nothing() {
        assert_eq!(union(&mut [iv(3, 3)]), []);
        assert_eq!(
            union(&mut [iv(0, 2), iv(2, 2), iv(4, 4), iv(4, 6)]),
            [iv(0, 2), iv(4, 6)]
        );
    }

    #[test]
    fn clipping_keeps_the_inside() {
        let bounds = iv(10, 20);
        assert_eq!(iv(5, 15).clip(bounds), iv(10, 15));
        assert_eq!(iv(15, 25).clip(bounds), iv(15, 20));
        assert_eq!(iv(0, 5).clip(bounds).len(), 0);
        assert_eq!(iv(25, 30).clip(bounds).len(), 0);
        assert_eq!(iv(0, 30).clip(bounds), bounds);
    }

    #[test]
    fn intersection_finds_length_and_first_shared_instant() {
        let a = [iv(0, 10), iv(20, 30)];
        let b = [iv(5, 25)];
        assert_eq!(intersection(&a, &b), (10, Some(5)));
        assert_eq!(intersection(&b, &a), (10, Some(5)));
        assert_eq!(intersection(&[iv(0, 5)], &[iv(5, 9)]), (0, None));
    }
}
