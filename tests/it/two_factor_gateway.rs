//! A small Authy-compatible gateway for the two-factor end-to-end tests:
//! real HTTP on loopback, an outbox the tests read codes from, and faults
//! (hang, 500, garbage) switched on per test. It records every request path
//! so tests can prove what never reached the gateway.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use rand::Rng;

pub const API_KEY: &str = "test-api-key-123";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    Hang,
    Status500,
    Garbage,
}

#[derive(Default)]
struct State {
    fault: Option<Fault>,
    /// Accept a correct code more than once (to test the addon's own single use).
    reusable_codes: bool,
    users: HashMap<(String, String), i64>,
    phones: HashMap<i64, String>,
    codes: HashMap<i64, String>,
    outbox: Vec<(String, String, String)>,
    requests: Vec<String>,
}

#[derive(Clone)]
pub struct FakeGateway {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

impl FakeGateway {
    pub async fn start() -> FakeGateway {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(shared.clone()))
                .default_service(web::to(handle))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        FakeGateway {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        self.state.lock().unwrap().fault = Some(fault);
    }

    pub fn set_reusable_codes(&self, on: bool) {
        self.state.lock().unwrap().reusable_codes = on;
    }

    /// The last code sent to a national number, and how many messages it got.
    pub fn last_code(&self, national: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.outbox
            .iter()
            .rev()
            .find(|(phone, _, _)| phone == national)
            .map(|(_, _, code)| code.clone())
    }

    pub fn messages_to(&self, national: &str) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.outbox
            .iter()
            .filter(|(phone, _, _)| phone == national)
            .map(|(_, channel, _)| channel.clone())
            .collect()
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn verify_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|p| p.contains("/verify/"))
            .count()
    }
}

fn json(status: u16, body: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body.to_string())
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    json(
        status,
        &format!(
            r#"{{"message":"{message}","success":false,"errors":{{"message":"{message}"}},"error_code":"{code}"}}"#
        ),
    )
}

async fn handle(
    state: web::Data<Mutex<State>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let path = req.path().to_string();
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests.push(format!("{} {}", req.method(), req.uri()));
        s.fault.unwrap_or(Fault::None)
    };
    match fault {
        Fault::None => {}
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(20)).await;
            return json(200, "{}");
        }
        Fault::Status500 => return json(500, r#"{"token":"is valid","success":true}"#),
        Fault::Garbage => return HttpResponse::Ok().body(&b"\x00\xffnot json at all"[..]),
    }
    let key = req
        .headers()
        .get("X-Authy-API-Key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key != API_KEY {
        return error(401, "60001", "Invalid API key");
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut s = state.lock().unwrap();
    match segments.as_slice() {
        ["protected", "json", "app", "details"] => json(
            200,
            r#"{"app":{"app_id":1,"name":"Test shop","plan":"pay_as_you_go","sms_enabled":true,"onetouch_enabled":true},"message":"Application information.","success":true}"#,
        ),
        ["protected", "json", "users", "new"] => {
            let fields: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).unwrap_or_default();
            let get = |k: &str| {
                fields
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let (cc, phone) = (get("user[country_code]"), get("user[cellphone]"));
            if cc.is_empty() || phone.is_empty() || get("user[email]").is_empty() {
                return error(400, "60027", "User was not valid");
            }
            let next = s.users.len() as i64 + 1000;
            let id = *s.users.entry((cc, phone.clone())).or_insert(next);
            s.phones.insert(id, phone);
            json(
                200,
                &format!(
                    r#"{{"message":"User created successfully.","user":{{"id":{id}}},"success":true}}"#
                ),
            )
        }
        ["protected", "json", channel @ ("sms" | "call"), id] => {
            let Some(phone) = id
                .parse::<i64>()
                .ok()
                .and_then(|id| s.phones.get(&id).cloned())
            else {
                return error(404, "60026", "User not found.");
            };
            let code = format!("{:07}", rand::thread_rng().gen_range(0..10_000_000));
            s.codes.insert(id.parse().unwrap(), code.clone());
            s.outbox.push((phone, channel.to_string(), code));
            json(
                200,
                r#"{"success":true,"message":"SMS token was sent","cellphone":"+1-XXX-XXX-XX23"}"#,
            )
        }
        ["protected", "json", "verify", token, id] => {
            let Ok(id) = id.parse::<i64>() else {
                return error(404, "60026", "User not found.");
            };
            if !s.phones.contains_key(&id) {
                return error(404, "60026", "User not found.");
            }
            let good = s.codes.get(&id).is_some_and(|c| c == token);
            if good {
                if !s.reusable_codes {
                    s.codes.remove(&id);
                }
                json(
                    200,
                    r#"{"message":"Token is valid.","token":"is valid","success":"true"}"#,
                )
            } else {
                json(
                    401,
                    r#"{"message":"Token is invalid","token":"is invalid","success":false,"errors":{"message":"Token is invalid"},"error_code":"60020"}"#,
                )
            }
        }
        _ => error(404, "60000", "Not found"),
    }
}
