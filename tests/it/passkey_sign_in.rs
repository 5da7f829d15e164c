//! Passkey sign-in with no password (`two_factor` settings
//! `customer_passkey_sign_in`, `admin_passkey_sign_in`): the login pages'
//! "Sign in with a passkey", against the real server with the software
//! authenticator of `passkeys`.

use diesel::prelude::*;
use serde_json::{json, Value};
use storefront_2fa::db::schema::{accounts, sessions};
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::{tfa_audit, tfa_passkeys};

use crate::helpers::{extract_csrf, Browser, TestApp};
use crate::passkeys::{enrol, origin, SoftKey, WithKey};
use crate::two_factor_app::app_with_addon;

/// Turns passkey sign-in on for the interfaces named (the rest off).
async fn turn_on(app: &TestApp, customers: bool, admins: bool) {
    let mut fields = Vec::new();
    if customers {
        fields.push(("customer_passkey_sign_in", "on"));
    }
    if admins {
        fields.push(("admin_passkey_sign_in", "on"));
    }
    let res = app
        .browser
        .post_form("/admin/addons/two_factor/settings", &fields)
        .await;
    assert_eq!(res.status(), 303, "settings saved");
}

fn base(login: &str) -> &'static str {
    if login.starts_with("/admin") {
        "/admin/two-factor/passkey-sign-in"
    } else {
        "/two-factor/passkey-sign-in"
    }
}

/// POSTs JSON with the CSRF header, as static/passkey.js does; status and body.
async fn post_json(b: &Browser, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let res = b
        .client
        .post(b.url(path))
        .header("X-CSRF-Token", token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let cache = res
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(cache.as_deref(), Some("no-store"), "{path}");
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Opens `login` in a new browser; the browser, its CSRF token and the page.
async fn login_page(app: &TestApp, login: &str) -> (Browser, String, String) {
    let b = app.new_browser();
    let (status, page) = b.get_text(login).await;
    assert_eq!(status, 200);
    let token = extract_csrf(&page);
    (b, token, page)
}

/// Starts a passkey sign-in from `login`: the options, which must ask the
/// device to find its own key and check the user.
async fn start(b: &Browser, token: &str, login: &str) -> Value {
    let (status, options) =
        post_json(b, token, &format!("{}/options", base(login)), &json!({})).await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(
        options["publicKey"]["allowCredentials"],
        json!([]),
        "{options}"
    );
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(
        options.get("mediation").is_none(),
        "a button's prompt: {options}"
    );
    options
}

async fn finish(
    b: &Browser,
    token: &str,
    login: &str,
    credential: &Value,
    next: &str,
) -> (u16, Value) {
    post_json(
        b,
        token,
        base(login),
        &json!({ "credential": credential, "next": next }),
    )
    .await
}

fn session_count(app: &TestApp, account_id: i64) -> i64 {
    sessions::table
        .filter(sessions::account_id.eq(Some(account_id)))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap()
}

fn audited(app: &TestApp, outcome: &str, detail_has: &str) -> i64 {
    tfa_audit::table
        .filter(tfa_audit::event.eq("passkey"))
        .filter(tfa_audit::outcome.eq(outcome))
        .filter(tfa_audit::detail.like(format!("%{detail_has}%")))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap()
}

async fn signed_in_as(b: &Browser, page: &str, email: &str) -> bool {
    let (status, text) = b.get_text(page).await;
    assert!(status != 200 || text.contains(email), "{text}");
    status == 200 && text.contains(email)
}

#[tokio::test]
async fn it_is_off_until_the_store_turns_it_on() {
    let app = app_with_addon().await;
    let w = enrol(&app, "shopper@example.com", Role::Customer).await;
    for login in ["/login", "/admin/login"] {
        let (b, token, page) = login_page(&app, login).await;
        assert!(!page.contains("Sign in with a passkey"), "{login}");
        let (status, body) =
            post_json(&b, &token, &format!("{}/options", base(login)), &json!({})).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"], "passkey_sign_in_off");
    }
    assert_eq!(session_count(&app, w.id), 1, "only the enrolling browser");
}

#[tokio::test]
async fn a_shopper_signs_in_with_a_passkey_alone_and_the_session_is_new() {
    let app = app_with_addon().await;
    turn_on(&app, true, false).await;
    let mut w = enrol(&app, "shopper@example.com", Role::Customer).await;
    for login in ["/login", "/checkout"] {
        let (_, _, page) = login_page(&app, login).await;
        assert!(page.contains("Sign in with a passkey"), "{login}: {page}");
        assert!(page.contains("data-options-path=\"/two-factor/passkey-sign-in/options\""));
        assert!(page.contains("/static/passkey.js"));
    }
    let (b, token, _) = login_page(&app, "/checkout").await;
    let before = b.cookie().unwrap();
    let options = start(&b, &token, "/login").await;
    let answer = w.key.get(&options, &origin(&app));
    let (status, body) = finish(&b, &token, "/login", &answer, "/checkout").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], "/checkout");
    // A new session id, signed in: no password, no code.
    assert_ne!(b.cookie().unwrap(), before, "the session id rotates");
    assert!(signed_in_as(&b, "/account", &w.email).await);
    assert_eq!(session_count(&app, w.id), 2);
    assert_eq!(
        audited(&app, "used", "passkey sign-in without a password"),
        1
    );
    let (count, used): (i64, Option<i64>) = tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq(w.id))
        .select((tfa_passkeys::sign_count, tfa_passkeys::last_used_at))
        .first(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(count, i64::from(w.key.counter), "the counter is stored");
    assert!(used.is_some());

    // The same answer again: its ceremony was taken.
    let (b2, token2, _) = login_page(&app, "/login").await;
    let (status, body) = finish(&b2, &token2, "/login", &answer, "/").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired")),
        "{body}"
    );
    // ... and against a new challenge: not this challenge's signature.
    start(&b2, &token2, "/login").await;
    let (status, body) = finish(&b2, &token2, "/login", &answer, "/").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("not_accepted")),
        "{body}"
    );
    assert_eq!(session_count(&app, w.id), 2, "no session from a replay");
    // A new challenge signed with a counter that does not move on.
    let options = start(&b2, &token2, "/login").await;
    let stale = w.key.sign(&options, &origin(&app), w.key.counter);
    let (status, body) = finish(&b2, &token2, "/login", &stale, "/").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("not_accepted")),
        "{body}"
    );
    assert_eq!(audited(&app, "failure", "counter went backwards"), 1);
    assert_eq!(session_count(&app, w.id), 2);
    assert!(!signed_in_as(&b2, "/account", &w.email).await);
}

#[tokio::test]
async fn unknown_keys_other_origins_and_borrowed_handles_are_refused() {
    let app = app_with_addon().await;
    turn_on(&app, true, false).await;
    let mut a = enrol(&app, "a@example.com", Role::Customer).await;
    let b_owner: WithKey = enrol(&app, "b@example.com", Role::Customer).await;
    let (b, token, _) = login_page(&app, "/login").await;

    // A key the store never saw.
    let mut stranger = SoftKey::new();
    *stranger.user_handle.borrow_mut() = b_owner.key.user_handle.borrow().clone();
    let options = start(&b, &token, "/login").await;
    let (status, body) = finish(
        &b,
        &token,
        "/login",
        &stranger.get(&options, &origin(&app)),
        "/",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unknown_key")),
        "{body}"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Sign in with your email and password"));

    // A's key claiming B's user handle.
    *a.key.user_handle.borrow_mut() = b_owner.key.user_handle.borrow().clone();
    let options = start(&b, &token, "/login").await;
    let (status, body) = finish(
        &b,
        &token,
        "/login",
        &a.key.get(&options, &origin(&app)),
        "/",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unknown_key")),
        "{body}"
    );

    // A key of this store, answering for a look-alike site.
    let mut c = enrol(&app, "c@example.com", Role::Customer).await;
    let options = start(&b, &token, "/login").await;
    let phished = c.key.get(&options, "http://localhost.evil.example");
    let (status, body) = finish(&b, &token, "/login", &phished, "/").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("not_accepted")),
        "{body}"
    );

    // Broken answers change nothing and say so.
    start(&b, &token, "/login").await;
    let (status, body) = finish(&b, &token, "/login", &json!({"id": "x"}), "/").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    for w in [&a, &b_owner, &c] {
        assert_eq!(
            session_count(&app, w.id),
            1,
            "{} only where it enrolled",
            w.email
        );
    }
    assert!(audited(&app, "failure", "passkey sign-in") >= 3);
}

#[tokio::test]
async fn the_accounts_role_decides_and_the_admin_login_refuses_customers() {
    let app = app_with_addon().await;
    // On for customers only.
    turn_on(&app, true, false).await;
    let mut admin = enrol(&app, "vendor@example.com", Role::Vendor).await;
    let mut shopper = enrol(&app, "shopper@example.com", Role::Customer).await;
    let (b, token, _) = login_page(&app, "/login").await;
    let options = start(&b, &token, "/login").await;
    let (status, body) = finish(
        &b,
        &token,
        "/login",
        &admin.key.get(&options, &origin(&app)),
        "/",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("not_for_this_account")),
        "a vendor's key at the customer login, while off for staff: {body}"
    );
    let (_, _, page) = login_page(&app, "/admin/login").await;
    assert!(!page.contains("Sign in with a passkey"));

    // On for both: a vendor signs in at the admin login; a customer's key
    // there is refused like a customer's password.
    turn_on(&app, true, true).await;
    let (b, token, page) = login_page(&app, "/admin/login").await;
    assert!(page.contains("data-options-path=\"/admin/two-factor/passkey-sign-in/options\""));
    let options = start(&b, &token, "/admin/login").await;
    let (status, body) = finish(
        &b,
        &token,
        "/admin/login",
        &shopper.key.get(&options, &origin(&app)),
        "/admin",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("not_for_this_account")),
        "{body}"
    );
    assert_eq!(session_count(&app, shopper.id), 1);
    let options = start(&b, &token, "/admin/login").await;
    let (status, body) = finish(
        &b,
        &token,
        "/admin/login",
        &admin.key.get(&options, &origin(&app)),
        "https://evil.example/",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["redirect"], "/admin",
        "an outside target is not followed"
    );
    assert!(signed_in_as(&b, "/admin", &admin.email).await);
}

#[tokio::test]
async fn a_required_new_password_comes_before_the_session() {
    let app = app_with_addon().await;
    turn_on(&app, true, false).await;
    let mut w = enrol(&app, "shopper@example.com", Role::Customer).await;
    diesel::update(accounts::table.find(w.id))
        .set(accounts::must_change_password.eq(true))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    let (b, token, _) = login_page(&app, "/login").await;
    let options = start(&b, &token, "/login").await;
    let (status, body) = finish(
        &b,
        &token,
        "/login",
        &w.key.get(&options, &origin(&app)),
        "/",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], "/login/change-password");
    assert_eq!(
        session_count(&app, w.id),
        1,
        "no session before the new password"
    );
    assert_eq!(b.get("/account/security").await.status(), 303);
    let (status, page) = b.get_text("/login/change-password").await;
    assert_eq!(status, 200, "{page}");
    let res = b
        .post_form(
            "/login/change-password",
            &[
                ("new_password", "a-brand-new-password-9"),
                ("confirm_password", "a-brand-new-password-9"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(signed_in_as(&b, "/account", &w.email).await);
}

#[tokio::test]
async fn starts_are_counted_per_address() {
    let app = app_with_addon().await;
    turn_on(&app, true, false).await;
    let (b, token, _) = login_page(&app, "/login").await;
    let limit = storefront_2fa::two_factor::passkey::passwordless::STARTS_PER_IP;
    for _ in 0..limit {
        start(&b, &token, "/login").await;
    }
    let (status, body) = post_json(
        &b,
        &token,
        "/two-factor/passkey-sign-in/options",
        &json!({}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Wait 15 minutes"));
}
