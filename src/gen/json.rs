//! Writing a generated session as a JSON document, in the v1 or v2 shape of docs/reference.md §1.
use super::mix::{Entry, Moment, Name, Session};
use crate::time::{format_millis, Millis};

/// Which shape a session is written in, and whether it is the full (ended or ongoing) session
/// or an earlier ongoing copy of it.
#[derive(Debug, Clone, Copy)]
pub struct Form {
    pub v1: bool,
    /// Write the session as a fetch at this instant saw it: no `end`, later entries absent,
    /// entries still running open.
    pub cut: Option<Millis>,
}

impl Form {
    /// The session as it finally is, in its own shape (or v2 when `force_v2`).
    pub fn of(session: &Session, force_v2: bool) -> Form {
        Form {
            v1: session.plan.v1 && !force_v2,
            cut: session.plan.ongoing_cut,
        }
    }
}

/// Appends `session` as one compact JSON object.
pub fn write_session(out: &mut String, session: &Session, form: Form) {
    let plan = &session.plan;
    let offset = plan.offset_minutes;
    out.push_str("{\"id\":");
    string(out, &session.id);
    if form.v1 {
        out.push_str(",\"meetingId\":");
        string(out, &session.room_id);
    } else {
        out.push_str(",\"roomId\":");
        string(out, &session.room_id);
        if let Some(custom) = &session.custom_room_id {
            out.push_str(",\"customRoomId\":");
            string(out, custom);
        }
    }
    out.push_str(",\"start\":");
    stamp(out, plan.start, offset);
    match form.cut {
        None => {
            out.push_str(",\"end\":");
            stamp(out, session.end, offset);
        }
        Some(_) if plan.null_open => out.push_str(",\"end\":null"),
        Some(_) => {}
    }
    if form.v1 {
        let active = match form.cut {
            Some(cut) => (cut - plan.start) / 1000,
            None => session.active_duration,
        };
        out.push_str(",\"activeDuration\":");
        out.push_str(&active.to_string());
        out.push_str(",\"chatLink\":\"https://api.videosdk.live/v1/meeting-sessions/");
        out.push_str(&session.id);
        out.push_str("/chat\"");
    } else {
        let status = match form.cut {
            Some(_) => "ongoing",
            None if session.completed => "completed",
            None => "ended",
        };
        out.push_str(",\"status\":\"");
        out.push_str(status);
        out.push_str("\",\"links\":{\"get_room\":\"https://api.videosdk.live/v2/rooms/");
        out.push_str(&session.room_id);
        out.push_str("\",\"get_session\":\"https://api.videosdk.live/v2/sessions/");
        out.push_str(&session.id);
        out.push_str("\"}");
    }
    out.push_str(",\"participants\":[");
    let mut first = true;
    for participant in &session.participants {
        let seen = |e: &&Entry| match (form.cut, e.start) {
            (Some(cut), Moment::At(start)) => start < cut,
            _ => true,
        };
        if !participant.timelog.iter().any(|e| seen(&e)) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push('{');
        if let Some(id) = &participant.id {
            out.push_str("\"participantId\":");
            string(out, id);
            out.push(',');
        }
        match &participant.name {
            Name::Given(name) => {
                out.push_str("\"name\":");
                string(out, name);
                out.push(',');
            }
            Name::Empty => out.push_str("\"name\":\"\","),
            Name::Absent => {}
        }
        out.push_str("\"timelog\":[");
        for (i, entry) in participant.timelog.iter().filter(seen).enumerate() {
            if i > 0 {
                out.push(',');
            }
            let end = match (form.cut, entry.end) {
                (Some(cut), Moment::At(end)) if end >= cut => None,
                (_, end) => Some(end),
            };
            out.push('{');
            let start_written = moment(out, "start", entry.start, offset);
            match end {
                Some(end) => {
                    if start_written && end != Moment::Missing {
                        out.push(',');
                    }
                    moment(out, "end", end, offset);
                }
                None if plan.null_open => {
                    if start_written {
                        out.push(',');
                    }
                    out.push_str("\"end\":null");
                }
                None => {}
            }
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push_str("]}");
}

/// Writes `"key":<timestamp>` unless the moment is missing; tells whether it wrote anything.
fn moment(out: &mut String, key: &str, value: Moment, offset: Option<i32>) -> bool {
    if value == Moment::Missing {
        return false;
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
    match value {
        Moment::At(ms) => stamp(out, ms, offset),
        Moment::Garbage(text) => string(out, text),
        Moment::Missing => {}
    }
    true
}

/// Writes a quoted RFC 3339 timestamp: `2021-10-19T07:55:35.807Z`, or with a numeric offset
/// (`+05:30`) and 0–9 fractional digits (picked from the instant, so the output is a function
/// of the session alone). Fewer than 3 digits truncate the instant; digits beyond the third are
/// sub-millisecond noise that parsers truncate away.
pub fn stamp(out: &mut String, ms: Millis, offset_minutes: Option<i32>) {
    out.push('"');
    let Some(offset) = offset_minutes else {
        format_millis(ms, out);
        out.push('"');
        return;
    };
    let mut local = String::with_capacity(24);
    format_millis(ms + Millis::from(offset) * 60_000, &mut local);
    out.push_str(local.get(..19).unwrap_or(&local));
    let noise = (ms as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let digits = (noise >> 59) % 10;
    if digits > 0 {
        out.push('.');
        let millis = local.get(20..23).unwrap_or("000");
        out.push_str(millis.get(..digits.min(3) as usize).unwrap_or(millis));
        for i in 3..digits {
            out.push(char::from(b'0' + ((noise >> (4 * i)) % 10) as u8));
        }
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    out.push_str(&format!("{sign}{:02}:{:02}\"", offset / 60, offset % 60));
}

/// Writes a JSON string literal.
pub fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::mix::generate;
    use crate::time::parse_rfc3339;

    #[test]
    fn varied_timestamps_parse_back_to_the_instant_truncated() {
        for (i, ms) in (1_709_510_400_123i64..)
            .step_by(7_777)
            .take(500)
            .enumerate()
        {
            let offset = [330, -240, 0, 345][i % 4];
            let mut out = String::new();
            stamp(&mut out, ms, Some(offset));
            let text = out.trim_matches('"');
            let parsed = parse_rfc3339(text).unwrap_or_else(|| panic!("{text}"));
            assert!(ms - parsed < 1000 && parsed <= ms, "{text}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "Chris \"CJ\" \\ Zoë\n");
        assert_eq!(out, r#""Chris \"CJ\" \\ Zoë\u000a""#);
    }

    #[test]
    fn sessions_are_valid_json_in_both_shapes_and_when_cut() {
        for i in 0..300 {
            let session = generate(5, i, 300);
            for v1 in [false, true] {
                for cut in [None, Some(session.plan.start + 60_000)] {
                    let mut out = String::new();
                    write_session(&mut out, &session, Form { v1, cut });
                    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
                    assert_eq!(value["id"], session.id.as_str());
                    assert_eq!(value.get("meetingId").is_some(), v1);
                    assert_eq!(value.get("status").is_some(), !v1);
                    assert_eq!(cut.is_none(), value["end"].is_string());
                }
            }
        }
    }
}
