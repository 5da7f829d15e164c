//! The addon with Twilio Verify as its gateway, end to end: the real server
//! on loopback and a Verify-speaking gateway on loopback whose answers and
//! faults each test chooses (Verify's error codes, a hang, 500, garbage,
//! 401). The sandbox's own Verify API is tested in `twilio_sandbox`.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use rand::Rng;
use storefront_2fa::plugin::Role;
use storefront_2fa::startup::default_addons;

use crate::helpers::{location, post_from, spawn_app_with, SmsSetUp, TestApp};

const PASSWORD: &str = "a-good-password-1";
const NATIONAL: &str = "2015550123";
const E164: &str = "+12015550123";
const AC: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const VA: &str = "VA0123456789abcdef0123456789abcdef";

/// What the fake answers instead of doing its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Normal,
    Hang,
    Status500,
    Garbage,
    Unauthorized,
    /// A Verify error code (status, code) for the next sends or checks.
    Error(u16, i64),
}

#[derive(Default)]
struct State {
    send: Option<Answer>,
    check: Option<Answer>,
    /// verification sid → (to, code, status)
    verifications: HashMap<String, (String, String, String)>,
    requests: Vec<String>,
}

#[derive(Clone)]
struct FakeVerify {
    base_url: String,
    state: Arc<Mutex<State>>,
}

impl FakeVerify {
    async fn start() -> FakeVerify {
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
        FakeVerify {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }
    fn on_send(&self, a: Answer) {
        self.state.lock().unwrap().send = Some(a);
    }
    fn on_check(&self, a: Answer) {
        self.state.lock().unwrap().check = Some(a);
    }
    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
    fn last_code(&self) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.verifications
            .values()
            .find(|(_, _, status)| status == "pending")
            .map(|(_, code, _)| code.clone())
    }
}

fn json(status: u16, body: String) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body)
}

fn error(status: u16, code: i64) -> HttpResponse {
    json(
        status,
        format!(
            r#"{{"code":{code},"message":"m","more_info":"https://www.twilio.com/docs/errors/{code}","status":{status}}}"#
        ),
    )
}

fn verification(sid: &str, to: &str, status: &str) -> String {
    format!(
        r#"{{"sid":"{sid}","service_sid":"{VA}","account_sid":"{AC}","to":"{to}","channel":"sms","status":"{status}","valid":{}}}"#,
        status == "approved"
    )
}

async fn fault(a: Answer) -> Option<HttpResponse> {
    match a {
        Answer::Normal => None,
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(20)).await;
            Some(json(200, "{}".into()))
        }
        Answer::Status500 => Some(json(500, r#"{"status":"approved","valid":true}"#.into())),
        Answer::Garbage => Some(HttpResponse::Ok().body(&b"\x00\xffnot json"[..])),
        Answer::Unauthorized => Some(error(401, 20003)),
        Answer::Error(status, code) => Some(error(status, code)),
    }
}

async fn handle(
    state: web::Data<Mutex<State>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{AC}:{TOKEN}"))
    );
    let auth_ok = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str());
    let path = req.path().to_string();
    let (send, check) = {
        let mut s = state.lock().unwrap();
        let mut fields: Vec<_> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
        fields.sort();
        s.requests
            .push(format!("{} {} {}", req.method(), path, fields.join("&")));
        (
            s.send.unwrap_or(Answer::Normal),
            s.check.unwrap_or(Answer::Normal),
        )
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let is_check = segments.last() == Some(&"VerificationCheck");
    if let Some(r) = fault(if is_check { check } else { send }).await {
        return r;
    }
    if !auth_ok {
        return error(401, 20003);
    }
    let mut s = state.lock().unwrap();
    match segments.as_slice() {
        ["v2", "Services", va] if *va == VA => json(
            200,
            format!(
                r#"{{"sid":"{VA}","account_sid":"{AC}","friendly_name":"Test shop","code_length":6}}"#
            ),
        ),
        ["v2", "Services", _] => error(404, 20404),
        ["v2", "Services", _, "Verifications"] => {
            let to = form.get("To").cloned().unwrap_or_default();
            let pending = s
                .verifications
                .iter()
                .find(|(_, (t, _, st))| *t == to && st == "pending")
                .map(|(sid, _)| sid.clone());
            let sid = pending.unwrap_or_else(|| {
                let sid = format!("VE{:032x}", rand::thread_rng().gen::<u128>());
                let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
                s.verifications
                    .insert(sid.clone(), (to.clone(), code, "pending".into()));
                sid
            });
            json(201, verification(&sid, &to, "pending"))
        }
        ["v2", "Services", _, "VerificationCheck"] => {
            let sid = form.get("VerificationSid").cloned().unwrap_or_default();
            let Some((to, code, status)) = s.verifications.get(&sid).cloned() else {
                return error(404, 20404);
            };
            if status != "pending" {
                return error(404, 20404);
            }
            if form.get("Code") == Some(&code) {
                s.verifications
                    .insert(sid.clone(), (to.clone(), code, "approved".into()));
                json(200, verification(&sid, &to, "approved"))
            } else {
                json(200, verification(&sid, &to, "pending"))
            }
        }
        ["v2", "Services", _, "Verifications", sid] => {
            let sid = sid.to_string();
            match s.verifications.get(&sid).cloned() {
                Some((to, code, _))
                    if form.get("Status").map(String::as_str) == Some("canceled") =>
                {
                    s.verifications
                        .insert(sid.clone(), (to.clone(), code, "canceled".into()));
                    json(200, verification(&sid, &to, "canceled"))
                }
                _ => error(404, 20404),
            }
        }
        _ => error(404, 20404),
    }
}

struct Tv {
    app: TestApp,
    gw: FakeVerify,
}

/// A server in test mode whose Verify "sandbox" is the fake, customers on.
async fn setup() -> Tv {
    let gw = FakeVerify::start().await;
    let url = gw.base_url.clone();
    let app = spawn_app_with(default_addons, move |s| {
        s.two_factor.verify_sandbox_url = url;
        s.two_factor.gateway_timeout_ms = 800;
    })
    .await;
    use_twilio_verify(&app).await;
    Tv { app, gw }
}

/// The owner signs in, enables the addon, and saves Twilio Verify's three
/// values with customers on.
async fn use_twilio_verify(app: &TestApp) {
    app.login_admin().await;
    let b = &app.browser;
    b.post_form("/admin/addons/two_factor/enable", &[]).await;
    let res = b
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("gateway", "twilio_verify"),
                ("twilio_account_sid", AC),
                ("twilio_auth_token", TOKEN),
                ("twilio_service_sid", VA),
                ("customer_enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "settings saved");
}

impl Tv {
    /// Clears the addon's send counters (cooldowns, per-number quotas).
    fn forget_limits(&self) {
        use diesel::prelude::*;
        use storefront_2fa::two_factor::schema::tfa_counters;
        diesel::delete(tfa_counters::table)
            .execute(&mut self.app.db.get().unwrap())
            .unwrap();
    }

    /// A customer with a phone, signed in with the password: at the code page.
    async fn at_code_page(&self, email: &str) -> (crate::helpers::Browser, u16, String) {
        self.at_code_page_of(email).await.1
    }

    async fn at_code_page_of(&self, email: &str) -> (i64, (crate::helpers::Browser, u16, String)) {
        let id = self.app.create_account(email, PASSWORD, Role::Customer);
        self.app.add_phone(id, NATIONAL, SmsSetUp::Complete);
        let b = self.app.new_browser();
        let res = b.login("/login", email, PASSWORD).await;
        assert_eq!(location(&res), "/two-factor/verify");
        let (status, page) = b.get_text("/two-factor/verify").await;
        (id, (b, status, page))
    }
}

async fn submit(b: &crate::helpers::Browser, code: &str) -> (u16, String, String) {
    crate::helpers::post_and_read_back(b, "/login", "/two-factor/verify", &[("code", code)]).await
}

#[tokio::test]
async fn a_shopper_signs_in_with_a_verify_code_bound_to_its_verification() {
    let t = setup().await;
    let (b, status, page) = t.at_code_page("shopper@example.com").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("We sent a code"), "{page}");
    let sends: Vec<String> =
        t.gw.requests()
            .into_iter()
            .filter(|r| r.starts_with("POST /v2/Services/") && r.contains("/Verifications "))
            .collect();
    assert_eq!(sends.len(), 1, "one verification started");
    assert!(
        sends[0].contains(&format!("To={E164}")) && sends[0].contains("Channel=sms"),
        "{sends:?}"
    );
    let code = t.gw.last_code().unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, loc, page) = submit(&b, wrong).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    assert!(
        page.contains("That code is not right. 4 attempts left."),
        "{page}"
    );
    let (status, loc, _) = submit(&b, &code).await;
    assert_eq!((status, loc.as_str()), (303, "/"));
    assert_eq!(b.get("/account").await.status(), 200);
    // Every check named the verification, never only the number.
    let checks: Vec<String> =
        t.gw.requests()
            .into_iter()
            .filter(|r| r.contains("VerificationCheck"))
            .collect();
    assert_eq!(checks.len(), 2);
    assert!(checks
        .iter()
        .all(|c| c.contains("VerificationSid=VE") && !c.contains("To=")));
}

#[tokio::test]
async fn every_gateway_fault_refuses_the_sign_in() {
    for fault in [
        Answer::Hang,
        Answer::Status500,
        Answer::Garbage,
        Answer::Unauthorized,
    ] {
        let t = setup().await;
        // The send works; the check meets the fault.
        let (b, _, _) = t.at_code_page("shopper@example.com").await;
        let code = t.gw.last_code().unwrap();
        t.gw.on_check(fault);
        let (status, loc, page) = submit(&b, &code).await;
        assert_eq!(
            (status, loc.as_str()),
            (303, "/two-factor/verify"),
            "{fault:?}: {page}"
        );
        assert!(page.contains("We could not check your code"), "{fault:?}");
        assert_ne!(b.get("/account").await.status(), 200, "{fault:?}");
        // The send meets it too: no code, the gateway message, no session.
        t.gw.on_send(fault);
        let (b2, status, page) = t.at_code_page("other@example.com").await;
        assert_eq!(status, 503, "{fault:?}");
        assert!(
            page.contains("We could not send your code"),
            "{fault:?}: {page}"
        );
        assert_ne!(b2.get("/account").await.status(), 200);
    }
}

#[tokio::test]
async fn verify_answers_become_words_the_user_can_act_on() {
    let t = setup().await;
    for (status, code, words) in [
        (400, 60200, "This phone number is not valid"),
        (400, 60205, "Call me instead"),
        (403, 60410, "blocked"),
        (429, 60203, "Too many codes were sent to this phone number"),
    ] {
        t.gw.on_send(Answer::Error(status, code));
        let (_, page_status, page) = t.at_code_page(&format!("c{code}@example.com")).await;
        assert_eq!(page_status, 200, "{code}");
        assert!(page.contains(words), "{code}: {page}");
    }
    // The profile says the number was refused, until it is changed.
    t.gw.on_send(Answer::Error(400, 60200));
    let (id, _) = t.at_code_page_of("refused@example.com").await;
    let (_, page) = t.app.browser.get_text(&format!("/admin/users/{id}")).await;
    assert!(
        page.contains("says this user&#x27;s phone number is not valid"),
        "{page}"
    );
    t.gw.on_send(Answer::Normal);
    t.forget_limits(); // every account here shares one number
    let (b, _, _) = t.at_code_page("expired@example.com").await;
    t.gw.on_check(Answer::Error(404, 20404));
    let (status, loc, page) = submit(&b, "123456").await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    assert!(page.contains("expired or was already used"), "{page}");
    t.gw.on_check(Answer::Error(429, 60202));
    let (status, loc, page) = submit(&b, "123456").await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    assert!(
        page.contains("Too many wrong tries for this code"),
        "{page}"
    );
    assert_ne!(b.get("/account").await.status(), 200);
}

#[tokio::test]
async fn cancelling_a_sign_in_cancels_its_verification() {
    let t = setup().await;
    let (b, _, _) = t.at_code_page("shopper@example.com").await;
    let code = t.gw.last_code().unwrap();
    let (status, loc, _) = post_from(&b, "/login", "/two-factor/cancel", &[]).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/ended"));
    assert!(
        t.gw.requests()
            .iter()
            .any(|r| r.contains("/Verifications/VE") && r.contains("Status=canceled")),
        "{:?}",
        t.gw.requests()
    );
    assert!(
        t.gw.last_code().is_none(),
        "no pending verification is left"
    );
    let _ = code;
}

#[tokio::test]
async fn settings_check_sid_shapes_and_the_connection_test_says_what_happened() {
    let t = setup().await;
    let b = &t.app.browser;
    let res = b
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("gateway", "twilio_verify"),
                ("twilio_account_sid", "AC123"),
                ("twilio_service_sid", VA),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("followed by 32 characters"), "{page}");
    // The stored settings are unchanged: the test still works.
    let res = b.post_form("/admin/two-factor/gateway/test", &[]).await;
    assert_eq!(location(&res), "/admin/addons/two_factor/settings");
    let (_, page) = b.get_text("/admin/addons/two_factor/settings").await;
    assert!(
        page.contains("Twilio Verify answered: service “Test shop”, codes of 6 digits"),
        "{page}"
    );
    assert!(page.contains("Gateway: <strong id=\"tfa-gateway\">Twilio Verify</strong>"));
    // Wrong credentials: said in words, and kept as the last error.
    t.gw.on_send(Answer::Unauthorized);
    b.post_form("/admin/two-factor/gateway/test", &[]).await;
    let (_, page) = b.get_text("/admin/addons/two_factor/settings").await;
    assert!(page.contains("refused the credentials"), "{page}");
    assert!(page.contains("Last error: connection test"), "{page}");
    // A service the account does not have.
    t.gw.on_send(Answer::Normal);
    let other_va = "VAffffffffffffffffffffffffffffffff";
    let res = b
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("gateway", "twilio_verify"),
                ("twilio_account_sid", AC),
                ("twilio_service_sid", other_va),
                ("customer_enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    b.post_form("/admin/two-factor/gateway/test", &[]).await;
    let (_, page) = b.get_text("/admin/addons/two_factor/settings").await;
    assert!(
        page.contains("does not know this Verify Service SID"),
        "{page}"
    );
}

#[tokio::test]
async fn the_api_signs_in_with_a_verify_code_and_names_an_expired_one() {
    let t = setup().await;
    let id = t
        .app
        .create_account("api@example.com", PASSWORD, Role::Customer);
    t.app.add_phone(id, NATIONAL, SmsSetUp::Complete);
    let api = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        api.post(format!("{}/api/v1{path}", t.app.address))
            .json(&body)
            .send()
    };
    let res = post(
        "/signin",
        serde_json::json!({"email": "api@example.com", "password": PASSWORD}),
    )
    .await
    .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let challenge = body["challenge_id"].as_str().unwrap().to_string();
    let res = post(
        "/two-factor/sms",
        serde_json::json!({"challenge_id": challenge}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let code = t.gw.last_code().unwrap();
    // The gateway says the code's verification is gone: a clear error, no token.
    t.gw.on_check(Answer::Error(404, 20404));
    let res = post(
        "/verify-2fa",
        serde_json::json!({"challenge_id": challenge, "code": code}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "code_expired");
    assert!(body.get("token").is_none());
    t.gw.on_check(Answer::Normal);
    let res = post(
        "/verify-2fa",
        serde_json::json!({"challenge_id": challenge, "code": code}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["method"], "sms");
}

/// The newest code the sandbox sent to `national`.
fn sandbox_outbox_code(app: &TestApp, national: &str) -> Option<String> {
    crate::helpers::outbox_texts(app, national)
        .first()
        .and_then(|t| crate::helpers::code_in(t))
}

/// Test mode with Twilio Verify: the app's own sandbox (mounted at
/// /sandbox/twilio) takes the store's credentials, sends to the outbox,
/// and refuses an SMS to a landline, for which a call works.
#[tokio::test]
async fn in_test_mode_verify_codes_go_through_the_mounted_sandbox() {
    let app = crate::helpers::spawn_app().await;
    use_twilio_verify(&app).await;
    let id = app.create_account("shopper@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, NATIONAL, SmsSetUp::Complete);
    let shopper = app.new_browser();
    shopper
        .login("/login", "shopper@example.com", PASSWORD)
        .await;
    let (status, page) = shopper.get_text("/two-factor/verify").await;
    assert_eq!(status, 200, "{page}");
    let code = sandbox_outbox_code(&app, NATIONAL).expect("a code in the outbox");
    assert_eq!(code.len(), 6);
    let (status, loc, _) = submit(&shopper, &code).await;
    assert_eq!((status, loc.as_str()), (303, "/"));
    // A landline (the sandbox's test number ending 0205): no SMS, a call.
    let landline = "2015550205";
    let id = app.create_account("landline@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, landline, SmsSetUp::Complete);
    let caller = app.new_browser();
    caller
        .login("/login", "landline@example.com", PASSWORD)
        .await;
    let (_, page) = caller.get_text("/two-factor/verify").await;
    assert!(page.contains("looks like a landline"), "{page}");
    assert!(sandbox_outbox_code(&app, landline).is_none());
    let (status, _, page) = crate::helpers::post_and_read_back(
        &caller,
        "/login",
        "/two-factor/send",
        &[("via", "call")],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert!(page.contains("We are calling"), "{page}");
    let code = sandbox_outbox_code(&app, landline).expect("the call's code");
    let (status, loc, _) = submit(&caller, &code).await;
    assert_eq!((status, loc.as_str()), (303, "/"));
}
