//! Passkeys and security keys (WebAuthn) against the real server, with a
//! software authenticator: an ES256 key that answers the server's options
//! exactly as a browser and authenticator would (CBOR attestation "none",
//! authenticator data, a DER signature over it and the client data hash).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::{tfa_audit, tfa_passkeys, tfa_webauthn_ceremonies};

use crate::helpers::{listed_codes, location, post_from, Browser, TestApp};
use crate::two_factor_app::{app_with_addon, PASSWORD};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// CBOR heads (RFC 8949): major type and length.
fn cbor_head(major: u8, len: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | len as u8),
        24..=255 => out.extend([m | 24, len as u8]),
        _ => {
            out.push(m | 25);
            out.extend((len as u16).to_be_bytes());
        }
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len(), out);
    out.extend_from_slice(b);
}

fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

/// A software authenticator holding one credential.
pub struct SoftKey {
    key: SigningKey,
    pub id: Vec<u8>,
    /// The signature counter; each assertion adds one first.
    pub counter: u32,
    /// The store's user handle (base64url) for the account the key was
    /// made for: kept with the credential, as a passkey keeps it, and sent
    /// back in every assertion.
    pub user_handle: std::cell::RefCell<Option<String>>,
}

impl SoftKey {
    pub fn new() -> SoftKey {
        let mut id = vec![0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut id[..]);
        SoftKey {
            key: SigningKey::random(&mut rand::thread_rng()),
            id,
            counter: 0,
            user_handle: Default::default(),
        }
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(point.x().unwrap(), &mut out);
        out.push(0x22);
        cbor_bytes(point.y().unwrap(), &mut out);
        out
    }

    fn client_data(kind: &str, options: &Value, origin: &str) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    /// `navigator.credentials.create` for `options` at `origin`.
    pub fn create(&self, options: &Value, origin: &str) -> Value {
        let rp_id = options["publicKey"]["rp"]["id"].as_str().unwrap();
        *self.user_handle.borrow_mut() = options["publicKey"]["user"]["id"]
            .as_str()
            .map(str::to_string);
        let client_data = Self::client_data("webauthn.create", options, origin);
        let mut auth = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth.push(0x45); // user present, user verified, attested credential data
        auth.extend(self.counter.to_be_bytes());
        auth.extend([0u8; 16]); // AAGUID
        auth.extend((self.id.len() as u16).to_be_bytes());
        auth.extend(&self.id);
        auth.extend(self.cose_key());
        let mut att = vec![0xa3];
        cbor_text("fmt", &mut att);
        cbor_text("none", &mut att);
        cbor_text("attStmt", &mut att);
        att.push(0xa0);
        cbor_text("authData", &mut att);
        cbor_bytes(&auth, &mut att);
        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&att),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        })
    }

    /// `navigator.credentials.get` for `options` at `origin`: signs with
    /// this key whether or not the options allow it (a browser would not;
    /// an attacker would).
    pub fn get(&mut self, options: &Value, origin: &str) -> Value {
        self.counter += 1;
        self.sign(options, origin, self.counter)
    }

    pub fn sign(&self, options: &Value, origin: &str, counter: u32) -> Value {
        let rp_id = options["publicKey"]["rpId"].as_str().unwrap();
        let client_data = Self::client_data("webauthn.get", options, origin);
        let mut auth = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth.push(0x05); // user present, user verified
        auth.extend(counter.to_be_bytes());
        let mut signed = auth.clone();
        signed.extend(Sha256::digest(&client_data));
        let sig: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth),
                "clientDataJSON": b64(&client_data),
                "signature": b64(sig.to_der().as_bytes()),
                "userHandle": self.user_handle.borrow().clone(),
            },
            "extensions": {},
        })
    }
}

/// The store's WebAuthn origin in tests: `http://localhost:PORT`.
pub fn origin(app: &TestApp) -> String {
    format!("http://localhost:{}", app.port)
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The WebAuthn options a page hands to static/passkey.js.
pub fn options_in(page: &str) -> Value {
    let marker = "data-options=\"";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("page has passkey options: {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    serde_json::from_str(&unescape(&page[start..end])).unwrap()
}

pub fn paths(role: Role) -> (&'static str, &'static str, &'static str, &'static str) {
    // login form, security page, key step, home
    match role {
        Role::Customer => ("/login", "/account/security", "/two-factor/passkey", "/"),
        _ => (
            "/admin/login",
            "/admin/account/security",
            "/admin/two-factor/passkey",
            "/admin",
        ),
    }
}

/// Adds `key` as `name` on the Security page of a signed-in browser;
/// returns the page the finish answered with.
pub async fn add_key(app: &TestApp, b: &Browser, role: Role, key: &SoftKey, name: &str) -> String {
    let (_, security, _, _) = paths(role);
    let (status, _, page) = post_from(
        b,
        security,
        &format!("{security}/passkeys/start"),
        &[("name", name), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("/static/passkey.js"));
    let options = options_in(&page);
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    // A key the device keeps (discoverable) where it can, so the same key
    // serves passkey sign-in without an email.
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    let answer = key.create(&options, &origin(app)).to_string();
    let (status, _, page) = post_from(
        b,
        security,
        &format!("{security}/passkeys/finish"),
        &[("credential", &answer)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page
}

pub struct WithKey {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub key: SoftKey,
    pub codes: Vec<String>,
    pub browser: Browser,
}

/// An account that signed in and added one key; its recovery codes.
pub async fn enrol(app: &TestApp, email: &str, role: Role) -> WithKey {
    let id = app.create_account(email, PASSWORD, role);
    let (form, security, _, home) = paths(role);
    let b = app.new_browser();
    let res = b.login(form, email, PASSWORD).await;
    assert_eq!(location(&res), home, "{email} signs in without 2FA");
    let (_, page) = b.get_text(security).await;
    assert!(page.contains("Add a passkey or security key"), "{page}");
    let key = SoftKey::new();
    let page = add_key(app, &b, role, &key, "Blue key").await;
    // The first factor ends on recovery codes, as the app set-up does.
    let codes = listed_codes(&page);
    assert_eq!(codes.len(), 10, "{page}");
    assert!(page.contains("Your key “Blue key” is added"), "{page}");
    WithKey {
        id,
        email: email.into(),
        role,
        key,
        codes,
        browser: b,
    }
}

/// The password step of a sign-in: asserts it asks for the key; the
/// browser and the key page's options.
pub async fn password_step(app: &TestApp, w: &WithKey) -> (Browser, Value) {
    let (form, _, step, _) = paths(w.role);
    let b = app.new_browser();
    let res = b.login(form, &w.email, PASSWORD).await;
    assert_eq!(location(&res), step, "{} is asked for the key", w.email);
    let (status, page) = b.get_text(step).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Use your passkey or security key"));
    assert!(
        page.contains("Use a recovery code"),
        "other factors offered"
    );
    (b, options_in(&page))
}

/// Posts an answer on the key step: the status and location. (Not
/// reading the page first: opening it starts a new ceremony.)
pub async fn answer(b: &Browser, role: Role, credential: &Value) -> (u16, String) {
    let (_, _, step, _) = paths(role);
    // The session's CSRF token, from the login page (it starts nothing).
    let token = b.csrf().await;
    let res = b
        .post_raw(
            step,
            &[
                ("credential", &credential.to_string()),
                ("csrf_token", &token),
            ],
        )
        .await;
    (res.status().as_u16(), location(&res))
}

/// Whether the browser is signed in (its account page opens).
async fn signed_in(b: &Browser, role: Role) -> bool {
    let (_, security, _, _) = paths(role);
    b.get(security).await.status() == 200
}

/// The details of the refusals audited, for assertion messages.
fn failures(app: &TestApp) -> Vec<String> {
    tfa_audit::table
        .filter(tfa_audit::event.eq("passkey"))
        .filter(tfa_audit::outcome.eq("failure"))
        .select(tfa_audit::detail)
        .load(&mut app.db.get().unwrap())
        .unwrap()
}

pub fn audited(app: &TestApp, outcome: &str, detail_has: &str) -> i64 {
    tfa_audit::table
        .filter(tfa_audit::event.eq("passkey"))
        .filter(tfa_audit::outcome.eq(outcome))
        .filter(tfa_audit::detail.like(format!("%{detail_has}%")))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_shopper_adds_a_key_and_signs_in_with_it() {
    let app = app_with_addon().await;
    let mut w = enrol(&app, "shopper@example.com", Role::Customer).await;
    let (_, page) = w.browser.get_text("/account/security").await;
    assert!(
        page.contains("Passkeys and security keys: <strong>1</strong>"),
        "{page}"
    );
    assert!(page.contains("<td>Blue key</td>"), "{page}");
    assert_eq!(audited(&app, "added", "Blue key"), 1);

    let (b, options) = password_step(&app, &w).await;
    assert!(!signed_in(&b, w.role).await, "not before the key");
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["id"], b64(&w.key.id));
    let (status, loc) = answer(&b, w.role, &w.key.get(&options, &origin(&app))).await;
    assert_eq!((status, loc.as_str()), (303, "/"), "{:?}", failures(&app));
    assert!(signed_in(&b, w.role).await);
    assert_eq!(audited(&app, "used", "Blue key"), 1);
    let (_, page) = w.browser.get_text("/account/security").await;
    assert!(!page.contains("<td>never</td>"), "last use shown: {page}");
    // The ceremony was taken.
    let left: i64 = tfa_webauthn_ceremonies::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn an_admin_signs_in_with_a_security_key_and_other_factors_are_offered() {
    let app = app_with_addon().await;
    let mut w = enrol(&app, "staff@example.com", Role::Admin).await;
    let (b, options) = password_step(&app, &w).await;
    let (status, loc) = answer(&b, w.role, &w.key.get(&options, &origin(&app))).await;
    assert_eq!((status, loc.as_str()), (303, "/admin"));
    assert!(signed_in(&b, w.role).await);
    // A recovery code still works instead of the key.
    let (b, _) = password_step(&app, &w).await;
    let (status, loc, _) = post_from(
        &b,
        "/admin/two-factor/app?method=recovery",
        "/admin/two-factor/app",
        &[("code", &w.codes[0]), ("method", "recovery")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(loc.contains("recovery-used"), "{loc}");
    let (_, page) = app.browser.get_text("/admin/users").await;
    assert!(page.contains("Passkey"), "Users list badge");
}

#[tokio::test]
async fn an_answer_for_another_origin_is_refused() {
    let app = app_with_addon().await;
    let mut w = enrol(&app, "phished@example.com", Role::Customer).await;
    let (b, options) = password_step(&app, &w).await;
    // A look-alike site relays the challenge; the browser signs for its origin.
    let phished = w.key.get(&options, "http://shop-login.localhost:8080");
    let (status, loc) = answer(&b, w.role, &phished).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/passkey"));
    assert!(!signed_in(&b, w.role).await);
    let (_, page) = b.get_text("/two-factor/passkey").await;
    assert!(
        page.contains("Your key&#x27;s answer was not accepted"),
        "{page}"
    );
    assert!(page.contains("attempts left"), "{page}");
    assert_eq!(audited(&app, "failure", ""), 1);
}

#[tokio::test]
async fn a_replayed_answer_is_refused() {
    let app = app_with_addon().await;
    let mut w = enrol(&app, "replay@example.com", Role::Customer).await;
    let (b, options) = password_step(&app, &w).await;
    let first = w.key.get(&options, &origin(&app));
    assert_eq!(answer(&b, w.role, &first).await.0, 303);
    assert!(signed_in(&b, w.role).await);
    // The same answer on a new sign-in: its challenge is not this one's.
    let (b2, _) = password_step(&app, &w).await;
    let (status, loc) = answer(&b2, w.role, &first).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/passkey"));
    assert!(!signed_in(&b2, w.role).await);
    // Nor twice on one sign-in: the first post takes the ceremony.
    let (_, options) = {
        let (_, page) = b2.get_text("/two-factor/passkey").await;
        ((), options_in(&page))
    };
    let good = w.key.get(&options, &origin(&app));
    let wrong_first = w
        .key
        .sign(&options, "http://evil.localhost", w.key.counter + 1);
    assert_eq!(answer(&b2, w.role, &wrong_first).await.0, 303);
    let (status, loc) = answer(&b2, w.role, &good).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/passkey"));
    assert!(
        !signed_in(&b2, w.role).await,
        "a used ceremony signs nobody in"
    );
}

#[tokio::test]
async fn a_counter_going_backwards_is_refused_and_audited() {
    let app = app_with_addon().await;
    let mut w = enrol(&app, "cloned@example.com", Role::Customer).await;
    for _ in 0..2 {
        let (b, options) = password_step(&app, &w).await;
        assert_eq!(
            answer(&b, w.role, &w.key.get(&options, &origin(&app)))
                .await
                .0,
            303
        );
        assert!(signed_in(&b, w.role).await);
    }
    let stored: i64 = tfa_passkeys::table
        .select(tfa_passkeys::sign_count)
        .first(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(stored, 2);
    // A clone of the key that lagged behind.
    let (b, options) = password_step(&app, &w).await;
    let clone = w.key.sign(&options, &origin(&app), 1);
    let (status, loc) = answer(&b, w.role, &clone).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/passkey"));
    assert!(!signed_in(&b, w.role).await);
    assert_eq!(audited(&app, "failure", "counter went backwards"), 1);
}

#[tokio::test]
async fn a_removed_key_and_another_users_key_are_refused() {
    let app = app_with_addon().await;
    let mut w = enrol(&app, "owner2@example.com", Role::Customer).await;
    let mut other = enrol(&app, "other@example.com", Role::Customer).await;
    let spare = SoftKey::new();
    let page = add_key(&app, &w.browser, w.role, &spare, "Spare key").await;
    assert!(
        page.contains("Your 10 unused recovery codes still work"),
        "{page}"
    );

    // Another user's key, on this user's sign-in.
    let (b, options) = password_step(&app, &w).await;
    let (status, loc) = answer(&b, w.role, &other.key.get(&options, &origin(&app))).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/passkey"));
    assert!(!signed_in(&b, w.role).await);

    // Rename, then remove the first key (password and a recovery code).
    let key_id: i64 = tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq(w.id))
        .filter(tfa_passkeys::name.eq("Blue key"))
        .select(tfa_passkeys::id)
        .first(&mut app.db.get().unwrap())
        .unwrap();
    let manage = format!("/account/security/passkeys/{key_id}");
    let (status, page) = w.browser.get_text(&manage).await;
    assert_eq!(status, 200, "{page}");
    let (status, _, page) = post_from(
        &w.browser,
        &manage,
        &format!("{manage}/rename"),
        &[("name", " ")],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    let (status, _, page) = post_from(
        &w.browser,
        &manage,
        &format!("{manage}/rename"),
        &[("name", "Old key")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<td>Old key</td>"), "{page}");
    assert_eq!(audited(&app, "renamed", "Old key"), 1);
    let (status, _, _) = post_from(
        &w.browser,
        &manage,
        &format!("{manage}/remove"),
        &[("password", PASSWORD), ("code", "wrong-code-000")],
    )
    .await;
    assert_eq!(status, 401, "a code is needed");
    let (status, _, page) = post_from(
        &w.browser,
        &manage,
        &format!("{manage}/remove"),
        &[("password", PASSWORD), ("code", &w.codes[0])],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your key “Old key” is removed"), "{page}");
    assert_eq!(audited(&app, "removed", "Old key"), 1);
    // Another user cannot manage it (nor see it).
    let (status, _) = other
        .browser
        .get_text(&format!("/account/security/passkeys/{key_id}"))
        .await;
    assert_eq!(status, 404);

    // The removed key no longer signs in; the spare one does.
    let (b, options) = password_step(&app, &w).await;
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, loc) = answer(&b, w.role, &w.key.get(&options, &origin(&app))).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/passkey"));
    let (_, page) = b.get_text("/two-factor/passkey").await;
    let options = options_in(&page);
    let mut spare = spare;
    let (status, loc) = answer(&b, w.role, &spare.get(&options, &origin(&app))).await;
    assert_eq!((status, loc.as_str()), (303, "/"));

    // The spare key removed with itself (and the password), not a code:
    // another key's answer is refused, the ceremony then used up.
    let spare_id: i64 = tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq(w.id))
        .select(tfa_passkeys::id)
        .first(&mut app.db.get().unwrap())
        .unwrap();
    let manage = format!("/account/security/passkeys/{spare_id}");
    let remove = format!("{manage}/remove-with-key");
    let (_, page) = w.browser.get_text(&manage).await;
    let token = crate::helpers::extract_csrf(&page);
    // Posts "Remove with this key" with `password` and `key`'s answer to
    // the options of the page shown before; the status and the new page.
    let remove_with = |password: &'static str, key: &mut SoftKey, page: &str| {
        let answer = key.get(&options_in(page), &origin(&app)).to_string();
        let fields = [
            ("password", password.to_string()),
            ("credential", answer),
            ("csrf_token", token.clone()),
        ];
        let (b, remove) = (&w.browser, &remove);
        async move {
            let res = b
                .client
                .post(b.url(remove))
                .form(&fields)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, page) = remove_with(PASSWORD, &mut other.key, &page).await;
    assert_eq!(status, 401);
    let (status, page) = remove_with("wrong-password", &mut spare, &page).await;
    assert_eq!(status, 401, "the password is needed too");
    let (status, page) = remove_with(PASSWORD, &mut spare, &page).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your key “Spare key” is removed"), "{page}");
    // It was the last factor: two-factor authentication is off.
    assert!(
        page.contains("two-factor authentication is now off"),
        "{page}"
    );
    let res = app.new_browser().login("/login", &w.email, PASSWORD).await;
    assert_eq!(location(&res), "/");
}

#[tokio::test]
async fn an_admin_reset_removes_the_keys() {
    let app = app_with_addon().await;
    let w = enrol(&app, "vendor@example.com", Role::Vendor).await;
    let (_, page) = app
        .browser
        .get_text(&format!("/admin/users/{}", w.id))
        .await;
    assert!(page.contains("Passkeys and security keys: 1"), "{page}");
    let (status, _, _) = post_from(
        &app.browser,
        &format!("/admin/users/{}", w.id),
        &format!("/admin/two-factor/users/{}/reset", w.id),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let keys: i64 = tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq(w.id))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(keys, 0);
    let res = app
        .new_browser()
        .login("/admin/login", &w.email, PASSWORD)
        .await;
    assert_eq!(location(&res), "/admin", "no key asked for any more");
}

#[tokio::test]
async fn a_public_url_that_is_no_webauthn_origin_stops_the_start() {
    for bad in [
        "http://127.0.0.1:8080",
        "http://shop.example.com",
        "https://shop.example.com/store",
    ] {
        let db = crate::helpers::TestDb::fresh();
        let data = tempfile::tempdir().unwrap();
        let mut settings = crate::helpers::test_settings(&db, data.path());
        settings.server.public_url = bad.into();
        let err = storefront_2fa::startup::Application::build(settings)
            .await
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert!(
            err.to_string().contains("server.public_url"),
            "{bad}: {err}"
        );
    }
}

/// A JSON call to the API; the status and body.
async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    challenge: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}/api/v1{path}", app.address));
    if let Some(b) = body {
        req = req.json(b);
    }
    if let Some(c) = challenge {
        req = req.header("X-Challenge-Id", c);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_native_app_signs_in_over_the_api_with_a_key() {
    use reqwest::Method;
    let app = app_with_addon().await;
    let mut w = enrol(&app, "native@example.com", Role::Customer).await;
    let signin = json!({"email": w.email, "password": PASSWORD});
    let (status, body) = api(&app, Method::POST, "/signin", Some(&signin), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["methods"], json!(["webauthn", "recovery"]), "{body}");
    let challenge = body["challenge_id"].as_str().unwrap().to_string();

    // No challenge header: told what to send.
    let (status, _) = api(&app, Method::GET, "/two-factor/webauthn", None, None).await;
    assert_eq!(status, 400);
    let (status, body) = api(
        &app,
        Method::GET,
        "/two-factor/webauthn",
        None,
        Some(&challenge),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["origin"], json!(origin(&app)));
    let options = body["options"].clone();

    // Another origin's answer: refused, and the ceremony is used up.
    let phished = w.key.get(&options, "http://evil.localhost");
    let post = |credential: &Value| json!({"challenge_id": challenge, "credential": credential});
    let (status, body) = api(
        &app,
        Method::POST,
        "/two-factor/webauthn",
        Some(&post(&phished)),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_code"))
    );
    let good = w.key.get(&options, &origin(&app));
    let (status, _) = api(
        &app,
        Method::POST,
        "/two-factor/webauthn",
        Some(&post(&good)),
        None,
    )
    .await;
    assert_eq!(status, 401, "the ceremony was taken by the first answer");

    let (_, body) = api(
        &app,
        Method::GET,
        "/two-factor/webauthn",
        None,
        Some(&challenge),
    )
    .await;
    let options = body["options"].clone();
    let good = w.key.get(&options, &origin(&app));
    let (status, body) = api(
        &app,
        Method::POST,
        "/two-factor/webauthn",
        Some(&post(&good)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["method"], "webauthn");
    let token = body["token"].as_str().unwrap();
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/me", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The completed challenge takes nothing more.
    let (status, _) = api(
        &app,
        Method::GET,
        "/two-factor/webauthn",
        None,
        Some(&challenge),
    )
    .await;
    assert_eq!(status, 401);

    let (_, doc) = api(&app, Method::GET, "/openapi.json", None, None).await;
    let path = &doc["paths"]["/two-factor/webauthn"];
    assert_eq!(path["get"]["operationId"], "WebAuthnOptions");
    assert_eq!(path["post"]["operationId"], "WebAuthnVerify");
    let methods = &doc["components"]["schemas"]["Challenge"]["properties"]["methods"];
    assert!(methods["items"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("webauthn")));
}

/// The key step offers "Don't ask again on this device" like the code
/// pages: ticked, the browser gets its device cookie and the next sign-in
/// of that account on it needs the password alone.
#[tokio::test]
async fn the_key_step_can_trust_the_device() {
    let app = app_with_addon().await;
    let mut w = enrol(&app, "trusting@example.com", Role::Customer).await;
    let (b, options) = {
        let (form, _, step, _) = paths(w.role);
        let b = app.new_browser();
        b.login(form, &w.email, PASSWORD).await;
        let (_, page) = b.get_text(step).await;
        assert!(
            page.contains(r#"name="remember_device""#),
            "customers may trust devices by default: {page}"
        );
        (b, options_in(&page))
    };
    let credential = w.key.get(&options, &origin(&app));
    let token = b.csrf().await;
    let res = b
        .post_raw(
            "/two-factor/passkey",
            &[
                ("credential", &credential.to_string()),
                ("remember_device", "on"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(location(&res), "/", "{:?}", failures(&app));
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| c.starts_with("sf_device_"))
        .map(String::from)
        .collect();
    assert_eq!(set.len(), 1, "one device cookie: {set:?}");

    // Signed out, the same browser signs in with the password alone.
    assert_eq!(b.post_form("/logout", &[]).await.status(), 303);
    assert!(!signed_in(&b, w.role).await, "signed out");
    let res = b.login("/login", &w.email, PASSWORD).await;
    assert_eq!(location(&res), "/", "the trusted device skips the key");
    assert!(signed_in(&b, w.role).await);
    // Another browser is still asked for the key.
    password_step(&app, &w).await;
}
