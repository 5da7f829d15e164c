//! Journeys "passkey_checkout", "passkey_admin" and "passkey_sign_in":
//! passkeys and security keys in a real Chromium with a WebDriver virtual authenticator (the
//! W3C `POST /session/{id}/webauthn/authenticator`, sent through
//! fantoccini's `issue_cmd`). A shopper adds a passkey on the Security page
//! and signs in with it at checkout; an admin adds a security key, signs
//! in with it, and removes it with the key itself. With passkey sign-in on,
//! a shopper signs in at checkout with the passkey alone. The browser opens the store at `http://localhost`:
//! the store's WebAuthn origin (browsers refuse passkeys for IP addresses).

use serde_json::{json, Value};
use storefront_2fa::plugin::Role;

use crate::driver::Page;
use crate::helpers::TestApp;

const PASSWORD: &str = "a-good-password-1";

/// Adds a virtual authenticator to the browser session.
#[derive(Debug)]
struct AddVirtualAuthenticator(Value);

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

/// A passkey on this device (fingerprint or screen lock), or a security
/// key on USB that asks for its PIN: both verify the user.
async fn add_authenticator(page: &Page, transport: &str) {
    page.client
        .issue_cmd(AddVirtualAuthenticator(json!({
            "protocol": "ctap2",
            "transport": transport,
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        })))
        .await
        .expect("a virtual authenticator");
}

async fn goto_localhost(page: &Page, app: &TestApp, path: &str) {
    page.client
        .goto(&format!("http://localhost:{}{path}", app.port))
        .await
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
}

async fn log_in(page: &Page, email: &str) {
    page.type_into("#f-email", email).await;
    page.type_into("#f-password", PASSWORD).await;
    page.click("main form.card button[type=submit]").await;
}

/// On the Security page at `security`: adds a key named `name`, saves the
/// recovery codes, and sees it listed.
async fn add_key(page: &Page, security: &str, name: &str, step: &str) {
    page.wait_path(security).await;
    page.assert_text("Passkeys and security keys").await;
    page.type_into("#pk-name", name).await;
    page.type_into("#pk-password", PASSWORD).await;
    page.shot(&format!("{step}-security")).await;
    page.click("#passkey-start button[type=submit]").await;
    page.find("#passkey-create").await;
    page.assert_text(&format!("Add “{name}”")).await;
    page.assert_fits_375(&format!("{step}-add")).await;
    page.click("#passkey-create").await;
    page.wait_text(&format!("Your key “{name}” is added")).await;
    page.find("#recovery-codes").await;
    page.shot(&format!("{step}-codes")).await;
    page.tick("codes-saved").await;
    page.click("#codes-done").await;
    page.wait_path(security).await;
    page.wait_text_of("#passkeys tbody td", name).await;
    page.assert_fits_375(&format!("{step}-listed")).await;
    page.shot(&format!("{step}-listed")).await;
}

/// Puts the first product in the signed-in shopper's cart and logs out;
/// the product's name.
async fn cart_then_log_out(page: &Page, app: &TestApp) -> String {
    goto_localhost(page, app, "/").await;
    let product = page.text_of("ul.products li.product h2").await;
    page.click("ul.products li.product button[type=submit]")
        .await;
    page.wait_path("/cart").await;
    page.click_text("Log out").await;
    page.wait_path("/").await;
    product
}

pub async fn passkey_checkout(page: &Page, app: &TestApp) {
    crate::journeys::configure(app).await;
    app.create_account("shopper@example.com", PASSWORD, Role::Customer);
    add_authenticator(page, "internal").await;
    goto_localhost(page, app, "/login").await;
    log_in(page, "shopper@example.com").await;
    page.wait_path("/").await;
    goto_localhost(page, app, "/account/security").await;
    add_key(page, "/account/security", "My laptop", "01").await;

    let product = cart_then_log_out(page, app).await;
    goto_localhost(page, app, "/checkout").await;
    page.assert_text("Log in to place your order").await;
    log_in(page, "shopper@example.com").await;
    page.wait_path("/two-factor/passkey").await;
    page.assert_text("Use a recovery code").await;
    page.assert_fits_375("02-key-step").await;
    page.shot("02-key-step").await;
    page.click("#passkey-use").await;
    page.wait_path("/checkout").await;
    page.assert_text(&product).await;
    page.shot("03-checkout").await;
}

pub async fn passkey_admin(page: &Page, app: &TestApp) {
    crate::journeys::configure(app).await;
    app.create_account("boss@example.com", PASSWORD, Role::Admin);
    add_authenticator(page, "usb").await;
    goto_localhost(page, app, "/admin/login").await;
    log_in(page, "boss@example.com").await;
    page.wait_path("/admin").await;
    goto_localhost(page, app, "/admin/account/security").await;
    add_key(page, "/admin/account/security", "Blue YubiKey", "01").await;

    page.click_text("Log out").await;
    goto_localhost(page, app, "/admin/login").await;
    log_in(page, "boss@example.com").await;
    page.wait_path("/admin/two-factor/passkey").await;
    page.assert_fits_375("02-key-step").await;
    page.shot("02-key-step").await;
    page.click("#passkey-use").await;
    page.wait_path("/admin").await;
    page.shot("03-signed-in").await;

    // Removed with the key itself and the password (no code needed).
    goto_localhost(page, app, "/admin/account/security").await;
    page.click("#passkeys tbody a").await;
    page.find("#passkey-remove").await;
    page.assert_fits_375("04-manage").await;
    page.shot("04-manage").await;
    page.type_into("#pk-password-key", PASSWORD).await;
    page.click("#passkey-remove").await;
    page.wait_text("Your key “Blue YubiKey” is removed").await;
    page.shot("05-removed").await;
}

/// Passkey sign-in (store setting on): at checkout, "Sign in with a
/// passkey" signs the shopper in with no email, password or code.
pub async fn passkey_sign_in(page: &Page, app: &TestApp) {
    crate::journeys::configure_with(app, &[("customer_passkey_sign_in", "on")]).await;
    app.create_account("shopper@example.com", PASSWORD, Role::Customer);
    add_authenticator(page, "internal").await;
    goto_localhost(page, app, "/login").await;
    // No passkey on this device yet: the page says so and what to do.
    page.click("#passkey-sign-in-button").await;
    page.wait_text("this device has no passkey for this store")
        .await;
    page.shot("00-no-passkey-yet").await;
    log_in(page, "shopper@example.com").await;
    page.wait_path("/").await;
    goto_localhost(page, app, "/account/security").await;
    add_key(page, "/account/security", "My phone", "01").await;

    let product = cart_then_log_out(page, app).await;
    goto_localhost(page, app, "/checkout").await;
    page.assert_text("Or use a passkey").await;
    page.assert_fits_375("02-checkout-login").await;
    page.shot("02-checkout-login").await;
    page.click("#passkey-sign-in-button").await;
    page.wait_path("/checkout").await;
    page.wait_text(&product).await;
    page.assert_text("My account").await;
    page.shot("03-checkout").await;
}
