//! Conformance suite for the Authy-compatible sandbox: every row of
//! shared/authy-api.md, over HTTP, against the real standalone server.

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use storefront_2fa::authy_sandbox::build_standalone;
use storefront_2fa::config::SandboxSettings;
use storefront_2fa::db::Db;

use crate::helpers::TestDb;

pub const KEY: &str = "sandbox-test-key-1234";
pub const PHONE: &str = "201-555-0123";
pub const PHONE_DIGITS: &str = "2015550123";
pub const OTHER_PHONE: &str = "201-555-0199";

pub const INVALID_KEY_BODY: &str = r#"{"message":"Invalid API key","success":false,"errors":{"message":"Invalid API key"},"error_code":"60001"}"#;
pub const TOKEN_VALID_BODY: &str =
    r#"{"message":"Token is valid.","token":"is valid","success":"true"}"#;
pub const TOKEN_INVALID_BODY: &str = r#"{"message":"Token is invalid","token":"is invalid","success":false,"errors":{"message":"Token is invalid"},"error_code":"60020"}"#;
pub const USER_NOT_FOUND_BODY: &str = r#"{"message":"User not found.","success":false,"errors":{"message":"User not found."},"error_code":"60026"}"#;

pub fn settings(rate_limit_per_minute: u32) -> SandboxSettings {
    SandboxSettings {
        api_key: String::new(),
        mount_in_production: false,
        rate_limit_per_minute,
        verify_code_length: 6,
    }
}

/// A running standalone sandbox on loopback.
pub struct Sandbox {
    pub base: String,
    pub db: Db,
    pub http: Client,
    handle: ServerHandle,
}

impl Sandbox {
    pub async fn start(db_url: &str, rate_limit_per_minute: u32) -> Sandbox {
        let url = db_url.to_string();
        let db = tokio::task::spawn_blocking(move || Db::connect(&url, 8))
            .await
            .unwrap()
            .expect("connect to the test database");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = build_standalone(
            listener,
            db.clone(),
            KEY.to_string(),
            settings(rate_limit_per_minute),
        )
        .await
        .expect("sandbox starts");
        let handle = server.handle();
        tokio::spawn(server);
        Sandbox {
            base,
            db,
            http: Client::new(),
            handle,
        }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .header("X-Authy-API-Key", KEY)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .header("X-Authy-API-Key", KEY)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url(path))
            .header("X-Authy-API-Key", KEY)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Registers a US number; returns the Authy id.
    pub async fn register(&self, phone: &str) -> i64 {
        let (status, body) = read(
            self.post_json(
                "/protected/json/users/new",
                serde_json::json!({"user": {"email": "shopper@example.com", "cellphone": phone, "country_code": "1"}}),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        json(&body)["user"]["id"].as_i64().expect("an id")
    }

    /// The outbox JSON for a filter.
    pub async fn outbox(&self, query: &str) -> Vec<Value> {
        let (status, body) = read(self.get(&format!("/outbox{query}")).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        json(&body).as_array().expect("a list").clone()
    }

    /// The code in the newest outbox message for a phone (its digit run of `len`).
    pub async fn latest_code(&self, phone_digits: &str, len: usize) -> String {
        let messages = self.outbox(&format!("?phone={phone_digits}&limit=1")).await;
        let text = messages[0]["text"].as_str().unwrap().to_string();
        digit_run(&text, len).unwrap_or_else(|| panic!("no {len}-digit code in {text:?}"))
    }
}

/// The first run of exactly `len` digits in `text`.
pub fn digit_run(text: &str, len: usize) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == len)
        .map(str::to_string)
}

/// Status and body text; asserts the JSON content type.
pub async fn read(resp: Response) -> (StatusCode, String) {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.text().await.unwrap();
    if status != StatusCode::NOT_FOUND || !body.is_empty() {
        assert_eq!(
            content_type, "application/json",
            "content type of {status} {body}"
        );
    }
    (status, body)
}

pub fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// An error body: checks the shape and returns (message, error_code).
pub fn error_parts(body: &str) -> (String, String) {
    let v = json(body);
    assert_eq!(v["success"], Value::Bool(false), "{body}");
    let message = v["message"].as_str().expect("message").to_string();
    assert_eq!(
        v["errors"]["message"].as_str(),
        Some(message.as_str()),
        "{body}"
    );
    let code = v["error_code"]
        .as_str()
        .expect("error_code is a string")
        .to_string();
    (message, code)
}

fn no_spaces(body: &str) {
    assert!(
        !body.contains("\": ") && !body.contains(", \""),
        "not compact: {body}"
    );
}

// ---- authentication ---------------------------------------------------------

#[tokio::test]
async fn api_key_in_header_query_or_form_body_and_exact_401_otherwise() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let details = "/protected/json/app/details";

    let (s, _) = read(sb.get(details).await).await;
    assert_eq!(s, StatusCode::OK, "header");
    let (s, _) = read(
        sb.http
            .get(sb.url(&format!("{details}?api_key={KEY}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "query parameter");
    let (s, _) = read(
        sb.http
            .post(sb.url(details))
            .form(&[("api_key", KEY)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "form body");
    let (s, _) = read(
        sb.http
            .get(sb.url(details))
            .form(&[("api_key", KEY)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "form body on GET");

    for resp in [
        sb.http.get(sb.url(details)).send().await.unwrap(),
        sb.http
            .get(sb.url(details))
            .header("X-Authy-API-Key", "wrong")
            .send()
            .await
            .unwrap(),
        sb.http
            .get(sb.url(&format!("{details}?api_key=wrong")))
            .send()
            .await
            .unwrap(),
        sb.http
            .get(sb.url(&format!("{details}?api_key=")))
            .send()
            .await
            .unwrap(),
        sb.http
            .post(sb.url("/protected/json/users/new"))
            .form(&[("api_key", "nope")])
            .send()
            .await
            .unwrap(),
        sb.http.get(sb.url("/outbox")).send().await.unwrap(),
        sb.http
            .get(sb.url("/protected/json/sms/1"))
            .send()
            .await
            .unwrap(),
    ] {
        let (s, body) = read(resp).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(body, INVALID_KEY_BODY);
    }
    sb.stop().await;
}

// ---- users --------------------------------------------------------------------

#[tokio::test]
async fn register_accepts_json_form_query_and_body_on_get_with_stable_ids() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let path = "/protected/json/users/new";

    let (s, body) = read(
        sb.post_json(path, serde_json::json!({"user": {"email": "a@example.com", "cellphone": PHONE, "country_code": 1}}))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let id = json(&body)["user"]["id"].as_i64().unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"message":"User created successfully.","user":{{"id":{id}}},"success":true}}"#
        )
    );

    // Form body, spaces instead of dashes: the same id.
    let (s, body) = read(
        sb.post_form(
            path,
            &[
                ("user[email]", "a@example.com"),
                ("user[cellphone]", "201 555 0123"),
                ("user[country_code]", "1"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["user"]["id"].as_i64(), Some(id));

    // Query string only.
    let (s, body) = read(
        sb.http
            .post(sb.url(&format!("{path}?user[email]=a%40example.com&user[cellphone]=2015550123&user[country_code]=1")))
            .header("X-Authy-API-Key", KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["user"]["id"].as_i64(), Some(id));

    // A JSON body on GET, with the key in the body, no content type.
    let (s, body) = read(
        sb.http
            .get(sb.url(path))
            .body(format!(
                r#"{{"api_key":"{KEY}","user":{{"email":"b@example.com","cellphone":"{OTHER_PHONE}","country_code":"1"}}}}"#
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let other = json(&body)["user"]["id"].as_i64().unwrap();
    assert_ne!(other, id);

    // Form-encoded API key with form parameters.
    let (s, body) = read(
        sb.http
            .post(sb.url(path))
            .form(&[
                ("api_key", KEY),
                ("user[email]", "b@example.com"),
                ("user[cellphone]", OTHER_PHONE),
                ("user[country_code]", "1"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["user"]["id"].as_i64(), Some(other));

    // No install link unless asked for; asked for, it goes to the outbox.
    assert!(sb.outbox("?phone=2015550199").await.is_empty());
    let (s, body) = read(
        sb.post_json(
            path,
            serde_json::json!({"user": {"email": "b@example.com", "cellphone": OTHER_PHONE, "country_code": 1}, "send_install_link_via_sms": true}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["user"]["id"].as_i64(), Some(other));
    let messages = sb.outbox("?phone=12015550199").await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0]["text"].as_str().unwrap().contains("https://"));
    sb.stop().await;
}

#[tokio::test]
async fn ids_survive_a_restart_on_the_same_database() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let first = sb.register(PHONE).await;
    let second = sb.register(OTHER_PHONE).await;
    sb.stop().await;

    let sb = Sandbox::start(&db.url, 1000).await;
    assert_eq!(sb.register(OTHER_PHONE).await, second);
    assert_eq!(sb.register("(201) 555-0123").await, first);
    let (s, _) = read(
        sb.get(&format!("/protected/json/users/{first}/status"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    sb.stop().await;
}

#[tokio::test]
async fn register_errors_missing_parameters_and_invalid_fields() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let path = "/protected/json/users/new";

    let (s, body) = read(
        sb.post_json(
            path,
            serde_json::json!({"user": {"cellphone": PHONE, "country_code": 1}}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"{"message":"Invalid parameter: user[email] - Parameter is required","success":false,"errors":{"message":"Invalid parameter: user[email] - Parameter is required"},"error_code":"60004"}"#
    );
    let (s, body) = read(
        sb.post_form(
            path,
            &[
                ("user[email]", "a@example.com"),
                ("user[country_code]", "1"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_parts(&body),
        (
            "Invalid parameter: user[cellphone] - Parameter is required".into(),
            "60004".into()
        )
    );
    let (s, body) = read(
        sb.post_form(
            path,
            &[("user[email]", "a@example.com"), ("user[cellphone]", PHONE)],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_parts(&body),
        (
            "Invalid parameter: user[country_code] - Parameter is required".into(),
            "60004".into()
        )
    );

    // Too short for a US number.
    let (s, body) = read(
        sb.post_form(
            path,
            &[
                ("user[email]", "a@example.com"),
                ("user[cellphone]", "555-01"),
                ("user[country_code]", "1"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_parts(&body),
        ("User was not valid".into(), "60027".into())
    );
    let v = json(&body);
    assert_eq!(v["errors"]["cellphone"], "is invalid");
    assert!(v["errors"].get("email").is_none());
    no_spaces(&body);

    let (s, body) = read(
        sb.post_form(
            path,
            &[
                ("user[email]", "not-an-email"),
                ("user[cellphone]", PHONE),
                ("user[country_code]", "1"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_parts(&body).1, "60027");
    assert_eq!(json(&body)["errors"]["email"], "is invalid");
    assert!(json(&body)["errors"].get("cellphone").is_none());
    sb.stop().await;
}

#[tokio::test]
async fn status_body_and_unknown_user() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let id = sb.register(PHONE).await;
    let (s, body) = read(sb.get(&format!("/protected/json/users/{id}/status")).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        format!(
            r#"{{"status":{{"authy_id":{id},"confirmed":true,"registered":false,"country_code":1,"phone_number":"XXX-XXX-0123","devices":[],"has_hard_token":false,"account_disabled":false}},"message":"User status.","success":true}}"#
        )
    );
    for path in [
        "/protected/json/users/99999/status",
        "/protected/json/users/abc/status",
        "/protected/json/sms/99999",
    ] {
        let (s, body) = read(sb.get(path).await).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, USER_NOT_FOUND_BODY, "{path}");
    }
    let (s, body) = read(
        sb.get(&format!("/protected/json/verify/1234567/{}", id + 100))
            .await,
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::NOT_FOUND, USER_NOT_FOUND_BODY)
    );
    sb.stop().await;
}

#[tokio::test]
async fn the_three_removal_paths() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    for (i, template) in [
        "/protected/json/users/{}/remove",
        "/protected/json/users/{}/delete",
        "/protected/json/users/delete/{}",
    ]
    .into_iter()
    .enumerate()
    {
        let phone = format!("201-555-01{:02}", 30 + i);
        let id = sb.register(&phone).await;
        let path = template.replace("{}", &id.to_string());
        let (s, body) = read(sb.post_form(&path, &[("user_ip", "127.0.0.1")]).await).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(
            body,
            r#"{"message":"User was added to remove.","success":true}"#
        );
        let (s, body) = read(sb.get(&format!("/protected/json/users/{id}/status")).await).await;
        assert_eq!(
            (s, body.as_str()),
            (StatusCode::NOT_FOUND, USER_NOT_FOUND_BODY),
            "status after {path}"
        );
        let (s, _) = read(sb.post_form(&path, &[]).await).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "second removal via {path}");
        // Registering the number again brings the same id back.
        assert_eq!(sb.register(&phone).await, id);
    }
    sb.stop().await;
}

// ---- SMS, call, verify ----------------------------------------------------------

#[tokio::test]
async fn sms_and_call_codes_verify_once_and_are_replaced() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let id = sb.register(PHONE).await;

    let (s, body) = read(
        sb.get(&format!("/protected/json/sms/{id}?force=true&locale=en"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"success":true,"message":"SMS token was sent","cellphone":"+1-XXX-XXX-XX23"}"#
    );
    let code = sb.latest_code(PHONE_DIGITS, 7).await;
    let messages = sb.outbox(&format!("?phone={PHONE_DIGITS}&limit=1")).await;
    assert_eq!(messages[0]["channel"], "sms");
    assert_eq!(messages[0]["country_code"], 1);
    assert_eq!(messages[0]["phone"], PHONE_DIGITS);

    // A wrong code (differs from the real one).
    let wrong = if code == "1111111" {
        "2222222"
    } else {
        "1111111"
    };
    let (s, body) = read(
        sb.get(&format!("/protected/json/verify/{wrong}/{id}?force=true"))
            .await,
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::UNAUTHORIZED, TOKEN_INVALID_BODY)
    );

    let (s, body) = read(
        sb.get(&format!("/protected/json/verify/{code}/{id}?force=true"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, TOKEN_VALID_BODY);

    let (s, body) = read(
        sb.get(&format!("/protected/json/verify/{code}/{id}?force=true"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_parts(&body),
        (
            "Token is invalid. Token was used recently".into(),
            "60019".into()
        )
    );

    // A voice call: its own body, and its code works.
    let (s, body) = read(
        sb.get(&format!("/protected/json/call/{id}?force=True"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"success":true,"message":"Call started...","cellphone":"+1-XXX-XXX-XX23"}"#
    );
    let messages = sb.outbox(&format!("?phone={PHONE_DIGITS}&limit=1")).await;
    assert_eq!(messages[0]["channel"], "call");
    let call_code = sb.latest_code(PHONE_DIGITS, 7).await;

    // A new SMS replaces the call's code.
    let (s, _) = read(
        sb.post_form(&format!("/protected/json/sms/{id}"), &[("force", "true")])
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let newest = sb.latest_code(PHONE_DIGITS, 7).await;
    if newest != call_code {
        let (s, body) = read(
            sb.get(&format!("/protected/json/verify/{call_code}/{id}"))
                .await,
        )
        .await;
        assert_eq!(
            (s, body.as_str()),
            (StatusCode::UNAUTHORIZED, TOKEN_INVALID_BODY),
            "replaced code"
        );
    }
    let (s, body) = read(
        sb.get(&format!("/protected/json/verify/{newest}/{id}"))
            .await,
    )
    .await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, TOKEN_VALID_BODY));

    // Tokens of the wrong shape are simply invalid.
    let (s, body) = read(sb.get(&format!("/protected/json/verify/12ab/{id}")).await).await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::UNAUTHORIZED, TOKEN_INVALID_BODY)
    );
    sb.stop().await;
}

#[tokio::test]
async fn codes_are_random_seven_digits() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let id = sb.register(PHONE).await;
    let mut codes = std::collections::HashSet::new();
    for _ in 0..5 {
        let (s, _) = read(sb.get(&format!("/protected/json/sms/{id}")).await).await;
        assert_eq!(s, StatusCode::OK);
        let code = sb.latest_code(PHONE_DIGITS, 7).await;
        assert!(code.len() == 7 && code.bytes().all(|b| b.is_ascii_digit()));
        codes.insert(code);
    }
    assert!(codes.len() >= 4, "codes repeat: {codes:?}");
    sb.stop().await;
}

#[tokio::test]
async fn an_expired_code_is_invalid() {
    use diesel::prelude::*;
    use storefront_2fa::authy_sandbox::schema::sandbox_tokens;

    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let id = sb.register(PHONE).await;
    let (s, _) = read(sb.get(&format!("/protected/json/sms/{id}")).await).await;
    assert_eq!(s, StatusCode::OK);
    let code = sb.latest_code(PHONE_DIGITS, 7).await;
    let expires_at: i64 = sb
        .db
        .run(move |c| {
            Ok(sandbox_tokens::table
                .filter(sandbox_tokens::user_id.eq(id))
                .select(sandbox_tokens::expires_at)
                .first(c)?)
        })
        .await
        .unwrap();
    let now = storefront_2fa::db::now();
    assert!(
        (now + 590..=now + 610).contains(&expires_at),
        "valid for 10 minutes"
    );
    let changed = sb
        .db
        .run(move |c| {
            Ok(
                diesel::update(sandbox_tokens::table.filter(sandbox_tokens::user_id.eq(id)))
                    .set(sandbox_tokens::expires_at.eq(storefront_2fa::db::now() - 1))
                    .execute(c)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let (s, body) = read(sb.get(&format!("/protected/json/verify/{code}/{id}")).await).await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::UNAUTHORIZED, TOKEN_INVALID_BODY)
    );
    sb.stop().await;
}

#[tokio::test]
async fn rate_limit_per_user_answers_429() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 3).await;
    let id = sb.register(PHONE).await;
    let other = sb.register(OTHER_PHONE).await;
    for _ in 0..3 {
        let (s, _) = read(sb.get(&format!("/protected/json/sms/{id}")).await).await;
        assert_eq!(s, StatusCode::OK);
    }
    for path in [
        format!("/protected/json/sms/{id}"),
        format!("/protected/json/verify/1234567/{id}"),
    ] {
        let (s, body) = read(sb.get(&path).await).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(
            body,
            r#"{"message":"Too many requests","success":false,"errors":{"message":"Too many requests"},"error_code":"60003"}"#
        );
    }
    // Another user is not affected.
    let (s, _) = read(sb.get(&format!("/protected/json/call/{other}")).await).await;
    assert_eq!(s, StatusCode::OK);
    sb.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_verifications_of_one_code_exactly_one_succeeds() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let id = sb.register(PHONE).await;
    let (s, _) = read(sb.get(&format!("/protected/json/sms/{id}")).await).await;
    assert_eq!(s, StatusCode::OK);
    let code = sb.latest_code(PHONE_DIGITS, 7).await;
    let url = sb.url(&format!("/protected/json/verify/{code}/{id}?force=true"));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let http = sb.http.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let resp = http
                    .get(url)
                    .header("X-Authy-API-Key", KEY)
                    .send()
                    .await
                    .unwrap();
                (resp.status(), resp.text().await.unwrap())
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status == StatusCode::OK {
            assert_eq!(body, TOKEN_VALID_BODY);
            ok += 1;
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!(error_parts(&body).1, "60019");
        }
    }
    assert_eq!(ok, 1, "exactly one verification may succeed");
    sb.stop().await;
}
