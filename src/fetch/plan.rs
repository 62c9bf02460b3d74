//! What a run asks for: a listing (rooms, window, status) or a list of ids.
use anyhow::{bail, Context, Result};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::io::BufRead;

/// Bytes kept as they are in a URL path segment or query value (RFC 3986 unreserved).
const URL_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a session id (or a query value) for a URL.
pub fn url_encode(text: &str) -> String {
    utf8_percent_encode(text, URL_ESCAPES).collect()
}

/// Which endpoint fetches one session by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// `GET /v1/meeting-sessions/:id`
    V1,
    /// `GET /v2/sessions/:id`
    V2,
}

impl ApiVersion {
    /// The request path for one session (the id percent-encoded: it stays one segment).
    pub fn session_path(self, id: &str) -> String {
        let prefix = match self {
            ApiVersion::V1 => "/v1/meeting-sessions/",
            ApiVersion::V2 => "/v2/sessions/",
        };
        format!("{prefix}{}", url_encode(id))
    }
}

/// Why a session id cannot be fetched and stored, if it cannot.
pub fn unusable_id(id: &str) -> Option<&'static str> {
    if id.is_empty() || id.chars().all(|c| c == '.') {
        // A URL parser resolves `.` and `..` segments, encoded or not: the request would ask
        // for another resource.
        Some("this id cannot be requested: it is empty or only dots")
    } else if super::store::file_stem(id).is_none() {
        Some("this id is too long to be a file name")
    } else {
        None
    }
}

/// Sessions per list page, unless `--per-page` says otherwise.
pub const DEFAULT_PER_PAGE: u32 = 100;

/// A listing of `GET /v2/sessions/`: one pass per room (or one over the whole account).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub rooms: Vec<String>,
    pub custom_room_id: Option<String>,
    /// Sessions that started at or after this instant (epoch ms).
    pub since: Option<i64>,
    /// Sessions that started before this instant (epoch ms; exclusive).
    pub until: Option<i64>,
    /// `ended` or `ongoing`.
    pub status: Option<String>,
    pub per_page: u32,
}

impl Listing {
    /// The query of each pass, without the page number.
    pub fn queries(&self) -> Vec<Vec<(String, String)>> {
        let mut common = Vec::new();
        let mut add = |name: &str, value: String| common.push((name.to_string(), value));
        if let Some(custom) = &self.custom_room_id {
            add("customRoomId", custom.clone());
        }
        if let Some(since) = self.since {
            add("startDate", since.to_string());
        }
        // The API's bounds are inclusive; ours is exclusive.
        if let Some(until) = self.until {
            add("endDate", (until - 1).to_string());
        }
        if let Some(status) = &self.status {
            add("status", status.clone());
        }
        add("perPage", self.per_page.to_string());
        if self.rooms.is_empty() {
            return vec![common];
        }
        self.rooms
            .iter()
            .map(|room| {
                let mut query = vec![("roomId".to_string(), room.clone())];
                query.extend(common.iter().cloned());
                query
            })
            .collect()
    }
}

/// A request written the way a user would type it, for logs and the failures file.
pub fn describe(path: &str, query: &[(String, String)]) -> String {
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect();
    if query.is_empty() {
        format!("GET {path}")
    } else {
        format!("GET {path}?{}", query.join("&"))
    }
}

/// `--since`/`--until`: a date `YYYY-MM-DD` (midnight UTC) or an RFC 3339 instant, as epoch ms.
pub fn parse_instant(text: &str) -> Result<i64> {
    let text = text.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    crate::time::parse_rfc3339(text).with_context(|| {
        format!(
            "{text:?} is neither a date (2024-05-31) nor an RFC 3339 instant \
             (2024-05-31T18:00:00Z)"
        )
    })
}

/// The window `[since, until)`; `until` must be after `since`.
pub fn window(since: Option<&str>, until: Option<&str>) -> Result<(Option<i64>, Option<i64>)> {
    let since = since.map(parse_instant).transpose().context("--since")?;
    let until = until.map(parse_instant).transpose().context("--until")?;
    if let (Some(s), Some(u)) = (since, until) {
        if u <= s {
            bail!("--until must be after --since (the window is [since, until))");
        }
    }
    Ok((since, until))
}

/// The session ids of an `--ids` file (`-`: standard input): one a line, blank lines skipped,
/// surrounding white space trimmed, duplicates dropped (first kept).
pub fn read_ids(source: &str) -> Result<Vec<String>> {
    let reader: Box<dyn BufRead> = if source == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(source)
            .with_context(|| format!("cannot open the ids file {source}"))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read line {} of {source}", n + 1))?;
        let id = line.trim();
        if !id.is_empty() && seen.insert(id.to_string()) {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_instants_become_epoch_ms() {
        assert_eq!(parse_instant("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(
            parse_instant("2021-10-19T07:55:35.807Z").unwrap(),
            1_634_630_135_807
        );
        assert_eq!(
            parse_instant("2021-10-19T09:55:35.807+02:00").unwrap(),
            1_634_630_135_807
        );
        for bad in ["2021-13-01", "yesterday", "2021-10-19T07:55", ""] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn window_must_not_be_empty() {
        assert_eq!(
            window(Some("2024-01-01"), Some("2024-01-02")).unwrap(),
            (Some(1_704_067_200_000), Some(1_704_153_600_000))
        );
        assert!(window(Some("2024-01-02"), Some("2024-01-02")).is_err());
        let err = format!("{:#}", window(Some("soon"), None).unwrap_err());
        assert!(err.contains("--since") && err.contains("soon"), "{err}");
    }

    #[test]
    fn queries_carry_the_window_inclusive_and_one_pass_per_room() {
        let listing = Listing {
            rooms: vec!["r1".into(), "r 2".into()],
            since: Some(1000),
            until: Some(2000),
            status: Some("ended".into()),
            per_page: 50,
            ..Listing::default()
        };
        let queries = listing.queries();
        assert_eq!(queries.len(), 2);
        assert_eq!(
            describe("/v2/sessions/", &queries[1]),
            "GET /v2/sessions/?roomId=r%202&startDate=1000&endDate=1999&status=ended&perPage=50"
        );
        let all = Listing::default().queries();
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn session_paths_cannot_leave_the_endpoint() {
        let v2 = ApiVersion::V2;
        assert_eq!(v2.session_path("../../x"), "/v2/sessions/..%2F..%2Fx");
        assert_eq!(
            ApiVersion::V1.session_path("a?b"),
            "/v1/meeting-sessions/a%3Fb"
        );
        assert_eq!(unusable_id("../../x"), None);
        assert!(unusable_id("..").is_some());
        assert!(unusable_id("").is_some());
        assert!(unusable_id(&"x".repeat(300)).is_some());
    }

    #[test]
    fn ids_file_is_trimmed_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.txt");
        std::fs::write(&path, "a\n\n  b \r\na\nc").unwrap();
        let ids = read_ids(path.to_str().unwrap()).unwrap();
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
