//! How many SQL statements and write transactions one sign-in costs the
//! store: counted by the server's own statement counter (`db::counts`)
//! around the requests of one sign-in, for the SMS code, the authenticator
//! app and the API. Statements are the queries, inserts, updates and
//! deletes (the same on both backends; `BEGIN`/`COMMIT` and PostgreSQL's
//! connection checks are counted apart); the mounted test gateway's own
//! statements are counted apart too (in production they are Twilio's), and
//! so is periodic housekeeping (the one-second caches' refreshes, the
//! minute's sweep), which runs by the clock, not per sign-in. The
//! counts are deterministic, so each sign-in is held to what it costs now
//! and cannot creep back; each test prints what it counted.
//!
//! DESIGN.md's budget for a full SMS sign-in is 20 statements and 4 write
//! transactions; all three sign-ins meet it. The bounds below are today's
//! counts.

use serde_json::{json, Value};
use storefront_2fa::db::counts::Counted;
use storefront_2fa::plugin::Role;

use crate::helpers::{extract_csrf, location, TestApp};
use crate::two_factor_app::{code, enrol, fresh_step, paths, reset_last_step, PASSWORD};
use crate::two_factor_sandbox::{app_in_test_mode, outbox_code, with_phone};

/// DESIGN.md's budget for a full SMS sign-in (printed beside each count).
const BUDGET: (u64, u64) = (20, 4);

/// Holds `counted` to at most `statements` and `write_transactions`.
fn assert_within(what: &str, counted: Counted, statements: u64, write_transactions: u64) {
    eprintln!(
        "{what}: {counted}; DESIGN budget {} statements, {} write transactions",
        BUDGET.0, BUDGET.1
    );
    assert!(
        counted.statements <= statements,
        "{what}: {counted}, more than {statements} statements"
    );
    assert!(
        counted.write_transactions <= write_transactions,
        "{what}: {counted}, more than {write_transactions} write transactions"
    );
}

/// Password, code page, code, protected page, in a fresh browser; returns
/// what the store ran for them (the login form's GET, which only fetches
/// the CSRF token, and the outbox read are left out).
async fn sms_sign_in(app: &TestApp, email: &str) -> Counted {
    let b = app.new_browser();
    let token = b.csrf().await;
    let before = app.db.counted();
    let step = |name: &str, from: Counted| {
        let now = app.db.counted();
        eprintln!("  {name}: {}", now - from);
        now
    };
    let res = b
        .client
        .post(b.url("/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/two-factor/verify");
    let at = step("password", before);
    let (status, page) = b.get_text("/two-factor/verify").await;
    assert_eq!(status, 200, "{page}");
    let at = step("code page", at);
    let token = extract_csrf(&page);
    // Reading the outbox stands for the shopper reading the text: not the
    // sign-in's (its statements are the gateway's, its checks cached).
    let during_read = app.db.counted();
    let code = outbox_code(app).await;
    let outbox_read = app.db.counted() - during_read;
    let res = b
        .client
        .post(b.url("/two-factor/verify"))
        .form(&[("code", code.as_str()), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), location(&res).as_str()), (303, "/"));
    let at = step("code", at + outbox_read);
    let (status, page) = b.get_text("/account").await;
    assert_eq!(status, 200, "signed in: {page}");
    step("protected page (/account)", at);
    app.db.counted() - before - outbox_read
}

#[tokio::test]
async fn a_full_sms_sign_in_stays_within_its_statement_budget() {
    let app = app_in_test_mode().await;
    with_phone(&app, "shopper@example.com", Role::Customer);
    // The first sign-in registers the phone with the gateway; a returning
    // shopper's, counted here, does not.
    sms_sign_in(&app, "shopper@example.com").await;
    let counted = sms_sign_in(&app, "shopper@example.com").await;
    assert_within("full SMS sign-in", counted, 20, 4);
    assert!(
        app.db.counted_for_gateway_sandbox().statements > 0,
        "the gateway's statements were counted apart"
    );
}

#[tokio::test]
async fn an_app_code_sign_in_stays_within_its_statement_budget() {
    let app = crate::two_factor_app::app_with_addon().await;
    let e = enrol(&app, "apper@example.com", Role::Customer).await;
    let (form, _, challenge, _) = paths(e.role);
    let step = fresh_step().await;
    reset_last_step(&app, e.id, step - 1);
    let b = app.new_browser();
    let token = b.csrf().await;
    let before = app.db.counted();
    let res = b
        .client
        .post(b.url(form))
        .form(&[
            ("email", e.email.as_str()),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), challenge);
    let (status, page) = b.get_text(challenge).await;
    assert_eq!(status, 200, "{page}");
    let token = extract_csrf(&page);
    let res = b
        .client
        .post(b.url(challenge))
        .form(&[
            ("code", code(&e.secret, step).as_str()),
            ("method", "app"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), location(&res).as_str()), (303, "/"));
    let (status, page) = b.get_text("/account").await;
    assert_eq!(status, 200, "signed in: {page}");
    assert_within("app-code sign-in", app.db.counted() - before, 20, 4);
}

async fn api_post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1{path}", app.address))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn an_api_sign_in_stays_within_its_statement_budget() {
    let app = crate::two_factor_app::app_with_addon().await;
    let e = enrol(&app, "api@example.com", Role::Customer).await;
    let step = fresh_step().await;
    reset_last_step(&app, e.id, step - 1);
    let before = app.db.counted();
    let (status, body) = api_post(
        &app,
        "/signin",
        &json!({"email": e.email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let challenge = body["challenge_id"].as_str().expect("a challenge");
    let (status, body) = api_post(
        &app,
        "/verify-2fa",
        &json!({"challenge_id": challenge, "code": code(&e.secret, step)}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].is_string(), "{body}");
    assert_within("API sign-in", app.db.counted() - before, 19, 4);
}
