//! A gateway that fails on a schedule, for gateway chaos under load: an
//! HTTP server on loopback in front of the real sandbox (the store's own
//! `/sandbox/authy` and `/sandbox/twilio`). Each phone's first send and
//! first check take the next fault of a fixed rotation; every later
//! request for that phone, and every slot of the rotation marked
//! `Forward`, goes to the sandbox, whose answer comes back unchanged. So a
//! storm has a known share of faults, each person is hit at most once per
//! kind (their retry reaches the sandbox), and nothing depends on timing.
//!
//! The faults are what a real gateway cannot be made to do: hang past the
//! client's timeout, answer 500, send garbage, answer 401. Every fault's
//! body (when it has one) says "yes" in both protocols' words, so a
//! client that read a body it should have refused would sign someone in.
//!
//! Shared by the load generator (`--phases e`) and the integration test
//! `tests/it/hardening_chaos.rs` (included there by path): only tokio and
//! reqwest, which both have.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the gateway does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Passed to the sandbox; its answer comes back.
    Forward,
    /// Read, then nothing until long after the client's timeout (then a yes).
    Hang,
    /// HTTP 500 with a body that says yes.
    Status500,
    /// HTTP 200 with bytes that are not JSON (a yes cut short, behind a NUL).
    Garbage,
    /// HTTP 401 with a body that says yes.
    Unauthorized,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::Forward => "forwarded",
            Fault::Hang => "hang",
            Fault::Status500 => "500",
            Fault::Garbage => "garbage",
            Fault::Unauthorized => "401",
        }
    }
}

/// Half of the first sends and half of the first checks fail, each fault
/// in turn.
pub const ROTATION: [Fault; 8] = [
    Fault::Forward,
    Fault::Hang,
    Fault::Forward,
    Fault::Status500,
    Fault::Forward,
    Fault::Garbage,
    Fault::Forward,
    Fault::Unauthorized,
];

/// The faults of `ROTATION` that are not `Forward`.
pub const FAULTS: [Fault; 4] = [
    Fault::Hang,
    Fault::Status500,
    Fault::Garbage,
    Fault::Unauthorized,
];

/// What a request asks the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A code by SMS or call: Verify `…/Verifications`, Authy `…/sms/{id}`.
    Send,
    /// A code checked: Verify `…/VerificationCheck`, Authy `…/verify/{token}/{id}`.
    Check,
    /// Anything else (registration, service details): always forwarded.
    Other,
}

/// One request the gateway answered.
#[derive(Clone, Debug)]
pub struct Record {
    pub kind: Kind,
    /// Whose: the E.164 number (Verify) or the gateway's user id (Authy).
    pub key: String,
    pub fault: Fault,
    /// A forwarded check the sandbox approved.
    pub approved: bool,
}

#[derive(Default)]
struct State {
    upstream: Option<String>,
    /// Next slot of `ROTATION`, per kind.
    next: HashMap<Kind, usize>,
    /// (kind, key) pairs that had their first request.
    seen: std::collections::HashSet<(Kind, String)>,
    /// Verify verification SID → the number it was sent to.
    sid_to: HashMap<String, String>,
    records: Vec<Record>,
}

#[derive(Clone)]
pub struct FaultGateway {
    /// Base URL: the store's `sandbox_url` is `{url}/sandbox/authy`, its
    /// `verify_sandbox_url` `{url}/sandbox/twilio`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// A yes in both protocols (Verify's approved check, Authy's valid token).
const YES: &str = r#"{"sid":"VE0123456789abcdef0123456789abcdef","status":"approved","valid":true,"token":"is valid","success":true,"message":"Token is valid."}"#;

impl FaultGateway {
    /// Listens on a free loopback port. A hang holds its request for
    /// `hang` (make it longer than the store's gateway timeout).
    pub async fn start(hang: Duration) -> std::io::Result<FaultGateway> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, http) = (shared.clone(), http.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, state, http, hang).await;
                });
            }
        });
        Ok(FaultGateway { url, state })
    }

    /// Where forwarded requests go: the store's own address (its sandbox
    /// is mounted there in test mode).
    pub fn set_upstream(&self, base: &str) {
        self.state.lock().unwrap().upstream = Some(base.trim_end_matches('/').to_string());
    }

    pub fn records(&self) -> Vec<Record> {
        self.state.lock().unwrap().records.clone()
    }

    /// Requests of `kind` per fault.
    pub fn tally(&self, kind: Kind) -> BTreeMap<Fault, usize> {
        let mut out = BTreeMap::new();
        for r in self.records().iter().filter(|r| r.kind == kind) {
            *out.entry(r.fault).or_default() += 1;
        }
        out
    }

    /// Faults (not `Forward`) of `kind` that hit `key`.
    pub fn faults_for(&self, kind: Kind, key: &str) -> usize {
        self.records()
            .iter()
            .filter(|r| r.kind == kind && r.key == key && r.fault != Fault::Forward)
            .count()
    }

    /// Checks for `key` the sandbox approved.
    pub fn approved_for(&self, key: &str) -> usize {
        self.records()
            .iter()
            .filter(|r| r.kind == Kind::Check && r.key == key && r.approved)
            .count()
    }
}

/// One request of a parsed HTTP/1.1 exchange.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads one request (head and `Content-Length` body), at most 64 KiB.
async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length.min(64 * 1024) {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| percent_decode(k) == name)
        .map(|(_, v)| percent_decode(v))
}

/// The request's kind and whose it is.
fn classify(req: &Request, state: &State) -> (Kind, String) {
    let path = req.target.split('?').next().unwrap_or("");
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if path.ends_with("/Verifications") && req.method == "POST" {
        let to = form_field(&req.body, "To").unwrap_or_default();
        return (Kind::Send, to);
    }
    if path.ends_with("/VerificationCheck") {
        let sid = form_field(&req.body, "VerificationSid").unwrap_or_default();
        let to = state.sid_to.get(&sid).cloned().unwrap_or(sid);
        return (Kind::Check, to);
    }
    match segments.as_slice() {
        [.., "protected", "json", "sms" | "call", id] => (Kind::Send, id.to_string()),
        [.., "protected", "json", "verify", _token, id] => (Kind::Check, id.to_string()),
        _ => (Kind::Other, String::new()),
    }
}

async fn write_response(stream: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

/// Answers one connection's request (every answer closes the connection).
async fn serve(
    mut stream: TcpStream,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
    hang: Duration,
) -> Option<()> {
    let req = read_request(&mut stream).await?;
    let (kind, key, fault, upstream) = {
        let mut s = state.lock().unwrap();
        let (kind, key) = classify(&req, &s);
        let fault = if kind != Kind::Other && s.seen.insert((kind, key.clone())) {
            let slot = s.next.entry(kind).or_default();
            let fault = ROTATION[*slot % ROTATION.len()];
            *slot += 1;
            fault
        } else {
            Fault::Forward
        };
        (kind, key, fault, s.upstream.clone())
    };
    let record = |approved: bool| {
        state.lock().unwrap().records.push(Record {
            kind,
            key: key.clone(),
            fault,
            approved,
        });
    };
    match fault {
        Fault::Hang => {
            record(false);
            tokio::time::sleep(hang).await;
            write_response(&mut stream, "200 OK", "application/json", YES.as_bytes()).await;
        }
        Fault::Status500 => {
            record(false);
            let status = "500 Internal Server Error";
            write_response(&mut stream, status, "application/json", YES.as_bytes()).await;
        }
        Fault::Unauthorized => {
            record(false);
            let status = "401 Unauthorized";
            write_response(&mut stream, status, "application/json", YES.as_bytes()).await;
        }
        Fault::Garbage => {
            record(false);
            let mut body = b"\x00\xff".to_vec();
            body.extend_from_slice(&YES.as_bytes()[..YES.len() / 2]);
            write_response(&mut stream, "200 OK", "application/json", &body).await;
        }
        Fault::Forward => {
            let Some(upstream) = upstream else {
                record(false);
                write_response(&mut stream, "502 Bad Gateway", "text/plain", b"no upstream").await;
                return Some(());
            };
            let method = reqwest::Method::from_bytes(req.method.as_bytes()).ok()?;
            let mut out = http.request(method, format!("{upstream}{}", req.target));
            for (k, v) in &req.headers {
                if !matches!(k.as_str(), "host" | "connection" | "content-length") {
                    out = out.header(k.as_str(), v.as_str());
                }
            }
            let answer = match out.body(req.body.clone()).send().await {
                Ok(res) => {
                    let status = res.status();
                    let ctype = res
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("application/json")
                        .to_string();
                    res.bytes()
                        .await
                        .ok()
                        .map(|body| (status, ctype, body.to_vec()))
                }
                Err(_) => None,
            };
            let Some((status, ctype, body)) = answer else {
                record(false);
                write_response(&mut stream, "502 Bad Gateway", "text/plain", b"upstream").await;
                return Some(());
            };
            let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).cloned();
            if kind == Kind::Send && status.is_success() {
                // Remember whose verification this is, for its checks.
                if let (Some(serde_json::Value::String(sid)), Some(serde_json::Value::String(to))) =
                    (field("sid"), field("to"))
                {
                    state.lock().unwrap().sid_to.insert(sid, to);
                }
            }
            let approved = kind == Kind::Check
                && status.as_u16() == 200
                && (field("status") == Some("approved".into())
                    || field("token") == Some("is valid".into()));
            record(approved);
            let line = format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            write_response(&mut stream, &line, &ctype, &body).await;
        }
    }
    Some(())
}
