//! Text that came from outside (API messages, session ids, names, file paths) made safe to
//! print: a terminal or a cron mail must never receive a control character it would act on
//! (a newline that forges a line, an escape sequence that retitles the window or clears the
//! screen, a bidirectional override that reorders what is shown).
use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls and DEL, the Unicode
/// line and paragraph separators, and the bidirectional formatting characters.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}' | '\u{061C}'
        )
}

/// `text` with every unsafe character written as an escape (`\n`, `\r`, `\t`, `\u{1b}`).
/// Everything else, backslashes included (they cannot act on a terminal), is kept; text
/// without unsafe characters is returned as it is.
///
/// ```
/// use sessionstats::text::escape_for_terminal;
/// assert_eq!(escape_for_terminal("a\nfailed 0\x1b]0;x\x07"), "a\\nfailed 0\\u{1b}]0;x\\u{7}");
/// assert_eq!(escape_for_terminal("Zoë"), "Zoë");
/// ```
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Characters of one outside text shown on a terminal at most (a reject's reason can quote a
/// whole JSON string of the file, a failure an API answer).
pub const SHOWN_CHARS: usize = 300;

/// [`escape_for_terminal`], cut after [`SHOWN_CHARS`] characters with the count of the rest.
///
/// ```
/// use sessionstats::text::shorten_for_terminal;
/// assert_eq!(shorten_for_terminal("a\nb"), "a\\nb");
/// let long = "x".repeat(1_000);
/// assert_eq!(shorten_for_terminal(&long), format!("{}… (700 more characters)", "x".repeat(300)));
/// ```
pub fn shorten_for_terminal(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => escape_for_terminal(text),
        Some((cut, _)) => {
            let rest = text[cut..].chars().count();
            Cow::Owned(format!(
                "{}… ({rest} more characters)",
                escape_for_terminal(&text[..cut])
            ))
        }
    }
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Bytes that may not be UTF-8 (a file name), as text: valid UTF-8 as it is, every other byte
/// as `\xNN`. Unsafe characters are not escaped here; see [`escape_for_terminal`].
pub fn lossless_text(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// A path as text: its bytes through [`lossless_text`], so two names never print alike
/// because of a byte that is not UTF-8 (where `Path::display` would show U+FFFD).
pub fn path_text(path: &Path) -> String {
    lossless_text(path.as_os_str().as_encoded_bytes()).into_owned()
}

/// A path ready for a terminal: [`path_text`] then [`escape_for_terminal`].
pub fn path_for_terminal(path: &Path) -> String {
    escape_for_terminal(&path_text(path)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        let forged = "HTTP 404: gone\nfailed          0\x1b]0;owned\x07\x1b[2J\u{9b}31m\u{202e}";
        let shown = escape_for_terminal(forged);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(
            shown,
            "HTTP 404: gone\\nfailed          0\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{9b}31m\\u{202e}"
        );
        assert!(matches!(
            escape_for_terminal("plain: ünïcode"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn bytes_that_are_not_utf8_stay_distinct() {
        assert_eq!(lossless_text(b"a\xff\xfeb.json"), "a\\xFF\\xFEb.json");
        assert_eq!(lossless_text("é".as_bytes()), "é");
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(b"dir/x\xe9\n.json"));
        assert_eq!(path_for_terminal(path), "dir/x\\xE9\\n.json");
    }
}
