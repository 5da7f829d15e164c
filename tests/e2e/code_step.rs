//! The code step as a shopper meets it in Chromium: the first code after
//! registration confirms the phone, the resend buttons count down, a wrong
//! code says how many tries are left, and cancelling says what happens to
//! the account.

use crate::driver::Page;
use crate::helpers::TestApp;
use crate::journeys::{code_number, configure, let_cooldown_pass, PASSWORD};

pub async fn code_step(page: &Page, app: &TestApp) {
    const PHONE: &str = "2015550126";
    configure(app).await;
    page.goto("/register").await;
    page.type_into("#f-email", "newcomer@example.com").await;
    page.type_into("#f-name", "Nell Newcomer").await;
    page.type_into("#f-password", PASSWORD).await;
    page.type_into("#f-confirm_password", PASSWORD).await;
    page.choose("#f-tfa_country", "US").await;
    page.type_into("#f-tfa_phone", PHONE).await;
    page.click("main form.card button[type=submit]").await;

    // The first code confirms the phone: its own heading and words.
    page.wait_path("/two-factor/verify").await;
    let code = code_number(app, PHONE, 1).await;
    assert_eq!(
        page.text_of("#tfa-title").await,
        "Confirm your phone number"
    );
    page.assert_text("To finish setting up two-factor authentication")
        .await;
    // Resend and call are disabled while the cooldown runs, counting down.
    let disabled = page
        .js("return [...document.querySelectorAll('form[data-wait] button')].map(b => b.disabled)")
        .await;
    assert_eq!(
        disabled,
        serde_json::json!([true, true]),
        "resend and call wait"
    );
    page.assert_text("You can ask for another code in").await;
    page.assert_fits_375("01-confirm-phone").await;
    page.shot("01-confirm-phone").await;

    // A wrong code: what happened, and how many tries are left.
    let wrong = if code == "0000000" {
        "1111111"
    } else {
        "0000000"
    };
    page.type_into("#tfa-code", wrong).await;
    page.press_enter().await;
    page.wait_text("That code is not right. 4 attempts left.")
        .await;
    assert_eq!(
        page.path().await,
        "/two-factor/verify",
        "back on the code page"
    );
    page.assert_fits_375("02-wrong-code").await;
    page.shot("02-wrong-code").await;

    // The cooldown ends: the buttons come back by themselves.
    let_cooldown_pass(app);
    page.goto("/two-factor/verify").await;
    let disabled = page
        .js("return [...document.querySelectorAll('form[data-wait] button')].map(b => b.disabled)")
        .await;
    assert_eq!(
        disabled,
        serde_json::json!([false, false]),
        "resend usable again"
    );

    // Cancel: not signed in, the account is kept, the phone is confirmed
    // at the next sign-in.
    page.click_text("Cancel and return to sign-in").await;
    page.wait_path("/two-factor/ended").await;
    page.assert_text("You are not signed in").await;
    page.assert_text("Your account is kept").await;
    page.assert_text("the next time you sign in, we will text a code to confirm it")
        .await;
    page.assert_fits_375("03-cancelled").await;
    page.shot("03-cancelled").await;
    page.click_text("Go to the sign-in page").await;
    page.wait_path("/login").await;
}
