//! The little `fetch` needs to know about a session document (docs/reference.md §1): its id, where it is
//! stored and whether it has ended. The document itself is kept as the bytes the API sent.
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The fields of a session document that decide where and whether it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionHead {
    pub id: Option<String>,
    pub start: Option<String>,
    end: bool,
    status: Option<String>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    start: Value,
    #[serde(default)]
    end: Value,
    #[serde(default)]
    status: Value,
}

fn string(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

impl SessionHead {
    /// Reads the head of a session object; an error for anything that is not a JSON object.
    /// Bytes that are not UTF-8 (inside a name, say) do not make it unreadable: the document
    /// is stored as sent, and only these fields are read.
    pub fn parse(bytes: &[u8]) -> serde_json::Result<SessionHead> {
        // serde would also read a struct from a JSON array.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(serde::de::Error::custom("not a JSON object"));
        }
        let wire: Wire = serde_json::from_slice(&utf8_placeholders(bytes))?;
        Ok(SessionHead {
            id: string(wire.id),
            start: string(wire.start),
            end: !wire.end.is_null(),
            status: string(wire.status),
        })
    }

    /// Ended: it has an `end`, or a v2 `status` saying so. Anything else may still change,
    /// so it is fetched again on the next run.
    pub fn ended(&self) -> bool {
        self.end || matches!(self.status.as_deref(), Some("ended" | "completed"))
    }
}

/// `bytes` with every byte that is not part of valid UTF-8 replaced by `?`: the same length,
/// so positions found in the copy are positions in the original, and parsable as JSON
/// wherever the original would be but for those bytes.
pub fn utf8_placeholders(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if std::str::from_utf8(bytes).is_ok() {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        out.extend(std::iter::repeat_n(b'?', chunk.invalid().len()));
    }
    std::borrow::Cow::Owned(out)
}

/// The parts of a v2 list page `fetch` uses; `data` keeps every session's bytes as received.
/// Both keys are required: an answer without them (`{}`, an error object sent with a 200) is
/// not an empty page, and taking it for one would end the listing early without a word.
#[derive(Debug, Deserialize)]
pub struct ListPage<'a> {
    #[serde(rename = "pageInfo")]
    pub page_info: PageInfo,
    #[serde(borrow)]
    pub data: Vec<&'a RawValue>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PageInfo {
    pub current_page: u64,
    pub last_page: u64,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_keep_their_places() {
        let doc = b"{\"id\":\"a\",\"name\":\"Zo\xEB\",\"end\":\"x\"}";
        assert_eq!(utf8_placeholders(doc).len(), doc.len());
        let head = SessionHead::parse(doc).unwrap();
        assert_eq!(head.id.as_deref(), Some("a"));
        assert!(head.ended());
    }

    #[test]
    fn ended_comes_from_end_or_status() {
        let ended = |doc: &str| SessionHead::parse(doc.as_bytes()).unwrap().ended();
        assert!(ended(r#"{"id":"a","end":"2021-10-19T07:55:39.941Z"}"#));
        assert!(ended(r#"{"id":"a","end":null,"status":"completed"}"#));
        assert!(ended(r#"{"id":"a","status":"ended"}"#));
        assert!(!ended(r#"{"id":"a","end":null,"status":"ongoing"}"#));
        assert!(!ended(r#"{"id":"a"}"#));
    }

    #[test]
    fn odd_fields_do_not_make_a_document_unreadable() {
        let head = SessionHead::parse(br#"{"id":7,"start":1,"participants":[]}"#).unwrap();
        assert_eq!(head.id, None);
        assert_eq!(head.start, None);
        assert!(SessionHead::parse(b"[1]").is_err());
        assert!(SessionHead::parse(br#"{"id":"a""#).is_err());
    }

    #[test]
    fn list_pages_keep_each_session_byte_for_byte() {
        let text = r#"{"pageInfo":{"currentPage":1,"perPage":2,"lastPage":3,"total":5},
            "data":[{"id": "a",  "start":"x"} ,{"id":"b"}]}"#;
        let page: ListPage = serde_json::from_str(text).unwrap();
        assert_eq!(page.page_info.last_page, 3);
        assert_eq!(page.page_info.total, 5);
        assert_eq!(page.data[0].get(), r#"{"id": "a",  "start":"x"}"#);
        assert_eq!(page.data[1].get(), r#"{"id":"b"}"#);
    }

    #[test]
    fn an_answer_without_page_info_or_data_is_not_a_page() {
        for text in [
            "{}",
            r#"{"message":"service paused"}"#,
            r#"{"data":[]}"#,
            r#"{"pageInfo":{"lastPage":1}}"#,
        ] {
            assert!(serde_json::from_str::<ListPage>(text).is_err(), "{text}");
        }
        let empty: ListPage = serde_json::from_str(r#"{"pageInfo":{},"data":[]}"#).unwrap();
        assert!(empty.data.is_empty());
    }
}
