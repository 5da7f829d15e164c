//! Journeys about phone numbers: a shopper changes their own phone, typing
//! the new one in international form, and confirms it with the code sent
//! to it; until then the old number stays. Registration has the store's
//! country chosen and keeps the passwords when only the phone was wrong.

use std::time::{Duration, Instant};

use serde_json::Value;
use storefront_2fa::plugin::Role;

use crate::driver::Page;
use crate::helpers::{SmsSetUp, TestApp};

const KEY: &str = "e2e-sandbox-api-key-1";
const PASSWORD: &str = "a-good-password-1";
/// The shopper's phone on file: +1 201-555-0126.
const OLD: &str = "2015550126";
/// Their new one: +44 7400 123456.
const NEW: &str = "7400123456";

/// Test mode with the customer toggle on (over HTTP: the journey is about
/// the shopper).
async fn configure(app: &TestApp) {
    app.login_admin().await;
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", KEY), ("customer_enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 303, "settings saved");
}

/// The code of message number `nth` (1 = the first ever) to `national` in
/// the sandbox outbox, once it is there.
async fn code_number(app: &TestApp, national: &str, nth: usize) -> String {
    let started = Instant::now();
    loop {
        let res = app
            .browser
            .client
            .get(
                app.browser
                    .url(&format!("/sandbox/authy/outbox?phone={national}&limit=20")),
            )
            .header("X-Authy-API-Key", KEY)
            .send()
            .await
            .unwrap();
        let messages = res
            .json::<Value>()
            .await
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default();
        if messages.len() >= nth {
            let text = messages[0]["text"].as_str().expect("message text");
            return crate::helpers::code_in(text).expect("a code");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no message {nth} to {national}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The 30-second cool-down between codes to one account passes.
fn let_cooldown_pass(app: &TestApp) {
    use diesel::prelude::*;
    use storefront_2fa::two_factor::schema::tfa_counters;
    diesel::update(tfa_counters::table)
        .set(tfa_counters::window_start.eq(tfa_counters::window_start - 31))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
}

async fn value_of(page: &Page, css: &str) -> String {
    page.js(&format!("return document.querySelector(\"{css}\").value"))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Journey: the shopper changes their phone on /account.
pub async fn phone_change(page: &Page, app: &TestApp) {
    configure(app).await;
    let id = app.create_account("sam@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, OLD, SmsSetUp::Complete);

    page.goto("/login").await;
    page.type_into("#f-email", "sam@example.com").await;
    page.type_into("#f-password", PASSWORD).await;
    page.press_enter().await;
    page.wait_path("/two-factor/verify").await;
    let code = code_number(app, OLD, 1).await;
    page.type_into("#tfa-code", &code).await;
    page.press_enter().await;
    let started = Instant::now();
    while page.path().await.starts_with("/two-factor") {
        assert!(started.elapsed() < Duration::from_secs(30), "signed in");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The number on file: masked in international form; the local field
    // shows the national number, never a "+".
    page.goto("/account").await;
    page.assert_text("+1 •••-•••-0126").await;
    assert_eq!(value_of(page, "#f-tfa_phone").await, "(201) 555-0126");
    assert_eq!(value_of(page, "#f-tfa_country").await, "US");
    page.assert_fits_375("01-account").await;
    page.shot("01-account").await;

    // A code from the current phone, then the new number typed in
    // international form with "United States" still chosen.
    page.click("button[formaction='/two-factor/account/send-code']")
        .await;
    page.wait_text("A code was sent to your current phone (+1 •••-•••-0126)")
        .await;
    let current = code_number(app, OLD, 2).await;
    let_cooldown_pass(app);
    page.type_into("#f-tfa_phone", "+44 7400 123456").await;
    page.type_into("#f-tfa_current_password", PASSWORD).await;
    page.type_into("#f-tfa_code", &current).await;
    page.shot("02-new-number-typed").await;
    // Enter saves the profile (not the "Send a code" button).
    page.press_enter().await;
    page.wait_text("Confirm your new number +44 •••• ••3456")
        .await;
    page.assert_text("sign-in codes still go to your current number +1 •••-•••-0126")
        .await;
    assert_eq!(value_of(page, "#f-tfa_phone").await, "(201) 555-0126");
    page.assert_fits_375("03-confirm-new-number").await;
    page.shot("03-confirm-new-number").await;

    // A wrong code is refused and says what to do.
    let code = code_number(app, NEW, 1).await;
    let wrong = if code.starts_with('1') { "2" } else { "1" }.repeat(code.len());
    page.type_into("#f-tfa_new_phone_code", &wrong).await;
    page.press_enter().await;
    page.wait_text("That code is not right").await;
    page.assert_text("We sent a code to your new number +44 •••• ••3456")
        .await;
    page.shot("04-wrong-code").await;

    // The right one makes it the number on file.
    page.type_into("#f-tfa_new_phone_code", &code).await;
    page.press_enter().await;
    page.wait_text("Your profile was saved.").await;
    page.assert_text("Your new number +44 •••• ••3456 is confirmed")
        .await;
    assert!(
        !page.text().await.contains("0126"),
        "nothing about the old number"
    );
    assert_eq!(value_of(page, "#f-tfa_phone").await, "07400 123456");
    assert_eq!(value_of(page, "#f-tfa_country").await, "GB");
    page.assert_fits_375("05-new-number-confirmed").await;
    page.shot("05-new-number-confirmed").await;
}

/// Journey: registration has the store's country chosen, takes a number in
/// international form, and keeps the passwords when the phone was wrong.
pub async fn phone_register(page: &Page, app: &TestApp) {
    configure(app).await;
    page.goto("/register").await;
    assert_eq!(value_of(page, "#f-tfa_country").await, "US");
    let names = page
        .js("return [...document.querySelectorAll('#f-tfa_country option')].map(o => o.text)")
        .await;
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(names.contains(&"United Kingdom (+44)"), "short names");
    page.type_into("#f-email", "new@example.com").await;
    page.type_into("#f-password", PASSWORD).await;
    page.type_into("#f-confirm_password", PASSWORD).await;
    page.type_into("#f-tfa_phone", "+44 7400 12345").await;
    page.press_enter().await;
    page.wait_text("not a valid international phone number")
        .await;
    assert_eq!(value_of(page, "#f-password").await, PASSWORD, "kept");
    assert_eq!(value_of(page, "#f-confirm_password").await, PASSWORD);
    page.assert_fits_375("01-register-phone-error").await;
    page.shot("01-register-phone-error").await;
    page.type_into("#f-tfa_phone", "+44 7400 123456").await;
    page.press_enter().await;
    page.wait_path("/two-factor/verify").await;
    code_number(app, NEW, 1).await;
    page.shot("02-verify-new-account").await;
}

/// Journey: an admin sets a customer's phone; it is saved as unconfirmed,
/// and the page speaks of "this user's phone".
pub async fn phone_admin(page: &Page, app: &TestApp) {
    configure(app).await;
    let id = app.create_account("sam@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, OLD, SmsSetUp::Complete);
    page.goto("/admin/login").await;
    page.type_into("#f-email", "owner@example.com").await;
    page.type_into("#f-password", "owner-password-1").await;
    page.press_enter().await;
    page.wait_path("/admin").await;
    page.goto(&format!("/admin/users/{id}")).await;
    page.assert_text("Sign-in codes are sent to this user's phone")
        .await;
    page.assert_text("+1 •••-•••-0126").await;
    assert_eq!(value_of(page, "#f-tfa_phone").await, "(201) 555-0126");
    page.type_into("#f-tfa_phone", "+44 7400 123456").await;
    page.press_enter().await;
    page.wait_text("The user was saved.").await;
    page.assert_text("+44 •••• ••3456 (not confirmed yet: the user confirms it with the code at their next sign-in)")
        .await;
    assert_eq!(value_of(page, "#f-tfa_country").await, "GB");
    page.assert_fits_375("01-unconfirmed").await;
    page.shot("01-unconfirmed").await;
}
