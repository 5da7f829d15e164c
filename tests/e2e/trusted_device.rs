//! Journey: a shopper ticks "Don't ask again on this device", signs in
//! next time with the password alone, sees the browser under "Trusted
//! devices" on the Security page and forgets it; the code is asked again.

use storefront_2fa::plugin::Role;

use crate::driver::Page;
use crate::helpers::{SmsSetUp, TestApp};
use crate::journeys::{code_number, configure, let_cooldown_pass, PASSWORD};

const PHONE: &str = "2015550142";
const EMAIL: &str = "trusting@example.com";

async fn log_in(page: &Page) {
    page.goto("/login").await;
    page.type_into("#f-email", EMAIL).await;
    page.type_into("#f-password", PASSWORD).await;
    page.click("main form.card button[type=submit]").await;
}

async fn log_out(page: &Page) {
    page.click_text("Log out").await;
    page.find("header nav a[href='/login']").await;
}

pub async fn trusted_device(page: &Page, app: &TestApp) {
    configure(app).await;
    let id = app.create_account(EMAIL, PASSWORD, Role::Customer);
    app.add_phone(id, PHONE, SmsSetUp::Complete);

    // The code page offers the box, unticked.
    log_in(page).await;
    page.wait_path("/two-factor/verify").await;
    page.assert_text("Don't ask again on this device for 30 days")
        .await;
    assert!(
        !page.is_ticked("tfa-remember").await,
        "never ticked for you"
    );
    page.assert_fits_375("01-code-page").await;
    page.shot("01-code-page").await;
    let code = code_number(app, PHONE, 1).await;
    page.type_into("#tfa-code", &code).await;
    page.tick("tfa-remember").await;
    page.shot("02-ticked").await;
    page.press_enter().await;
    page.wait_path("/").await;
    page.find("header form[action='/logout']").await;
    log_out(page).await;

    // Next time the password is enough on this browser: no text is sent.
    let_cooldown_pass(app);
    log_in(page).await;
    page.wait_path("/").await;
    page.find("header form[action='/logout']").await;
    assert_eq!(
        crate::helpers::outbox_texts(app, PHONE).len(),
        1,
        "no second code was sent"
    );

    // The Security page lists this browser, and Forget forgets it.
    page.goto("/account/security").await;
    page.assert_text("Trusted devices").await;
    page.assert_text("Chrome on Linux").await;
    page.find("#trusted-devices").await;
    page.assert_fits_375("03-trusted-devices").await;
    page.shot("03-trusted-devices").await;
    page.click("#trusted-devices button[type=submit]").await;
    page.assert_text("is forgotten").await;
    page.find("#no-trusted-devices").await;
    page.shot("04-forgotten").await;
    log_out(page).await;

    // Forgotten: the code is asked for again.
    log_in(page).await;
    page.wait_path("/two-factor/verify").await;
    page.assert_text("Enter your verification code").await;
}
