//! The authenticator app next to SMS: "Send me an SMS instead", recovery
//! codes from the SMS page, the API's SMS method, and no phone entry during
//! a sign-in held for an app.

use serde_json::{json, Value};
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::store;

use crate::helpers::{location, SmsSetUp, TestApp};
use crate::two_factor_app::{enrol, password_step, post_from, submit, PASSWORD};
use crate::two_factor_gateway::FakeGateway;

const NATIONAL: &str = "2015550123";

async fn setup() -> (TestApp, FakeGateway) {
    let t = crate::two_factor::setup(true, true).await;
    (t.app, t.gw)
}

/// A phone only (app users already have recovery codes from the app set-up).
fn add_phone(app: &TestApp, id: i64) {
    app.add_phone(id, NATIONAL, SmsSetUp::FirstSignInPending);
}

#[tokio::test]
async fn app_users_can_fall_back_to_sms_or_a_recovery_code() {
    let (app, gw) = setup().await;
    let e = enrol(&app, "both@example.com", Role::Customer).await;
    add_phone(&app, e.id);
    let b = password_step(&app, &e).await;
    let (_, page) = b.get_text("/two-factor/app").await;
    assert!(page.contains("Send me an SMS instead"), "{page}");
    assert!(page.contains(r#"action="/two-factor/send""#), "{page}");
    // "Send me an SMS instead" sends one, then the SMS page says so and
    // links back to recovery codes.
    let (status, loc, page) = crate::helpers::post_and_read_back(
        &b,
        "/two-factor/app",
        "/two-factor/send",
        &[("via", "sms"), ("from", "app")],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    assert!(
        page.contains("We sent a new code by text message"),
        "{page}"
    );
    assert!(page.contains("Use a recovery code"));
    let code = gw.last_code(NATIONAL).expect("SMS sent");
    assert_eq!(
        gw.messages_to(NATIONAL).len(),
        1,
        "one SMS, not a second on the GET"
    );
    let (status, loc, _) = post_from(&b, "/login", "/two-factor/verify", &[("code", &code)]).await;
    assert_eq!((status, loc.as_str()), (303, "/"), "signed in by SMS");

    // A recovery code from an SMS-only challenge.
    let id = app.create_account("smsonly@example.com", PASSWORD, Role::Customer);
    add_phone(&app, id);
    let b = app.new_browser();
    let res = b.login("/login", "smsonly@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    let (status, page) = b.get_text("/two-factor/app?method=recovery").await;
    assert_eq!(status, 200);
    assert!(page.contains("Recovery code"), "{page}");
    assert!(!page.contains("Use my authenticator app"));
    let (status, loc, page) = submit(&b, Role::Customer, "abcd-efgh-jk01", "recovery").await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/two-factor/app?method=recovery"),
        "no codes yet"
    );
    assert!(
        page.contains("That code is not right. 4 attempts left."),
        "{page}"
    );
}

#[tokio::test]
async fn a_sign_in_held_for_an_app_cannot_add_a_phone() {
    let (app, gw) = setup().await;
    let e = enrol(&app, "nophone@example.com", Role::Vendor).await;
    let b = password_step(&app, &e).await;
    let (_, page) = b.get_text("/admin/two-factor/app").await;
    assert!(!page.contains("Send me an SMS instead"));
    let res = b.get("/admin/two-factor/phone").await;
    assert_eq!(location(&res), "/admin/two-factor/app");
    let (status, loc, _) = post_from(
        &b,
        "/admin/two-factor/app",
        "/admin/two-factor/phone",
        &[("tfa_country", "US"), ("tfa_phone", NATIONAL)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/admin/two-factor/app"));
    assert!(store::phone_of(&app.db, e.id).await.unwrap().is_none());
    let res = b.get("/admin/two-factor/verify").await;
    assert_ne!(res.status().as_u16(), 200);
    assert!(gw.messages_to(NATIONAL).is_empty(), "no SMS anywhere");
}

#[tokio::test]
async fn the_api_verifies_an_sms_code() {
    let (app, gw) = setup().await;
    let id = app.create_account("apisms@example.com", PASSWORD, Role::Admin);
    add_phone(&app, id);
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{}/api/v1{p}", app.address);
    let body: Value = client
        .post(url("/signin"))
        .json(&json!({"email": "apisms@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["two_factor_required"], json!(true), "{body}");
    assert_eq!(body["methods"], json!(["sms"]));
    let challenge = body["challenge_id"].as_str().unwrap();
    let res = client
        .post(url("/two-factor/sms"))
        .json(&json!({"challenge_id": challenge}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let code = gw.last_code(NATIONAL).expect("SMS sent");
    let res = client
        .post(url("/verify-2fa"))
        .json(&json!({"challenge_id": challenge, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["method"], json!("sms"));
    assert!(body["token"].is_string());
}
