//! The RFC 3339 parser on any text: it never panics, what it accepts lies in the years
//! 0000–9999, and where chrono accepts the text too, both give the same millisecond.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sessionstats::time::{parse_rfc3339, to_rfc3339, EARLIEST, LATEST};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = parse_rfc3339(text);
    if let Some(ms) = ours {
        assert!((EARLIEST..=LATEST).contains(&ms));
        // What we write reads back as the same instant.
        assert_eq!(parse_rfc3339(&to_rfc3339(ms)), Some(ms));
    }
    if let Ok(parsed) = chrono::DateTime::parse_from_rfc3339(text) {
        let chrono_ms = parsed
            .timestamp()
            .checked_mul(1000)
            .and_then(|s| s.checked_add(i64::from(parsed.timestamp_subsec_millis().min(999))));
        if let (Some(ours), Some(theirs)) = (ours, chrono_ms) {
            assert_eq!(ours, theirs, "{text:?}");
        }
    }
});
