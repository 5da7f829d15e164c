//! The sandbox's Twilio Verify v2 API over HTTP: the standalone server's
//! `/twilio`, and the app's `/sandbox/twilio` where the mounting matters
//! (which credentials, when it is there at all).

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use reqwest::{Client, Response};
use serde_json::Value;
use storefront_2fa::authy_sandbox::build_standalone;
use storefront_2fa::config::{SandboxSettings, Settings};
use storefront_2fa::db::Db;

use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestDb};
use crate::sandbox::{digit_run, settings, KEY};

pub const AC: &str = "AC0123456789abcdef0123456789abcdef";
pub const SK: &str = "SK0123456789abcdef0123456789abcdef";
pub const VA: &str = "VA0123456789abcdef0123456789abcdef";
const OTHER_VA: &str = "VAfedcba9876543210fedcba9876543210";
const TO: &str = "+12015550123";

fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34
        && s.starts_with(prefix)
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A standalone sandbox; requests go to its `/twilio` as `AC` / `KEY`.
pub struct Verify {
    pub root: String,
    pub base: String,
    pub db: Db,
    pub http: Client,
    handle: ServerHandle,
    _db: TestDb,
}

impl Verify {
    pub async fn start() -> Verify {
        Verify::start_with(settings(1000)).await
    }

    pub async fn start_with(settings: SandboxSettings) -> Verify {
        let test_db = TestDb::fresh();
        let url = test_db.url.clone();
        let db = tokio::task::spawn_blocking(move || Db::connect(&url, 8))
            .await
            .unwrap()
            .expect("connect to the test database");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let root = format!("http://{}", listener.local_addr().unwrap());
        let server = build_standalone(listener, db.clone(), KEY.to_string(), settings)
            .await
            .expect("sandbox starts");
        let handle = server.handle();
        tokio::spawn(server);
        Verify {
            base: format!("{root}/twilio"),
            root,
            db,
            http: Client::new(),
            handle,
            _db: test_db,
        }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }

    fn service(&self, rest: &str) -> String {
        format!("{}/v2/Services/{VA}{rest}", self.base)
    }

    async fn get(&self, rest: &str) -> (u16, Value) {
        read(
            self.http
                .get(self.service(rest))
                .basic_auth(AC, Some(KEY))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn post(&self, rest: &str, form: &[(&str, &str)]) -> (u16, Value) {
        read(
            self.http
                .post(self.service(rest))
                .basic_auth(AC, Some(KEY))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn create(&self, to: &str, channel: &str) -> (u16, Value) {
        self.post("/Verifications", &[("To", to), ("Channel", channel)])
            .await
    }

    async fn check(&self, to: &str, code: &str) -> (u16, Value) {
        self.post("/VerificationCheck", &[("To", to), ("Code", code)])
            .await
    }

    async fn check_sid(&self, sid: &str, code: &str) -> (u16, Value) {
        self.post(
            "/VerificationCheck",
            &[("VerificationSid", sid), ("Code", code)],
        )
        .await
    }

    /// The newest outbox message to `to` (its digits): channel and text.
    async fn newest_message(&self, to: &str) -> (String, String) {
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        let res = self
            .http
            .get(format!("{}/outbox?phone={digits}&limit=1", self.root))
            .header("X-Authy-API-Key", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let messages: Value = res.json().await.unwrap();
        let m = &messages[0];
        (
            m["channel"].as_str().expect("a message").to_string(),
            m["text"].as_str().unwrap().to_string(),
        )
    }

    async fn code(&self, to: &str) -> String {
        let (_, text) = self.newest_message(to).await;
        digit_run(&text, 6).unwrap_or_else(|| panic!("no code in {text:?}"))
    }

    /// How many messages the outbox holds for `to`.
    async fn message_count(&self, to: &str) -> usize {
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        let res = self
            .http
            .get(format!("{}/outbox?phone={digits}&limit=1000", self.root))
            .header("X-Authy-API-Key", KEY)
            .send()
            .await
            .unwrap();
        res.json::<Vec<Value>>().await.unwrap().len()
    }
}

/// Status and JSON body (`Null` for an empty one); asserts the content type
/// of a body.
async fn read(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.text().await.unwrap();
    if body.is_empty() {
        return (status, Value::Null);
    }
    assert_eq!(content_type, "application/json", "{status} {body}");
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (status, value)
}

/// Asserts a Twilio error body, exactly: four fields, numbers where
/// numbers belong, the HTTP status in `status`.
#[track_caller]
pub fn assert_error(got: &(u16, Value), status: u16, code: u64) {
    let (http, body) = got;
    assert_eq!(*http, status, "{body}");
    let fields: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, ["code", "message", "more_info", "status"], "{body}");
    assert_eq!(body["code"], Value::from(code), "{body}");
    assert_eq!(body["status"], Value::from(status), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}").as_str()
    );
}

// ---- credentials ----------------------------------------------------------------

#[tokio::test]
async fn twilio_credentials_are_http_basic_and_anything_else_is_20003() {
    let v = Verify::start().await;
    let url = v.service("");
    let missing = read(v.http.get(&url).send().await.unwrap()).await;
    assert_error(&missing, 401, 20003);
    for (user, secret) in [
        (AC, "wrong-key"),
        (AC, ""),
        ("AC0123", KEY),
        ("AC0123456789ABCDEF0123456789abcdef", KEY),
        ("US0123456789abcdef0123456789abcdef", KEY),
        ("", KEY),
    ] {
        let res = v
            .http
            .get(&url)
            .basic_auth(user, Some(secret))
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key("www-authenticate"));
        assert_error(&read(res).await, 401, 20003);
    }
    let bearer = v.http.get(&url).bearer_auth(KEY).send().await.unwrap();
    assert_error(&read(bearer).await, 401, 20003);
    // An Account SID or an API key SID with the sandbox's key.
    for user in [AC, SK] {
        let res = v
            .http
            .get(&url)
            .basic_auth(user, Some(KEY))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{user}");
    }
    // Credentials come before everything else, even an unknown path.
    let unknown = read(
        v.http
            .get(format!("{}/v2/Nothing", v.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&unknown, 401, 20003);
    v.stop().await;
}

#[tokio::test]
async fn twilio_service_is_any_well_formed_sid_with_the_configured_code_length() {
    let v = Verify::start().await;
    let (status, s) = v.get("").await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["sid"], VA);
    assert_eq!(s["account_sid"], AC);
    assert_eq!(s["friendly_name"], "Storefront 2FA Sandbox");
    assert_eq!(s["code_length"], Value::from(6));
    assert_eq!(s["url"], v.service("").as_str());
    assert!(s["date_created"].as_str().unwrap().ends_with('Z'));
    // An API key's requests belong to an account too.
    let by_key = read(
        v.http
            .get(v.service(""))
            .basic_auth(SK, Some(KEY))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(is_sid(by_key.1["account_sid"].as_str().unwrap(), "AC"));
    for bad in [
        "VA0123456789ABCDEF0123456789abcdef",
        "VA0123",
        "XX0123456789abcdef0123456789abcdef",
    ] {
        let res = v
            .http
            .get(format!("{}/v2/Services/{bad}", v.base))
            .basic_auth(AC, Some(KEY))
            .send()
            .await
            .unwrap();
        assert_error(&read(res).await, 404, 20404);
    }
    // Unknown paths and methods answer in Twilio's shape too.
    let res = v
        .http
        .get(format!("{}/v2/Nothing", v.base))
        .basic_auth(AC, Some(KEY))
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 404, 20404);
    let res = v
        .http
        .delete(v.service(""))
        .basic_auth(AC, Some(KEY))
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 405, 20004);
    v.stop().await;
}

#[tokio::test]
async fn twilio_code_length_follows_the_setting() {
    let v = Verify::start_with(SandboxSettings {
        verify_code_length: 8,
        ..settings(1000)
    })
    .await;
    assert_eq!(v.get("").await.1["code_length"], Value::from(8));
    assert_eq!(v.create(TO, "sms").await.0, 201);
    let (_, text) = v.newest_message(TO).await;
    let code = digit_run(&text, 8).expect("an 8-digit code");
    let (status, body) = v.check(TO, &code).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")));
    v.stop().await;
}

#[tokio::test]
async fn twilio_code_length_outside_4_to_10_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("storefront.toml");
    std::fs::write(&file, "").unwrap();
    let defaults = Settings::load(Some(&file)).unwrap();
    assert_eq!(defaults.sandbox.verify_code_length, 6);
    assert!(format!("{:?}", defaults.sandbox).contains("verify_code_length: 6"));
    for (value, ok) in [
        ("4", true),
        ("10", true),
        ("3", false),
        ("11", false),
        ("-1", false),
    ] {
        std::fs::write(&file, format!("[sandbox]\nverify_code_length = {value}\n")).unwrap();
        match Settings::load(Some(&file)) {
            Ok(s) => {
                assert!(ok, "{value} was accepted");
                assert_eq!(s.sandbox.verify_code_length.to_string(), value);
            }
            Err(e) => {
                assert!(!ok, "{value}: {e}");
                let message = e.to_string();
                assert!(
                    message.contains("sandbox.verify_code_length") && message.contains("4 to 10"),
                    "{message}"
                );
            }
        }
    }
    // Settings made in code are checked when the standalone sandbox starts.
    let db = TestDb::fresh();
    let pool = Db::connect(&db.url, 2).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = build_standalone(
        listener,
        pool,
        KEY.to_string(),
        SandboxSettings {
            verify_code_length: 3,
            ..settings(1000)
        },
    )
    .await;
    let message = refused.err().expect("refused").to_string();
    assert!(message.contains("verify_code_length"), "{message}");
}

// ---- the verification's life --------------------------------------------------------

#[tokio::test]
async fn twilio_create_resend_wrong_right_then_gone() {
    let v = Verify::start().await;
    let (status, first) = v.create(TO, "sms").await;
    assert_eq!(status, 201, "{first}");
    let sid = first["sid"].as_str().unwrap().to_string();
    assert!(is_sid(&sid, "VE"), "{sid}");
    assert_eq!(first["service_sid"], VA);
    assert_eq!(first["account_sid"], AC);
    assert_eq!(first["to"], TO);
    assert_eq!(first["channel"], "sms");
    assert_eq!(first["status"], "pending");
    assert_eq!(first["valid"], Value::Bool(false));
    assert_eq!(first["lookup"], serde_json::json!({}));
    assert_eq!(first["amount"], Value::Null);
    assert!(first["date_created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        first["url"],
        format!("{}/Verifications/{sid}", v.service("")).as_str()
    );
    let attempts = first["send_code_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert!(is_sid(attempts[0]["attempt_sid"].as_str().unwrap(), "VL"));
    assert_eq!(attempts[0]["channel"], "sms");

    let (channel, text) = v.newest_message(TO).await;
    assert_eq!(channel, "sms");
    let code = v.code(TO).await;
    assert_eq!(
        text,
        format!("Your Storefront 2FA Sandbox verification code is: {code}")
    );

    // Again while pending, by call: the same verification and code, one
    // more attempt, a second message.
    let (status, again) = v.create(TO, "call").await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["sid"], sid.as_str());
    assert_eq!(again["channel"], "call");
    let attempts = again["send_code_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["channel"], "call");
    assert_ne!(attempts[0]["attempt_sid"], attempts[1]["attempt_sid"]);
    let (channel, _) = v.newest_message(TO).await;
    assert_eq!(channel, "call");
    assert_eq!(v.code(TO).await, code);
    assert_eq!(v.message_count(TO).await, 2);

    // GET while pending.
    let (status, got) = v.get(&format!("/Verifications/{sid}")).await;
    assert_eq!((status, got["status"].as_str()), (200, Some("pending")));

    // A wrong code: 200, still pending, valid a JSON false.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, checked) = v.check(TO, wrong).await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["status"], "pending");
    assert_eq!(checked["valid"], Value::Bool(false));
    assert_eq!(checked["sid"], sid.as_str());

    // The right code: approved, valid a JSON true.
    let (status, checked) = v.check(TO, &code).await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["status"], "approved");
    assert_eq!(checked["valid"], Value::Bool(true));
    assert_eq!(checked["to"], TO);

    // Then it is gone, whichever way it is asked for.
    assert_error(&v.get(&format!("/Verifications/{sid}")).await, 404, 20404);
    assert_error(&v.check(TO, &code).await, 404, 20404);
    assert_error(&v.check_sid(&sid, &code).await, 404, 20404);

    // A new verification for the number: a new SID.
    let (status, next) = v.create(TO, "sms").await;
    assert_eq!(status, 201);
    assert_ne!(next["sid"], sid.as_str());
    v.stop().await;
}

#[tokio::test]
async fn twilio_check_by_sid_and_verifications_belong_to_their_service() {
    let v = Verify::start().await;
    let sid = v.create(TO, "sms").await.1["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let code = v.code(TO).await;
    // Another service does not see it.
    let other = |rest: &str| format!("{}/v2/Services/{OTHER_VA}{rest}", v.base);
    let res = v
        .http
        .get(other(&format!("/Verifications/{sid}")))
        .basic_auth(AC, Some(KEY))
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 404, 20404);
    let res = v
        .http
        .post(other("/VerificationCheck"))
        .basic_auth(AC, Some(KEY))
        .form(&[("VerificationSid", sid.as_str()), ("Code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 404, 20404);
    // A malformed or unknown SID.
    assert_error(
        &v.get("/Verifications/VE0123456789abcdef0123456789abcdef")
            .await,
        404,
        20404,
    );
    assert_error(&v.get("/Verifications/nope").await, 404, 20404);
    assert_error(&v.check_sid("VEnope", &code).await, 404, 20404);
    // With a To that is not its number.
    let (status, _) = v
        .post(
            "/VerificationCheck",
            &[
                ("VerificationSid", sid.as_str()),
                ("To", "+12015550199"),
                ("Code", code.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = v.check_sid(&sid, &code).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")));
    assert_eq!(body["valid"], Value::Bool(true));
    v.stop().await;
}

#[tokio::test]
async fn twilio_sixth_check_is_60202_and_ends_the_verification() {
    let v = Verify::start().await;
    let sid = v.create(TO, "sms").await.1["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let code = v.code(TO).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for n in 1..=5 {
        let (status, body) = v.check(TO, wrong).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("pending")),
            "check {n}"
        );
    }
    // The sixth, even with the right code.
    assert_error(&v.check(TO, &code).await, 429, 60202);
    let (status, got) = v.get(&format!("/Verifications/{sid}")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["status"], "max_attempts_reached");
    assert_eq!(got["valid"], Value::Bool(false));
    assert_error(&v.check_sid(&sid, &code).await, 429, 60202);
    // It can still be canceled; then it is gone.
    let (status, canceled) = v
        .post(&format!("/Verifications/{sid}"), &[("Status", "canceled")])
        .await;
    assert_eq!(
        (status, canceled["status"].as_str()),
        (200, Some("canceled"))
    );
    assert_error(&v.get(&format!("/Verifications/{sid}")).await, 404, 20404);
    v.stop().await;
}

#[tokio::test]
async fn twilio_sixth_send_in_ten_minutes_is_60203() {
    let v = Verify::start().await;
    for n in 1..=5 {
        let channel = if n % 2 == 0 { "call" } else { "sms" };
        assert_eq!(v.create(TO, channel).await.0, 201, "send {n}");
    }
    assert_error(&v.create(TO, "sms").await, 429, 60203);
    assert_error(&v.create(TO, "call").await, 429, 60203);
    assert_eq!(v.message_count(TO).await, 5);
    // Counted per number and service.
    assert_eq!(v.create("+12015550124", "sms").await.0, 201);
    let other = v
        .http
        .post(format!("{}/v2/Services/{OTHER_VA}/Verifications", v.base))
        .basic_auth(AC, Some(KEY))
        .form(&[("To", TO), ("Channel", "sms")])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
    // Sends older than ten minutes no longer count.
    {
        use diesel::prelude::*;
        use storefront_2fa::authy_sandbox::schema::sandbox_verify_sends as vs;
        diesel::update(vs::table)
            .set(vs::sent_at.eq(vs::sent_at - 601))
            .execute(&mut v.db.get().unwrap())
            .unwrap();
    }
    assert_eq!(v.create(TO, "sms").await.0, 201);
    v.stop().await;
}

#[tokio::test]
async fn twilio_cancel_and_approve_by_status_update() {
    let v = Verify::start().await;
    let sid = v.create(TO, "sms").await.1["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let code = v.code(TO).await;
    let path = format!("/Verifications/{sid}");
    assert_error(&v.post(&path, &[("Status", "bogus")]).await, 400, 60200);
    assert_error(&v.post(&path, &[]).await, 400, 60200);
    let (status, canceled) = v.post(&path, &[("Status", "canceled")]).await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["valid"], Value::Bool(false));
    assert_error(&v.get(&path).await, 404, 20404);
    assert_error(&v.check(TO, &code).await, 404, 20404);
    assert_error(&v.post(&path, &[("Status", "canceled")]).await, 404, 20404);

    // Status=approved approves a pending one.
    let sid = v.create(TO, "sms").await.1["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, approved) = v
        .post(&format!("/Verifications/{sid}"), &[("Status", "approved")])
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["valid"], Value::Bool(true));
    assert_error(&v.get(&format!("/Verifications/{sid}")).await, 404, 20404);
    v.stop().await;
}

#[tokio::test]
async fn twilio_expired_verifications_are_gone_and_a_new_one_starts() {
    let v = Verify::start().await;
    let sid = v.create(TO, "sms").await.1["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let code = v.code(TO).await;
    {
        use diesel::prelude::*;
        use storefront_2fa::authy_sandbox::schema::sandbox_verify_verifications as vv;
        diesel::update(vv::table)
            .set(vv::expires_at.eq(storefront_2fa::db::now() - 1))
            .execute(&mut v.db.get().unwrap())
            .unwrap();
    }
    assert_error(&v.get(&format!("/Verifications/{sid}")).await, 404, 20404);
    assert_error(&v.check(TO, &code).await, 404, 20404);
    let (status, fresh) = v.create(TO, "sms").await;
    assert_eq!(status, 201);
    assert_ne!(fresh["sid"], sid.as_str());
    assert_eq!(fresh["send_code_attempts"].as_array().unwrap().len(), 1);
    let (status, body) = v.check(TO, &v.code(TO).await).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")));
    v.stop().await;
}

#[tokio::test]
async fn twilio_check_needs_to_or_verification_sid_and_a_code() {
    let v = Verify::start().await;
    v.create(TO, "sms").await;
    assert_error(
        &v.post("/VerificationCheck", &[("Code", "123456")]).await,
        400,
        60221,
    );
    assert_error(&v.post("/VerificationCheck", &[]).await, 400, 60221);
    assert_error(
        &v.post("/VerificationCheck", &[("To", TO)]).await,
        400,
        60200,
    );
    assert_error(
        &v.post("/VerificationCheck", &[("To", "12345"), ("Code", "123456")])
            .await,
        400,
        60200,
    );
    v.stop().await;
}

#[tokio::test]
async fn twilio_test_numbers_answer_verify_refusals() {
    let v = Verify::start().await;
    for bad in [
        "2015550123",
        "+1 201 555 0123",
        "+1201555012",
        "+19995550123",
        "+",
        "call-me",
    ] {
        assert_error(&v.create(bad, "sms").await, 400, 60200);
    }
    assert_error(
        &v.post("/Verifications", &[("Channel", "sms")]).await,
        400,
        60200,
    );
    assert_error(&v.post("/Verifications", &[("To", TO)]).await, 400, 60200);
    assert_error(&v.create(TO, "pigeon").await, 400, 60200);
    assert_error(&v.create(TO, "whatsapp").await, 400, 60223);
    // A landline: no SMS, but a call goes through.
    assert_error(&v.create("+12015550205", "sms").await, 400, 60205);
    assert_eq!(v.create("+12015550205", "call").await.0, 201);
    // Blocked, whatever the channel.
    assert_error(&v.create("+12015550410", "sms").await, 403, 60410);
    assert_error(&v.create("+12015550410", "call").await, 403, 60410);
    assert_eq!(v.message_count("+12015550410").await, 0);
    // Refusals do not count as sends.
    assert_eq!(v.message_count("+12015550205").await, 1);
    v.stop().await;
}

// ---- concurrency ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twilio_concurrent_right_checks_approve_once() {
    let v = Verify::start().await;
    let sid = v.create(TO, "sms").await.1["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let code = v.code(TO).await;
    let checks = (0..8).map(|n| {
        let (v, sid, code) = (&v, sid.clone(), code.clone());
        async move {
            if n % 2 == 0 {
                v.check(TO, &code).await
            } else {
                v.check_sid(&sid, &code).await
            }
        }
    });
    let results = futures_util::future::join_all(checks).await;
    let approved = results
        .iter()
        .filter(|(s, b)| *s == 200 && b["status"] == "approved")
        .count();
    assert_eq!(approved, 1, "{results:?}");
    for r in results.iter().filter(|(s, _)| *s != 200) {
        assert_error(r, 404, 20404);
    }
    v.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twilio_limits_hold_under_concurrent_requests() {
    let v = Verify::start().await;
    // Ten sends at once to a new number: five go out, all to one
    // verification; five are refused.
    let sends = (0..10).map(|_| v.create(TO, "sms"));
    let results = futures_util::future::join_all(sends).await;
    let sent: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(sent.len(), 5, "{results:?}");
    for r in results.iter().filter(|(s, _)| *s != 201) {
        assert_error(r, 429, 60203);
    }
    let sid = sent[0]["sid"].as_str().unwrap();
    assert!(sent.iter().all(|b| b["sid"] == sid), "{sent:?}");
    assert_eq!(v.message_count(TO).await, 5);
    let (_, got) = v.get(&format!("/Verifications/{sid}")).await;
    assert_eq!(got["send_code_attempts"].as_array().unwrap().len(), 5);

    // Ten wrong checks at once: five are compared, five refused.
    let code = v.code(TO).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let checks = (0..10).map(|_| v.check(TO, wrong));
    let results = futures_util::future::join_all(checks).await;
    let pending = results
        .iter()
        .filter(|(s, b)| *s == 200 && b["status"] == "pending")
        .count();
    assert_eq!(pending, 5, "{results:?}");
    for r in results.iter().filter(|(s, _)| *s != 200) {
        assert_error(r, 429, 60202);
    }
    assert_error(&v.check(TO, &code).await, 429, 60202);
    v.stop().await;
}

// ---- mounted in the app ---------------------------------------------------------------

async fn mounted_service(app: &TestApp, user: &str, secret: &str) -> (u16, Value) {
    read(
        app.browser
            .client
            .get(
                app.browser
                    .url(&format!("/sandbox/twilio/v2/Services/{VA}")),
            )
            .basic_auth(user, Some(secret))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn twilio_mounted_sandbox_takes_the_addon_credentials_in_test_mode_only() {
    let app = spawn_app().await;
    let token = "owner-auth-token-1";
    let secret = "owner-api-key-secret-1";
    // The addon is off: every route answers an empty 404.
    assert_eq!(mounted_service(&app, AC, token).await, (404, Value::Null));
    let res = app
        .browser
        .client
        .post(
            app.browser
                .url(&format!("/sandbox/twilio/v2/Services/{VA}/Verifications")),
        )
        .basic_auth(AC, Some(token))
        .form(&[("To", TO), ("Channel", "sms")])
        .send()
        .await
        .unwrap();
    assert_eq!(read(res).await, (404, Value::Null));

    app.login_admin().await;
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    // Nothing configured yet: nothing is accepted.
    assert_error(&mounted_service(&app, AC, token).await, 401, 20003);
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("gateway", "twilio_verify"),
                ("twilio_account_sid", AC),
                ("twilio_auth_token", token),
                ("twilio_service_sid", VA),
                ("twilio_api_key_sid", SK),
                ("twilio_api_key_secret", secret),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "settings saved");
    assert_eq!(mounted_service(&app, AC, token).await.0, 200);
    assert_eq!(mounted_service(&app, SK, secret).await.0, 200);
    // Pairs are not mixed, and other SIDs do not share the token.
    assert_error(&mounted_service(&app, AC, secret).await, 401, 20003);
    assert_error(&mounted_service(&app, SK, token).await, 401, 20003);
    assert_error(
        &mounted_service(&app, "ACfedcba9876543210fedcba9876543210", token).await,
        401,
        20003,
    );
    // A POST needs no CSRF token: it is an API with its own credentials.
    let res = app
        .browser
        .client
        .post(
            app.browser
                .url(&format!("/sandbox/twilio/v2/Services/{VA}/Verifications")),
        )
        .basic_auth(AC, Some(token))
        .form(&[("To", TO), ("Channel", "sms")])
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["url"],
        app.browser
            .url(&format!(
                "/sandbox/twilio/v2/Services/{VA}/Verifications/{}",
                body["sid"].as_str().unwrap()
            ))
            .as_str()
    );

    // Production mode: not there at all.
    app.browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("gateway", "twilio_verify"),
                ("twilio_account_sid", AC),
                ("twilio_service_sid", VA),
                ("twilio_api_key_sid", SK),
                ("production_mode", "on"),
            ],
        )
        .await;
    assert_eq!(mounted_service(&app, AC, token).await, (404, Value::Null));
}

#[tokio::test]
async fn twilio_operator_key_works_with_any_account_sid_when_mounted_in_production() {
    let app = spawn_app_with(storefront_2fa::startup::default_addons, |s| {
        s.sandbox.api_key = "operator-key".into();
        s.sandbox.mount_in_production = true;
    })
    .await;
    assert_eq!(mounted_service(&app, AC, "operator-key").await.0, 200);
    assert_error(&mounted_service(&app, AC, "wrong").await, 401, 20003);
    // An API key SID does not take the operator's key.
    assert_error(&mounted_service(&app, SK, "operator-key").await, 401, 20003);

    // A whole verification through the mounted API; the code from the
    // shared outbox.
    let client = &app.browser.client;
    let service = app
        .browser
        .url(&format!("/sandbox/twilio/v2/Services/{VA}"));
    let res = client
        .post(format!("{service}/Verifications"))
        .basic_auth(AC, Some("operator-key"))
        .form(&[("To", TO), ("Channel", "sms")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let messages: Value = client
        .get(
            app.browser
                .url("/sandbox/authy/outbox?phone=12015550123&limit=1"),
        )
        .header("X-Authy-API-Key", "operator-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = messages[0]["text"].as_str().expect("a message");
    let code = digit_run(text, 6).expect("a 6-digit code");
    let res = client
        .post(format!("{service}/VerificationCheck"))
        .basic_auth(AC, Some("operator-key"))
        .form(&[("To", TO), ("Code", code.as_str())])
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["valid"], Value::Bool(true));
}
