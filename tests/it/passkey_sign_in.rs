//! Passkey sign-in with no password (`two_factor` settings
//! `customer_passkey_sign_in`, `admin_passkey_sign_in`): the login pages'
//! "Sign in with a passkey", against the real server with the software
//! authenticator of `passkeys`.

use diesel::prelude::*;
use serde_json::{json, Value};
use storefront_2fa::db::schema::{accounts, sessions};
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::tfa_passkeys;

use crate::helpers::{extract_csrf, Browser, TestApp};
use crate::passkeys::{audited, enrol, origin, SoftKey};
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
    app.save_addon_settings(&fields).await;
}

/// A login page open in a new browser, driven as static/passkey.js does.
struct LoginTab {
    b: Browser,
    token: String,
    /// `/two-factor/passkey-sign-in` or the admin one.
    base: &'static str,
    origin: String,
    page: String,
}

impl LoginTab {
    async fn open(app: &TestApp, login: &str) -> LoginTab {
        let b = app.new_browser();
        let (status, page) = b.get_text(login).await;
        assert_eq!(status, 200);
        LoginTab {
            token: extract_csrf(&page),
            b,
            base: if login.starts_with("/admin") {
                "/admin/two-factor/passkey-sign-in"
            } else {
                "/two-factor/passkey-sign-in"
            },
            origin: origin(app),
            page,
        }
    }

    /// POSTs JSON with the CSRF header; the status and the JSON answer,
    /// which is never cached.
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .b
            .client
            .post(self.b.url(path))
            .header("X-CSRF-Token", &self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let cache = res.headers().get("cache-control").cloned();
        assert_eq!(cache.unwrap().to_str().unwrap(), "no-store", "{path}");
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn try_start(&self) -> (u16, Value) {
        self.post(&format!("{}/options", self.base), &json!({}))
            .await
    }

    /// Starts a passkey sign-in: the options, which must let the device
    /// find its own key, check the user, and come from a button's prompt.
    async fn start(&self) -> Value {
        let (status, options) = self.try_start().await;
        assert_eq!(status, 200, "{options}");
        assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
        assert_eq!(options["publicKey"]["userVerification"], "required");
        assert!(options.get("mediation").is_none(), "{options}");
        options
    }

    async fn finish(&self, credential: &Value, next: &str) -> (u16, Value) {
        let body = json!({ "credential": credential, "next": next });
        self.post(self.base, &body).await
    }

    /// Starts, has `key` answer at this store's origin, and finishes.
    async fn sign_in(&self, key: &mut SoftKey, next: &str) -> (u16, Value) {
        let options = self.start().await;
        let answer = key.get(&options, &self.origin);
        self.finish(&answer, next).await
    }

    async fn signed_in_as(&self, page: &str, email: &str) -> bool {
        let (status, text) = self.b.get_text(page).await;
        status == 200 && text.contains(email)
    }
}

/// A refusal: its status and stable error code.
fn refused((status, body): &(u16, Value), want: u16, code: &str) {
    assert_eq!(
        (*status, body["error"].as_str()),
        (want, Some(code)),
        "{body}"
    );
}

fn session_count(app: &TestApp, account_id: i64) -> i64 {
    sessions::table
        .filter(sessions::account_id.eq(Some(account_id)))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap()
}

#[tokio::test]
async fn it_is_off_until_the_store_turns_it_on() {
    let app = app_with_addon().await;
    let w = enrol(&app, "shopper@example.com", Role::Customer).await;
    for login in ["/login", "/admin/login"] {
        let tab = LoginTab::open(&app, login).await;
        assert!(!tab.page.contains("Sign in with a passkey"), "{login}");
        refused(&tab.try_start().await, 404, "passkey_sign_in_off");
    }
    assert_eq!(session_count(&app, w.id), 1, "only the enrolling browser");
}

#[tokio::test]
async fn a_shopper_signs_in_with_a_passkey_alone_and_the_session_is_new() {
    let app = app_with_addon().await;
    turn_on(&app, true, false).await;
    let mut w = enrol(&app, "shopper@example.com", Role::Customer).await;
    for login in ["/login", "/checkout"] {
        let page = LoginTab::open(&app, login).await.page;
        assert!(page.contains("Sign in with a passkey"), "{login}: {page}");
        assert!(page.contains("data-options-path=\"/two-factor/passkey-sign-in/options\""));
        assert!(page.contains("/static/passkey.js"));
    }
    let tab = LoginTab::open(&app, "/checkout").await;
    let before = tab.b.cookie().unwrap();
    let options = tab.start().await;
    let answer = w.key.get(&options, &tab.origin);
    let (status, body) = tab.finish(&answer, "/checkout").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], "/checkout");
    // A new session id, signed in: no password, no code.
    assert_ne!(tab.b.cookie().unwrap(), before, "the session id rotates");
    assert!(tab.signed_in_as("/account", &w.email).await);
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
    let other = LoginTab::open(&app, "/login").await;
    refused(&other.finish(&answer, "/").await, 400, "expired");
    // ... and against a new challenge: not this challenge's signature.
    other.start().await;
    refused(&other.finish(&answer, "/").await, 401, "not_accepted");
    // A new challenge signed with a counter that does not move on.
    let options = other.start().await;
    let stale = w.key.sign(&options, &other.origin, w.key.counter);
    refused(&other.finish(&stale, "/").await, 401, "not_accepted");
    assert_eq!(audited(&app, "failure", "counter went backwards"), 1);
    assert_eq!(session_count(&app, w.id), 2, "no session from a replay");
    assert!(!other.signed_in_as("/account", &w.email).await);
}

#[tokio::test]
async fn unknown_keys_other_origins_and_borrowed_handles_are_refused() {
    let app = app_with_addon().await;
    turn_on(&app, true, false).await;
    let mut a = enrol(&app, "a@example.com", Role::Customer).await;
    let b = enrol(&app, "b@example.com", Role::Customer).await;
    let mut c = enrol(&app, "c@example.com", Role::Customer).await;
    let tab = LoginTab::open(&app, "/login").await;

    // A key the store never saw.
    let mut stranger = SoftKey::new();
    *stranger.user_handle.borrow_mut() = b.key.user_handle.borrow().clone();
    let answer = tab.sign_in(&mut stranger, "/").await;
    refused(&answer, 401, "unknown_key");
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains("Sign in with your email and password"));

    // A's key claiming B's user handle.
    *a.key.user_handle.borrow_mut() = b.key.user_handle.borrow().clone();
    refused(&tab.sign_in(&mut a.key, "/").await, 401, "unknown_key");

    // A key of this store, answering for a look-alike site.
    let options = tab.start().await;
    let phished = c.key.get(&options, "http://localhost.evil.example");
    refused(&tab.finish(&phished, "/").await, 401, "not_accepted");

    // Broken answers change nothing and say so.
    tab.start().await;
    refused(
        &tab.finish(&json!({"id": "x"}), "/").await,
        400,
        "invalid_request",
    );

    for w in [&a, &b, &c] {
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
    let mut vendor = enrol(&app, "vendor@example.com", Role::Vendor).await;
    let mut shopper = enrol(&app, "shopper@example.com", Role::Customer).await;
    let tab = LoginTab::open(&app, "/login").await;
    refused(
        &tab.sign_in(&mut vendor.key, "/").await,
        401,
        "not_for_this_account",
    );
    let admin_page = LoginTab::open(&app, "/admin/login").await.page;
    assert!(!admin_page.contains("Sign in with a passkey"));

    // On for both: a vendor signs in at the admin login; a customer's key
    // there is refused like a customer's password.
    turn_on(&app, true, true).await;
    let tab = LoginTab::open(&app, "/admin/login").await;
    assert!(tab
        .page
        .contains("data-options-path=\"/admin/two-factor/passkey-sign-in/options\""));
    refused(
        &tab.sign_in(&mut shopper.key, "/admin").await,
        401,
        "not_for_this_account",
    );
    assert_eq!(session_count(&app, shopper.id), 1);
    let (status, body) = tab.sign_in(&mut vendor.key, "https://evil.example/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["redirect"], "/admin",
        "an outside target is not followed"
    );
    assert!(tab.signed_in_as("/admin", &vendor.email).await);
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
    let tab = LoginTab::open(&app, "/login").await;
    let (status, body) = tab.sign_in(&mut w.key, "/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], "/login/change-password");
    assert_eq!(
        session_count(&app, w.id),
        1,
        "no session before the new password"
    );
    assert_eq!(tab.b.get("/account").await.status(), 303);
    let (status, page) = tab.b.get_text("/login/change-password").await;
    assert_eq!(status, 200, "{page}");
    let res = tab
        .b
        .post_form(
            "/login/change-password",
            &[
                ("new_password", "a-brand-new-password-9"),
                ("confirm_password", "a-brand-new-password-9"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(tab.signed_in_as("/account", &w.email).await);
}

#[tokio::test]
async fn starts_are_counted_per_address() {
    let app = app_with_addon().await;
    turn_on(&app, true, false).await;
    let tab = LoginTab::open(&app, "/login").await;
    let limit = storefront_2fa::two_factor::passkey::passwordless::STARTS_PER_IP;
    for _ in 0..limit {
        tab.start().await;
    }
    let answer = tab.try_start().await;
    refused(&answer, 429, "rate_limited");
    assert!(answer.1["message"]
        .as_str()
        .unwrap()
        .contains("Wait 15 minutes"));
}
