//! The `people` of the open period (docs/reference.md §10): each participant id met in it,
//! numbered in order of appearance, with its totals.
//!
//! A day can hold hundreds of thousands of participants, so a person costs no allocation of
//! its own: ids and names lie one after the other in one text buffer, and the index from id
//! to number holds only numbers (it finds an id's text through them).
use super::{ParticipantFacts, PersonRow};
use crate::analysis::byte_order_prefix;
use crate::time::Millis;
use anyhow::{bail, Result};
use chrono::NaiveDate;
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::borrow::Cow;
use std::hash::BuildHasher;

/// Where a text lies in [`People::texts`]; empty for no text.
#[derive(Debug, Clone, Copy, Default)]
struct TextAt {
    start: u32,
    len: u32,
}

/// 48 bytes: one per participant of a day.
struct PersonTotals {
    id: TextAt,
    /// The first non-empty name met (empty: none yet).
    name: TextAt,
    /// Saturating: 4 billion rows of one person in one period would take far more memory
    /// than the machine has before they could count wrong.
    sessions: u32,
    present_sessions: u32,
    attended_ms: i64,
    /// `Millis::MAX` and `Millis::MIN` for none: instants lie in years 0 to 9999
    /// (`time::EARLIEST`, `time::LATEST`).
    first_join: Millis,
    last_leave: Millis,
}

#[derive(Default)]
pub(super) struct People {
    texts: String,
    /// Numbers, found by their id's hash.
    index: HashTable<u32>,
    totals: Vec<PersonTotals>,
}

impl People {
    /// People met so far.
    pub fn len(&self) -> usize {
        self.totals.len()
    }

    /// Forgets everyone, keeping the allocations.
    pub fn clear(&mut self) {
        self.texts.clear();
        self.index.clear();
        self.totals.clear();
    }

    /// The number of participant `id`, numbering it next when it is new.
    pub fn number_of(&mut self, id: &str) -> Result<u32> {
        let hash = FxBuildHasher.hash_one(id);
        let People {
            texts,
            index,
            totals,
        } = self;
        let id_of = |number: u32| id_text(texts, totals, number);
        if let Some(&number) = index.find(hash, |&number| id_of(number) == id) {
            return Ok(number);
        }
        let Ok(number) = u32::try_from(totals.len()) else {
            bail!("one period holds more than 4 billion participants: give a shorter --period");
        };
        let at = push_text(texts, id)?;
        totals.push(PersonTotals {
            id: at,
            name: TextAt::default(),
            sessions: 0,
            present_sessions: 0,
            attended_ms: 0,
            first_join: Millis::MAX,
            last_leave: Millis::MIN,
        });
        index.insert_unique(hash, number, |&number| {
            FxBuildHasher.hash_one(id_text(texts, totals, number))
        });
        Ok(number)
    }

    /// Adds one participant row of person `number`.
    pub fn add(&mut self, number: u32, p: &ParticipantFacts) -> Result<()> {
        let Some(person) = self.totals.get_mut(number as usize) else {
            return Ok(());
        };
        if person.name.len == 0 {
            if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                person.name = push_text(&mut self.texts, &String::from_utf8_lossy(name))?;
            }
        }
        person.sessions = person.sessions.saturating_add(1);
        person.present_sessions = person.present_sessions.saturating_add(u32::from(p.present));
        person.attended_ms = person.attended_ms.saturating_add(p.attended_ms);
        person.first_join = person.first_join.min(p.first_join.unwrap_or(Millis::MAX));
        person.last_leave = person.last_leave.max(p.last_leave.unwrap_or(Millis::MIN));
        Ok(())
    }

    /// The numbers of the people by id (byte order): the order of the rows.
    pub fn by_id(&self) -> Vec<u32> {
        let id_of = |number: u32| id_text(&self.texts, &self.totals, number);
        let mut keyed: Vec<(u64, u32)> = (0..self.totals.len() as u32)
            .map(|number| (byte_order_prefix(id_of(number)), number))
            .collect();
        keyed.sort_unstable_by(|&(a_prefix, a), &(b_prefix, b)| {
            a_prefix
                .cmp(&b_prefix)
                .then_with(|| id_of(a).as_bytes().cmp(id_of(b).as_bytes()))
        });
        keyed.into_iter().map(|(_, number)| number).collect()
    }

    /// The row of person `number`, who met `rooms` rooms.
    pub fn row(&self, number: u32, period: NaiveDate, rooms: i64) -> Option<PersonRow<'_>> {
        let t = self.totals.get(number as usize)?;
        Some(PersonRow {
            period,
            participant_id: Cow::Borrowed(text(&self.texts, t.id)),
            name: (t.name.len > 0).then(|| Cow::Borrowed(text(&self.texts, t.name))),
            sessions: i64::from(t.sessions),
            present_sessions: i64::from(t.present_sessions),
            rooms,
            attended_ms: t.attended_ms,
            first_join: (t.first_join != Millis::MAX).then_some(t.first_join),
            last_leave: (t.last_leave != Millis::MIN).then_some(t.last_leave),
        })
    }
}

const TEXTS_FULL: &str =
    "one period's participant ids and names exceed 4 GiB: give a shorter --period (day or week)";

fn push_text(texts: &mut String, text: &str) -> Result<TextAt> {
    let (Ok(start), Ok(len)) = (u32::try_from(texts.len()), u32::try_from(text.len())) else {
        bail!(TEXTS_FULL);
    };
    if start.checked_add(len).is_none() {
        bail!(TEXTS_FULL);
    }
    texts.push_str(text);
    Ok(TextAt { start, len })
}

/// The id of person `number` (empty for a number not given out: never).
fn id_text<'t>(texts: &'t str, totals: &[PersonTotals], number: u32) -> &'t str {
    totals
        .get(number as usize)
        .map_or("", |person| text(texts, person.id))
}

fn text(texts: &str, at: TextAt) -> &str {
    let start = at.start as usize;
    texts
        .get(start..start + at.len as usize)
        .unwrap_or_default()
}
