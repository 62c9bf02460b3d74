//! A small VideoSDK API on 127.0.0.1 for the fetch tests: real HTTP/1.1 over TCP, one thread
//! per connection, the three session endpoints with pagination, an `Authorization` check,
//! and faults injected on demand. It counts requests in flight and logs every request.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the server does instead of answering normally, once per queued fault.
#[derive(Debug, Clone)]
pub enum Fault {
    Status(u16),
    /// 429 with `Retry-After: seconds`.
    TooMany(u64),
    /// Waits this long before answering normally (past the client's timeout).
    Slow(Duration),
    /// Sends the headers and half the body, then closes the connection.
    CloseMidBody,
    /// A complete HTTP answer whose JSON body is cut short.
    Truncated,
    /// A 200 answer with this body instead of the real one.
    Body(&'static str),
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub query: HashMap<String, String>,
    pub authorization: Option<String>,
    pub at: Instant,
}

/// A mutation of the session list, run once when page 2 is first asked for.
type Mutation = Box<dyn FnOnce(&mut Vec<Session>) + Send>;

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub room: String,
    pub start: String,
    pub ended: bool,
    /// The document exactly as the API sends it.
    pub doc: String,
}

impl Session {
    /// A session with deliberately odd spacing, so a re-serialised copy would differ.
    pub fn new(id: &str, room: &str, start: &str, end: Option<&str>) -> Session {
        let id_json = serde_json::to_string(id).unwrap();
        let end_json = end.map_or("null".to_string(), |e| format!("\"{e}\""));
        let doc = format!(
            "{{\"id\": {id_json},  \"roomId\":\"{room}\", \"start\":\"{start}\",\"end\": {end_json}, \
             \"participants\":[{{\"participantId\":\"p1\",\"name\":\"Ada\",\"timelog\":[{{\"start\":\"{start}\",\"end\":{end_json}}}]}}]}}"
        );
        Session {
            id: id.to_string(),
            room: room.to_string(),
            start: start.to_string(),
            ended: end.is_some(),
            doc,
        }
    }
}

pub struct State {
    pub sessions: Mutex<Vec<Session>>,
    /// The `Authorization` value accepted; `None`: any three-part JWT (minted by the client).
    pub token: Option<String>,
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    /// Faults applied to every request of a path, forever.
    permanent: Mutex<HashMap<String, Fault>>,
    on_page_two: Mutex<Option<Mutation>>,
    /// Added to every answer, so requests overlap.
    pub delay: Mutex<Duration>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub hits: Mutex<Vec<Hit>>,
}

pub struct Server {
    pub url: String,
    pub state: Arc<State>,
}

impl Server {
    pub fn start(token: Option<&str>, sessions: Vec<Session>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            sessions: Mutex::new(sessions),
            token: token.map(str::to_string),
            faults: Mutex::new(HashMap::new()),
            permanent: Mutex::new(HashMap::new()),
            on_page_two: Mutex::new(None),
            delay: Mutex::new(Duration::ZERO),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            hits: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                thread::spawn(move || {
                    let _ = serve(&state, stream);
                });
            }
        });
        Server { url, state }
    }

    /// Queues faults for the next requests of `path` (e.g. `/v2/sessions/s1`).
    pub fn fault(&self, path: &str, faults: &[Fault]) {
        let mut map = self.state.faults.lock().unwrap();
        map.entry(path.to_string())
            .or_default()
            .extend(faults.iter().cloned());
    }

    /// Every request of `path` gets this fault.
    pub fn always(&self, path: &str, fault: Fault) {
        self.state
            .permanent
            .lock()
            .unwrap()
            .insert(path.to_string(), fault);
    }

    pub fn on_page_two(&self, mutation: impl FnOnce(&mut Vec<Session>) + Send + 'static) {
        *self.state.on_page_two.lock().unwrap() = Some(Box::new(mutation));
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }

    pub fn hits_of(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Puts `session` in place of the one with its id (or adds it).
    pub fn replace(&self, session: Session) {
        let mut sessions = self.state.sessions.lock().unwrap();
        sessions.retain(|s| s.id != session.id);
        sessions.push(session);
    }

    /// The API forgets a session.
    pub fn remove(&self, id: &str) {
        self.state.sessions.lock().unwrap().retain(|s| s.id != id);
    }

    pub fn sessions(&self) -> Vec<Session> {
        self.state.sessions.lock().unwrap().clone()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn write_answer(
    stream: &mut impl Write,
    status: u16,
    extra: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

struct InFlight<'a>(&'a State);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The connection while a request is answered: the request stops counting as in flight when
/// the first byte of its answer is written, before the client can see the answer and send
/// its next request (counting until the thread ends would overlap the two).
struct Answering<'a> {
    stream: TcpStream,
    in_flight: Option<InFlight<'a>>,
}

impl Write for Answering<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.in_flight = None;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn serve(state: &State, stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let mut stream = Answering {
        stream,
        in_flight: Some(InFlight(state)),
    };

    let (path, query_text) = target.split_once('?').unwrap_or((&target, ""));
    let query: HashMap<String, String> = query_text
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    state.hits.lock().unwrap().push(Hit {
        path: path.to_string(),
        query: query.clone(),
        authorization: authorization.clone(),
        at: Instant::now(),
    });

    let delay = *state.delay.lock().unwrap();
    thread::sleep(delay);

    let authorised = match (&state.token, &authorization) {
        (Some(token), Some(got)) => got == token,
        (None, Some(got)) => !got.starts_with("Bearer") && got.split('.').count() == 3,
        _ => false,
    };
    if !authorised {
        return write_answer(&mut stream, 401, "", br#"{"message":"Unauthorized"}"#);
    }

    let fault = state
        .faults
        .lock()
        .unwrap()
        .get_mut(path)
        .and_then(VecDeque::pop_front)
        .or_else(|| state.permanent.lock().unwrap().get(path).cloned());
    match &fault {
        Some(Fault::Status(code)) => {
            return write_answer(&mut stream, *code, "", br#"{"message":"injected"}"#)
        }
        Some(Fault::TooMany(secs)) => {
            let extra = format!("Retry-After: {secs}\r\n");
            return write_answer(&mut stream, 429, &extra, br#"{"message":"slow down"}"#);
        }
        Some(Fault::Slow(d)) => thread::sleep(*d),
        Some(Fault::Body(body)) => return write_answer(&mut stream, 200, "", body.as_bytes()),
        _ => {}
    }

    let (status, body) = answer(state, path, &query);
    match fault {
        Some(Fault::CloseMidBody) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes())?;
            stream.write_all(&body.as_bytes()[..body.len() / 2])?;
            stream.flush()?;
            stream.stream.shutdown(Shutdown::Both)
        }
        Some(Fault::Truncated) => {
            write_answer(&mut stream, status, "", &body.as_bytes()[..body.len() / 2])
        }
        _ => write_answer(&mut stream, status, "", body.as_bytes()),
    }
}

fn millis(text: &str) -> i64 {
    sessionstats::time::parse_rfc3339(text).unwrap_or(0)
}

fn answer(state: &State, path: &str, query: &HashMap<String, String>) -> (u16, String) {
    if path == "/v2/sessions/" || path == "/v2/sessions" {
        let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        if page == 2 {
            if let Some(mutation) = state.on_page_two.lock().unwrap().take() {
                mutation(&mut state.sessions.lock().unwrap());
            }
        }
        let per_page: usize = query
            .get("perPage")
            .and_then(|p| p.parse().ok())
            .unwrap_or(20);
        let sessions = state.sessions.lock().unwrap();
        let num = |k: &str| query.get(k).and_then(|v| v.parse::<i64>().ok());
        let selected: Vec<&Session> = sessions
            .iter()
            .filter(|s| query.get("roomId").is_none_or(|r| *r == s.room))
            .filter(|s| match query.get("status").map(String::as_str) {
                Some("ended") => s.ended,
                Some("ongoing") => !s.ended,
                _ => true,
            })
            .filter(|s| num("startDate").is_none_or(|d| millis(&s.start) >= d))
            .filter(|s| num("endDate").is_none_or(|d| millis(&s.start) <= d))
            .collect();
        let total = selected.len();
        let last_page = total.div_ceil(per_page).max(1);
        let data: Vec<&str> = selected
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|s| s.doc.as_str())
            .collect();
        let body = format!(
            "{{\"pageInfo\":{{\"currentPage\":{page},\"perPage\":{per_page},\"lastPage\":{last_page},\"total\":{total}}},\"data\":[{}]}}",
            data.join(",")
        );
        return (200, body);
    }
    let id = path
        .strip_prefix("/v2/sessions/")
        .or_else(|| path.strip_prefix("/v1/meeting-sessions/"))
        .map(percent_decode);
    let sessions = state.sessions.lock().unwrap();
    match id.and_then(|id| sessions.iter().find(|s| s.id == id)) {
        Some(s) => (200, s.doc.clone()),
        None => (404, r#"{"message":"Session not found"}"#.to_string()),
    }
}
