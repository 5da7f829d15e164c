//! The JSON API: sign-in without and with two-factor authentication,
//! Verify2FACode with each method, strict JSON types, personal access tokens.

use serde_json::{json, Value};
use storefront_2fa::plugin::Role;

use crate::helpers::TestApp;
use crate::two_factor_app::{
    app_with_addon, code, enrol, fresh_step, post_from, Enrolled, PASSWORD,
};

async fn post(app: &TestApp, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1{path}", app.address))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {status} {text}")),
    )
}

/// Verify2FACode: `POST /verify-2fa` with a challenge and a code (any JSON).
async fn verify(
    app: &TestApp,
    challenge: &impl serde::Serialize,
    code: &impl serde::Serialize,
) -> (u16, Value) {
    post(
        app,
        "/verify-2fa",
        &json!({"challenge_id": challenge, "code": code}),
        None,
    )
    .await
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("{}/api/v1{path}", app.address));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn signin(app: &TestApp, email: &str) -> (u16, Value) {
    post(
        app,
        "/signin",
        &json!({"email": email, "password": PASSWORD}),
        None,
    )
    .await
}

async fn challenge(app: &TestApp, e: &Enrolled) -> String {
    let (status, body) = signin(app, &e.email).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["two_factor_required"], json!(true));
    assert!(
        body.get("token").is_none(),
        "no token before the second factor"
    );
    body["challenge_id"].as_str().unwrap().to_string()
}

fn attempts(app: &TestApp) -> Vec<i32> {
    use diesel::prelude::*;
    use storefront_2fa::two_factor::schema::tfa_api_challenges;
    tfa_api_challenges::table
        .select(tfa_api_challenges::attempts)
        .load(&mut app.db.get().unwrap())
        .unwrap()
}

#[tokio::test]
async fn api_sign_in_without_and_with_two_factor_and_verify_with_each_method() {
    let app = app_with_addon().await;
    // Without 2FA: a token at once, usable as a Bearer token.
    app.create_account("plain@example.com", PASSWORD, Role::Customer);
    let (status, body) = signin(&app, "plain@example.com").await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let (status, me) = get(&app, "/me", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], json!("plain@example.com"));
    assert_eq!(me["role"], json!("customer"));
    // Errors are JSON with a stable code.
    let (status, body) = post(
        &app,
        "/signin",
        &json!({"email": "plain@example.com", "password": "wrong"}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (status, body) = post(&app, "/signin", &json!({"email": true}), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = get(&app, "/me", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = get(&app, "/me", Some("sfs_not-a-token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );

    // With 2FA: a challenge and no token; each method completes it.
    let e = enrol(&app, "twofa@example.com", Role::Vendor).await;
    let id = challenge(&app, &e).await;
    let (status, body) = signin(&app, &e.email).await;
    assert_eq!(status, 200);
    assert_eq!(body["methods"], json!(["app", "recovery"]));
    // The code that confirmed set-up is spent.
    let (status, body) = verify(&app, &id, &code(&e.secret, e.confirm_step)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_code"))
    );
    let s = fresh_step().await;
    let (status, body) = verify(&app, &id, &code(&e.secret, s + 1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["method"], json!("app"));
    let token = body["token"].as_str().unwrap().to_string();
    let (status, me) = get(&app, "/me", Some(&token)).await;
    assert_eq!(
        (status, me["email"].as_str()),
        (200, Some("twofa@example.com"))
    );
    // A completed challenge cannot be used again.
    let (status, _) = verify(&app, &id, &code(&e.secret, s + 1)).await;
    assert_eq!(status, 401);

    // Recovery code.
    let id = challenge(&app, &e).await;
    let (status, body) = verify(&app, &id, &e.codes[3]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["method"], json!("recovery"));
    assert_eq!(body["recovery_codes_remaining"], json!(9));
    let id = challenge(&app, &e).await;
    let (status, _) = verify(&app, &id, &e.codes[3]).await;
    assert_eq!(status, 401, "recovery codes are single use");

    // SMS for a challenge when there is no phone / SMS is off.
    let (status, body) = post(&app, "/two-factor/sms", &json!({"challenge_id": id}), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("sms_unavailable"))
    );
    let (status, body) = post(
        &app,
        "/two-factor/sms",
        &json!({"challenge_id": "nope"}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_challenge"))
    );

    // The OpenAPI document.
    let (status, doc) = get(&app, "/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], json!("3.0.3"));
    for p in ["/signin", "/verify-2fa", "/two-factor/sms", "/me"] {
        assert!(doc["paths"].get(p).is_some(), "{p} documented");
    }
    assert_eq!(
        doc["paths"]["/verify-2fa"]["post"]["operationId"],
        json!("Verify2FACode")
    );
}

#[tokio::test]
async fn api_codes_must_be_json_strings_and_juggling_is_counted() {
    let app = app_with_addon().await;
    let e = enrol(&app, "types@example.com", Role::Customer).await;
    let id = challenge(&app, &e).await;
    let bad = [
        json!(true),
        json!(0),
        json!(null),
        json!(["123456"]),
        json!({"code": "123456"}),
    ];
    for (i, value) in bad.iter().enumerate() {
        let (status, body) = verify(&app, &id, &value).await;
        if i < 5 {
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_code")),
                "{value} refused"
            );
        }
    }
    assert_eq!(attempts(&app), vec![5], "each refusal counted");
    // The sixth attempt voids the challenge, even with the right code.
    let s = fresh_step().await;
    let (status, body) = verify(&app, &id, &code(&e.secret, s)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("challenge_voided"))
    );
    // A missing code and a non-object body.
    let id = challenge(&app, &e).await;
    let (status, body) = post(&app, "/verify-2fa", &json!({"challenge_id": id}), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_code"))
    );
    let (status, body) = post(&app, "/verify-2fa", &json!([1, 2]), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Too large a body.
    let big = "x".repeat(70 * 1024);
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/verify-2fa", app.address))
        .json(&json!({"challenge_id": id, "code": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
}

pub async fn create_pat(e: &Enrolled, name: &str, scope: &str) -> String {
    let sec = "/account/security";
    let (status, _, page) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/tokens"),
        &[
            ("name", name),
            ("scope", scope),
            ("expires_days", "30"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    // The token is the text of the element with id "new-token".
    let element = page.find(r#"<code id="new-token""#).expect("the new token");
    let start = element + page[element..].find('>').unwrap() + 1;
    page[start..start + page[start..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn personal_access_tokens_have_scopes_can_be_revoked_and_cannot_touch_2fa() {
    let app = app_with_addon().await;
    let e = enrol(&app, "pat@example.com", Role::Customer).await;
    let read = create_pat(&e, "reporting", "read").await;
    let full = create_pat(&e, "deploy", "full").await;
    // Listed (never shown again), with last use.
    let (_, page) = e.browser.get_text("/account/security").await;
    assert!(page.contains("reporting") && page.contains("deploy"));
    assert!(!page.contains(&read) && !page.contains(&full));

    // No 2FA needed with a token; read-only tokens cannot POST.
    let (status, me) = get(&app, "/me", Some(&read)).await;
    assert_eq!(status, 200);
    assert_eq!(me["token"], json!({"kind": "pat", "scope": "read"}));
    let (status, body) = post(&app, "/signout", &json!({}), Some(&read)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    // Neither kind of PAT may use the 2FA settings.
    for t in [&read, &full] {
        let (status, body) = get(&app, "/two-factor", Some(t)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("pat_not_allowed"))
        );
        let s = fresh_step().await;
        let (status, body) = post(
            &app,
            "/two-factor/disable",
            &json!({"password": PASSWORD, "code": code(&e.secret, s)}),
            Some(t),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("pat_not_allowed"))
        );
    }
    let (status, _) = get(&app, "/two-factor", Some(&read)).await;
    assert_eq!(status, 403);

    // A session token from a 2FA sign-in can read the 2FA status.
    let id = challenge(&app, &e).await;
    let (status, body) = verify(&app, &id, &e.codes[0]).await;
    assert_eq!(status, 200, "{body}");
    let session = body["token"].as_str().unwrap().to_string();
    let (status, body) = get(&app, "/two-factor", Some(&session)).await;
    assert_eq!((status, &body["app"]), (200, &json!(true)));

    // Revoking: the token stops working at once.
    let token_id = {
        use diesel::prelude::*;
        use storefront_2fa::two_factor::schema::tfa_api_tokens;
        tfa_api_tokens::table
            .filter(tfa_api_tokens::name.eq("reporting"))
            .select(tfa_api_tokens::id)
            .first::<i64>(&mut app.db.get().unwrap())
            .unwrap()
    };
    let (status, _, page) = post_from(
        &e.browser,
        "/account/security",
        &format!("/account/security/tokens/{token_id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let (status, _) = get(&app, "/me", Some(&read)).await;
    assert_eq!(status, 401);
    let (status, _) = get(&app, "/me", Some(&full)).await;
    assert_eq!(status, 200);
    // Full-scope tokens can POST (sign out revokes the token itself).
    let (status, _) = post(&app, "/signout", &json!({}), Some(&full)).await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, "/me", Some(&full)).await;
    assert_eq!(status, 401);
    // Expired tokens are refused.
    let t = create_pat(&e, "short", "read").await;
    {
        use diesel::prelude::*;
        use storefront_2fa::two_factor::schema::tfa_api_tokens;
        diesel::update(tfa_api_tokens::table.filter(tfa_api_tokens::name.eq("short")))
            .set(tfa_api_tokens::expires_at.eq(Some(1i64)))
            .execute(&mut app.db.get().unwrap())
            .unwrap();
    }
    let (status, _) = get(&app, "/me", Some(&t)).await;
    assert_eq!(status, 401);

    // Disabling over the API with a session token needs password and code.
    let (status, body) = post(
        &app,
        "/two-factor/disable",
        &json!({"password": PASSWORD, "code": true}),
        Some(&session),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_code"))
    );
    let (status, _) = post(
        &app,
        "/two-factor/disable",
        &json!({"password": "wrong", "code": e.codes[1]}),
        Some(&session),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = post(
        &app,
        "/two-factor/disable",
        &json!({"password": PASSWORD, "code": e.codes[1]}),
        Some(&session),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = signin(&app, &e.email).await;
    assert_eq!(status, 200);
    assert!(body["token"].is_string(), "no 2FA any more: {body}");
}

#[tokio::test]
async fn the_api_answers_404_while_the_addon_is_disabled() {
    let app = crate::helpers::spawn_app().await;
    let res = reqwest::get(format!("{}/api/v1/openapi.json", app.address))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let res = reqwest::get(format!("{}/account/security", app.address))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test]
async fn a_password_change_ends_api_sessions_but_not_access_tokens() {
    let app = app_with_addon().await;
    let e = enrol(&app, "pw@example.com", Role::Customer).await;
    let pat = create_pat(&e, "script", "read").await;
    let id = challenge(&app, &e).await;
    let (status, body) = verify(&app, &id, &e.codes[0]).await;
    assert_eq!(status, 200);
    let session = body["token"].as_str().unwrap().to_string();
    let open = challenge(&app, &e).await;
    let (status, _, page) = post_from(
        &e.browser,
        "/account/password",
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "another-good-password-2"),
            ("confirm_password", "another-good-password-2"),
        ],
    )
    .await;
    assert!(status == 303 || status == 200, "{status} {page}");
    let (status, _) = get(&app, "/me", Some(&session)).await;
    assert_eq!(status, 401, "API session ended");
    let (status, _) = get(&app, "/me", Some(&pat)).await;
    assert_eq!(status, 200, "access token kept");
    let (status, body) = verify(&app, &open, &e.codes[1]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_challenge"))
    );
}

#[tokio::test]
async fn api_sign_in_shares_the_login_forms_password_lock() {
    let app = app_with_addon().await;
    app.create_account("guess@example.com", PASSWORD, Role::Customer);
    for _ in 0..10 {
        let (status, body) = post(
            &app,
            "/signin",
            &json!({"email": "guess@example.com", "password": "wrong-guess"}),
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_credentials"))
        );
    }
    // Locked: the right password is refused over the API and on the web.
    let (status, body) = signin(&app, "guess@example.com").await;
    assert_eq!(status, 401, "{body}");
    let b = app.new_browser();
    let res = b.login("/login", "guess@example.com", PASSWORD).await;
    assert_eq!(res.status().as_u16(), 401);
}
