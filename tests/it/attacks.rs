//! The ways around the second factor found by attacking the running store,
//! each written as the attack: the exact request sequence, against the real
//! server and the sandbox it mounts in test mode. Each test failed before
//! its fix.

use diesel::prelude::*;
use serde_json::{json, Value};
use storefront_2fa::db::schema::accounts;
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::{tfa_api_tokens, tfa_audit};
use storefront_2fa::two_factor::store;

use crate::helpers::{listed_codes, location, post_from, Browser, SmsSetUp, TestApp};
use crate::two_factor_api::create_pat;
use crate::two_factor_app::{code, enrol, fresh_step, reset_last_step};
use crate::two_factor_sandbox::{
    app_in_test_mode, configure, outbox_code, outbox_len, with_phone, KEY, NATIONAL, PASSWORD,
};

const NEW_PASSWORD: &str = "another-good-password-2";
/// The attacker's own phone (+1 201-555-0199).
const ATTACKER_NATIONAL: &str = "2015550199";

/// Signs `email` in with the texted code in a new browser.
async fn sign_in_with_sms(app: &TestApp, email: &str, password: &str) -> Browser {
    let b = app.new_browser();
    let res = b.login("/login", email, password).await;
    assert_eq!(location(&res), "/two-factor/verify", "{email} challenged");
    let (status, page) = b.get_text("/two-factor/verify").await;
    assert_eq!(status, 200, "{page}");
    let code = outbox_code(app).await;
    let (status, loc, page) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(loc, "/");
    b
}

async fn change_password(b: &Browser, from: &str, to: &str) {
    let (status, loc, page) = post_from(
        b,
        "/account/password",
        "/account/password",
        &[
            ("current_password", from),
            ("new_password", to),
            ("confirm_password", to),
        ],
    )
    .await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/account?saved=password"),
        "{page}"
    );
}

async fn admin_reset(app: &TestApp, id: i64) -> (u16, String) {
    let (status, loc, _) = post_from(
        &app.browser,
        &format!("/admin/users/{id}"),
        &format!("/admin/two-factor/users/{id}/reset"),
        &[],
    )
    .await;
    (status, loc)
}

fn audit_rows(app: &TestApp) -> Vec<(String, String, String)> {
    tfa_audit::table
        .order(tfa_audit::id.asc())
        .select((tfa_audit::event, tfa_audit::outcome, tfa_audit::interface))
        .load(&mut app.db.get().unwrap())
        .unwrap()
}

/// The attacker's half-finished sign-in must not reach the phone page, nor
/// set a phone, once the account's credentials moved on.
async fn assert_pending_sign_in_is_void(app: &TestApp, attacker: &Browser, victim: i64) {
    let res = attacker.get("/two-factor/phone").await;
    assert_eq!(res.status(), 303, "the phone page is closed to it");
    assert_eq!(location(&res), "/login");
    let (status, loc, _) = post_from(
        attacker,
        "/login",
        "/two-factor/phone",
        &[("tfa_country", "US"), ("tfa_phone", ATTACKER_NATIONAL)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/login"));
    assert!(store::phone_of(&app.db, victim).await.unwrap().is_none());
    let res = attacker.get("/two-factor/verify").await;
    assert_eq!(location(&res), "/login");
    assert!(location(&attacker.get("/account").await).starts_with("/login"));
}

/// Item 1: the attacker holds a pending sign-in made with a leaked
/// password; the victim changes the password, the admin resets the
/// victim's two-factor authentication (lost phone); the attacker's old
/// pending sign-in must not go on to set its own phone.
#[tokio::test]
async fn a_half_finished_sign_in_dies_with_a_password_change_and_an_admin_reset() {
    let app = app_in_test_mode().await;
    let victim = with_phone(&app, "victim@example.com", Role::Customer);
    let attacker = app.new_browser();
    let res = attacker
        .login("/login", "victim@example.com", PASSWORD)
        .await;
    assert_eq!(location(&res), "/two-factor/verify");
    // The attacker's password step texted the victim a code: the victim
    // signs in after its resend cooldown.
    crate::two_factor_sandbox::age_counters(&app, 60);

    let b = sign_in_with_sms(&app, "victim@example.com", PASSWORD).await;
    change_password(&b, PASSWORD, NEW_PASSWORD).await;
    let (status, _) = admin_reset(&app, victim).await;
    assert_eq!(status, 303);
    assert_pending_sign_in_is_void(&app, &attacker, victim).await;
}

/// Item 1, the admin reset alone: a pending sign-in from before the reset
/// is void too (it was created under the old factors).
#[tokio::test]
async fn a_pending_sign_in_from_before_an_admin_reset_cannot_enrol_a_phone() {
    let app = app_in_test_mode().await;
    let victim = with_phone(&app, "victim@example.com", Role::Customer);
    let attacker = app.new_browser();
    let res = attacker
        .login("/login", "victim@example.com", PASSWORD)
        .await;
    assert_eq!(location(&res), "/two-factor/verify");
    let (status, _) = admin_reset(&app, victim).await;
    assert_eq!(status, 303);
    assert_pending_sign_in_is_void(&app, &attacker, victim).await;
}

/// Item 1, "sign out everywhere": the user's other browsers are signed
/// out and a sign-in started elsewhere with the leaked password is void.
#[tokio::test]
async fn sign_out_everywhere_ends_other_sessions_and_half_finished_sign_ins() {
    let app = app_in_test_mode().await;
    with_phone(&app, "victim@example.com", Role::Customer);
    let attacker = app.new_browser();
    let res = attacker
        .login("/login", "victim@example.com", PASSWORD)
        .await;
    assert_eq!(location(&res), "/two-factor/verify");
    // The attacker's password step texted the victim a code: the victim
    // signs in after its resend cooldown.
    crate::two_factor_sandbox::age_counters(&app, 60);
    let other = sign_in_with_sms(&app, "victim@example.com", PASSWORD).await;
    crate::two_factor_sandbox::age_counters(&app, 60);
    let b = sign_in_with_sms(&app, "victim@example.com", PASSWORD).await;
    let (status, loc, _) = post_from(&b, "/account", "/account/sign-out-everywhere", &[]).await;
    assert_eq!((status, loc.as_str()), (303, "/account?saved=signed_out"));
    let (status, page) = b.get_text(&loc).await;
    assert_eq!(status, 200, "this browser stays signed in");
    assert!(page.contains("signed out on every other device"), "{page}");
    assert!(location(&other.get("/account").await).starts_with("/login"));
    assert_eq!(
        location(&attacker.get("/two-factor/verify").await),
        "/login"
    );
}

/// Item 1 over the API: an API sign-in challenge made before a password
/// change and a 2FA disable is void.
#[tokio::test]
async fn an_api_challenge_dies_with_the_password_change() {
    let app = app_in_test_mode().await;
    with_phone(&app, "victim@example.com", Role::Customer);
    let (status, body) = api(
        &app,
        "/api/v1/signin",
        &json!({"email": "victim@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let challenge = body["challenge_id"].as_str().unwrap().to_string();
    let (status, _) = api(
        &app,
        "/api/v1/two-factor/sms",
        &json!({"challenge_id": challenge}),
    )
    .await;
    assert_eq!(status, 200);
    let sent = outbox_code(&app).await;

    let b = app.new_browser();
    // The victim signs in with the code that came for them (the API code is
    // bound to the API challenge, so they get their own).
    crate::two_factor_sandbox::age_counters(&app, 60);
    let res = b.login("/login", "victim@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    b.get_text("/two-factor/verify").await;
    let mine = outbox_code(&app).await;
    post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &mine)],
    )
    .await;
    change_password(&b, PASSWORD, NEW_PASSWORD).await;

    let (status, body) = api(
        &app,
        "/api/v1/verify-2fa",
        &json!({"challenge_id": challenge, "code": sent}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_challenge");
    assert!(body.get("token").is_none());
}

/// Item 2: a user flagged "require password change on next login" (the
/// password leaked) is asked for the second factor first: the leaked
/// password alone cannot set a new one.
#[tokio::test]
async fn a_forced_password_change_comes_after_the_second_factor() {
    let app = app_in_test_mode().await;
    let id = with_phone(&app, "victim@example.com", Role::Customer);
    diesel::update(accounts::table.find(id))
        .set(accounts::must_change_password.eq(true))
        .execute(&mut app.db.get().unwrap())
        .unwrap();

    let attacker = app.new_browser();
    let res = attacker
        .login("/login", "victim@example.com", PASSWORD)
        .await;
    assert_eq!(location(&res), "/two-factor/verify", "the code comes first");
    // The password-change step is not open to the attacker.
    let res = attacker.get("/login/change-password").await;
    assert_ne!(res.status(), 200);
    let (status, _, _) = post_from(
        &attacker,
        "/login",
        "/login/change-password",
        &[
            ("new_password", "attacker-chose-this-1"),
            ("confirm_password", "attacker-chose-this-1"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let flagged: bool = accounts::table
        .find(id)
        .select(accounts::must_change_password)
        .first(&mut app.db.get().unwrap())
        .unwrap();
    assert!(flagged, "the flag stays until the real user changes it");
    let res = app
        .new_browser()
        .login("/login", "victim@example.com", "attacker-chose-this-1")
        .await;
    assert_eq!(res.status(), 401, "the attacker's password was never set");

    // The real user: the code, then the new password, then signed in.
    crate::two_factor_sandbox::age_counters(&app, 60);
    let b = app.new_browser();
    let res = b.login("/login", "victim@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    b.get_text("/two-factor/verify").await;
    let code = outbox_code(&app).await;
    let (status, loc, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/login/change-password"));
    assert!(
        location(&b.get("/account").await).ends_with("/login/change-password"),
        "not signed in before the new password"
    );
    let (status, page) = b.get_text("/login/change-password").await;
    assert_eq!(status, 200, "{page}");
    let (status, loc, page) = post_from(
        &b,
        "/login/change-password",
        "/login/change-password",
        &[
            ("new_password", NEW_PASSWORD),
            ("confirm_password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/"), "{page}");
    assert_eq!(b.get("/account").await.status(), 200);
    let flagged: bool = accounts::table
        .find(id)
        .select(accounts::must_change_password)
        .first(&mut app.db.get().unwrap())
        .unwrap();
    assert!(!flagged);
}

async fn api(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let res = app
        .browser
        .client
        .post(app.browser.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Item 3: an instance started with another secret key cannot read the
/// gateway key; the web refuses, and so must the API.
#[tokio::test]
async fn the_api_refuses_to_sign_in_when_the_gateway_key_cannot_be_decrypted() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    {
        use storefront_2fa::db::schema::addon_settings;
        let other = storefront_2fa::crypto::SecretKey::generate().encrypt(KEY);
        diesel::update(addon_settings::table.filter(addon_settings::key.eq("api_key")))
            .set(addon_settings::value.eq(other))
            .execute(&mut app.db.get().unwrap())
            .unwrap();
    }
    tokio::time::sleep(storefront_2fa::plugin::registry::CACHE_TTL).await;
    let (status, body) = api(
        &app,
        "/api/v1/signin",
        &json!({"email": "cust@example.com", "password": PASSWORD}),
    )
    .await;
    assert!(body.get("token").is_none(), "no token without 2FA: {body}");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "two_factor_unavailable");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("two-factor settings need attention"));
}

/// Item 4: with only an admin's cookie and CSRF token, one's own
/// authenticator app cannot be reset through the admin tool.
#[tokio::test]
async fn an_admin_session_alone_cannot_reset_its_own_two_factor() {
    let app = app_in_test_mode().await;
    let e = enrol(&app, "boss@example.com", Role::Admin).await;
    let (status, loc, _) = post_from(
        &e.browser,
        &format!("/admin/users/{}", e.id),
        &format!("/admin/two-factor/users/{}/reset", e.id),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(loc, "/admin/account/security?own_reset=1");
    let (_, page) = e.browser.get_text(&format!("/admin/users/{}", e.id)).await;
    assert!(page.contains("Authenticator app: on"), "{page}");
    let (_, page) = e
        .browser
        .get_text("/admin/account/security?own_reset=1")
        .await;
    assert!(page.contains("Disable two-factor authentication"), "{page}");
}

/// Item 4: with only an admin's cookie and CSRF token, another admin's
/// phone cannot be replaced nor their 2FA reset; after confirming access
/// (password and the acting admin's own second factor) it can.
#[tokio::test]
async fn changing_an_admins_two_factor_or_phone_needs_a_fresh_confirmation() {
    let app = app_in_test_mode().await;
    let other = with_phone(&app, "other-admin@example.com", Role::Admin);
    let e = enrol(&app, "boss@example.com", Role::Admin).await;
    let user_page = format!("/admin/users/{other}");
    let fields = |phone: &'static str| {
        vec![
            ("email", "other-admin@example.com"),
            ("name", "Other"),
            ("role", "admin"),
            ("tfa_country", "US"),
            ("tfa_phone", phone),
        ]
    };
    let (status, _, page) = post_from(
        &e.browser,
        &user_page,
        &user_page,
        &fields(ATTACKER_NATIONAL),
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Confirm it is you"), "{page}");
    assert!(page.contains("/admin/two-factor/confirm-access"), "{page}");
    let stored = store::phone_of(&app.db, other).await.unwrap().unwrap();
    assert_eq!(stored.phone.national(), NATIONAL, "phone unchanged");
    let (status, loc) = {
        let (s, l, _) = post_from(
            &e.browser,
            &user_page,
            &format!("/admin/two-factor/users/{other}/reset"),
            &[],
        )
        .await;
        (s, l)
    };
    assert_eq!(status, 303);
    assert!(loc.starts_with("/admin/two-factor/confirm-access"), "{loc}");
    assert!(store::phone_of(&app.db, other).await.unwrap().is_some());

    // A wrong password, or the password without the app code, confirms nothing.
    let confirm = "/admin/two-factor/confirm-access";
    let (status, _, _) = post_from(
        &e.browser,
        confirm,
        confirm,
        &[("password", "wrong"), ("code", "")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = post_from(
        &e.browser,
        confirm,
        confirm,
        &[("password", PASSWORD), ("code", "")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = post_from(
        &e.browser,
        &user_page,
        &user_page,
        &fields(ATTACKER_NATIONAL),
    )
    .await;
    assert_eq!(status, 422, "still not confirmed");

    // The set-up used the current step; let this one be a fresh one.
    let step = fresh_step().await;
    reset_last_step(&app, e.id, step - 1);
    let (status, loc, page) = post_from(
        &e.browser,
        confirm,
        &format!("{confirm}?next=%2Fadmin%2Fusers%2F{other}"),
        &[("password", PASSWORD), ("code", &code(&e.secret, step))],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(loc, user_page);
    let (status, _, page) = post_from(
        &e.browser,
        &user_page,
        &user_page,
        &fields(ATTACKER_NATIONAL),
    )
    .await;
    assert_eq!(status, 303, "{page}");
    let stored = store::phone_of(&app.db, other).await.unwrap().unwrap();
    assert_eq!(stored.phone.national(), ATTACKER_NATIONAL);
    // The confirmation belongs to that session: another session of the
    // same admin is not confirmed by it.
    let b2 = app.new_browser();
    let res = b2.login("/admin/login", "boss@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/admin/two-factor/app");
    let (status, loc, _) = post_from(
        &b2,
        "/admin/two-factor/app",
        "/admin/two-factor/app",
        &[("code", &e.codes[0]), ("method", "recovery")],
    )
    .await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/admin/two-factor/recovery-used")
    );
    let (status, _, page) = post_from(&b2, &user_page, &user_page, &fields(NATIONAL)).await;
    assert_eq!(status, 422, "{page}");
    assert!(audit_rows(&app)
        .iter()
        .any(|(e, o, _)| e == "confirm_access" && o == "success"));
}

/// Item 5: SMS pumping through registration. One address registers
/// account after account with one phone number; each first sign-in used to
/// text it. A number gets at most five codes an hour, whoever asks.
#[tokio::test]
async fn registrations_from_one_address_to_one_number_send_at_most_five_texts() {
    let app = app_in_test_mode().await;
    let mut refused = 0;
    for n in 0..12 {
        let b = app.new_browser();
        let email = format!("pump{n}@example.com");
        let (status, loc, page) = post_from(
            &b,
            "/register",
            "/register",
            &[
                ("email", &email),
                ("name", "Pump"),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
                ("tfa_country", "US"),
                ("tfa_phone", NATIONAL),
            ],
        )
        .await;
        if status != 303 {
            refused += 1;
            assert!(page.contains("Too many"), "{page}");
            continue;
        }
        assert_eq!(loc, "/two-factor/verify");
        let (status, page) = b.get_text("/two-factor/verify").await;
        assert_eq!(status, 200, "a page view is never a 429: {page}");
    }
    assert!(
        outbox_len(&app).await <= 5,
        "{} texts",
        outbox_len(&app).await
    );
    assert!(
        refused > 0,
        "registrations from one address are limited too"
    );
    assert!(audit_rows(&app)
        .iter()
        .any(|(e, o, _)| e == "code_sent" && o == "rate_limited"));
}

/// Item 6: an admin's reset of a user's 2FA ends the user's web sessions
/// and revokes their personal access tokens, as disabling does.
#[tokio::test]
async fn an_admin_reset_ends_web_sessions_and_revokes_access_tokens() {
    let app = app_in_test_mode().await;
    let e = enrol(&app, "cust@example.com", Role::Customer).await;
    let token = create_pat(&e, "script", "read").await;
    let me = |t: String| {
        let app = &app;
        async move {
            app.browser
                .client
                .get(app.browser.url("/api/v1/me"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(token.clone()).await, 200);
    let (status, _) = admin_reset(&app, e.id).await;
    assert_eq!(status, 303);
    assert!(
        location(&e.browser.get("/account").await).starts_with("/login"),
        "the user's web session ended"
    );
    assert_eq!(me(token).await, 401, "the access token was revoked");
    let live: i64 = tfa_api_tokens::table
        .filter(tfa_api_tokens::account_id.eq(e.id))
        .filter(tfa_api_tokens::revoked_at.is_null())
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(live, 0);
}

/// Item 6: disabling 2FA revokes the personal access tokens too.
#[tokio::test]
async fn disabling_two_factor_revokes_access_tokens() {
    let app = app_in_test_mode().await;
    let e = enrol(&app, "cust@example.com", Role::Customer).await;
    create_pat(&e, "script", "read").await;
    let (status, _, page) = post_from(
        &e.browser,
        "/account/security",
        "/account/security/disable",
        &[("password", PASSWORD), ("code", &e.codes[0])],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let live: i64 = tfa_api_tokens::table
        .filter(tfa_api_tokens::account_id.eq(e.id))
        .filter(tfa_api_tokens::revoked_at.is_null())
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(live, 0);
}

/// Item 6: a cross-site link to the first recovery codes page must not
/// burn the one showing: a GET shows nothing secret and takes nothing; the
/// codes come once, after a POST with the CSRF token, never cached.
#[tokio::test]
async fn a_cross_site_get_cannot_burn_the_first_recovery_codes() {
    let app = app_in_test_mode().await;
    let id = app.create_account("new@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, NATIONAL, SmsSetUp::FirstSignInPending);
    let b = app.new_browser();
    b.login("/login", "new@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let code = outbox_code(&app).await;
    let (status, loc, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/recovery-codes"));
    // What a link on another site makes the browser do, twice.
    for _ in 0..2 {
        let (status, page) = b.get_text("/two-factor/recovery-codes").await;
        assert_eq!(status, 200, "{page}");
        assert!(listed_codes(&page).is_empty(), "no codes on a GET");
        assert!(page.contains("Show my recovery codes"), "{page}");
    }
    let page_before = b.get_text("/two-factor/recovery-codes").await.1;
    let token = crate::helpers::extract_csrf(&page_before);
    let res = b
        .client
        .post(b.url("/two-factor/recovery-codes"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    assert_eq!(listed_codes(&page).len(), 10, "{page}");
    // Without the token nothing is shown.
    let res = b
        .client
        .post(b.url("/two-factor/recovery-codes"))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200);
}

/// Item 6: the mounted sandbox answers nothing while the addon is off, and
/// takes its key only from the header (a key in a URL ends up in logs).
#[tokio::test]
async fn the_mounted_sandbox_is_silent_while_the_addon_is_off_and_takes_the_key_from_the_header_only(
) {
    let app = app_in_test_mode().await;
    let details = "/sandbox/authy/protected/json/app/details";
    let get = |path: String, header: bool| {
        let app = &app;
        async move {
            let mut r = app.browser.client.get(app.browser.url(&path));
            if header {
                r = r.header("X-Authy-API-Key", KEY);
            }
            r.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(get(details.to_string(), true).await, 200);
    assert_eq!(get(format!("{details}?api_key={KEY}"), false).await, 401);
    app.browser
        .post_form("/admin/addons/two_factor/disable", &[])
        .await;
    assert_eq!(get(details.to_string(), true).await, 404);
    assert_eq!(get("/sandbox/authy/outbox".to_string(), true).await, 404);
}

/// Item 6: in production mode the sandbox outbox page is gone.
#[tokio::test]
async fn the_outbox_page_is_gone_in_production_mode() {
    let app = app_in_test_mode().await;
    assert_eq!(
        app.browser.get("/admin/two-factor/sandbox").await.status(),
        200
    );
    configure(&app, &[("production_mode", "on")]).await;
    assert_eq!(
        app.browser.get("/admin/two-factor/sandbox").await.status(),
        404
    );
}

/// Item 6: a wrong code over the API is audited with the interface `api`.
#[tokio::test]
async fn api_code_failures_are_audited_as_api() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    let (_, body) = api(
        &app,
        "/api/v1/signin",
        &json!({"email": "cust@example.com", "password": PASSWORD}),
    )
    .await;
    let challenge = body["challenge_id"].as_str().unwrap().to_string();
    api(
        &app,
        "/api/v1/two-factor/sms",
        &json!({"challenge_id": challenge}),
    )
    .await;
    let (status, _) = api(
        &app,
        "/api/v1/verify-2fa",
        &json!({"challenge_id": challenge, "code": "000000"}),
    )
    .await;
    assert_eq!(status, 401);
    let rows = audit_rows(&app);
    let failures: Vec<_> = rows
        .iter()
        .filter(|(e, o, _)| e == "verify" && o == "failure")
        .collect();
    assert!(!failures.is_empty(), "{rows:?}");
    assert!(failures.iter().all(|(_, _, i)| i == "api"), "{rows:?}");
}

/// Item 6: the Security page's "text me a code to disable" sends nothing
/// while SMS is off for the account's role.
#[tokio::test]
async fn disable_send_sms_refuses_while_sms_is_off_for_the_role() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    let b = sign_in_with_sms(&app, "cust@example.com", PASSWORD).await;
    let before = outbox_len(&app).await;
    configure(&app, &[("admin_enabled", "on")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    crate::two_factor_sandbox::age_counters(&app, 60);
    let (status, _, page) = post_from(
        &b,
        "/account/security",
        "/account/security/disable/send-sms",
        &[],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Text-message codes are off"), "{page}");
    assert_eq!(outbox_len(&app).await, before, "nothing was sent");
}

/// Item 5: the store-wide hourly ceiling. Past it no text goes out, the
/// shopper is told what to do instead, and the settings page alerts the
/// store owner.
#[tokio::test]
async fn the_store_wide_sms_ceiling_stops_texts_and_alerts_the_owner() {
    let app = crate::helpers::spawn_app_with(storefront_2fa::startup::default_addons, |s| {
        s.two_factor.sms_hourly_ceiling = 2;
    })
    .await;
    app.login_admin().await;
    configure(&app, &[("api_key", KEY), ("customer_enabled", "on")]).await;
    for n in 0..3 {
        let email = format!("c{n}@example.com");
        let id = app.create_account(&email, PASSWORD, Role::Customer);
        app.add_phone(id, &format!("20155502{n:02}"), SmsSetUp::Complete);
        let b = app.new_browser();
        assert_eq!(
            location(&b.login("/login", &email, PASSWORD).await),
            "/two-factor/verify"
        );
        let (status, page) = b.get_text("/two-factor/verify").await;
        assert_eq!(status, 200, "{page}");
        if n < 2 {
            assert!(page.contains("We sent a code"), "{page}");
        } else {
            assert!(
                page.contains("Text messages from this store are paused"),
                "{page}"
            );
        }
    }
    let (_, settings) = app
        .browser
        .get_text("/admin/addons/two_factor/settings")
        .await;
    assert!(
        settings.contains("Codes by text message are paused"),
        "{settings}"
    );
    assert!(settings.contains("two_factor.sms_hourly_ceiling"));
}
