//! Rollups over the kept sessions (docs/reference.md §10 and §11): `rooms` and
//! `people` per local period, the account-wide concurrency `A(t)` and `usage` per period.
//!
//! Sessions are added in report order (by `started_at`, then `session_id`), so "first in
//! session order" is the order of [`Rollups::add`]. `A(t)` is a sweep over the sessions'
//! change points: each session's timeline becomes `(instant, change)` events, held until
//! every session that could still add an earlier event has been added (sessions arrive by
//! start, and a timeline never starts before its session). Every [`SWEEP_BATCH`] sessions,
//! the events before the latest start are taken from the running sessions, sorted by instant
//! and applied; only the events of sessions still running at the sweep's position are held.
//!
//! Memory follows one period, not the corpus: a period's `rooms` and `people` rows are final
//! when a session of a later period arrives, and the steps of `A` once swept; both go to a
//! [`RollupSink`] then, and `usage` is integrated step by step as the sweep passes.
use super::period::Calendar;
use crate::time::Millis;
use chrono::NaiveDate;
use people::People;
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::collections::BTreeMap;

mod people;

/// What the rollups need of one session: a few figures of its `sessions` row, its
/// `participants` rows and its `concurrency` timeline. Its texts are borrowed from the rows
/// read back (no allocation per participant), or owned where they are made up (tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFacts<'a> {
    pub session_id: Cow<'a, str>,
    pub room_id: Option<Cow<'a, str>>,
    pub started_at: Millis,
    pub ended_at: Millis,
    pub ongoing: bool,
    pub duration_ms: i64,
    pub participant_ms: i64,
    pub peak_concurrency: i64,
    /// Data-quality counts of the `sessions` row (for the HTML report's overview).
    pub invalid_intervals: i64,
    pub invalid_participants: i64,
    pub clipped_ms: i64,
    pub pairs_skipped: bool,
    /// The `participants` and `present` counts of the `sessions` row.
    pub participant_count: i64,
    pub present_count: i64,
    /// Empty when no rollup needs them (`--reports`).
    pub participants: Vec<ParticipantFacts<'a>>,
    /// `(changed_at, concurrency)`, as in the concurrency report; empty when no rollup
    /// needs it.
    pub timeline: Vec<(Millis, i64)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParticipantFacts<'a> {
    pub participant_id: Cow<'a, str>,
    /// As the spill holds it: checked as UTF-8 only where a person takes it as their name (the
    /// first non-empty one of a period), not on each of their rows.
    pub name: Option<Cow<'a, [u8]>>,
    pub present: bool,
    pub attended_ms: i64,
    pub first_join: Option<Millis>,
    pub last_leave: Option<Millis>,
    /// Empty when the session lasted 0 ms.
    pub attendance_pct: Option<f64>,
}

/// A `rooms` row.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomRow {
    pub period: NaiveDate,
    pub room_id: Option<String>,
    pub sessions: i64,
    pub ongoing: i64,
    pub participants: i64,
    pub present: i64,
    pub participant_ms: i64,
    pub duration_ms: i64,
    pub peak_concurrency: i64,
    pub first_start: Millis,
    pub last_end: Millis,
}

/// A `people` row; its texts borrow from the period's [`people::People`] while it closes (a
/// period can hold hundreds of thousands of people, and the row only passes through).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonRow<'t> {
    pub period: NaiveDate,
    pub participant_id: Cow<'t, str>,
    pub name: Option<Cow<'t, str>>,
    pub sessions: i64,
    pub present_sessions: i64,
    pub rooms: i64,
    pub attended_ms: i64,
    pub first_join: Option<Millis>,
    pub last_leave: Option<Millis>,
}

impl PersonRow<'_> {
    /// The row with texts of its own, to outlive the period.
    pub fn to_owned_row(&self) -> PersonRow<'static> {
        PersonRow {
            participant_id: Cow::Owned(self.participant_id.clone().into_owned()),
            name: self.name.clone().map(|name| Cow::Owned(name.into_owned())),
            ..*self
        }
    }
}

/// A `usage` row.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub period: NaiveDate,
    pub sessions: i64,
    pub rooms: i64,
    pub participants: i64,
    pub participant_ms: i64,
    pub peak_concurrency: i64,
    pub peak_at: Option<Millis>,
    pub over_quota_ms: Option<i64>,
}

/// One row of `account_concurrency`: `A` from `changed_at` until the next row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountStep {
    pub changed_at: Millis,
    pub concurrency: i64,
}

/// Where the rows of `rooms`, `people` and `account_concurrency` go as they become final,
/// in report order: a period's `rooms` and `people` rows once a session of a later period
/// arrives, the account's steps as the sweep passes them. Memory then holds one period's
/// rollups, not the corpus's.
pub trait RollupSink {
    fn rooms(&mut self, rows: &[RoomRow]) -> anyhow::Result<()>;
    fn people(&mut self, rows: &[PersonRow<'_>]) -> anyhow::Result<()>;
    fn account(&mut self, steps: &[AccountStep]) -> anyhow::Result<()>;
}

/// The rows of `rooms`, `people` and `account_concurrency` held in memory (the HTML report
/// and the tests read them).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct KeptRows {
    pub rooms: Vec<RoomRow>,
    pub people: Vec<PersonRow<'static>>,
    pub account_concurrency: Vec<AccountStep>,
}

impl RollupSink for KeptRows {
    fn rooms(&mut self, rows: &[RoomRow]) -> anyhow::Result<()> {
        self.rooms.extend_from_slice(rows);
        Ok(())
    }
    fn people(&mut self, rows: &[PersonRow<'_>]) -> anyhow::Result<()> {
        self.people.extend(rows.iter().map(PersonRow::to_owned_row));
        Ok(())
    }
    fn account(&mut self, steps: &[AccountStep]) -> anyhow::Result<()> {
        self.account_concurrency.extend_from_slice(steps);
        Ok(())
    }
}

/// What the rollups keep to the end: the `usage` rows and the figures of the headline (the
/// other rollup tables went to the [`RollupSink`]).
#[derive(Debug, Default)]
pub struct RollupTables {
    pub usage: Vec<UsageRow>,
    /// The account's peak and the earliest instant it held (a step above 0).
    peak: Option<AccountStep>,
    /// Sums over the sessions rows, for the headline (whatever `--reports` computed).
    totals: Totals,
    /// Whether the timelines were swept (`account_concurrency`, `usage`, the HTML report).
    account_known: bool,
}

/// Sums over the `sessions` rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Totals {
    sessions: i64,
    participants: i64,
    present: i64,
    participant_ms: i64,
    /// Sessions closed at as-of (ongoing), and their participant time.
    ongoing: i64,
    ongoing_participant_ms: i64,
}

/// The `rooms` figures of one room in a period, from its first session on.
struct RoomTotals {
    sessions: i64,
    ongoing: i64,
    participant_ms: i64,
    duration_ms: i64,
    peak_concurrency: i64,
    first_start: Millis,
    last_end: Millis,
}

/// A participant in a session of a room (or of no room: [`ROOMLESS`]), by numbers.
#[derive(Debug, Clone, Copy)]
struct Membership {
    room: u32,
    person: u32,
    present: bool,
}

/// The room number of the sessions without a room.
const ROOMLESS: u32 = u32::MAX;

/// The rollups of the period the latest sessions started in: sessions arrive in report
/// order, so no later session belongs to an earlier period.
struct OpenPeriod {
    period: NaiveDate,
    /// Per room, by its number in `room_numbers`; and the sessions without a room.
    rooms: Vec<RoomTotals>,
    roomless: Option<RoomTotals>,
    /// One per participant row: who met whom is counted when the period closes, as 12 bytes
    /// a row cost less than a set per room and per person.
    memberships: Vec<Membership>,
    people: People,
    /// Each room id met in the period, numbered in order of appearance.
    room_numbers: HashMap<String, u32>,
    sessions: i64,
}

/// Events whose room a finished timeline's allocation keeps for the next session.
const KEPT_EVENTS: usize = 256;

/// Sessions added between two sweeps of `A`: a sweep looks at every running session, so it
/// is made once for many sessions, and sorting the events of many sessions at once is cheaper
/// than merging them one event at a time.
const SWEEP_BATCH: usize = 256;

/// One session's change events of `A`, from `next` on not yet swept.
#[derive(Default)]
struct Unswept {
    events: Vec<(Millis, i64)>,
    next: usize,
}

/// The figures of `usage` that come from the sessions starting in a period.
#[derive(Debug, Clone, Copy, Default)]
struct PeriodCounts {
    sessions: i64,
    rooms: i64,
    participants: i64,
}

/// Rows of a closing period handed to the sink at once.
const CLOSE_GROUP: usize = 4096;

/// Steps of `A` handed to the sink at once.
const STEP_BATCH: usize = 4096;

/// Adds sessions one by one (in report order) and hands the rollup rows to `sink` as they
/// become final.
pub struct Rollups<S: RollupSink> {
    calendar: Calendar,
    quota: Option<i64>,
    sink: S,
    open: Option<OpenPeriod>,
    /// The allocations of the last period closed, emptied, for the next one: a day's people
    /// are grown once, not once a day.
    recycled: (People, Vec<Membership>),
    /// Per period, the figures of the sessions that start in it.
    counts: BTreeMap<NaiveDate, PeriodCounts>,
    /// The sessions with change events of `A` not yet swept, each `(instant, change)` in time
    /// order.
    running: Vec<Unswept>,
    /// Allocations of swept timelines, for the next sessions'.
    spare: Vec<Vec<(Millis, i64)>>,
    /// Sessions added since the last sweep, and the latest start among them.
    unswept_sessions: usize,
    /// Sessions added between two sweeps ([`SWEEP_BATCH`]; tests make it smaller).
    sweep_every: usize,
    latest_start: Millis,
    /// The events of one sweep, sorted by instant (kept for its allocation).
    sweeping: Vec<(Millis, i64)>,
    level: i64,
    /// The first step of `A`, and the step in force (the last one swept).
    first_step: Option<AccountStep>,
    last_step: Option<AccountStep>,
    /// Steps swept but not yet handed to the sink.
    steps: Vec<AccountStep>,
    peak: Option<AccountStep>,
    /// `A` integrated per period, step by step as the sweep passes.
    figures: BTreeMap<NaiveDate, PeriodFigures>,
    /// The figures of the period integrated last, held out of `figures` until a step falls in
    /// another: steps come in time order, so almost all of them fall in it.
    open_figures: Option<(NaiveDate, PeriodFigures)>,
    /// The latest instant of any session (`end - 1`, or `start` for an empty one).
    last_instant: Option<Millis>,
    /// The last period looked up, with its bounds.
    known_period: Option<(NaiveDate, Millis, Millis)>,
    totals: Totals,
    /// Whether the sessions' timelines are given (`--reports`); without them the headline
    /// has no account peak.
    pub account_known: bool,
}

impl<S: RollupSink> Rollups<S> {
    pub fn new(calendar: Calendar, quota: Option<i64>, sink: S) -> Rollups<S> {
        Rollups {
            calendar,
            quota,
            sink,
            open: None,
            recycled: Default::default(),
            counts: BTreeMap::new(),
            running: Vec::new(),
            spare: Vec::new(),
            unswept_sessions: 0,
            sweep_every: SWEEP_BATCH,
            latest_start: Millis::MIN,
            sweeping: Vec::new(),
            level: 0,
            first_step: None,
            last_step: None,
            steps: Vec::new(),
            peak: None,
            figures: BTreeMap::new(),
            open_figures: None,
            last_instant: None,
            known_period: None,
            totals: Totals::default(),
            account_known: true,
        }
    }

    /// Adds the next session in report order.
    pub fn add(&mut self, session: &SessionFacts) -> anyhow::Result<()> {
        self.totals.sessions += 1;
        self.totals.participants += session.participant_count;
        self.totals.present += session.present_count;
        self.totals.participant_ms = self
            .totals
            .participant_ms
            .saturating_add(session.participant_ms);
        if session.ongoing {
            self.totals.ongoing += 1;
            self.totals.ongoing_participant_ms = self
                .totals
                .ongoing_participant_ms
                .saturating_add(session.participant_ms);
        }
        let period = self.period_at(session.started_at);
        if self.open.as_ref().is_none_or(|open| open.period != period) {
            self.close_period()?;
            let (people, memberships) = std::mem::take(&mut self.recycled);
            self.open = Some(OpenPeriod {
                period,
                rooms: Vec::new(),
                roomless: None,
                memberships,
                people,
                room_numbers: HashMap::default(),
                sessions: 0,
            });
        }
        if let Some(open) = &mut self.open {
            open.add(session)?;
        }

        let mut events = self.spare.pop().unwrap_or_default();
        let mut previous = 0;
        for (index, &(at, value)) in session.timeline.iter().enumerate() {
            // The first row is kept even when it changes nothing: `A` has a row at the
            // earliest session start.
            if index == 0 || value != previous {
                events.push((at, value - previous));
            }
            previous = value;
        }
        if events.is_empty() {
            self.spare.push(events);
        } else {
            self.running.push(Unswept { events, next: 0 });
        }
        // Events before this session's start can no longer change: swept now and then.
        self.latest_start = self.latest_start.max(session.started_at);
        self.unswept_sessions += 1;
        if self.unswept_sessions >= self.sweep_every {
            self.sweep_before(self.latest_start)?;
        }
        let last = if session.duration_ms > 0 {
            session.ended_at - 1
        } else {
            session.started_at
        };
        self.last_instant = Some(self.last_instant.map_or(last, |l| l.max(last)));
        Ok(())
    }

    /// Hands the open period's `rooms` and `people` rows to the sink and keeps its counts.
    fn close_period(&mut self) -> anyhow::Result<()> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        self.counts.insert(
            open.period,
            PeriodCounts {
                sessions: open.sessions,
                rooms: open.room_numbers.len() as i64,
                participants: open.people.len() as i64,
            },
        );
        let period = open.period;
        let met = open.met();
        // By room id, the sessions without one first (as `None` sorts).
        let mut room_ids: Vec<(String, u32)> = open.room_numbers.into_iter().collect();
        room_ids.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut by_number: Vec<Option<RoomTotals>> = open.rooms.into_iter().map(Some).collect();
        let rooms = open
            .roomless
            .map(|t| (None, t, met.roomless))
            .into_iter()
            .chain(room_ids.into_iter().filter_map(|(id, number)| {
                let t = by_number.get_mut(number as usize)?.take()?;
                let counts = met.rooms.get(number as usize).copied().unwrap_or_default();
                Some((Some(id), t, counts))
            }));
        // Handed over in groups, so that a large period is not held twice while it closes.
        let mut rooms = rooms.peekable();
        while rooms.peek().is_some() {
            let group: Vec<RoomRow> = rooms
                .by_ref()
                .take(CLOSE_GROUP)
                .map(|(room_id, t, (participants, present))| RoomRow {
                    period,
                    room_id,
                    sessions: t.sessions,
                    ongoing: t.ongoing,
                    participants,
                    present,
                    participant_ms: t.participant_ms,
                    duration_ms: t.duration_ms,
                    peak_concurrency: t.peak_concurrency,
                    first_start: t.first_start,
                    last_end: t.last_end,
                })
                .collect();
            self.sink.rooms(&group)?;
        }
        let mut people = open.people;
        for group in people.by_id().chunks(CLOSE_GROUP) {
            let rows: Vec<PersonRow> = group
                .iter()
                .filter_map(|&number| {
                    let rooms = met.rooms_of_person.get(number as usize).copied();
                    people.row(number, period, rooms.unwrap_or(0))
                })
                .collect();
            self.sink.people(&rows)?;
        }
        people.clear();
        self.recycled = (people, open.memberships);
        Ok(())
    }

    /// Applies the running sessions' events before `until` to `A`, in time order; the events
    /// of one instant (of any sessions) are summed into one change.
    fn sweep_before(&mut self, until: Millis) -> anyhow::Result<()> {
        self.unswept_sessions = 0;
        let mut sweeping = std::mem::take(&mut self.sweeping);
        sweeping.clear();
        let spare = &mut self.spare;
        self.running.retain_mut(|unswept| {
            let rest = unswept.events.get(unswept.next..).unwrap_or_default();
            let due = rest.partition_point(|&(at, _)| at < until);
            sweeping.extend_from_slice(&rest[..due]);
            unswept.next += due;
            if unswept.next < unswept.events.len() {
                // A session still running keeps only its events to come: an ongoing one
                // waits for as-of, long after its data ends.
                if due > 0 && unswept.next * 2 >= unswept.events.len() {
                    unswept.events = unswept.events.split_off(unswept.next);
                    unswept.next = 0;
                }
                return true;
            }
            // A finished timeline lends its allocation to a later one, unless it is a rare
            // giant's.
            let mut events = std::mem::take(&mut unswept.events);
            if events.capacity() <= KEPT_EVENTS {
                events.clear();
                spare.push(events);
            }
            false
        });
        // A radix sort: half the instructions of `sort_unstable` on a sweep's tens of thousands
        // of events (the events of one instant are summed, so their order does not matter).
        radsort::sort_by_key(&mut sweeping, |&(at, _)| at);
        let mut events = sweeping.iter().copied().peekable();
        while let Some((at, mut change)) = events.next() {
            while let Some((_, more)) = events.next_if(|&(same, _)| same == at) {
                change += more;
            }
            self.apply(at, change)?;
        }
        self.sweeping = sweeping;
        Ok(())
    }

    /// `A` changes by `change` at `at`: a new step unless the level stays.
    fn apply(&mut self, at: Millis, change: i64) -> anyhow::Result<()> {
        self.level += change;
        if self
            .last_step
            .is_none_or(|last| last.concurrency != self.level)
        {
            self.push_step(AccountStep {
                changed_at: at,
                concurrency: self.level,
            })?;
        }
        Ok(())
    }

    /// Records a new step of `A`: the one in force until now is integrated up to it.
    fn push_step(&mut self, step: AccountStep) -> anyhow::Result<()> {
        if let Some(previous) = self.last_step {
            self.integrate(previous, step.changed_at, None);
        }
        if step.concurrency > 0 && self.peak.is_none_or(|p| step.concurrency > p.concurrency) {
            self.peak = Some(step);
        }
        self.first_step.get_or_insert(step);
        self.last_step = Some(step);
        self.steps.push(step);
        if self.steps.len() >= STEP_BATCH {
            self.sink.account(&self.steps)?;
            self.steps.clear();
        }
        Ok(())
    }

    /// Adds `step`, in force until `until`, to the figures of each period it overlaps (up to
    /// `last_period` when given).
    fn integrate(&mut self, step: AccountStep, until: Millis, last_period: Option<NaiveDate>) {
        // A step at 0 changes no figure (unless the quota is below 0): the long gaps between
        // sessions cost nothing.
        if step.concurrency == 0 && self.quota.is_none_or(|q| q >= 0) {
            return;
        }
        let mut period = self.period_at(step.changed_at);
        loop {
            if last_period.is_some_and(|last| period > last) {
                break;
            }
            let (start, end) = self.bounds_of(period);
            if start >= until {
                break;
            }
            let (from_at, to_at) = (step.changed_at.max(start), until.min(end));
            if from_at < to_at {
                let over_quota = self.quota.is_some_and(|q| step.concurrency > q);
                let figures = self.figures_of(period);
                let length = to_at - from_at;
                figures.integral = figures
                    .integral
                    .saturating_add(step.concurrency.saturating_mul(length));
                if step.concurrency > figures.peak {
                    figures.peak = step.concurrency;
                    figures.peak_at = Some(from_at);
                }
                if over_quota {
                    figures.over_quota_ms += length;
                }
            }
            // The next period starts at `end`: nothing of the step is left for it.
            if until <= end {
                break;
            }
            let next = self.calendar.next(period);
            if next <= period {
                break;
            }
            period = next;
        }
    }

    /// The figures of `period`, to be added to.
    fn figures_of(&mut self, period: NaiveDate) -> &mut PeriodFigures {
        if self.open_figures.is_none_or(|(open, _)| open != period) {
            self.close_figures();
            let figures = self.figures.get(&period).copied().unwrap_or_default();
            self.open_figures = Some((period, figures));
        }
        &mut self
            .open_figures
            .get_or_insert((period, PeriodFigures::default()))
            .1
    }

    /// Puts the figures held out back into `figures`.
    fn close_figures(&mut self) {
        if let Some((period, figures)) = self.open_figures.take() {
            self.figures.insert(period, figures);
        }
    }

    /// The period holding `at`. Zone arithmetic is a tenth of a run when done per step, so
    /// the last period's bounds are kept: almost every instant falls in them.
    fn period_at(&mut self, at: Millis) -> NaiveDate {
        match self.known_period {
            Some((period, start, end)) if start <= at && at < end => period,
            _ => {
                let period = self.calendar.period_of(at);
                self.bounds_of(period);
                period
            }
        }
    }

    /// `[start, end)` of `period`.
    fn bounds_of(&mut self, period: NaiveDate) -> (Millis, Millis) {
        match self.known_period {
            Some((known, start, end)) if known == period => (start, end),
            _ => {
                let (start, end) = self.calendar.bounds(period);
                self.known_period = Some((period, start, end));
                (start, end)
            }
        }
    }

    /// Hands the last rows to the sink; returns `usage`, the headline's figures and the sink.
    pub fn finish(mut self) -> anyhow::Result<(RollupTables, S)> {
        self.sweep_before(Millis::MAX)?;
        self.close_period()?;
        let usage = self.usage();
        if !self.steps.is_empty() {
            self.sink.account(&self.steps)?;
        }
        let tables = RollupTables {
            usage,
            peak: self.peak,
            totals: self.totals,
            account_known: self.account_known,
        };
        Ok((tables, self.sink))
    }

    /// One row per period from the first step's to the one holding the last instant of any
    /// session, empty periods included. The last step (`A` from then on) is integrated here,
    /// up to the end of that period.
    fn usage(&mut self) -> Vec<UsageRow> {
        let (Some(first_step), Some(last_step), Some(last_instant)) =
            (self.first_step, self.last_step, self.last_instant)
        else {
            return Vec::new();
        };
        let last_period = self
            .calendar
            .period_of(last_instant.max(first_step.changed_at));
        self.integrate(last_step, Millis::MAX, Some(last_period));
        self.close_figures();
        let mut rows = Vec::new();
        let mut period = self.calendar.period_of(first_step.changed_at);
        while period <= last_period {
            let counts = self.counts.get(&period).copied().unwrap_or_default();
            let figures = self.figures.get(&period).copied().unwrap_or_default();
            rows.push(UsageRow {
                period,
                sessions: counts.sessions,
                rooms: counts.rooms,
                participants: counts.participants,
                participant_ms: figures.integral,
                peak_concurrency: figures.peak,
                peak_at: figures.peak_at,
                over_quota_ms: self.quota.map(|_| figures.over_quota_ms),
            });
            let next = self.calendar.next(period);
            if next <= period {
                break;
            }
            period = next;
        }
        rows
    }
}

impl OpenPeriod {
    fn add(&mut self, session: &SessionFacts) -> anyhow::Result<()> {
        self.sessions += 1;
        let room_number = session
            .room_id
            .as_ref()
            .map(|room| number_of(&mut self.room_numbers, room));
        self.add_to_room(session, room_number);
        for p in &session.participants {
            let person = self.people.number_of(&p.participant_id)?;
            push_membership(
                &mut self.memberships,
                Membership {
                    room: room_number.unwrap_or(ROOMLESS),
                    person,
                    present: p.present,
                },
            );
            self.people.add(person, p)?;
        }
        Ok(())
    }

    /// `room_number`: the session's room's number (a new one is the next).
    fn add_to_room(&mut self, session: &SessionFacts, room_number: Option<u32>) {
        let first = || RoomTotals {
            sessions: 0,
            ongoing: 0,
            participant_ms: 0,
            duration_ms: 0,
            peak_concurrency: 0,
            first_start: session.started_at,
            last_end: session.ended_at,
        };
        let room = match room_number {
            Some(number) => {
                if number as usize == self.rooms.len() {
                    self.rooms.push(first());
                }
                match self.rooms.get_mut(number as usize) {
                    Some(room) => room,
                    None => return,
                }
            }
            None => self.roomless.get_or_insert_with(first),
        };
        room.sessions += 1;
        room.ongoing += i64::from(session.ongoing);
        room.participant_ms = room.participant_ms.saturating_add(session.participant_ms);
        room.duration_ms = room.duration_ms.saturating_add(session.duration_ms);
        room.peak_concurrency = room.peak_concurrency.max(session.peak_concurrency);
        room.first_start = room.first_start.min(session.started_at);
        room.last_end = room.last_end.max(session.ended_at);
    }

    /// Who met whom, counted from the memberships: per room, its distinct participants and
    /// those present in at least one of its sessions; per person, the rooms met.
    /// Empties the memberships (keeping their allocation).
    fn met(&mut self) -> Met {
        let memberships = &mut self.memberships;
        compact(memberships);
        let mut met = Met {
            rooms: vec![(0, 0); self.rooms.len()],
            roomless: (0, 0),
            rooms_of_person: vec![0; self.people.len()],
        };
        for m in memberships.drain(..) {
            let counts = if m.room == ROOMLESS {
                &mut met.roomless
            } else {
                if let Some(rooms) = met.rooms_of_person.get_mut(m.person as usize) {
                    *rooms += 1;
                }
                match met.rooms.get_mut(m.room as usize) {
                    Some(counts) => counts,
                    None => continue,
                }
            };
            counts.0 += 1;
            counts.1 += i64::from(m.present);
        }
        met
    }
}

/// Pushes `membership`. A week or a month of a recurring meeting repeats its pairs: a full list
/// is compacted to hold each pair once, and doubles when that frees less than half of it, so
/// that each compaction is paid for by as many pushes as it sorts.
fn push_membership(memberships: &mut Vec<Membership>, membership: Membership) {
    if memberships.len() == memberships.capacity() {
        compact(memberships);
        if memberships.len() > memberships.capacity() / 2 {
            memberships.reserve(memberships.len());
        }
    }
    memberships.push(membership);
}

/// Sorts `memberships` by (room, person) and keeps one per pair, present when any was.
fn compact(memberships: &mut Vec<Membership>) {
    // A radix sort of one integer: a period holds thousands of memberships, and the room and
    // person numbers use few of the integer's bytes, whose passes the sort skips.
    radsort::sort_by_key(memberships, |m| {
        u64::from(m.room) << 32 | u64::from(m.person)
    });
    memberships.dedup_by(|later, kept| {
        let same = (later.room, later.person) == (kept.room, kept.person);
        kept.present |= same && later.present;
        same
    });
}

/// What [`OpenPeriod::met`] counts: `(participants, present)` per room by number and for the
/// sessions without a room, and the rooms each person met.
struct Met {
    rooms: Vec<(i64, i64)>,
    roomless: (i64, i64),
    rooms_of_person: Vec<i64>,
}

/// The number of `key` in `numbers`, numbering it next when it is new.
fn number_of(numbers: &mut HashMap<String, u32>, key: &str) -> u32 {
    match numbers.get(key) {
        Some(&number) => number,
        None => {
            let number = numbers.len() as u32;
            numbers.insert(key.to_owned(), number);
            number
        }
    }
}

/// `A` over one period.
#[derive(Debug, Clone, Copy, Default)]
struct PeriodFigures {
    integral: i64,
    peak: i64,
    peak_at: Option<Millis>,
    over_quota_ms: i64,
}

/// The few figures a person reads first (the summary, the nightly job's last lines).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Headline {
    pub sessions: i64,
    /// (session, participant) rows, and of those present (docs/reference.md §9).
    pub participants: i64,
    pub present: i64,
    pub participant_ms: i64,
    /// The account's peak and the earliest instant it held; `None` when nobody was present.
    pub peak: Option<AccountStep>,
    /// Time over `--quota` (`None` without it).
    pub over_quota_ms: Option<i64>,
    /// Sessions closed at as-of (ongoing), and their participant time.
    pub ongoing: i64,
    pub ongoing_participant_ms: i64,
    /// Whether `peak` and `over_quota_ms` were computed (`--reports` without
    /// `account_concurrency`, `usage` and the HTML report skips them).
    pub account_known: bool,
}

impl RollupTables {
    pub fn headline(&self) -> Headline {
        // The sums equal those of usage (the integral of `A` is the sum of the sessions'
        // participant time) and of people (one row per session and participant).
        let t = &self.totals;
        Headline {
            sessions: t.sessions,
            participants: t.participants,
            present: t.present,
            participant_ms: t.participant_ms,
            peak: self.peak.filter(|_| self.account_known),
            over_quota_ms: self
                .usage
                .iter()
                .map(|u| u.over_quota_ms)
                .sum::<Option<i64>>()
                .filter(|_| self.account_known),
            ongoing: t.ongoing,
            ongoing_participant_ms: t.ongoing_participant_ms,
            account_known: self.account_known,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The rollups against a brute-force model that evaluates `A` millisecond by millisecond
    //! around a local midnight, so that sessions spread over two periods.
    use super::*;
    use crate::analysis::period::{parse_zone, PeriodKind};
    use proptest::prelude::*;

    /// A room of 1,000 people met again and again: the list keeps each pair once, stays within
    /// twice their number, and each sort of it is paid for by at least half as many pushes
    /// (when a compaction freed one slot and the list stayed, it was sorted for every pair).
    #[test]
    fn repeated_pairs_are_compacted_rarely() {
        let mut memberships = Vec::new();
        let mut compactions = 0;
        for meeting in 0..200u32 {
            for person in 0..1_000 {
                let present = meeting % 2 == 0;
                let before = memberships.len();
                push_membership(
                    &mut memberships,
                    Membership {
                        room: 7,
                        person,
                        present,
                    },
                );
                // A compaction is the only way the list gets shorter.
                compactions += usize::from(memberships.len() <= before);
            }
        }
        assert!(
            compactions * 500 <= 200 * 1_000,
            "{compactions} compactions"
        );
        assert!(
            memberships.capacity() <= 2_048,
            "{}",
            memberships.capacity()
        );
        compact(&mut memberships);
        assert_eq!(memberships.len(), 1_000);
        assert!(memberships.iter().all(|m| m.present));
    }

    /// One generated session: start, duration, room, and per participant its intervals
    /// (offsets from the start).
    #[derive(Debug, Clone)]
    struct Drawn {
        start: i64,
        duration: i64,
        room: Option<u8>,
        participants: Vec<(u8, Vec<(i64, i64)>)>,
    }

    fn drawn() -> impl Strategy<Value = Drawn> {
        (
            // Often on a coarse grid, so that sessions share a start, or start where another
            // one changes.
            prop_oneof![0i64..300, (0i64..10).prop_map(|k| k * 30)],
            0i64..80,
            proptest::option::of(0u8..3),
            proptest::collection::vec(
                (
                    0u8..5,
                    // Joining often right at the start: a change at the session's first instant.
                    proptest::collection::vec((prop_oneof![0i64..90, Just(0)], 0i64..40), 0..3),
                ),
                0..4,
            ),
        )
            .prop_map(|(start, duration, room, participants)| Drawn {
                start,
                duration,
                room,
                participants,
            })
    }

    /// The local midnight the generated times straddle.
    fn calendar() -> (Calendar, Millis) {
        let calendar = Calendar {
            zone: parse_zone("Asia/Kolkata").unwrap(),
            kind: PeriodKind::Day,
        };
        let midnight = calendar.day_start(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap_or_default());
        (calendar, midnight)
    }

    /// The session's facts computed by brute force: presence per millisecond.
    fn facts(d: &Drawn, base: Millis, threshold: i64) -> SessionFacts<'static> {
        let (start, end) = (base + d.start, base + d.start + d.duration);
        let mut ids: Vec<u8> = d.participants.iter().map(|p| p.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let present_at = |id: u8, t: Millis| {
            d.participants.iter().filter(|p| p.0 == id).any(|p| {
                p.1.iter()
                    .any(|&(from, len)| t >= start + from && t < start + from + len && t < end)
            })
        };
        let participants = ids
            .iter()
            .map(|&id| {
                let times: Vec<Millis> = (start..end).filter(|&t| present_at(id, t)).collect();
                let attended_ms = times.len() as i64;
                ParticipantFacts {
                    participant_id: format!("p{id}").into(),
                    name: Some(format!("P{id}").into_bytes().into()).filter(|_| id % 2 == 0),
                    present: attended_ms > 0 && attended_ms >= threshold,
                    attended_ms,
                    first_join: times.first().copied(),
                    last_leave: times.last().map(|t| t + 1),
                    ..ParticipantFacts::default()
                }
            })
            .collect::<Vec<_>>();
        let level = |t: Millis| ids.iter().filter(|&&id| present_at(id, t)).count() as i64;
        let mut timeline = vec![(start, if start < end { level(start) } else { 0 })];
        for t in start + 1..=end {
            let value = if t < end { level(t) } else { 0 };
            if value != timeline[timeline.len() - 1].1 {
                timeline.push((t, value));
            }
        }
        SessionFacts {
            room_id: d.room.map(|r| format!("room-{r}").into()),
            started_at: start,
            ended_at: end,
            ongoing: d.duration % 7 == 0,
            duration_ms: d.duration,
            participant_ms: participants.iter().map(|p| p.attended_ms).sum(),
            peak_concurrency: timeline.iter().map(|s| s.1).max().unwrap_or(0),
            participants,
            timeline,
            ..SessionFacts::default()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn rollups_agree_with_the_sessions_and_a_brute_force_model(
            mut sessions in proptest::collection::vec(drawn(), 1..6),
            quota in 0i64..4,
            threshold in 0i64..20,
            sweep_every in 1usize..4,
        ) {
            let (calendar, midnight) = calendar();
            let base = midnight - 150;
            sessions.sort_by_key(|d| d.start);
            let all: Vec<SessionFacts> = sessions.iter().map(|d| facts(d, base, threshold)).collect();
            let mut rollups = Rollups::new(calendar, Some(quota), KeptRows::default());
            rollups.sweep_every = sweep_every;
            for s in &all {
                rollups.add(s).unwrap();
            }
            let (tables, rows) = rollups.finish().unwrap();

            // A(t), millisecond by millisecond, from the sessions' own timelines.
            let level_of = |s: &SessionFacts, t: Millis| {
                s.timeline.iter().take_while(|step| step.0 <= t).last().map_or(0, |step| step.1)
            };
            let first = all.iter().map(|s| s.started_at).min().unwrap_or(0);
            let horizon = base + 600;
            let a = |t: Millis| all.iter().map(|s| level_of(s, t)).sum::<i64>();
            let mut expected = vec![AccountStep { changed_at: first, concurrency: a(first) }];
            for t in first + 1..horizon {
                if a(t) != expected[expected.len() - 1].concurrency {
                    expected.push(AccountStep { changed_at: t, concurrency: a(t) });
                }
            }
            prop_assert_eq!(&rows.account_concurrency, &expected);
            prop_assert_eq!(rows.account_concurrency.last().map(|s| s.concurrency), Some(0));

            // Usage per period: the day before the midnight and the day of it.
            let day_before = calendar.period_of(midnight - 1);
            let day_of = calendar.period_of(midnight);
            let last = all
                .iter()
                .map(|s| if s.duration_ms > 0 { s.ended_at - 1 } else { s.started_at })
                .max()
                .unwrap_or(first);
            let periods: Vec<(NaiveDate, Millis, Millis)> =
                [(day_before, first.min(midnight), midnight), (day_of, midnight, horizon)]
                    .into_iter()
                    .filter(|&(_, from, to)| first < to && last >= from)
                    .collect();
            prop_assert_eq!(tables.usage.len(), periods.len());
            for (row, &(period, from, to)) in tables.usage.iter().zip(&periods) {
                prop_assert_eq!(row.period, period);
                let values: Vec<i64> = (from..to).map(a).collect();
                let peak = values.iter().copied().max().unwrap_or(0);
                prop_assert_eq!(row.participant_ms, values.iter().sum::<i64>());
                prop_assert_eq!(row.peak_concurrency, peak);
                let peak_at = values.iter().position(|&v| v == peak).map(|i| from + i as i64);
                prop_assert_eq!(row.peak_at, peak_at.filter(|_| peak > 0));
                prop_assert_eq!(
                    row.over_quota_ms,
                    Some(values.iter().filter(|&&v| v > quota).count() as i64)
                );
                let starting: Vec<&SessionFacts> = all
                    .iter()
                    .filter(|s| calendar.period_of(s.started_at) == period)
                    .collect();
                prop_assert_eq!(row.sessions, starting.len() as i64);
            }

            // Sums: usage and rooms against sessions, people against participants.
            let participant_ms: i64 = all.iter().map(|s| s.participant_ms).sum();
            prop_assert_eq!(tables.usage.iter().map(|u| u.participant_ms).sum::<i64>(), participant_ms);
            prop_assert_eq!(rows.rooms.iter().map(|r| r.participant_ms).sum::<i64>(), participant_ms);
            prop_assert_eq!(rows.rooms.iter().map(|r| r.sessions).sum::<i64>(), all.len() as i64);
            prop_assert_eq!(
                tables.usage.iter().map(|u| u.peak_concurrency).max(),
                rows.account_concurrency.iter().map(|s| s.concurrency).max()
            );
            let facts: Vec<&ParticipantFacts> = all.iter().flat_map(|s| &s.participants).collect();
            prop_assert_eq!(rows.people.iter().map(|p| p.sessions).sum::<i64>(), facts.len() as i64);
            prop_assert_eq!(
                rows.people.iter().map(|p| p.attended_ms).sum::<i64>(),
                facts.iter().map(|p| p.attended_ms).sum::<i64>()
            );
            prop_assert_eq!(
                rows.people.iter().map(|p| p.present_sessions).sum::<i64>(),
                facts.iter().filter(|p| p.present).count() as i64
            );
            // The headline's peak: the earliest step holding the highest `A` above 0.
            let peak = rows.account_concurrency.iter().map(|s| s.concurrency).max().filter(|&p| p > 0);
            let peak_step = peak.and_then(|p| rows.account_concurrency.iter().find(|s| s.concurrency == p));
            prop_assert_eq!(tables.headline().peak, peak_step.copied());
            // Rows are in report order.
            prop_assert!(rows.rooms.windows(2).all(|w| (w[0].period, &w[0].room_id) < (w[1].period, &w[1].room_id)));
            prop_assert!(rows.people.windows(2).all(|w| (w[0].period, &w[0].participant_id) < (w[1].period, &w[1].participant_id)));

            // Distinct rooms per person and distinct people per room, counted naively.
            let in_period = |s: &&SessionFacts, period: NaiveDate| calendar.period_of(s.started_at) == period;
            for person in &rows.people {
                let mut rooms: Vec<&str> = all
                    .iter()
                    .filter(|s| in_period(s, person.period))
                    .filter(|s| s.participants.iter().any(|p| p.participant_id == person.participant_id))
                    .filter_map(|s| s.room_id.as_deref())
                    .collect();
                rooms.sort_unstable();
                rooms.dedup();
                prop_assert_eq!(person.rooms, rooms.len() as i64);
                // Their rows in session order: the earliest join, the latest leave, the first name.
                let theirs: Vec<&ParticipantFacts> = all
                    .iter()
                    .filter(|s| in_period(s, person.period))
                    .flat_map(|s| &s.participants)
                    .filter(|p| p.participant_id == person.participant_id)
                    .collect();
                prop_assert_eq!(person.first_join, theirs.iter().filter_map(|p| p.first_join).min());
                prop_assert_eq!(person.last_leave, theirs.iter().filter_map(|p| p.last_leave).max());
                let name = theirs.iter().find_map(|p| p.name.as_deref().filter(|n| !n.is_empty()));
                prop_assert_eq!(person.name.as_deref().map(str::as_bytes), name);
            }
            for room in &rows.rooms {
                let mut people: Vec<(&str, bool)> = all
                    .iter()
                    .filter(|s| in_period(s, room.period) && s.room_id.as_deref() == room.room_id.as_deref())
                    .flat_map(|s| s.participants.iter().map(|p| (&*p.participant_id, p.present)))
                    .collect();
                people.sort_unstable();
                let present = people.iter().filter(|p| p.1).map(|p| p.0).collect::<std::collections::BTreeSet<_>>().len();
                people.dedup_by_key(|p| p.0);
                prop_assert_eq!(room.participants, people.len() as i64);
                prop_assert_eq!(room.present, present as i64);
            }
        }
    }

    #[test]
    fn nothing_to_roll_up_gives_empty_tables() {
        let (tables, rows) = Rollups::new(Calendar::UTC_DAYS, None, KeptRows::default())
            .finish()
            .unwrap();
        assert!(rows == KeptRows::default() && tables.usage.is_empty());
        assert_eq!(tables.headline().peak, None);
    }
}
