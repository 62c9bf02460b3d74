//! One generated session: its kind, its room, who joined and when.
//!
//! Every session is drawn from its own random stream (see [`rng_for`]), so a session's content
//! depends only on the seed, its index and the corpus size, never on the order of generation.
use crate::time::Millis;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;

const SECOND: Millis = 1000;
const MINUTE: Millis = 60 * SECOND;

/// The kinds of session in the default mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    OneToOne,
    Small,
    Large,
    Webinar,
}

/// How often a kind of session occurs and what it looks like.
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    pub kind: Kind,
    /// Share of all sessions, in per mille.
    pub permille: u32,
    /// Participant count, drawn log-uniformly (probability ∝ 1/count) in this inclusive range.
    pub participants: (usize, usize),
    /// Session length in minutes, drawn uniformly in this inclusive range.
    pub minutes: (i64, i64),
    /// Percentage of participants who drop and reconnect (1 to 3 times).
    pub reconnect_pct: u32,
}

/// The default mix of sessions (per mille of sessions; participant counts log-uniform):
///
/// | kind | share | participants | length | reconnecting participants |
/// |---|---|---|---|---|
/// | one-to-one call | 55 % | 2 (1 in 5 % of them: the other never joined) | 3–60 min | 8 % |
/// | small meeting | 31 % | 3–12 | 15–75 min | 12 % |
/// | large meeting | 10 % | 13–60 | 30–120 min | 18 % |
/// | webinar | 4 % | 250–1000 | 45–180 min | 25 % |
pub const MIX: [KindSpec; 4] = [
    KindSpec {
        kind: Kind::OneToOne,
        permille: 550,
        participants: (2, 2),
        minutes: (3, 60),
        reconnect_pct: 8,
    },
    KindSpec {
        kind: Kind::Small,
        permille: 310,
        participants: (3, 12),
        minutes: (15, 75),
        reconnect_pct: 12,
    },
    KindSpec {
        kind: Kind::Large,
        permille: 100,
        participants: (13, 60),
        minutes: (30, 120),
        reconnect_pct: 18,
    },
    KindSpec {
        kind: Kind::Webinar,
        permille: 40,
        participants: (250, 1000),
        minutes: (45, 180),
        reconnect_pct: 25,
    },
];

/// Per mille of sessions that are still ongoing (no `end`, open timelog entries).
pub const ONGOING_PERMILLE: u32 = 20;
/// Per mille of ended sessions that also appear as an earlier, ongoing copy (fetched twice).
pub const SNAPSHOT_PERMILLE: u32 = 10;
/// Percentage of sessions written in the v1 shape (`meetingId`, `activeDuration`) where the file
/// kind allows it (page envelopes always hold v2 sessions).
pub const V1_PCT: u32 = 40;
/// Per mille of sessions whose timestamps use a numeric offset and 0–9 fractional digits.
pub const VARIED_STAMPS_PERMILLE: u32 = 80;
/// Percentage of participants with a second, overlapping connection.
pub const DOUBLE_CONNECTION_PCT: u32 = 3;
/// Per mille of sessions with one timelog entry slightly outside the session bounds.
pub const SKEW_PERMILLE: u32 = 50;
/// Per mille of sessions with one invalid timelog entry.
pub const INVALID_PERMILLE: u32 = 5;
/// Per mille of sessions with one participant entry lacking `participantId`.
pub const NO_ID_PERMILLE: u32 = 1;

/// The first day of the generated sessions (2024-03-04, a Monday) and the number of days over
/// which they are spread, in index order, between 07:00 and 19:00 UTC.
const FIRST_DAY: Millis = 1_709_510_400_000;
const DAYS: u64 = 28;

/// The random stream of session `index` (or of anything else keyed by an index).
pub fn rng_for(seed: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// The first draws of a session: cheap, so the file layout can be planned before generation.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub spec: KindSpec,
    pub start: Millis,
    /// Where an ongoing session is cut (its `as-of` at fetch time).
    pub ongoing_cut: Option<Millis>,
    /// Where an earlier, ongoing copy of this (ended) session was cut, if one is written too.
    pub snapshot_cut: Option<Millis>,
    pub v1: bool,
    /// Numeric offset in minutes for the varied timestamp style, `None` for `…Z` milliseconds.
    pub offset_minutes: Option<i32>,
    /// Write open ends as `null` (else: leave the key out).
    pub null_open: bool,
    duration: Millis,
}

impl Plan {
    /// The plan of session `index` of `sessions`: the first draws of its stream.
    pub fn draw(rng: &mut ChaCha8Rng, index: u64, sessions: u64) -> Plan {
        let mut pick = rng.random_range(0..1000);
        let spec = MIX
            .iter()
            .find(|s| {
                let hit = pick < s.permille;
                pick = pick.saturating_sub(s.permille);
                hit
            })
            .copied()
            .unwrap_or(MIX[0]);
        let day = index * DAYS / sessions.max(1);
        let per_day = sessions.div_ceil(DAYS).max(1);
        let slot = (index % per_day) as Millis * 12 * 60 * MINUTE / per_day as Millis;
        let start = FIRST_DAY
            + day as Millis * 24 * 60 * MINUTE
            + 7 * 60 * MINUTE
            + slot
            + rng.random_range(0..10 * MINUTE);
        let duration = rng.random_range(spec.minutes.0..=spec.minutes.1) * MINUTE
            + rng.random_range(0..MINUTE);
        let ongoing = rng.random_range(0..1000) < ONGOING_PERMILLE;
        let ongoing_cut = ongoing.then(|| start + cut_point(rng, duration));
        let snapshot_cut = (!ongoing && rng.random_range(0..1000) < SNAPSHOT_PERMILLE)
            .then(|| start + cut_point(rng, duration));
        const OFFSETS: [i32; 7] = [330, -240, 60, 540, -210, 0, 345];
        let offset_minutes = (rng.random_range(0..1000) < VARIED_STAMPS_PERMILLE)
            .then(|| OFFSETS[rng.random_range(0..OFFSETS.len())]);
        Plan {
            spec,
            start,
            ongoing_cut,
            snapshot_cut,
            v1: rng.random_range(0..100) < V1_PCT,
            offset_minutes,
            null_open: rng.random_bool(0.5),
            duration,
        }
    }
}

/// A point 20 %–90 % into a session, where a fetch saw it still ongoing.
fn cut_point(rng: &mut ChaCha8Rng, duration: Millis) -> Millis {
    duration * rng.random_range(20..90) / 100
}

/// A timestamp as written: an instant, left out, or text no parser accepts as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    At(Millis),
    Missing,
    Garbage(&'static str),
}

/// One timelog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub start: Moment,
    pub end: Moment,
}

/// A display name as written: absent, empty, or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    Absent,
    Empty,
    Given(String),
}

/// One entry of `participants` (a participant may have several, see double connections).
#[derive(Debug, Clone)]
pub struct Participant {
    pub id: Option<String>,
    pub name: Name,
    pub timelog: Vec<Entry>,
}

/// A session as generated, before it is written in one shape or another.
#[derive(Debug, Clone)]
pub struct Session {
    pub plan: Plan,
    pub id: String,
    pub room_id: String,
    /// The room's `customRoomId`, written in the v2 shape only.
    pub custom_room_id: Option<String>,
    /// `status` of an ended v2 session: `ended` or (10 %) `completed`.
    pub completed: bool,
    /// v1 `activeDuration` in seconds, as the API reports it (not to be trusted).
    pub active_duration: i64,
    pub end: Millis,
    pub participants: Vec<Participant>,
}

const FIRST_NAMES: [&str; 40] = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Donald",
    "Sophie",
    "Niklaus",
    "Anita",
    "Guido",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "François",
    "Ngozi",
    "Aroha",
    "Priya",
    "Chloé",
    "Björn",
    "Mădălina",
    "Дмитрий",
    "王芳",
    "さくら",
    "Oğuz",
    "Renée",
    "Jürgen",
    "Chris \"CJ\"",
    "Fatima",
    "Nuño",
];
const LAST_NAMES: [&str; 32] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Backus",
    "Johnson",
    "Knuth",
    "Wilson",
    "Wirth",
    "van Rossum",
    "Müller",
    "Ørsted",
    "García",
    "Nowak",
    "Okafor",
    "Ngata",
    "Sharma",
    "O'Neil",
    "Škoda",
    "Şahin",
    "Иванова",
    "Nguyễn",
    "Al-Sayed",
];
const ROOM_NAMES: [&str; 6] = ["standup", "all-hands", "support", "class", "sales", "1on1"];
const GARBAGE: [&str; 3] = ["not-a-date", "2024-02-30T10:00:00.000Z", "1712345678901"];

/// Generates session `index` of a corpus of `sessions`.
pub fn generate(seed: u64, index: u64, sessions: u64) -> Session {
    let mut rng = rng_for(seed, index);
    let plan = Plan::draw(&mut rng, index, sessions);
    let end = plan.start + plan.duration;
    let room = rng.random_range(0..(sessions / 4).max(1));
    let room_key = splitmix(seed ^ room.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut room_id = String::with_capacity(14);
    for part in 0..3 {
        if part > 0 {
            room_id.push('-');
        }
        base36(room_key >> (part * 20), 4, &mut room_id);
    }
    let custom_room_id = (room % 3 == 0).then(|| {
        format!(
            "{}-{room}",
            ROOM_NAMES[(room_key % ROOM_NAMES.len() as u64) as usize]
        )
    });
    let mut id = String::with_capacity(24);
    hex((plan.start / 1000) as u64, 8, &mut id);
    hex(splitmix(seed ^ splitmix(index)), 16, &mut id);
    let mut session = Session {
        plan,
        id,
        room_id,
        custom_room_id,
        completed: rng.random_range(0..10) == 0,
        active_duration: if rng.random_range(0..100) < 3 {
            0
        } else {
            plan.duration / 1000
        },
        end,
        participants: Vec::new(),
    };
    let people = People::of_corpus(seed, sessions);
    add_participants(&mut session, &mut rng, &people);
    add_anomalies(&mut session, &mut rng);
    session
}

/// Percentage of participants drawn from the corpus's recurring people (apps that pass their
/// own user ids as `participantId`); the others are one-off guests with random ids.
const RECURRING_PCT: u32 = 80;

/// The recurring people of a corpus: person `k` has a stable id and name, the same in every
/// session it joins.
struct People {
    seed: u64,
    count: u64,
}

impl People {
    /// About one person for every two sessions, at least 20.
    fn of_corpus(seed: u64, sessions: u64) -> People {
        People {
            seed,
            count: (sessions / 2).max(20),
        }
    }

    /// A person, drawn with a skew (a few people join often, most rarely), and their name.
    fn draw(&self, rng: &mut ChaCha8Rng) -> (String, String) {
        // Log-uniform over 1..=count: P(k) falls as 1/k.
        let k = ((self.count as f64).powf(rng.random::<f64>()) as u64).clamp(1, self.count);
        let key = splitmix(self.seed ^ splitmix(k.wrapping_mul(0x2545_f491_4f6c_dd1d)));
        let mut id = String::with_capacity(12);
        id.push_str("u-");
        base36(key, 8, &mut id);
        let first = FIRST_NAMES[(key % FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[((key >> 20) % LAST_NAMES.len() as u64) as usize];
        (id, format!("{first} {last}"))
    }
}

fn add_participants(session: &mut Session, rng: &mut ChaCha8Rng, people: &People) {
    let spec = session.plan.spec;
    let mut count = log_uniform(rng, spec.participants.0, spec.participants.1);
    if spec.kind == Kind::OneToOne && rng.random_range(0..100) < 5 {
        count = 1;
    }
    let (start, end) = (session.plan.start, session.end);
    let duration = end - start;
    let mut ids = HashSet::with_capacity(count);
    let mut extra = Vec::new();
    for p in 0..count {
        let (id, person_name) = loop {
            let (id, name) = if rng.random_range(0..100) < RECURRING_PCT {
                let (id, name) = people.draw(rng);
                (id, Some(name))
            } else {
                let mut id = String::with_capacity(8);
                base36(rng.random(), 8, &mut id);
                (id, None)
            };
            if ids.insert(id.clone()) {
                break (id, name);
            }
        };
        let (join, leave) = if p == 0 {
            // The host opens the session and stays to the end.
            (
                start + rng.random_range(0..1500),
                end - rng.random_range(0..3000),
            )
        } else {
            let join = if rng.random_range(0..100) < 75 {
                start + rng.random_range(0..(5 * MINUTE).min(duration / 5).max(1))
            } else {
                start + rng.random_range(0..(duration * 4 / 5).max(1))
            };
            let leave = if rng.random_range(0..100) < 70 {
                end - rng.random_range(0..(2 * MINUTE).min(duration / 10).max(1))
            } else {
                join + rng.random_range((end - join) / 10..=(end - join))
            };
            (join, leave.max(join))
        };
        let mut timelog = presence(rng, join, leave, spec.reconnect_pct);
        let name = match person_name {
            // A recurring person's app sends their name, but not always.
            Some(name) if rng.random_range(0..100) < 95 => Name::Given(name),
            _ => draw_name(rng),
        };
        if rng.random_range(0..100) < DOUBLE_CONNECTION_PCT {
            let at = rng.random_range(join..=leave);
            let second = Entry {
                start: Moment::At(at),
                end: Moment::At((at + rng.random_range(10 * SECOND..10 * MINUTE)).min(end)),
            };
            // A second device shows up either in the same timelog or as a second entry of
            // `participants` with the same participantId.
            if rng.random_range(0..3) == 0 {
                let second_name = match &name {
                    Name::Given(n) if rng.random_bool(0.5) => Name::Given(format!("{n} (2)")),
                    _ => Name::Absent,
                };
                extra.push(Participant {
                    id: Some(id.clone()),
                    name: second_name,
                    timelog: vec![second],
                });
            } else {
                let at = timelog
                    .iter()
                    .position(|e| matches!(e.start, Moment::At(t) if t > at))
                    .unwrap_or(timelog.len());
                timelog.insert(at, second);
            }
        }
        session.participants.push(Participant {
            id: Some(id),
            name,
            timelog,
        });
    }
    session.participants.append(&mut extra);
}

/// The connections of one participant present from `join` to `leave`, with 1–3 drops in
/// `reconnect_pct` % of cases (a gap of 0 s in 5 %, 1–90 s in 80 %, 2–15 min in 15 % of drops).
fn presence(rng: &mut ChaCha8Rng, join: Millis, leave: Millis, reconnect_pct: u32) -> Vec<Entry> {
    let drops = if rng.random_range(0..100) < reconnect_pct {
        rng.random_range(1..=3)
    } else {
        0
    };
    let mut cuts: Vec<Millis> = (0..drops).map(|_| rng.random_range(join..=leave)).collect();
    cuts.sort_unstable();
    let mut timelog = Vec::with_capacity(drops + 1);
    let mut from = join;
    for cut in cuts {
        let gap = match rng.random_range(0..100) {
            0..5 => 0,
            5..85 => rng.random_range(SECOND..90 * SECOND),
            _ => rng.random_range(2 * MINUTE..15 * MINUTE),
        };
        if cut < from || cut + gap > leave {
            continue;
        }
        timelog.push(Entry {
            start: Moment::At(from),
            end: Moment::At(cut),
        });
        from = cut + gap;
    }
    timelog.push(Entry {
        start: Moment::At(from),
        end: Moment::At(leave),
    });
    timelog
}

/// Clock skew (on the host), invalid entries and participants without id, at the rates of the constants above.
fn add_anomalies(session: &mut Session, rng: &mut ChaCha8Rng) {
    let count = session.participants.len();
    if count == 0 {
        return;
    }
    if rng.random_range(0..1000) < SKEW_PERMILLE {
        // The host's clock: a join just before the session start or a leave just after its end.
        let p = &mut session.participants[0];
        if rng.random_bool(0.5) {
            if let Some(Entry {
                start: Moment::At(t),
                ..
            }) = p.timelog.first_mut()
            {
                *t = session.plan.start - rng.random_range(1..800);
            }
        } else if let Some(Entry {
            end: Moment::At(t), ..
        }) = p.timelog.last_mut()
        {
            *t = session.end + rng.random_range(1..1500);
        }
    }
    if rng.random_range(0..1000) < INVALID_PERMILLE {
        let p = &mut session.participants[rng.random_range(0..count)];
        if let Some(entry) = p.timelog.last_mut() {
            match rng.random_range(0..4) {
                0 => std::mem::swap(&mut entry.start, &mut entry.end),
                1 => entry.start = Moment::Garbage(GARBAGE[rng.random_range(0..GARBAGE.len())]),
                2 => entry.start = Moment::Missing,
                _ => entry.end = Moment::Garbage(GARBAGE[rng.random_range(0..GARBAGE.len())]),
            }
        }
    }
    if rng.random_range(0..1000) < NO_ID_PERMILLE {
        session.participants[rng.random_range(0..count)].id = None;
    }
}

/// First and last name (85 %), first name only (10 %), no `name` key (3 %), or `""` (2 %).
fn draw_name(rng: &mut ChaCha8Rng) -> Name {
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    match rng.random_range(0..100) {
        0..85 => Name::Given(format!(
            "{first} {}",
            LAST_NAMES[rng.random_range(0..LAST_NAMES.len())]
        )),
        85..95 => Name::Given(first.to_owned()),
        95..98 => Name::Absent,
        _ => Name::Empty,
    }
}

/// A count in `low..=high` with probability proportional to 1/count (log-uniform), in integer
/// arithmetic so that the draw is the same on every platform (no `ln`/`exp` from libm).
fn log_uniform(rng: &mut ChaCha8Rng, low: usize, high: usize) -> usize {
    let weight = |k: usize| (1u64 << 32) / k.max(1) as u64;
    let total: u64 = (low..=high).map(weight).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for k in low..high {
        if pick < weight(k) {
            return k;
        }
        pick -= weight(k);
    }
    high
}

/// A bijective 64-bit mix (the splitmix64 finalizer): distinct inputs give distinct outputs.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn base36(mut x: u64, len: usize, out: &mut String) {
    const DIGITS: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..len {
        out.push(DIGITS[(x % 36) as usize] as char);
        x /= 36;
    }
}

fn hex(x: u64, len: usize, out: &mut String) {
    for i in (0..len).rev() {
        let digit = ((x >> (4 * i)) & 0xf) as u32;
        out.push(char::from_digit(digit, 16).unwrap_or('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_adds_up_to_all_sessions() {
        assert_eq!(MIX.iter().map(|s| s.permille).sum::<u32>(), 1000);
    }

    #[test]
    fn kinds_and_participant_counts_follow_the_documented_mix() {
        let n = 20_000u64;
        let mut counts = std::collections::HashMap::new();
        for i in 0..n {
            let session = generate(7, i, n);
            let distinct: HashSet<_> = session.participants.iter().map(|p| &p.id).collect();
            let spec = session.plan.spec;
            assert!(distinct.len() <= spec.participants.1, "{spec:?}");
            if spec.kind != Kind::OneToOne {
                assert!(distinct.len() >= spec.participants.0 - 1, "{spec:?}");
            }
            *counts.entry(spec.kind).or_insert(0u64) += 1;
        }
        for spec in MIX {
            let share = counts[&spec.kind] as f64 * 1000.0 / n as f64;
            assert!(
                (share - f64::from(spec.permille)).abs() < 12.0,
                "{:?}: {share} per mille",
                spec.kind
            );
        }
    }

    #[test]
    fn anomalies_occur_at_about_their_rates() {
        let n = 20_000u64;
        let (mut ongoing, mut v1, mut varied, mut reconnects, mut participants) = (0, 0, 0, 0, 0);
        for i in 0..n {
            let s = generate(3, i, n);
            ongoing += u64::from(s.plan.ongoing_cut.is_some());
            v1 += u64::from(s.plan.v1);
            varied += u64::from(s.plan.offset_minutes.is_some());
            for p in &s.participants {
                participants += 1;
                reconnects += u64::from(p.timelog.len() > 1);
            }
        }
        let permille = |x: u64| x * 1000 / n;
        assert!((15..=25).contains(&permille(ongoing)));
        assert!((380..=420).contains(&permille(v1)));
        assert!((70..=90).contains(&permille(varied)));
        let reconnect_pct = reconnects * 100 / participants;
        assert!((10..=30).contains(&reconnect_pct), "{reconnect_pct}");
    }

    #[test]
    fn sessions_are_chronological_and_ids_unique() {
        let n = 5000u64;
        let sessions: Vec<_> = (0..n).map(|i| generate(1, i, n)).collect();
        let ids: HashSet<_> = sessions.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), n as usize);
        let days: Vec<_> = sessions.iter().map(|s| s.plan.start / 86_400_000).collect();
        assert!(days.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(days[days.len() - 1] - days[0], DAYS as i64 - 1);
    }

    #[test]
    fn generation_depends_on_seed_and_index_only() {
        let a = generate(9, 17, 100);
        let b = generate(9, 17, 100);
        assert_eq!(a.id, b.id);
        assert_eq!(a.participants.len(), b.participants.len());
        assert_ne!(generate(10, 17, 100).id, a.id);
    }
}
