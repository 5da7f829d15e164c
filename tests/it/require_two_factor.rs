//! "Require two-factor authentication" with a grace period: the clock
//! starts at the first sign-in that sees the requirement, shortening the
//! period reaches everyone counting, after it only set-up or signing out
//! is left; the API and the admin pages say the same. Over HTTP against
//! the real server (and a second instance).

use diesel::prelude::*;
use serde_json::Value;
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::{tfa_setup_grace as g, tfa_totp};

use crate::helpers::{location, post_from, Browser, TestApp};
use crate::two_factor_app::{app_with_addon, code, enrol, fresh_step, now, PASSWORD};

const DAY: i64 = 86_400;
const SETUP: &str = "/admin/two-factor/setup-required";

/// Saves the addon's settings (fields not given: off or default).
async fn settings(app: &TestApp, fields: &[(&str, &str)]) {
    let res = app
        .browser
        .post_form("/admin/addons/two_factor/settings", fields)
        .await;
    assert_eq!(res.status(), 303, "settings saved");
}

async fn require_staff(app: &TestApp, grace_days: &str) {
    settings(
        app,
        &[
            ("admin_require_2fa", "on"),
            ("admin_grace_days", grace_days),
        ],
    )
    .await;
}

fn started_at(app: &TestApp, id: i64) -> Option<i64> {
    g::table
        .find(id)
        .select(g::started_at)
        .first(&mut app.db.get().unwrap())
        .optional()
        .unwrap()
}

fn move_start_back(app: &TestApp, id: i64, days: i64) {
    diesel::update(g::table.find(id))
        .set(g::started_at.eq(g::started_at - days * DAY))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
}

async fn admin_sign_in(b: &Browser, email: &str) -> String {
    location(&b.login("/admin/login", email, PASSWORD).await)
}

async fn api_signin(app: &TestApp, email: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/signin", app.address))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn the_grace_starts_at_the_first_sign_in_and_remind_me_later_lets_in() {
    let app = app_with_addon().await;
    let vera = app.create_account("vera@example.com", PASSWORD, Role::Vendor);
    // Not required yet: no clock, straight in.
    let b = app.new_browser();
    assert_eq!(admin_sign_in(&b, "vera@example.com").await, "/admin");
    assert_eq!(started_at(&app, vera), None);
    b.post_form("/admin/logout", &[]).await;

    require_staff(&app, "7").await;
    let before = now();
    assert_eq!(admin_sign_in(&b, "vera@example.com").await, SETUP);
    let start = started_at(&app, vera).expect("the clock started");
    assert!(start >= before && start <= now());
    let (status, page) = b.get_text(SETUP).await;
    assert_eq!(status, 200);
    assert!(page.contains("Set up two-factor authentication"));
    assert!(page.contains("<strong>7 days</strong> left"), "{page}");
    assert!(page.contains("Set up an authenticator app"));
    assert!(page.contains("Remind me later"));
    assert!(
        !page.contains("Use text messages"),
        "SMS is not set up in this store"
    );
    // Nothing else is open while the sign-in is held here.
    assert_eq!(location(&b.get("/admin").await), SETUP);
    let (status, loc, _) = post_from(&b, SETUP, &format!("{SETUP}/later"), &[]).await;
    assert_eq!((status, loc.as_str()), (303, "/admin"));
    assert_eq!(b.get("/admin").await.status(), 200, "signed in");
    b.post_form("/admin/logout", &[]).await;

    // Two days on, the same clock: five days left.
    move_start_back(&app, vera, 2);
    let moved = started_at(&app, vera).unwrap();
    assert_eq!(admin_sign_in(&b, "vera@example.com").await, SETUP);
    assert_eq!(started_at(&app, vera), Some(moved), "never restarted");
    let (_, page) = b.get_text(SETUP).await;
    assert!(page.contains("<strong>5 days</strong> left"), "{page}");

    // Customers are not required by the admin setting.
    app.create_account("cara@example.com", PASSWORD, Role::Customer);
    let c = app.new_browser();
    assert_eq!(
        location(&c.login("/login", "cara@example.com", PASSWORD).await),
        "/"
    );
}

#[tokio::test]
async fn shortening_the_grace_locks_out_all_but_set_up_which_then_signs_in() {
    let app = app_with_addon().await;
    let vera = app.create_account("vera@example.com", PASSWORD, Role::Vendor);
    require_staff(&app, "7").await;
    let b = app.new_browser();
    assert_eq!(admin_sign_in(&b, "vera@example.com").await, SETUP);
    b.post_form("/admin/two-factor/cancel", &[]).await;
    // Three days into seven, the store shortens the grace period to two.
    move_start_back(&app, vera, 3);
    require_staff(&app, "2").await;
    assert_eq!(admin_sign_in(&b, "vera@example.com").await, SETUP);
    let (_, page) = b.get_text(SETUP).await;
    assert!(page.contains("the time to set it up is over"), "{page}");
    assert!(!page.contains("Remind me later"));
    // No way past it: "later" is refused, other pages lead back here.
    let (status, loc, _) = post_from(&b, SETUP, &format!("{SETUP}/later"), &[]).await;
    assert_eq!((status, loc.as_str()), (303, SETUP));
    let (_, page) = b.get_text(SETUP).await;
    assert!(page.contains("The time to set up two-factor authentication is over"));
    for path in ["/admin", "/admin/users", "/admin/account/security"] {
        assert_eq!(location(&b.get(path).await), SETUP, "{path}");
    }
    // Set-up: an authenticator app, inside the held sign-in.
    let (status, _, page) = post_from(&b, SETUP, &format!("{SETUP}/app/start"), &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<svg"));
    let start = page.find(r#"<code id="tfa-secret">"#).unwrap() + r#"<code id="tfa-secret">"#.len();
    let secret = page[start..start + page[start..].find("</code>").unwrap()].replace(' ', "");
    let (status, _, page) =
        post_from(&b, SETUP, &format!("{SETUP}/app"), &[("code", "000000")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("That code is not right"));
    let step = fresh_step().await;
    let (status, loc, _) = post_from(
        &b,
        SETUP,
        &format!("{SETUP}/app"),
        &[("code", &code(&secret, step))],
    )
    .await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/admin/two-factor/recovery-codes")
    );
    assert_eq!(b.get("/admin").await.status(), 200, "signed in");
    let confirmed: bool = tfa_totp::table
        .find(vera)
        .select(tfa_totp::confirmed)
        .first(&mut app.db.get().unwrap())
        .unwrap();
    assert!(confirmed);
    b.post_form("/admin/logout", &[]).await;
    // From now on the app is asked for, like any account with one.
    assert_eq!(
        admin_sign_in(&b, "vera@example.com").await,
        "/admin/two-factor/app"
    );
}

#[tokio::test]
async fn a_zero_grace_period_requires_set_up_at_the_next_sign_in_and_cancel_signs_out() {
    let app = app_with_addon().await;
    settings(
        &app,
        &[("customer_require_2fa", "on"), ("customer_grace_days", "0")],
    )
    .await;
    app.create_account("cara@example.com", PASSWORD, Role::Customer);
    let b = app.new_browser();
    let res = b.login("/login", "cara@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/setup-required");
    let (_, page) = b.get_text("/two-factor/setup-required").await;
    assert!(!page.contains("Remind me later"), "{page}");
    let (status, loc, _) =
        post_from(&b, "/two-factor/setup-required", "/two-factor/cancel", &[]).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/ended"));
    assert_eq!(location(&b.get("/account").await), "/login?next=%2Faccount");
    // A bad grace period is refused with a clear message.
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("customer_require_2fa", "on"),
                ("customer_grace_days", "-1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("from 0 (at the next sign-in)"));
}

#[tokio::test]
async fn the_api_issues_a_token_with_the_days_left_then_answers_setup_required() {
    let app = app_with_addon().await;
    let vera = app.create_account("vera@example.com", PASSWORD, Role::Vendor);
    require_staff(&app, "7").await;
    let (status, body) = api_signin(&app, "vera@example.com").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].as_str().is_some());
    assert_eq!(body["two_factor_setup_required"]["days_left"], 7);
    assert!(
        started_at(&app, vera).is_some(),
        "the API starts the clock too"
    );
    move_start_back(&app, vera, 7);
    let (status, body) = api_signin(&app, "vera@example.com").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "two_factor_setup_required");
    assert!(body.get("token").is_none());
    // The document names the answer.
    let doc = reqwest::get(format!("{}/api/v1/openapi.json", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(doc.contains("two_factor_setup_required"));
}

#[tokio::test]
async fn the_last_factor_cannot_be_turned_off_while_it_is_required() {
    let app = app_with_addon().await;
    let e = enrol(&app, "cara@example.com", Role::Customer).await;
    settings(&app, &[("customer_require_2fa", "on")]).await;
    let (_, page) = e.browser.get_text("/account/security").await;
    assert!(
        page.contains(
            "requires two-factor authentication for your account, so it cannot be turned off"
        ),
        "{page}"
    );
    assert!(!page.contains(r#"action="/account/security/disable""#));
    let (status, _, page) = post_from(
        &e.browser,
        "/account/security",
        "/account/security/disable",
        &[("password", PASSWORD), ("code", &e.codes[0])],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    let still: i64 = tfa_totp::table
        .filter(tfa_totp::account_id.eq(e.id))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(still, 1, "the app stays");
}

#[tokio::test]
async fn the_users_list_and_dashboard_show_who_is_in_grace_and_who_is_locked_out() {
    let app = app_with_addon().await;
    let vera = app.create_account("vera@example.com", PASSWORD, Role::Vendor);
    let vic = app.create_account("vic@example.com", PASSWORD, Role::Vendor);
    require_staff(&app, "7").await;
    for email in ["vera@example.com", "vic@example.com"] {
        let b = app.new_browser();
        assert_eq!(admin_sign_in(&b, email).await, SETUP);
    }
    move_start_back(&app, vic, 8);
    let (_, page) = app.browser.get_text("/admin/users").await;
    assert!(page.contains("2FA due in 7 days"), "{page}");
    assert!(page.contains("2FA set-up only"));
    assert!(page.contains("No 2FA"), "factors are shown as before");
    let (_, page) = app
        .browser
        .get_text("/admin/users?filter=two_factor.setup_grace")
        .await;
    assert!(page.contains("vera@example.com") && !page.contains("vic@example.com"));
    let (_, page) = app
        .browser
        .get_text("/admin/users?filter=two_factor.setup_grace_over")
        .await;
    assert!(page.contains("vic@example.com") && !page.contains("vera@example.com"));
    let (_, page) = app.browser.get_text("/admin").await;
    assert!(
        page.contains(
            "1 account must set up two-factor authentication and is still in the grace period"
        ),
        "{page}"
    );
    assert!(page.contains("1 account can only set up two-factor authentication"));
    // Once a factor is set up, the account is no longer counted.
    app.add_phone(vera, "2015550123", crate::helpers::SmsSetUp::Complete);
    let (_, page) = app.browser.get_text("/admin").await;
    assert!(!page.contains("still in the grace period"));
}

#[tokio::test]
async fn two_instances_share_the_clock_and_the_shortened_period() {
    let app = app_with_addon().await;
    let sibling = app.spawn_sibling().await;
    let vera = app.create_account("vera@example.com", PASSWORD, Role::Vendor);
    require_staff(&app, "7").await;
    let b = app.new_browser();
    assert_eq!(admin_sign_in(&b, "vera@example.com").await, SETUP);
    let start = started_at(&app, vera).unwrap();
    move_start_back(&app, vera, 3);
    require_staff(&app, "3").await;
    // The sibling reads settings again after its short cache.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let there = sibling.new_browser();
    assert_eq!(admin_sign_in(&there, "vera@example.com").await, SETUP);
    assert_eq!(started_at(&app, vera), Some(start - 3 * DAY));
    let (_, page) = there.get_text(SETUP).await;
    assert!(!page.contains("Remind me later"), "over on every instance");
    let (status, loc, _) = post_from(&there, SETUP, &format!("{SETUP}/later"), &[]).await;
    assert_eq!((status, loc.as_str()), (303, SETUP));
}

#[tokio::test]
async fn text_messages_can_be_set_up_from_the_held_sign_in() {
    use crate::two_factor_sandbox::{app_in_test_mode, KEY};
    let app = app_in_test_mode().await;
    settings(
        &app,
        &[
            ("api_key", KEY),
            ("customer_enabled", "on"),
            ("admin_enabled", "on"),
            ("customer_require_2fa", "on"),
            ("customer_grace_days", "0"),
        ],
    )
    .await;
    app.create_account("cara@example.com", PASSWORD, Role::Customer);
    let b = app.new_browser();
    let res = b.login("/login", "cara@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/setup-required");
    let (_, page) = b.get_text("/two-factor/setup-required").await;
    assert!(
        page.contains(r#"href="/two-factor/phone" id="setup-sms""#),
        "{page}"
    );
    let (status, loc, _) = post_from(
        &b,
        "/two-factor/phone",
        "/two-factor/phone",
        &[("tfa_country", "US"), ("tfa_phone", "2015550177")],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    let (status, _) = b.get_text("/two-factor/verify").await;
    assert_eq!(status, 200);
    let text = crate::helpers::outbox_texts(&app, "2015550177")[0].clone();
    let code = crate::helpers::code_in(&text).unwrap();
    let (status, loc, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/recovery-codes"));
    assert_eq!(b.get("/account").await.status(), 200, "signed in");
    // From now on a code is asked for, not set-up.
    b.post_form("/logout", &[]).await;
    let res = b.login("/login", "cara@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
}

#[tokio::test]
async fn the_only_phone_cannot_be_removed_while_a_factor_is_required() {
    let app = app_with_addon().await;
    let id = app.create_account("cara@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, "2015550188", crate::helpers::SmsSetUp::Complete);
    settings(&app, &[("customer_require_2fa", "on")]).await;
    let b = app.new_browser();
    // SMS is not switched on for customers here: the password signs in.
    assert_eq!(
        location(&b.login("/login", "cara@example.com", PASSWORD).await),
        "/"
    );
    let form = [
        ("email", "cara@example.com"),
        ("name", "Cara"),
        ("tfa_country", "US"),
        ("tfa_phone", ""),
        ("tfa_current_password", PASSWORD),
    ];
    let (status, _, page) = post_from(&b, "/account", "/account", &form).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("your last second factor cannot be removed"),
        "{page}"
    );
    let phone = storefront_2fa::two_factor::store::phone_of(&app.db, id)
        .await
        .unwrap();
    assert!(phone.is_some(), "the phone stays");
    // Not required: it can go.
    settings(&app, &[("customer_require_2fa", "")]).await;
    let (status, _, page) = post_from(&b, "/account", "/account", &form).await;
    assert_eq!(status, 303, "{page}");
    let phone = storefront_2fa::two_factor::store::phone_of(&app.db, id)
        .await
        .unwrap();
    assert!(phone.is_none());
}
