//! Overlaps (docs/reference.md §6): co-presence of every pair of participants of a session.
use super::intervals::{intersection, Interval};
use crate::time::Millis;

/// One overlaps report row; `a` and `b` index the session's participants (sorted by id, so
/// `a < b` means `participant_a < participant_b` in byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlapRow {
    pub a: u32,
    pub b: u32,
    pub overlap_ms: i64,
    pub first_overlap: Millis,
}

/// The pairs of `unions` (ordered by participant id) that were present at the same time.
pub fn pairs(unions: &[&[Interval]]) -> Vec<OverlapRow> {
    let mut rows = Vec::new();
    for (a, union_a) in unions.iter().enumerate() {
        for (b, union_b) in unions.iter().enumerate().skip(a + 1) {
            if let (overlap_ms, Some(first_overlap)) = intersection(union_a, union_b) {
                rows.push(OverlapRow {
                    a: a as u32,
                    b: b as u32,
                    overlap_ms,
                    first_overlap,
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: Millis, end: Millis) -> Interval {
        Interval { start, end }
    }

    #[test]
    fn only_pairs_present_together_get_a_row() {
        let p0 = [iv(0, 10)];
        let p1 = [iv(5, 20)];
        let p2 = [iv(20, 30)];
        let rows = pairs(&[&p0, &p1, &p2]);
        assert_eq!(
            rows,
            [OverlapRow {
                a: 0,
                b: 1,
                overlap_ms: 5,
                first_overlap: 5
            }]
        );
    }

    #[test]
    fn overlap_sums_over_every_shared_span() {
        let p0 = [iv(0, 10), iv(20, 30)];
        let p1 = [iv(5, 25)];
        assert_eq!(pairs(&[&p0, &p1])[0].overlap_ms, 10);
    }
}
