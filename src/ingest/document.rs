//! The session document as the VideoSDK API writes it (docs/reference.md §1), borrowed from the file's bytes.
//!
//! Only the fields the analysis needs are read; everything else is skipped without being built.
//! Scalar fields are lenient: a field of the wrong JSON type (a number where a timestamp belongs)
//! becomes [`Text::Other`] and is then treated as unparsable, instead of failing the document.
use crate::time::{parse_rfc3339, Millis};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use smallvec::{smallvec, SmallVec};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A string field, borrowed when it has no escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Text<'a> {
    Str(Cow<'a, str>),
    /// A number, boolean, object or array where a string was expected.
    Other,
}

impl<'a> Text<'a> {
    /// The string, if the field was one and is not empty.
    pub fn non_empty(&self) -> Option<&str> {
        match self {
            Text::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

/// `Option<Text>`'s accessor for the common "present, a string, not empty" question.
pub fn text<'s>(field: &'s Option<Text<'_>>) -> Option<&'s str> {
    field.as_ref().and_then(Text::non_empty)
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Text::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Text::Other)
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// v1 `activeDuration`: a number passed through as reported (fractions kept); anything that
/// is not a number is dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportedNumber(pub Option<f64>);

impl<'de> Deserialize<'de> for ReportedNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ReportedNumber(
            match serde_json::Value::deserialize(deserializer)? {
                serde_json::Value::Number(n) => n.as_f64(),
                _ => None,
            },
        ))
    }
}

/// One timelog entry: one connection of a participant.
#[derive(Debug, Deserialize)]
pub struct RawInterval<'a> {
    #[serde(borrow, default)]
    pub start: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub end: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct RawParticipant<'a> {
    #[serde(borrow, default, rename = "participantId")]
    pub participant_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub name: Option<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "timelog")]
    /// Entries that are not objects (`null`, …) stay in place as invalid entries; a `timelog`
    /// that is not a list is one such entry (docs/reference.md §3).
    pub timelog: Option<Timelog<'a>>,
}

/// A participant's timelog entries. Most participants connect once, so the first entry is held
/// in place, without an allocation of its own.
pub type Timelog<'a> = SmallVec<[Item<RawInterval<'a>>; 1]>;

/// `timelog`: a list of entries, or `null` for none. Anything else (a string, an object, a
/// number) is kept as one entry that is not an object, so it counts as one invalid connection
/// of its participant and the session is still analyzed (docs/reference.md §3).
fn timelog<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timelog<'a>>, D::Error> {
    struct TimelogVisitor<'a>(PhantomData<&'a ()>);
    impl<'de: 'a, 'a> Visitor<'de> for TimelogVisitor<'a> {
        type Value = Option<Timelog<'a>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of connections")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut entries = Timelog::new();
            while let Some(entry) = seq.next_element()? {
                entries.push(entry);
            }
            Ok(Some(entries))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_map(map).map(|_| not_a_list("an object"))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(not_a_list("a boolean"))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(not_a_list("a number"))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(not_a_list("a number"))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(not_a_list("a number"))
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(not_a_list("a string"))
        }
    }
    fn not_a_list<'a>(kind: &'static str) -> Option<Timelog<'a>> {
        Some(smallvec![Item::Other(NotAnObject(kind))])
    }
    deserializer.deserialize_any(TimelogVisitor(PhantomData))
}

/// A session object, or a v2 page envelope (`pageInfo` + `data`), which share the top level.
#[derive(Debug, Deserialize)]
pub struct RawSession<'a> {
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "roomId")]
    pub room_id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "meetingId")]
    pub meeting_id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "customRoomId")]
    pub custom_room_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub start: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub end: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub status: Option<Text<'a>>,
    #[serde(default, rename = "activeDuration")]
    pub active_duration: Option<ReportedNumber>,
    #[serde(borrow, default)]
    /// Entries that are not objects count as participants without an id.
    pub participants: Option<Vec<Item<RawParticipant<'a>>>>,
    #[serde(default, rename = "pageInfo")]
    page_info: Option<IgnoredAny>,
    #[serde(borrow, default)]
    data: Option<Box<OneOrMany<RawSession<'a>>>>,
}

impl<'a> RawSession<'a> {
    /// The room: `roomId` wins, then `meetingId`, then `customRoomId` (docs/reference.md §1).
    pub fn room(&self) -> Option<&str> {
        text(&self.room_id)
            .or_else(|| text(&self.meeting_id))
            .or_else(|| text(&self.custom_room_id))
    }

    /// The latest parseable instant anywhere in the session: its `start` and `end` and every
    /// timelog entry's (what `--as-of latest` takes the maximum of, docs/reference.md §3).
    pub fn latest_instant(&self) -> Option<Millis> {
        let entries = self
            .participants
            .iter()
            .flatten()
            .filter_map(Item::object)
            .flat_map(|p| p.timelog.iter().flatten().filter_map(Item::object))
            .flat_map(|entry| [&entry.start, &entry.end]);
        [&self.start, &self.end]
            .into_iter()
            .chain(entries)
            .filter_map(|field| text(field).and_then(parse_rfc3339))
            .max()
    }

    /// Number of timelog entries, valid or not: the duplicate tie-breaker of docs/reference.md §2.
    pub fn timelog_entries(&self) -> usize {
        self.participants
            .iter()
            .flatten()
            .filter_map(Item::object)
            .map(|p| p.timelog.as_ref().map_or(0, SmallVec::len))
            .sum()
    }

    /// A page envelope has `data` or `pageInfo` and no `id`; a session that happens to carry a
    /// `data` field is still a session.
    fn is_envelope(&self) -> bool {
        self.id.is_none() && (self.data.is_some() || self.page_info.is_some())
    }
}

/// A parsed top-level JSON value: one object or an array of them.
#[derive(Debug)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<Item<T>>),
}

/// An array element: an object, or what it was instead (rejected alone, so one stray value does
/// not cost its neighbours).
#[derive(Debug)]
pub enum Item<T> {
    Object(T),
    Other(NotAnObject),
}

impl<T> Item<T> {
    pub fn object(&self) -> Option<&T> {
        match self {
            Item::Object(object) => Some(object),
            Item::Other(_) => None,
        }
    }
}

/// The kind of JSON value found where a session object belongs: "a number", "null", …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnObject(pub &'static str);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a session object, a page envelope or an array of sessions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Item<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ItemVisitor<T> {
            type Value = Item<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a session object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Item::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny
                    .visit_seq(seq)
                    .map(|_| Item::Other(NotAnObject("an array")))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Item::Other(NotAnObject("a boolean")))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Item::Other(NotAnObject("a number")))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Item::Other(NotAnObject("a number")))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Item::Other(NotAnObject("a number")))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Item::Other(NotAnObject("a string")))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Item::Other(NotAnObject("null")))
            }
        }
        deserializer.deserialize_any(ItemVisitor(PhantomData))
    }
}

/// A whole JSON document (a file, or one NDJSON line).
pub type Document<'a> = OneOrMany<RawSession<'a>>;

/// Why one item of a document is not a usable session.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A value that is not an object where a session belongs.
    NotAnObject(NotAnObject),
    /// An object that does not read as a session (e.g. `participants` is a string).
    Invalid { id: Option<String>, error: String },
}

/// A session of a document, or the problem in its place, with its number in the document: its
/// place in the top list (the file's array, or the top page's `data`; 1 when there is none),
/// which the sessions of a page that is an item of that list share.
pub type Numbered<'a> = (usize, Result<RawSession<'a>, Problem>);

impl<'a> Document<'a> {
    /// Its sessions, page envelopes opened, in document order; an array element that is not an
    /// object comes out as a problem in its place. `pages_above`: the pages the document is in
    /// (1 for an item of a big page's `data` read alone), for [`MAX_ENVELOPE_DEPTH`].
    pub fn into_sessions(self, pages_above: usize) -> Vec<Numbered<'a>> {
        let mut out = Vec::new();
        flatten(self, None, pages_above, &mut out);
        out
    }
}

/// `doc`'s sessions into `out`: numbered `number`, or by their place when `doc` is the top list;
/// `depth` pages above it.
fn flatten<'a>(
    doc: Document<'a>,
    number: Option<usize>,
    depth: usize,
    out: &mut Vec<Numbered<'a>>,
) {
    match doc {
        OneOrMany::One(one) => flatten_item(Item::Object(one), number, depth, out),
        OneOrMany::Many(many) => {
            for (index, item) in many.into_iter().enumerate() {
                flatten_item(item, Some(number.unwrap_or(index + 1)), depth, out);
            }
        }
    }
}

fn flatten_item<'a>(
    item: Item<RawSession<'a>>,
    number: Option<usize>,
    depth: usize,
    out: &mut Vec<Numbered<'a>>,
) {
    let at = number.unwrap_or(1);
    match item {
        Item::Object(mut session) if session.is_envelope() => {
            if depth >= MAX_ENVELOPE_DEPTH {
                return out.push((at, Err(nested_too_deep())));
            }
            if let Some(data) = session.data.take() {
                flatten(*data, number, depth + 1, out);
            }
        }
        Item::Object(session) => out.push((at, Ok(session))),
        Item::Other(kind) => out.push((at, Err(Problem::NotAnObject(kind)))),
    }
}

/// How deep page envelopes may nest (`data` inside `data`), counted from the file's top. The
/// slow path reads each level's `data` again, so this bounds its work at a small multiple of
/// the document's bytes; a real page has one level.
const MAX_ENVELOPE_DEPTH: usize = 16;

/// What a page nested deeper than [`MAX_ENVELOPE_DEPTH`] is, on both paths.
fn nested_too_deep() -> Problem {
    Problem::Invalid {
        id: None,
        error: format!("page envelopes nested more than {MAX_ENVELOPE_DEPTH} deep"),
    }
}

/// The slow path for a document that does not read as a whole: one bad session in an array or
/// a page, or a number too large for a double anywhere in it. If the document is well-formed
/// JSON, each session is read again on its own from its own text, so one bad session costs only
/// itself; the walk is [`Document::into_sessions`]'s. `None`: the document is not well-formed
/// JSON, and is rejected whole.
///
/// `at` is where `json` starts in its file, for the errors' positions; `pages_above` as for
/// [`Document::into_sessions`].
pub fn sessions_one_by_one(
    json: &str,
    at: TextPosition,
    pages_above: usize,
) -> Option<Vec<Numbered<'_>>> {
    let document: &RawValue = serde_json::from_str(json).ok()?;
    let mut out = Vec::new();
    let walk = Walk {
        json,
        at,
        last: std::cell::Cell::new((0, at)),
    };
    walk.raw(document, pages_above, None, &mut out);
    Some(out)
}

/// A document walked item by item: its text, and where that starts in its file.
struct Walk<'a> {
    json: &'a str,
    at: TextPosition,
    /// The last place looked up (an offset in `json`, and where that is in the file): the
    /// items come in order, so each lookup counts the lines from the one before.
    last: std::cell::Cell<(usize, TextPosition)>,
}

/// The fields that tell a page envelope from a session, nothing else built; `null` is absent,
/// as for [`RawSession::is_envelope`].
#[derive(Deserialize)]
struct EnvelopeFields<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "pageInfo")]
    page_info: Option<&'a RawValue>,
}

impl<'a> Walk<'a> {
    /// `value`'s sessions into `out`, numbered as [`flatten`] numbers them.
    fn raw(
        &self,
        value: &'a RawValue,
        depth: usize,
        number: Option<usize>,
        out: &mut Vec<Numbered<'a>>,
    ) {
        let items = if value.get().starts_with('[') {
            serde_json::from_str::<Vec<&RawValue>>(value.get()).ok()
        } else {
            None
        };
        match items {
            Some(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    self.item(item, depth, Some(number.unwrap_or(index + 1)), out);
                }
            }
            None => self.item(value, depth, number, out),
        }
    }

    fn item(
        &self,
        item: &'a RawValue,
        depth: usize,
        number: Option<usize>,
        out: &mut Vec<Numbered<'a>>,
    ) {
        let at = number.unwrap_or(1);
        let text = item.get();
        let kind = match text.as_bytes().first() {
            Some(b'{') => None,
            Some(b'[') => Some("an array"),
            Some(b'"') => Some("a string"),
            Some(b'n') => Some("null"),
            Some(b't' | b'f') => Some("a boolean"),
            _ => Some("a number"),
        };
        if let Some(kind) = kind {
            return out.push((at, Err(Problem::NotAnObject(NotAnObject(kind)))));
        }
        let fields = serde_json::from_str::<EnvelopeFields>(text).ok();
        if let Some(EnvelopeFields {
            id: None,
            data,
            page_info,
        }) = &fields
        {
            if data.is_some() || page_info.is_some() {
                if depth >= MAX_ENVELOPE_DEPTH {
                    return out.push((at, Err(nested_too_deep())));
                }
                if let Some(data) = data {
                    self.raw(data, depth + 1, number, out);
                }
                return;
            }
        }
        let session = serde_json::from_str::<RawSession>(text).map_err(|e| Problem::Invalid {
            id: fields
                .and_then(|f| f.id)
                .and_then(|id| serde_json::from_str::<String>(id.get()).ok()),
            error: placed(&e, self.start_of(text)),
        });
        out.push((at, session));
    }

    /// Where `part`, a part of the document's text, starts in the file.
    fn start_of(&self, part: &str) -> TextPosition {
        let offset = (part.as_ptr() as usize).wrapping_sub(self.json.as_ptr() as usize);
        let (from, at) = match self.last.get() {
            (last, at) if last <= offset => (last, at),
            _ => (0, self.at),
        };
        let Some(between) = self.json.as_bytes().get(from..offset) else {
            return self.at;
        };
        let position = at.after(between);
        self.last.set((offset, position));
        position
    }
}

/// A place in a file's text, as serde_json counts it: the 1-based line and the bytes before it
/// on that line; and the bytes before it in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    pub line: u64,
    pub column: u64,
    pub offset: u64,
}

impl TextPosition {
    /// The start of a file (or of an NDJSON line, whose errors are counted from the line).
    pub const START: TextPosition = TextPosition {
        line: 1,
        column: 0,
        offset: 0,
    };

    /// Where a text that starts here is once `bytes` have been read.
    pub fn after(self, bytes: &[u8]) -> TextPosition {
        let offset = self.offset + bytes.len() as u64;
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => TextPosition {
                line: self.line + memchr::memchr_iter(b'\n', bytes).count() as u64,
                column: (bytes.len() - last - 1) as u64,
                offset,
            },
            None => TextPosition {
                line: self.line,
                column: self.column + bytes.len() as u64,
                offset,
            },
        }
    }
}

/// `error`'s message, for a text that starts at `at` in its file: its position (counted from
/// the text's start) is moved to the file's, so that it points at the right line and column.
pub fn placed(error: &serde_json::Error, at: TextPosition) -> String {
    let message = error.to_string();
    let own_position = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(own_position.as_str()) {
        Some(bare) if error.line() > 0 && at != TextPosition::START => {
            let line = at.line + error.line() as u64 - 1;
            let column = match error.line() {
                1 => at.column + error.column() as u64,
                _ => error.column() as u64,
            };
            format!("{bare} at line {line} column {column}")
        }
        _ => message,
    }
}

/// Just the id of a document that failed to parse, to name it in the rejects report.
#[derive(Deserialize)]
pub struct IdOnly<'a> {
    #[serde(borrow, default)]
    pub id: Option<Text<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sessions (or the problems in their places) the slow path walks, numbers left out.
    fn walked(json: &str) -> Vec<Result<RawSession<'_>, Problem>> {
        let items = sessions_one_by_one(json, TextPosition::START, 0).unwrap();
        items.into_iter().map(|(_, item)| item).collect()
    }

    fn ids_of<'i>(items: &'i [Result<RawSession<'_>, Problem>]) -> Vec<Option<&'i str>> {
        let id = |item: &'i Result<RawSession<'_>, Problem>| {
            item.as_ref().ok().and_then(|s| text(&s.id))
        };
        items.iter().map(id).collect()
    }

    fn sessions(json: &str) -> Vec<RawSession<'_>> {
        let items = serde_json::from_str::<Document>(json)
            .unwrap()
            .into_sessions(0);
        items.into_iter().map(|(_, item)| item.unwrap()).collect()
    }

    #[test]
    fn reads_the_documented_v1_example() {
        let s = sessions(
            r#"{"id": "616e79f7ba68c7768bfd18bf", "meetingId": "ywnm-eicr-d55x",
             "start": "2021-10-19T07:55:35.807Z", "end": "2021-10-19T07:55:39.941Z",
             "activeDuration": 0, "chatLink": "x", "links": {"get_room": "y"},
             "participants": [{"participantId": "wcrkkrf4", "name": "Ada Example",
               "timelog": [{"start": "2021-10-19T07:55:36.316Z", "end": "2021-10-19T07:55:39.937Z"}]}]}"#,
        );
        assert_eq!(s.len(), 1);
        assert_eq!(text(&s[0].id), Some("616e79f7ba68c7768bfd18bf"));
        assert_eq!(s[0].room(), Some("ywnm-eicr-d55x"));
        assert_eq!(s[0].active_duration, Some(ReportedNumber(Some(0.0))));
        assert_eq!(s[0].timelog_entries(), 1);
    }

    /// The first entry is held in place and the rest on the heap: every entry is kept, in
    /// order, whatever the list's length, and a stray value keeps its place among them.
    #[test]
    fn a_timelog_keeps_every_entry_in_order() {
        let starts = |timelog: &str| {
            let json = format!(
                r#"{{"id":"a","participants":[{{"participantId":"p","timelog":{timelog}}}]}}"#
            );
            let s = sessions(&json).remove(0);
            let count = s.timelog_entries();
            let participants = s.participants.unwrap();
            let Item::Object(p) = &participants[0] else {
                panic!("not a participant");
            };
            let entries = p.timelog.as_ref().map(|entries| {
                let start = |entry: &Item<RawInterval<'_>>| match entry {
                    Item::Object(entry) => text(&entry.start).unwrap_or("").to_owned(),
                    Item::Other(kind) => kind.0.to_owned(),
                };
                entries.iter().map(start).collect::<Vec<_>>()
            });
            (entries, count)
        };
        assert_eq!(starts("null"), (None, 0));
        assert_eq!(starts("[]"), (Some(vec![]), 0));
        assert_eq!(starts(r#"[{"start":"1"}]"#), (Some(vec!["1".into()]), 1));
        let five = r#"[{"start":"1"},{"start":"2"},7,{"start":"4"},{"start":"5"}]"#;
        let expected = ["1", "2", "a number", "4", "5"].map(String::from).to_vec();
        assert_eq!(starts(five), (Some(expected), 5));
        assert_eq!(starts(r#""x""#), (Some(vec!["a string".into()]), 1));
    }

    #[test]
    fn room_id_wins_over_meeting_id_and_custom_room_id() {
        let s = sessions(r#"{"id":"a","customRoomId":"c","meetingId":"m","roomId":"r"}"#);
        assert_eq!(s[0].room(), Some("r"));
        let s = sessions(r#"{"id":"a","customRoomId":"c","meetingId":"m"}"#);
        assert_eq!(s[0].room(), Some("m"));
        let s = sessions(r#"{"id":"a","customRoomId":"c"}"#);
        assert_eq!(s[0].room(), Some("c"));
    }

    #[test]
    fn opens_page_envelopes_and_arrays() {
        let page = r#"{"pageInfo":{"currentPage":1,"perPage":2,"lastPage":1,"total":2},
                       "data":[{"id":"a"},{"id":"b"}]}"#;
        let ids: Vec<_> = sessions(page)
            .iter()
            .map(|s| text(&s.id).unwrap().to_owned())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(sessions(r#"{"data":{"id":"a"}}"#).len(), 1);
        assert_eq!(sessions(r#"[{"id":"a"},{"id":"b"},{"id":"c"}]"#).len(), 3);
        assert_eq!(sessions(r#"{"pageInfo":{},"data":[]}"#).len(), 0);
    }

    #[test]
    fn wrong_types_in_scalar_fields_do_not_fail_the_document() {
        let s =
            sessions(r#"{"id":"a","start":17,"end":{"x":1},"status":null,"activeDuration":"9"}"#);
        assert_eq!(s[0].start, Some(Text::Other));
        assert_eq!(s[0].end, Some(Text::Other));
        assert_eq!(s[0].status, None);
        assert_eq!(s[0].active_duration, Some(ReportedNumber(None)));
    }

    #[test]
    fn a_stray_value_in_an_array_is_kept_in_its_place() {
        let items =
            serde_json::from_str::<Document>(r#"[{"id":"a"}, 5, null, [1], {"data": ["x"]}]"#)
                .unwrap()
                .into_sessions(0)
                .into_iter()
                .map(|(_, item)| item)
                .collect::<Vec<_>>();
        let kinds: Vec<_> = items
            .iter()
            .map(|i| match i {
                Err(Problem::NotAnObject(kind)) => Some(kind.0),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            [
                None,
                Some("a number"),
                Some("null"),
                Some("an array"),
                Some("a string")
            ]
        );
    }

    #[test]
    fn the_slow_path_reads_each_session_on_its_own() {
        let json = r#"[{"id":"a"},{"id":"b","participants":"x"},7,{"pageInfo":{},"data":[{"id":"c"}]},{"id":"d","data":[]},{"id":null,"data":{"id":"e"}}]"#;
        let items = walked(json);
        let ids = ids_of(&items);
        assert_eq!(
            ids,
            [Some("a"), None, None, Some("c"), Some("d"), Some("e")]
        );
        assert!(matches!(&items[1], Err(Problem::Invalid { id: Some(id), .. }) if id == "b"));
        assert_eq!(
            items[2].as_ref().err(),
            Some(&Problem::NotAnObject(NotAnObject("a number")))
        );
        assert!(sessions_one_by_one(r#"[{"id":"a"},{"id":"b""#, TextPosition::START, 0).is_none());
    }

    /// serde_json cannot hold 1e400 in a double, so the whole array fails on the fast path;
    /// the slow path costs only its session, and points at its place in the file.
    #[test]
    fn a_number_out_of_range_costs_only_its_session() {
        let json =
            "[\n {\"id\":\"a\"},\n {\"id\":\"b\",\"activeDuration\":1e400},\n {\"id\":\"c\"}\n]";
        assert!(serde_json::from_str::<Document>(json).is_err());
        let items = walked(json);
        let ids = ids_of(&items);
        assert_eq!(ids, [Some("a"), None, Some("c")]);
        let Err(Problem::Invalid { id, error }) = &items[1] else {
            panic!("{:?}", items[1]);
        };
        assert_eq!(id.as_deref(), Some("b"));
        let whole = serde_json::from_str::<serde_json::Value>(json).unwrap_err();
        assert_eq!(whole.line(), 3);
        assert_eq!(
            *error,
            format!("number out of range at line 3 column {}", whole.column())
        );
    }

    #[test]
    fn a_position_past_the_items_first_line_keeps_its_column() {
        let json = "[{\"id\":\"a\"}, {\"id\":\"b\",\n\"participants\":\"x\"}]";
        let items = walked(json);
        let Err(Problem::Invalid { error, .. }) = &items[1] else {
            panic!("{:?}", items[1]);
        };
        assert!(error.ends_with(" at line 2 column 18"), "{error}");
    }

    /// Pages nested in pages are opened to a bounded depth, so a hostile document costs a
    /// bounded multiple of its bytes and no deep recursion.
    #[test]
    fn deeply_nested_pages_are_bounded() {
        let depth = 10_000;
        let json = format!(
            "{}{{\"id\":\"x\",\"start\":1e400}}{}",
            r#"{"data":"#.repeat(depth),
            "}".repeat(depth)
        );
        let items = walked(&json);
        assert_eq!(items.len(), 1);
        assert!(
            matches!(&items[0], Err(Problem::Invalid { error, .. }) if error.contains("nested more than 16 deep")),
            "{:?}",
            items[0]
        );
        let shallow = format!(
            "{}{{\"id\":\"x\",\"start\":1e400}}{}",
            r#"{"data":"#.repeat(3),
            "}".repeat(3)
        );
        let items = walked(&shallow);
        assert!(matches!(&items[..], [Err(Problem::Invalid { id: Some(id), .. })] if id == "x"));
    }

    /// A session's number is its place in the top list (the array, or the top page's
    /// `data`), which the sessions of a page in that list share; both paths agree.
    #[test]
    fn sessions_are_numbered_by_their_place_in_the_top_list() {
        for (json, expected) in [
            (
                r#"[{"id":"a"},{"data":[{"id":"b"},{}]},7,{}]"#,
                vec![1, 2, 2, 3, 4],
            ),
            (
                r#"{"data":[{"id":"a"},[1],{"data":[{},{}]},{}]}"#,
                vec![1, 2, 3, 3, 4],
            ),
            (r#"{"pageInfo":{},"data":{"id":"a"}}"#, vec![1]),
            (r#"{"id":"a"}"#, vec![1]),
        ] {
            let fast = serde_json::from_str::<Document>(json)
                .unwrap()
                .into_sessions(0);
            let fast: Vec<usize> = fast.iter().map(|(number, _)| *number).collect();
            let slow = sessions_one_by_one(json, TextPosition::START, 0).unwrap();
            let slow: Vec<usize> = slow.iter().map(|(number, _)| *number).collect();
            assert_eq!((&fast, &slow), (&expected, &expected), "{json}");
        }
    }

    /// Both paths stop opening pages at the same depth, counted from the file's top.
    #[test]
    fn both_paths_open_pages_to_the_same_depth() {
        let nested = |depth: usize| {
            let inner = r#"{"id":"x"}"#;
            format!(
                "{}{inner}{}",
                r#"{"data":"#.repeat(depth),
                "}".repeat(depth)
            )
        };
        for (depth, pages_above, opened) in
            [(16, 0, true), (17, 0, false), (15, 1, true), (16, 1, false)]
        {
            let json = nested(depth);
            let fast = serde_json::from_str::<Document>(&json)
                .unwrap()
                .into_sessions(pages_above);
            let slow = sessions_one_by_one(&json, TextPosition::START, pages_above).unwrap();
            for items in [&fast, &slow] {
                assert_eq!(items.len(), 1);
                assert_eq!(items[0].1.is_ok(), opened, "{depth} {pages_above}");
            }
        }
    }

    #[test]
    fn null_entries_stay_in_place_as_non_objects() {
        let s = sessions(
            r#"{"id":"a","participants":[null,{"participantId":"p","timelog":[null,{"start":"x"}]}]}"#,
        );
        let participants = s[0].participants.as_ref().unwrap();
        assert!(participants[0].object().is_none());
        assert_eq!(s[0].timelog_entries(), 2);
    }

    #[test]
    fn a_bare_number_is_not_a_document() {
        let err = serde_json::from_str::<Document>("42").unwrap_err();
        assert!(err.is_data(), "{err}");
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let s = sessions(
            r#"{"id":"a","participants":[{"participantId":"p","name":"Jos\u00e9 \"J\""}]}"#,
        );
        let name = s[0].participants.as_ref().unwrap()[0]
            .object()
            .unwrap()
            .name
            .as_ref()
            .unwrap();
        assert_eq!(name.non_empty(), Some("José \"J\""));
    }
}
