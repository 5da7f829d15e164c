//! Journey: the store requires two-factor authentication of admins. An
//! admin without a second factor is first reminded (days left, "Remind me
//! later"), and once the grace period is over can only set up an
//! authenticator app (or sign out) before reaching the admin.

use diesel::prelude::*;
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::tfa_setup_grace;

use crate::driver::Page;
use crate::helpers::TestApp;
use crate::journeys::PASSWORD;

const EMAIL: &str = "ada@example.com";
const SETUP: &str = "/admin/two-factor/setup-required";

async fn log_in(page: &Page) {
    page.goto("/admin/login").await;
    page.type_into("#f-email", EMAIL).await;
    page.type_into("#f-password", PASSWORD).await;
    page.click("main form.card button[type=submit]").await;
}

fn app_code(shown_key: &str) -> String {
    let key: String = shown_key.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = totp_rs::Secret::Encoded(key.to_uppercase())
        .to_bytes()
        .expect("the shown key is base32");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, secret).generate(now)
}

pub async fn required_setup(page: &Page, app: &TestApp) {
    crate::journeys::configure(app).await;
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("api_key", "e2e-sandbox-api-key-1"),
                ("customer_enabled", "on"),
                ("admin_enabled", "on"),
                ("admin_require_2fa", "on"),
                ("admin_grace_days", "7"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "settings saved");
    let id = app.create_account(EMAIL, PASSWORD, Role::Admin);

    // During the grace period: the days left, and "Remind me later".
    log_in(page).await;
    page.wait_path(SETUP).await;
    page.assert_text("7 days left").await;
    page.assert_text("Use text messages (SMS)").await;
    page.assert_fits_375("01-in-grace").await;
    page.shot("01-in-grace").await;
    page.click("#setup-later").await;
    page.wait_path("/admin").await;
    page.click_text("Log out").await;
    page.wait_path("/admin/login").await;

    // Eight days on, the grace period is over.
    diesel::update(tfa_setup_grace::table.find(id))
        .set(tfa_setup_grace::started_at.eq(tfa_setup_grace::started_at - 8 * 86_400))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    log_in(page).await;
    page.wait_path(SETUP).await;
    page.assert_text("the time to set it up is over").await;
    assert!(
        !page.text().await.contains("Remind me later"),
        "no way past it"
    );
    page.assert_fits_375("02-grace-over").await;
    page.shot("02-grace-over").await;
    // The admin is closed until set-up.
    page.goto("/admin/users").await;
    page.wait_path(SETUP).await;

    // Set up an authenticator app, typing the key shown.
    page.click("#setup-app").await;
    let key = page.text_of("#tfa-secret").await;
    assert!(page.find(".qr svg").await.is_displayed().await.unwrap());
    assert_eq!(page.focused_id().await, "tfa-code");
    page.assert_fits_375("03-app").await;
    page.shot("03-app").await;
    page.type_here(&app_code(&key)).await;
    page.press_enter().await;

    // The end of set-up: ten recovery codes, then the admin.
    page.wait_path("/admin/two-factor/recovery-codes").await;
    page.click("#codes-show").await;
    page.find("#recovery-codes").await;
    page.shot("04-recovery-codes").await;
    page.tick("codes-saved").await;
    page.click("#codes-done").await;
    page.wait_path("/admin").await;
    page.assert_text("Dashboard").await;
    page.shot("05-admin").await;
}
