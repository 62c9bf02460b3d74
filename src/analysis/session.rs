//! Per session (docs/reference.md §3 bounds and §5 figures): groups the entries by participant, then
//! derives every per-session figure from the participants' unions.
use super::concurrency::{sweep, Step};
use super::intervals::Interval;
use super::overlaps::{pairs, OverlapRow};
use super::participant::{summarize, Entry, ParticipantRow};
use super::{byte_order_prefix, Config};
use crate::ingest::document::{text, Item, RawSession};
use crate::time::{parse_rfc3339, Millis};
use std::ops::Range;

/// The sessions report row; its text borrows from the session document.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow<'s> {
    pub session_id: &'s str,
    pub room_id: Option<&'s str>,
    pub status: Option<&'s str>,
    pub started_at: Millis,
    pub ended_at: Millis,
    pub ongoing: bool,
    pub duration_ms: i64,
    /// v1 `activeDuration` as reported; a number, possibly fractional.
    pub reported_active_duration: Option<f64>,
    pub participants: i64,
    pub attendees: i64,
    pub participant_ms: i64,
    pub peak_concurrency: i64,
    pub peak_at: Option<Millis>,
    pub peak_ms: i64,
    pub avg_concurrency: Option<f64>,
    pub empty_ms: i64,
    pub intervals: i64,
    pub invalid_intervals: i64,
    pub invalid_participants: i64,
    pub clipped_ms: i64,
    pub pairs_skipped: bool,
    /// Participants present under the run's threshold (docs/reference.md §9).
    pub present: i64,
}

/// Everything one session contributes to the reports, borrowing its text from the document.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionReport<'s> {
    pub session: SessionRow<'s>,
    /// Ordered by `participant_id` (byte order).
    pub participants: Vec<ParticipantRow<'s>>,
    /// Ordered by (`participant_a`, `participant_b`).
    pub overlaps: Vec<OverlapRow>,
    pub timeline: Vec<Step>,
}

/// One `participantId` of a session: its first name, and where its entries lie in the
/// session's list of entries (in document order).
struct Grouped<'s> {
    id: &'s str,
    /// [`byte_order_prefix`] of the id.
    id_prefix: u64,
    name: Option<&'s str>,
    entries: Range<usize>,
}

/// Analyses one session document. `id` is its (already checked) session id.
pub fn analyze_session<'s>(
    id: &'s str,
    raw: &'s RawSession<'_>,
    config: &Config,
) -> SessionReport<'s> {
    let (groups, entries, invalid_participants) = group_by_participant(raw);

    // §3 bounds: a missing start falls back to the earliest parseable timelog start, then to
    // the end bound; a missing or unparsable end makes the session ongoing until as-of.
    let given_end = text(&raw.end).and_then(parse_rfc3339);
    let end = given_end.unwrap_or(config.as_of);
    let start = text(&raw.start)
        .and_then(parse_rfc3339)
        .or_else(|| earliest_timelog_start(raw))
        .unwrap_or(end);
    let bounds = Interval {
        start,
        end: end.max(start),
    };
    let duration_ms = bounds.len();

    let mut participants = Vec::with_capacity(groups.len());
    // Every participant's union, one after another; `union_ends[i]` is where the i-th ends. A
    // union has at most as many spans as its entries (the list may hold an id's entries twice,
    // copied together: then this is more than needed, never less).
    let mut spans = Vec::with_capacity(entries.len());
    let mut union_ends = Vec::with_capacity(groups.len());
    let (mut invalid_intervals, mut clipped_ms): (i64, i64) = (0, 0);
    for group in &groups {
        let entries = &entries[group.entries.clone()];
        let mut p = summarize(group.id, group.name, entries, bounds, end, &mut spans);
        p.row.present = config.present.admits(p.row.attended_ms, duration_ms);
        invalid_intervals += p.invalid_intervals;
        clipped_ms = clipped_ms.saturating_add(p.clipped_ms);
        participants.push(p.row);
        union_ends.push(spans.len());
    }
    let concurrency = sweep(bounds, &spans);
    let pairs_skipped = participants.len() > config.max_pair_participants;
    let overlaps = if pairs_skipped || !config.reports.has("overlaps") {
        Vec::new()
    } else {
        let unions: Vec<&[Interval]> = union_ends
            .iter()
            .scan(0, |from, &to| Some(&spans[std::mem::replace(from, to)..to]))
            .collect();
        pairs(&unions)
    };

    let participant_ms = participants
        .iter()
        .map(|p| p.attended_ms)
        .fold(0, i64::saturating_add);
    let session = SessionRow {
        session_id: id,
        room_id: raw.room(),
        status: text(&raw.status),
        started_at: start,
        ended_at: end,
        ongoing: given_end.is_none(),
        duration_ms,
        reported_active_duration: raw.active_duration.and_then(|n| n.0),
        participants: participants.len() as i64,
        attendees: participants.iter().filter(|p| p.attended_ms > 0).count() as i64,
        participant_ms,
        peak_concurrency: i64::from(concurrency.peak),
        peak_at: concurrency.peak_at,
        peak_ms: concurrency.peak_ms,
        avg_concurrency: (duration_ms > 0).then(|| participant_ms as f64 / duration_ms as f64),
        empty_ms: concurrency.empty_ms,
        intervals: participants.iter().map(|p| p.intervals).sum(),
        invalid_intervals,
        invalid_participants,
        clipped_ms,
        pairs_skipped,
        present: participants.iter().filter(|p| p.present).count() as i64,
    };
    SessionReport {
        session,
        participants,
        overlaps,
        timeline: concurrency.timeline,
    }
}

/// Groups the participant objects by `participantId`, sorted by id (byte order), with their
/// parsed timelog entries; objects without an id are only counted (the third value). An id that
/// appears in several objects gets their entries in document order, and the first name given.
fn group_by_participant<'s>(raw: &'s RawSession<'_>) -> (Vec<Grouped<'s>>, Vec<Entry>, i64) {
    // Sized once: a session's lists are otherwise grown a few times over each.
    let objects_given = raw.participants.as_ref().map_or(0, Vec::len);
    let mut objects: Vec<Grouped<'s>> = Vec::with_capacity(objects_given);
    let mut entries: Vec<Entry> = Vec::with_capacity(raw.timelog_entries());
    let mut invalid = 0;
    for p in raw.participants.iter().flatten() {
        let Some((p, id)) = p.object().and_then(|p| Some((p, text(&p.participant_id)?))) else {
            invalid += 1;
            continue;
        };
        let from = entries.len();
        entries.extend(p.timelog.iter().flatten().map(Entry::parse));
        objects.push(Grouped {
            id,
            id_prefix: byte_order_prefix(id),
            name: text(&p.name),
            entries: from..entries.len(),
        });
    }
    // Stable: the objects of one id stay in document order.
    objects.sort_by(|a, b| {
        (a.id_prefix.cmp(&b.id_prefix)).then_with(|| a.id.as_bytes().cmp(b.id.as_bytes()))
    });
    let mut groups: Vec<Grouped<'s>> = Vec::with_capacity(objects.len());
    for object in objects {
        match groups.last_mut() {
            Some(group) if group.id == object.id => {
                group.name = group.name.or(object.name);
                // The group's entries are copied to the end of the list, then this object's.
                if group.entries.end != entries.len() {
                    let from = entries.len();
                    entries.extend_from_within(group.entries.clone());
                    group.entries = from..entries.len();
                }
                entries.extend_from_within(object.entries);
                group.entries.end = entries.len();
            }
            _ => groups.push(object),
        }
    }
    (groups, entries, invalid)
}

/// The earliest parseable timelog `start` of the session's participants (those with an id),
/// whatever the rest of its entry.
fn earliest_timelog_start(raw: &RawSession<'_>) -> Option<Millis> {
    raw.participants
        .iter()
        .flatten()
        .filter_map(Item::object)
        .filter(|p| text(&p.participant_id).is_some())
        .flat_map(|p| p.timelog.iter().flatten().filter_map(Item::object))
        .filter_map(|entry| text(&entry.start).and_then(parse_rfc3339))
        .min()
}
