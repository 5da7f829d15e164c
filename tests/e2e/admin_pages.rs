//! Journey "admin_pages": the store owner's overview in a real browser.
//! The dashboard warns about staff without a second factor and links to
//! them on the Users list (factor badges, the filter); the user page keeps
//! its two-factor section and the reset's danger zone below Save, outside
//! the profile form; a reset ends with a notice naming the user; the audit
//! log reads in words with each time on one line. Screenshots at desktop
//! size and 375 px.

use storefront_2fa::plugin::Role;

use crate::driver::Page;
use crate::helpers::{SmsSetUp, TestApp};

const OWNER: &str = "owner@example.com";
const OWNER_PASSWORD: &str = "owner-password-1";
const PASSWORD: &str = "a-good-password-1";

/// The addon on, customers asked for a code (the owner has no factor, so
/// admins are not asked: the owner signs in with the password).
async fn store_with_staff(app: &TestApp) -> i64 {
    app.login_admin().await;
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("api_key", "e2e-sandbox-api-key-1"),
                ("customer_enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "settings saved");
    let vendor = app.create_account("vendor@example.com", PASSWORD, Role::Vendor);
    app.add_phone(vendor, "2015550127", SmsSetUp::Complete);
    app.create_account("new-vendor@example.com", PASSWORD, Role::Vendor);
    let shopper = app.create_account("shopper@example.com", PASSWORD, Role::Customer);
    app.add_phone(shopper, "2015550128", SmsSetUp::Complete);
    vendor
}

pub async fn admin_pages(page: &Page, app: &TestApp) {
    let vendor = store_with_staff(app).await;
    page.goto("/admin/login").await;
    page.type_into("#f-email", OWNER).await;
    page.type_into("#f-password", OWNER_PASSWORD).await;
    page.press_enter().await;
    page.wait_path("/admin").await;

    // The dashboard warns: the owner and the new vendor have no factor.
    page.assert_text("2 admin or vendor accounts have no second factor")
        .await;
    page.assert_fits_375("01-dashboard").await;
    page.shot("01-dashboard").await;
    page.click_text("Show them").await;
    page.wait_path("/admin/users").await;
    page.assert_text("2 account(s) in “Admins and vendors without 2FA”")
        .await;
    let listed = page
        .js("return Array.from(document.querySelectorAll('tbody tr td:first-child a')).map(a => a.textContent)")
        .await;
    assert_eq!(
        listed,
        serde_json::json!(["new-vendor@example.com", OWNER]),
        "only staff without a factor"
    );
    page.shot("02-users-without-2fa").await;
    page.click_text("All accounts").await;
    page.assert_text("4 account(s).").await;
    let vendor_badges = page.text_of(&format!("#user-{vendor} td.badges")).await;
    assert_eq!(vendor_badges.trim(), "SMS");
    page.assert_fits_375("03-users").await;
    page.shot("03-users").await;

    // The user page: Enter in a field saves; the reset is below Save,
    // outside the form, in a danger zone.
    page.click_text("vendor@example.com").await;
    page.wait_path(&format!("/admin/users/{vendor}")).await;
    page.assert_text("SMS: +1 •••-•••-0127").await;
    let layout = page
        .js("const link = document.getElementById('tfa-reset-link');\
             const save = Array.from(document.querySelectorAll('form button')).find(b => b.textContent === 'Save user');\
             return [link.closest('form') === null, link.closest('.danger-zone') !== null,\
                     link.getBoundingClientRect().top > save.getBoundingClientRect().bottom]")
        .await;
    assert_eq!(
        layout,
        serde_json::json!([true, true, true]),
        "below Save, apart"
    );
    page.type_into("#f-name", "Vendor Jr").await;
    page.press_enter().await;
    page.wait_text("The user was saved.").await;
    page.assert_text("SMS: +1 •••-•••-0127").await;
    page.assert_fits_375("04-user-page").await;
    page.shot("04-user-page").await;

    page.click("#tfa-reset-link").await;
    page.wait_path(&format!("/admin/two-factor/users/{vendor}/reset"))
        .await;
    page.click("#tfa-reset-confirm").await;
    page.wait_path(&format!("/admin/users/{vendor}")).await;
    page.assert_text("Two-factor authentication was reset for vendor@example.com.")
        .await;
    page.assert_text("SMS: no phone").await;
    page.shot("05-reset-notice").await;

    // The audit log: words, the admin who acted, one line per time.
    page.goto("/admin/two-factor/audit").await;
    for words in [
        "Two-factor reset by an admin",
        "Settings saved",
        "Addon enabled",
    ] {
        page.assert_text(words).await;
    }
    let settings_row = page
        .js("return Array.from(document.querySelectorAll('tr[data-event=settings_change]')).map(r => r.innerText)[0]")
        .await;
    let settings_row = settings_row.as_str().unwrap_or_default();
    assert!(
        settings_row.contains(OWNER) && settings_row.contains("127.0.0.1"),
        "{settings_row}"
    );
    let one_line = page
        .js("return Array.from(document.querySelectorAll('td.nowrap')).every(td =>\
             getComputedStyle(td).whiteSpace === 'nowrap' && td.querySelector('time').getClientRects().length === 1)")
        .await;
    assert_eq!(one_line, serde_json::json!(true));
    page.assert_fits_375("06-audit").await;
    page.shot("06-audit").await;
}
