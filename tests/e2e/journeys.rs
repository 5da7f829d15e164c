//! The journeys. Each gets a new store and a new browser window, and clicks
//! and types as a person would. Only the set-up a journey is not about
//! (the store owner's settings, an account with a phone on file) is done
//! over HTTP or in the database, and so is letting the 30-second resend
//! cool-down pass.

use std::time::{Duration, Instant};

use serde_json::Value;
use storefront_2fa::plugin::Role;

use crate::driver::Page;
use crate::helpers::{SmsSetUp, TestApp};

/// The API key the store owner enters; the sandbox outbox is read with it.
const KEY: &str = "e2e-sandbox-api-key-1";
/// The owner account `TestApp::login_admin` creates.
const OWNER: &str = "owner@example.com";
const OWNER_PASSWORD: &str = "owner-password-1";
pub const PASSWORD: &str = "a-good-password-1";

/// Test mode, both interface toggles on, as the store owner journey leaves
/// it; done over HTTP for the journeys that are about something else.
pub async fn configure(app: &TestApp) {
    configure_with(app, &[]).await;
}

/// `configure`, with `extra` settings turned on as well.
pub async fn configure_with(app: &TestApp, extra: &[(&str, &str)]) {
    app.login_admin().await;
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    let mut fields = vec![
        ("api_key", KEY),
        ("customer_enabled", "on"),
        ("admin_enabled", "on"),
    ];
    fields.extend_from_slice(extra);
    let res = app
        .browser
        .post_form("/admin/addons/two_factor/settings", &fields)
        .await;
    assert_eq!(res.status(), 303, "settings saved");
}

/// An account whose SMS set-up is complete: a phone and recovery codes.
fn account_with_phone(app: &TestApp, email: &str, role: Role, national: &str) -> i64 {
    let id = app.create_account(email, PASSWORD, role);
    app.add_phone(id, national, SmsSetUp::Complete);
    id
}

/// The end of SMS set-up: the first sign-in with a texted code shows ten
/// recovery codes; Done needs "I have saved these codes", which Download
/// ticks.
async fn save_first_recovery_codes(page: &Page, step: &str) {
    page.wait_path("/two-factor/recovery-codes").await;
    page.wait_text("Save your recovery codes").await;
    // The codes come behind a button (a POST), so that a link from another
    // site cannot use up their one showing.
    page.shot(&format!("{step}-ready")).await;
    page.click("#codes-show").await;
    page.find("#recovery-codes").await;
    page.find("header form[action='/logout']").await; // signed in
    let count = page
        .js("return document.querySelectorAll('#recovery-codes code').length")
        .await;
    assert_eq!(count, Value::from(10), "ten recovery codes");
    assert!(!page.is_ticked("codes-saved").await);
    page.assert_fits_375(step).await;
    page.shot(step).await;
    page.click("#codes-download").await;
    page.wait_text("Downloaded.").await;
    assert!(
        page.is_ticked("codes-saved").await,
        "Download ticks the box"
    );
    page.click("#codes-done").await;
}

/// The sandbox outbox for one phone, newest first.
async fn outbox(app: &TestApp, national: &str) -> Vec<Value> {
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
    assert_eq!(res.status(), 200, "sandbox outbox");
    res.json::<Value>()
        .await
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits for message number `nth` (1 = the first ever) to this phone and
/// returns the code in it.
pub async fn code_number(app: &TestApp, national: &str, nth: usize) -> String {
    let started = Instant::now();
    loop {
        let messages = outbox(app, national).await;
        if messages.len() >= nth {
            let text = messages[0]["text"].as_str().expect("message text");
            let code = crate::helpers::code_in(text).unwrap_or_default();
            assert!((6..=8).contains(&code.len()), "a code in {text:?}");
            return code;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no message {nth} to {national} in the sandbox outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lets the 30-second cool-down between codes to one account pass (the
/// counters live in the database; this moves their windows back).
pub fn let_cooldown_pass(app: &TestApp) {
    use diesel::prelude::*;
    use storefront_2fa::two_factor::schema::tfa_counters;
    diesel::update(tfa_counters::table)
        .set(tfa_counters::window_start.eq(tfa_counters::window_start - 31))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
}

async fn submit_main_form(page: &Page) {
    page.click("main form.card button[type=submit]").await;
}

async fn log_in(page: &Page, email: &str, password: &str) {
    page.type_into("#f-email", email).await;
    page.type_into("#f-password", password).await;
    submit_main_form(page).await;
}

/// "Cancel and return to sign-in" is not white on the white card.
async fn assert_cancel_readable(page: &Page) {
    let color = page
        .js("const b = [...document.querySelectorAll('main button')]\
             .find(b => b.textContent.trim() === 'Cancel and return to sign-in');\
             return b ? getComputedStyle(b).color : 'missing'")
        .await;
    let color = color.as_str().unwrap_or_default();
    assert!(
        color != "missing" && color != "rgb(255, 255, 255)",
        "the cancel button is readable ({color})"
    );
}

/// On the verification page: the code field has the focus and the right
/// hints, the page fits a 375 px screen; the code is typed without a click
/// and sent with Enter.
async fn enter_code_by_keyboard(page: &Page, verify_path: &str, code: &str, step: &str) {
    page.wait_path(verify_path).await;
    assert_eq!(
        page.focused_id().await,
        "tfa-code",
        "focus in the code field"
    );
    let field = page.find("#tfa-code").await;
    assert_eq!(
        field.attr("inputmode").await.unwrap().as_deref(),
        Some("numeric")
    );
    assert_eq!(
        field.attr("autocomplete").await.unwrap().as_deref(),
        Some("one-time-code")
    );
    let label = page.text_of("label[for='tfa-code']").await;
    assert_eq!(label, "Verification code");
    assert_cancel_readable(page).await;
    page.assert_fits_375(step).await;
    page.shot(step).await;
    page.type_here(code).await;
    page.press_enter().await;
}

/// Journey 1: the store owner turns the addon on and configures it.
pub async fn store_owner(page: &Page, app: &TestApp) {
    app.create_account(OWNER, OWNER_PASSWORD, Role::Admin);
    page.goto("/admin/login").await;
    page.shot("01-login").await;
    log_in(page, OWNER, OWNER_PASSWORD).await;
    page.wait_path("/admin").await;
    page.assert_text("Dashboard").await;

    page.click("header nav a[href='/admin/addons']").await;
    page.wait_path("/admin/addons").await;
    page.assert_text("Two Factor Authentication").await;
    page.wait_text_of("#addon-two_factor .badge", "Disabled")
        .await;
    page.shot("02-addons").await;
    page.click("#addon-two_factor button[type=submit]").await;
    // The form posts back to /admin/addons: wait for the new page's badge.
    page.wait_text_of("#addon-two_factor .badge", "Enabled")
        .await;
    page.shot("03-enabled").await;

    page.click("#addon-two_factor a[href$='/settings']").await;
    page.wait_path("/admin/addons/two_factor/settings").await;
    page.type_into("#s-api_key", KEY).await;
    assert!(
        !page.is_ticked("s-production_mode").await,
        "Production mode is off by default"
    );
    page.tick("s-customer_enabled").await;
    page.tick("s-admin_enabled").await;
    page.shot("04-settings").await;
    submit_main_form(page).await;

    page.wait_path("/admin/addons/two_factor/settings").await;
    page.assert_text("The settings were saved.").await;
    assert!(!page.is_ticked("s-production_mode").await);
    assert!(page.is_ticked("s-customer_enabled").await);
    assert!(page.is_ticked("s-admin_enabled").await);
    let placeholder = page.find("#s-api_key").await.attr("placeholder").await;
    assert!(
        placeholder.unwrap().unwrap_or_default().contains("stored"),
        "the key is stored and not shown"
    );
    assert!(!page.text().await.contains(KEY), "the key is never shown");
    page.assert_fits_375("05-saved").await;
    page.shot("05-saved").await;
}

/// Journey 2: a shopper registers with a phone, fills the cart, logs out, and
/// signs in again at checkout with an SMS code.
pub async fn shopper(page: &Page, app: &TestApp) {
    const PHONE: &str = "2015550124";
    configure(app).await;
    page.goto("/").await;
    page.click("header nav a[href^='/register']").await;
    page.wait_path("/register").await;
    page.type_into("#f-email", "shopper@example.com").await;
    page.type_into("#f-name", "Sam Shopper").await;
    page.type_into("#f-password", PASSWORD).await;
    page.type_into("#f-confirm_password", PASSWORD).await;
    page.choose("#f-tfa_country", "US").await;
    page.type_into("#f-tfa_phone", PHONE).await;
    page.assert_fits_375("01-register").await;
    page.shot("01-register").await;
    submit_main_form(page).await;

    // A new account signs in like any other: with a code.
    let code = code_number(app, PHONE, 1).await;
    enter_code_by_keyboard(page, "/two-factor/verify", &code, "02-verify-registration").await;
    save_first_recovery_codes(page, "02b-recovery-codes").await;
    page.wait_path("/account").await;
    page.assert_text("My account").await;

    page.click("header a.brand").await;
    page.wait_path("/").await;
    page.shot("03-products").await;
    let product = page.text_of("ul.products li.product h2").await;
    page.click("ul.products li.product button[type=submit]")
        .await;
    page.wait_path("/cart").await;
    page.assert_text(&product).await;
    page.shot("04-cart").await;

    page.click_text("Log out").await;
    page.wait_path("/").await;
    page.find("header nav a[href='/login']").await;

    let_cooldown_pass(app);
    page.goto("/checkout").await;
    page.assert_text("Log in to place your order").await;
    page.shot("05-checkout-login").await;
    log_in(page, "shopper@example.com", PASSWORD).await;
    let code = code_number(app, PHONE, 2).await;
    enter_code_by_keyboard(page, "/two-factor/verify", &code, "06-verify-checkout").await;

    page.wait_path("/checkout").await;
    page.assert_text(&product).await;
    page.shot("07-checkout").await;
    page.click_text("Place order").await;
    let started = Instant::now();
    while !page.path().await.starts_with("/orders/") {
        assert!(started.elapsed() < Duration::from_secs(30), "order placed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    page.assert_text("Thank you!").await;
    page.assert_text(&product).await;
    page.shot("08-order").await;
}

/// Journey 3: an admin with a phone signs in with a code; a wrong code is refused;
/// "Resend SMS with code" sends a new one.
pub async fn admin_2fa(page: &Page, app: &TestApp) {
    const PHONE: &str = "2015550125";
    configure(app).await;
    account_with_phone(app, "boss@example.com", Role::Admin, PHONE);
    page.goto("/admin/login").await;
    log_in(page, "boss@example.com", PASSWORD).await;
    page.wait_path("/admin/two-factor/verify").await;
    page.assert_text("+1 •••-•••-0125").await;
    let first = code_number(app, PHONE, 1).await;

    // A wrong code, typed and sent with Enter.
    let last = first.chars().last().unwrap();
    let wrong = format!(
        "{}{}",
        &first[..first.len() - 1],
        if last == '9' {
            '0'
        } else {
            char::from(last as u8 + 1)
        }
    );
    enter_code_by_keyboard(page, "/admin/two-factor/verify", &wrong, "01-verify").await;
    page.find("#tfa-error").await;
    page.wait_path("/admin/two-factor/verify").await;
    let error = page.text_of("#tfa-error").await;
    assert!(!error.is_empty(), "an error is shown");
    assert_eq!(
        page.find("#tfa-code")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        page.focused_id().await,
        "tfa-code",
        "focus back in the field"
    );
    page.shot("02-wrong-code").await;

    // Resend, once the cooldown is over (the page counts it down from
    // when it was loaded, so load it again); the POST redirects back.
    let_cooldown_pass(app);
    page.goto("/admin/two-factor/verify").await;
    page.click_text("Resend SMS with code").await;
    page.wait_text("We sent a new code").await;
    page.wait_path("/admin/two-factor/verify").await;
    page.find(".card .flash").await;
    page.shot("03-resent").await;
    let second = code_number(app, PHONE, 2).await;
    enter_code_by_keyboard(
        page,
        "/admin/two-factor/verify",
        &second,
        "04-verify-resent",
    )
    .await;

    page.wait_path("/admin").await;
    page.assert_text("Dashboard").await;
    page.assert_text("boss@example.com").await;
    page.shot("05-dashboard").await;

    // Another admin's phone: the admin session alone is not enough, the
    // password and a code are asked again ("confirm it is you").
    let other = account_with_phone(app, "other@example.com", Role::Admin, "2015550126");
    let user_page = format!("/admin/users/{other}");
    page.goto(&user_page).await;
    page.find("#f-tfa_phone").await.clear().await.unwrap();
    page.type_into("#f-tfa_phone", "2015550127").await;
    page.click("main form button[type=submit]:not([formaction])")
        .await;
    page.wait_text("Confirm it is you before").await;
    page.shot("06-confirm-needed").await;
    page.click_text("Confirm it is you").await;
    page.wait_path("/admin/two-factor/confirm-access").await;
    page.assert_fits_375("07-confirm-access").await;
    let_cooldown_pass(app);
    page.click_text("Text me a code").await;
    page.wait_text("We sent a code").await;
    let third = code_number(app, PHONE, 3).await;
    page.type_into("#confirm-password", PASSWORD).await;
    page.type_into("#confirm-code", &third).await;
    page.shot("07-confirm-access").await;
    page.press_enter().await;
    page.wait_path(&user_page).await;
    page.find("#f-tfa_phone").await.clear().await.unwrap();
    page.type_into("#f-tfa_phone", "2015550127").await;
    page.click("main form button[type=submit]:not([formaction])")
        .await;
    page.wait_text("The user was saved.").await;
    page.shot("08-admin-phone-saved").await;
}

/// Journey 5: the admin requires a password change; the customer changes the
/// password, adds a phone and verifies it.
pub async fn forced_password_change(page: &Page, app: &TestApp) {
    const PHONE: &str = "2015550126";
    configure(app).await;
    let id = app.create_account("pat@example.com", PASSWORD, Role::Customer);

    page.goto("/admin/login").await;
    log_in(page, OWNER, OWNER_PASSWORD).await;
    page.wait_path("/admin").await;
    page.click("header nav a[href='/admin/users']").await;
    page.wait_path("/admin/users").await;
    page.click_text("pat@example.com").await;
    let user_page = format!("/admin/users/{id}");
    page.wait_path(&user_page).await;
    page.tick("f-must_change_password").await;
    page.shot("01-admin-ticks").await;
    page.click_text("Save user").await;
    page.wait_path(&user_page).await;
    page.wait_text("The user was saved.").await;
    assert!(page.is_ticked("f-must_change_password").await);
    page.click_text("Log out").await;
    page.wait_path("/admin/login").await;

    page.goto("/login").await;
    log_in(page, "pat@example.com", PASSWORD).await;
    page.wait_path("/login/change-password").await;
    assert_eq!(page.focused_id().await, "f-new_password");
    page.assert_fits_375("02-change-password").await;
    page.shot("02-change-password").await;
    let new_password = "a-brand-new-password-2";
    page.type_into("#f-new_password", new_password).await;
    page.type_into("#f-confirm_password", new_password).await;
    page.click_text("Save and continue").await;

    page.wait_path("/two-factor/phone").await;
    assert_eq!(page.focused_id().await, "tfa-phone");
    page.choose("#tfa-country", "US").await;
    page.type_into("#tfa-phone", PHONE).await;
    assert_cancel_readable(page).await;
    page.assert_fits_375("03-phone").await;
    page.shot("03-phone").await;
    page.click_text("Save and send the code").await;

    let code = code_number(app, PHONE, 1).await;
    enter_code_by_keyboard(page, "/two-factor/verify", &code, "04-verify").await;
    save_first_recovery_codes(page, "04b-recovery-codes").await;
    page.wait_path("/").await;
    page.assert_text("My account").await;
    page.shot("05-signed-in").await;

    // The new password and the phone are on file: the next login asks for
    // a code at once.
    page.click_text("Log out").await;
    page.find("header nav a[href='/login']").await;
    let_cooldown_pass(app);
    page.goto("/login").await;
    log_in(page, "pat@example.com", new_password).await;
    page.wait_path("/two-factor/verify").await;
    page.assert_text("+1 •••-•••-0126").await;
}

/// A TOTP code as an authenticator app computes it from the key the
/// Security page shows (RFC 6238: HMAC-SHA-1, 6 digits, 30 s).
fn app_code(shown_key: &str, step: u64) -> String {
    let key: String = shown_key.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = totp_rs::Secret::Encoded(key.to_uppercase())
        .to_bytes()
        .expect("the shown key is base32");
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, secret).generate(step * 30)
}

fn step_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

/// Journey 4: a customer sets up an authenticator app from the Security
/// page by typing the key shown (no QR scan), keeps the recovery codes, then
/// signs in with an app code and, another time, with a recovery code.
pub async fn authenticator_app(page: &Page, app: &TestApp) {
    configure(app).await;
    app.create_account("alex@example.com", PASSWORD, Role::Customer);
    page.goto("/login").await;
    log_in(page, "alex@example.com", PASSWORD).await;
    page.wait_path("/").await;
    page.click("header nav a[href='/account']").await;
    page.wait_path("/account").await;
    page.click("a[href='/account/security']").await;
    page.wait_path("/account/security").await;
    page.assert_text("Authenticator app: off").await;
    page.shot("01-security").await;

    page.click_text("Set up authenticator app").await;
    let key = page.text_of("#tfa-secret").await;
    assert!(
        page.find(".qr svg").await.is_displayed().await.unwrap(),
        "a QR code"
    );
    assert_eq!(page.focused_id().await, "app-code");
    page.assert_fits_375("02-set-up").await;
    page.shot("02-set-up").await;
    let used = step_now();
    page.type_here(&app_code(&key, used)).await;
    page.type_into("#app-password", PASSWORD).await;
    page.click_text("Confirm and turn on").await;

    page.find("#recovery-codes").await;
    let codes = page
        .js("return [...document.querySelectorAll('#recovery-codes code')].map(c => c.textContent.trim())")
        .await;
    let codes: Vec<String> = codes
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(codes.len() >= 5, "recovery codes shown: {codes:?}");
    page.shot("03-recovery-codes").await;
    // Done needs the checkbox: without it the browser keeps the page.
    let on_codes = page.path().await;
    page.click("#codes-done").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        page.path().await,
        on_codes,
        "Done refused without the checkbox"
    );
    assert_eq!(
        page.js("return document.getElementById('codes-saved').validity.valueMissing")
            .await,
        Value::Bool(true)
    );
    page.find("#recovery-codes").await;
    page.shot("04-done-needs-checkbox").await;
    page.tick("codes-saved").await;
    page.click("#codes-done").await;
    page.wait_path("/account/security").await;
    page.assert_text("Authenticator app: on").await;
    page.shot("05-app-on").await;
    // "Generate new codes…" is its own step; Cancel leaves the codes alone.
    page.click("#regenerate-link").await;
    page.wait_path("/account/security/recovery/regenerate")
        .await;
    page.assert_text("Generate new recovery codes?").await;
    page.assert_fits_375("05b-regenerate-confirm").await;
    page.shot("05b-regenerate-confirm").await;
    page.click_text("Cancel").await;
    page.wait_path("/account/security").await;

    // Sign in with a code from the app.
    page.click_text("Log out").await;
    page.find("header nav a[href='/login']").await;
    page.goto("/login").await;
    log_in(page, "alex@example.com", PASSWORD).await;
    page.wait_path("/two-factor/app").await;
    assert_eq!(page.focused_id().await, "tfa-code");
    page.assert_fits_375("06-app-code").await;
    page.shot("06-app-code").await;
    // The code of the step used to confirm is spent; the next one is
    // within the one step of drift allowed.
    let step = step_now().max(used + 1);
    page.type_here(&app_code(&key, step)).await;
    page.press_enter().await;
    page.wait_path("/").await;
    page.assert_text("My account").await;
    page.shot("07-signed-in-with-app").await;

    // Sign in with a recovery code.
    page.click_text("Log out").await;
    page.find("header nav a[href='/login']").await;
    page.goto("/login").await;
    log_in(page, "alex@example.com", PASSWORD).await;
    page.wait_path("/two-factor/app").await;
    page.click_text("Use a recovery code").await;
    page.wait_text_of("label[for='tfa-code']", "Recovery code")
        .await;
    assert_eq!(page.focused_id().await, "tfa-code");
    page.shot("08-recovery-code").await;
    page.type_here(&codes[0]).await;
    page.press_enter().await;
    page.wait_path("/two-factor/recovery-used").await;
    page.wait_text("You are signed in").await;
    page.wait_text("9 recovery codes are left").await;
    page.find("header form[action='/logout']").await; // the new session shows
    page.shot("09-signed-in-with-recovery-code").await;
    page.click_text("Continue").await;
    page.find("header nav a[href='/account']").await;
}

/// Journey 7: Enter in the admin user form saves it and resets nothing; the
/// reset is a page of its own that names the user.
pub async fn admin_user_reset(page: &Page, app: &TestApp) {
    const PHONE: &str = "2015550127";
    configure(app).await;
    let id = account_with_phone(app, "vendor@example.com", Role::Vendor, PHONE);
    page.goto("/admin/login").await;
    log_in(page, OWNER, OWNER_PASSWORD).await;
    page.wait_path("/admin").await;
    page.goto(&format!("/admin/users/{id}")).await;
    page.assert_text("SMS: +1 •••-•••-0127").await;
    page.type_into("#f-name", " Jr").await;
    page.press_enter().await;
    page.wait_text("The user was saved.").await;
    page.assert_text("SMS: +1 •••-•••-0127").await;
    page.shot("01-saved-with-enter").await;
    page.click("#tfa-reset-link").await;
    page.wait_path(&format!("/admin/two-factor/users/{id}/reset"))
        .await;
    page.assert_text("Reset two-factor authentication for vendor@example.com?")
        .await;
    page.assert_fits_375("02-confirm-reset").await;
    page.shot("02-confirm-reset").await;
    page.click("#tfa-reset-confirm").await;
    page.wait_text("no phone").await;
    page.shot("03-reset-done").await;
}

/// The newest code texted to `national`, read from the sandbox outbox in
/// the database once `count` messages have reached it (any gateway).
async fn newest_code_in_outbox(app: &TestApp, national: &str, count: usize) -> String {
    let started = Instant::now();
    loop {
        let texts = crate::helpers::outbox_texts(app, national);
        if texts.len() >= count {
            let code = crate::helpers::code_in(&texts[0]).unwrap_or_default();
            assert!((4..=10).contains(&code.len()), "a code in {:?}", texts[0]);
            return code;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no message {count} to {national} in the sandbox outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Journey 6: the store owner picks Twilio Verify, enters its three values
/// and tests the connection (test mode: the sandbox speaks Verify); a
/// shopper then signs in at checkout with a Verify code from the outbox.
pub async fn twilio_verify(page: &Page, app: &TestApp) {
    const PHONE: &str = "2015550126";
    const AC: &str = "AC00112233445566778899aabbccddeeff";
    const TOKEN: &str = "e2e-auth-token-0123456789abcdef";
    const VA: &str = "VAffeeddccbbaa99887766554433221100";
    app.login_admin().await;
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    page.goto("/admin/login").await;
    log_in(page, OWNER, OWNER_PASSWORD).await;
    page.wait_path("/admin").await;
    page.goto("/admin/addons/two_factor/settings").await;
    page.choose("#s-gateway", "twilio_verify").await;
    // A mistyped SID is refused beside its field, in words.
    page.type_into("#s-twilio_account_sid", "AC123").await;
    page.type_into("#s-twilio_auth_token", TOKEN).await;
    page.type_into("#s-twilio_service_sid", VA).await;
    page.tick("s-customer_enabled").await;
    submit_main_form(page).await;
    page.wait_text("followed by 32 characters").await;
    page.shot("01-wrong-sid").await;
    page.js("document.getElementById('s-twilio_account_sid').value = ''; return true")
        .await;
    page.type_into("#s-twilio_account_sid", AC).await;
    page.type_into("#s-twilio_auth_token", TOKEN).await;
    submit_main_form(page).await;
    page.wait_text("The settings were saved.").await;
    assert!(
        !page.text().await.contains(TOKEN),
        "the token is never shown"
    );
    page.click("#tfa-test-connection").await;
    page.wait_text("Twilio Verify answered").await;
    page.assert_text("Twilio Verify").await;
    page.assert_fits_375("02-connection-ok").await;
    page.shot("02-connection-ok").await;
    page.click_text("Log out").await;
    page.wait_path("/admin/login").await;
    page.goto("/").await;

    let id = app.create_account("verify-shopper@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, PHONE, SmsSetUp::Complete);
    let product = page.text_of("ul.products li.product h2").await;
    page.click("ul.products li.product button[type=submit]")
        .await;
    page.wait_path("/cart").await;
    page.goto("/checkout").await;
    page.assert_text("Log in to place your order").await;
    log_in(page, "verify-shopper@example.com", PASSWORD).await;
    let code = newest_code_in_outbox(app, PHONE, 1).await;
    enter_code_by_keyboard(page, "/two-factor/verify", &code, "03-verify-checkout").await;
    page.wait_path("/checkout").await;
    page.assert_text(&product).await;
    page.shot("04-checkout").await;
}
