//! Authenticator app, recovery codes, disabling and resetting two-factor
//! authentication, over HTTP against the real server.

use diesel::prelude::*;
use storefront_2fa::plugin::Role;
use totp_rs::{Algorithm, Secret, TOTP};

pub use crate::helpers::post_from;
use crate::helpers::{listed_codes, location, refused_to, spawn_app, Browser, TestApp};

pub const PASSWORD: &str = "a-good-password-1";

/// A server with the addon enabled (no SMS settings needed for the app).
pub async fn app_with_addon() -> TestApp {
    let app = spawn_app().await;
    app.login_admin().await;
    let res = app
        .browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    assert_eq!(res.status(), 303, "addon enabled");
    app
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Waits, when needed, so that at least 4 seconds of the current 30-second
/// step are left (codes computed now stay valid for the next requests).
pub async fn fresh_step() -> i64 {
    let left = 30 - now() % 30;
    if left < 5 {
        tokio::time::sleep(std::time::Duration::from_secs(left as u64 + 1)).await;
    }
    now() / 30
}

/// The code of a step, computed with totp-rs from the base32 secret.
pub fn code(secret: &str, step: i64) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes).generate(step as u64 * 30)
}

fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let i = page
        .find(start)
        .unwrap_or_else(|| panic!("{start} on page: {page}"))
        + start.len();
    &page[i..i + page[i..].find(end).unwrap()]
}

pub fn paths(role: Role) -> (&'static str, &'static str, &'static str, &'static str) {
    // login form, security page, app challenge, home
    match role {
        Role::Customer => ("/login", "/account/security", "/two-factor/app", "/"),
        _ => (
            "/admin/login",
            "/admin/account/security",
            "/admin/two-factor/app",
            "/admin",
        ),
    }
}

pub struct Enrolled {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub secret: String,
    pub codes: Vec<String>,
    pub confirm_step: i64,
    pub browser: Browser,
}

/// Creates an account, signs in and sets up an authenticator app through
/// the Security page; returns the secret shown and the recovery codes.
pub async fn enrol(app: &TestApp, email: &str, role: Role) -> Enrolled {
    let id = app.create_account(email, PASSWORD, role);
    let (form, security, _, home) = paths(role);
    let b = app.new_browser();
    let res = b.login(form, email, PASSWORD).await;
    assert_eq!(location(&res), home, "{email} signs in without 2FA");
    let (status, page) = b.get_text(security).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Set up authenticator app"));
    let (status, _, page) = post_from(&b, security, &format!("{security}/app/start"), &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<svg"), "QR code rendered inline");
    assert!(!page.contains("googleapis") && !page.contains("<img"));
    assert!(page.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
    let secret = between(&page, r#"<code id="tfa-secret">"#, "</code>").replace(' ', "");
    assert_eq!(secret.len(), 32, "160-bit secret in base32");
    let step = fresh_step().await;
    let (status, _, page) = post_from(
        &b,
        security,
        &format!("{security}/app/confirm"),
        &[("code", &code(&secret, step)), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let codes = listed_codes(&page);
    assert_eq!(codes.len(), 10, "{page}");
    assert!(page.contains("I have saved these codes"));
    assert!(page.contains(r#"<input type="checkbox" id="codes-saved" required>"#));
    assert!(page.contains("Download") && page.contains("Copy"));
    assert!(page.contains("/static/recovery_codes.js"));
    Enrolled {
        id,
        email: email.to_string(),
        role,
        secret,
        codes,
        confirm_step: step,
        browser: b,
    }
}

/// Signs in with the password; asserts the app challenge; returns the browser.
pub async fn password_step(app: &TestApp, e: &Enrolled) -> Browser {
    let (form, _, challenge, _) = paths(e.role);
    let b = app.new_browser();
    let res = b.login(form, &e.email, PASSWORD).await;
    assert_eq!(
        location(&res),
        challenge,
        "{} is asked for the app",
        e.email
    );
    b
}

/// Submits a code on the app step. A recovery code that signs in leads to
/// the page saying how many are left: that page is returned (with the
/// redirect's location).
pub async fn submit(b: &Browser, role: Role, code: &str, method: &str) -> (u16, String, String) {
    let (_, _, challenge, _) = paths(role);
    let (status, loc, page) = crate::helpers::post_and_read_back(
        b,
        challenge,
        challenge,
        &[("code", code), ("method", method)],
    )
    .await;
    if status == 303 && loc.ends_with("/two-factor/recovery-used") {
        let (status, page) = b.get_text(&loc).await;
        return (status, loc, page);
    }
    (status, loc, page)
}

pub fn reset_last_step(app: &TestApp, id: i64, step: i64) {
    use storefront_2fa::two_factor::schema::tfa_totp;
    diesel::update(tfa_totp::table.find(id))
        .set(tfa_totp::last_step.eq(step))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
}

#[tokio::test]
async fn app_setup_refuses_a_wrong_code_and_password_then_signs_in_once_per_code() {
    let app = app_with_addon().await;
    // Wrong confirmation code and wrong password leave the app off.
    app.create_account("cust@example.com", PASSWORD, Role::Customer);
    let b = app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    let (_, _, page) = post_from(&b, "/account/security", "/account/security/app/start", &[]).await;
    let secret = between(&page, r#"<code id="tfa-secret">"#, "</code>").replace(' ', "");
    let step = fresh_step().await;
    let (status, _, page) = post_from(
        &b,
        "/account/security",
        "/account/security/app/confirm",
        &[("code", "000000"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("That code is not right"));
    let (status, _, _) = post_from(
        &b,
        "/account/security",
        "/account/security/app/confirm",
        &[
            ("code", &code(&secret, step)),
            ("password", "wrong-password"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    let b2 = app.new_browser();
    let res = b2.login("/login", "cust@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/", "not set up yet: no challenge");

    // Every role: set up, then the code that confirmed cannot sign in, a
    // code two steps away is refused, and one step ahead is accepted once.
    for (email, role) in [
        ("c2@example.com", Role::Customer),
        ("v@example.com", Role::Vendor),
        ("a2@example.com", Role::Admin),
    ] {
        let e = enrol(&app, email, role).await;
        let (_, _, _, home) = paths(role);
        let b = password_step(&app, &e).await;
        let (_, _, challenge, _) = paths(role);
        let (status, page) = b.get_text(challenge).await;
        assert_eq!(status, 200);
        assert!(page.contains("Enter the code from your authenticator app"));
        assert!(page.contains("Use a recovery code"));
        assert!(!page.contains("Send me an SMS instead"), "no phone on file");
        assert!(page.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
        // A pending login grants nothing.
        let protected = if role == Role::Customer {
            "/account"
        } else {
            "/admin"
        };
        assert_ne!(b.get(protected).await.status(), 200);
        let (status, loc, _) = submit(&b, role, &code(&e.secret, e.confirm_step), "app").await;
        assert!(
            status == 303 && refused_to(&loc),
            "{email}: the set-up code is spent"
        );
        let s = fresh_step().await;
        for off in [-2, 2] {
            let (status, loc, _) = submit(&b, role, &code(&e.secret, s + off), "app").await;
            assert!(
                status == 303 && refused_to(&loc),
                "{email}: drift {off} refused"
            );
        }
        let (status, loc, _) = submit(&b, role, &code(&e.secret, s + 1), "app").await;
        assert_eq!(
            (status, loc.as_str()),
            (303, home),
            "{email}: drift +1 accepted"
        );
        assert_eq!(b.get(protected).await.status(), 200);
        // Replay in a new sign-in, and any earlier step, are refused.
        let b = password_step(&app, &e).await;
        for st in [s + 1, s, s - 1] {
            let (status, loc, _) = submit(&b, role, &code(&e.secret, st), "app").await;
            assert!(
                status == 303 && refused_to(&loc),
                "{email}: step {st} already spent"
            );
        }
        // Drift of -1 is accepted when that step was not used yet.
        reset_last_step(&app, e.id, 0);
        let s = fresh_step().await;
        let (status, loc, _) = submit(&b, role, &code(&e.secret, s - 1), "app").await;
        assert_eq!(
            (status, loc.as_str()),
            (303, home),
            "{email}: drift -1 accepted"
        );
    }
}

#[tokio::test]
async fn concurrent_uses_of_one_app_code_or_recovery_code_give_one_success() {
    let app = app_with_addon().await;
    let e = enrol(&app, "race@example.com", Role::Customer).await;
    for round in 0..2 {
        let browsers: Vec<Browser> = {
            let mut v = Vec::new();
            for _ in 0..4 {
                v.push(password_step(&app, &e).await);
            }
            v
        };
        let (c, method) = if round == 0 {
            let s = fresh_step().await;
            (code(&e.secret, s + 1), "app")
        } else {
            (e.codes[0].clone(), "recovery")
        };
        let tasks = browsers
            .iter()
            .map(|b| submit(b, Role::Customer, &c, method));
        let results = futures_util::future::join_all(tasks).await;
        let wins = results
            .iter()
            .filter(|(s, loc, _)| *s == 200 || (*s == 303 && !refused_to(loc) && loc != "/login"))
            .count();
        assert_eq!(wins, 1, "{method}: one success of {results:?}");
    }
}

#[tokio::test]
async fn recovery_codes_sign_in_once_warn_when_low_and_regenerating_voids_them() {
    let app = app_with_addon().await;
    let e = enrol(&app, "rec@example.com", Role::Admin).await;
    let b = password_step(&app, &e).await;
    let (status, page) = b.get_text("/admin/two-factor/app?method=recovery").await;
    assert_eq!(status, 200);
    assert!(page.contains("Recovery code"));
    let (status, loc, page) = submit(&b, Role::Admin, &e.codes[0].to_uppercase(), "recovery").await;
    assert_eq!(
        loc, "/admin/two-factor/recovery-used",
        "redirected to the count"
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("9 recovery codes are left"), "{page}");
    assert!(!page.contains("locked out"));
    assert!(page.contains(r#"href="/admin""#));
    assert_eq!(b.get("/admin").await.status(), 200, "signed in");
    // Shown once: again, it leads to the Security page.
    let again = b.get("/admin/two-factor/recovery-used").await;
    assert_eq!(location(&again), "/admin/account/security");
    // Single use.
    let b = password_step(&app, &e).await;
    let (status, loc, _) = submit(&b, Role::Admin, &e.codes[0], "recovery").await;
    assert!(status == 303 && refused_to(&loc));
    // Down to two: the warning.
    for c in &e.codes[1..8] {
        let b = password_step(&app, &e).await;
        let (status, _, page) = submit(&b, Role::Admin, c, "recovery").await;
        assert_eq!(status, 200, "{page}");
        if c == &e.codes[7] {
            assert!(page.contains("2 recovery codes are left"), "{page}");
            assert!(page.contains("Generate new codes"), "{page}");
        }
    }

    // View needs the password; generate new needs the password and voids old.
    let sec = "/admin/account/security";
    let (status, _, page) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/recovery/view"),
        &[("password", "nope")],
    )
    .await;
    assert_eq!(status, 401);
    assert!(!page.contains(&e.codes[9]), "no codes without the password");
    let (status, _, page) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/recovery/view"),
        &[("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("2 of 10 recovery codes are unused"), "{page}");
    // Every code is shown again, the eight used ones struck through.
    for (i, c) in e.codes.iter().enumerate() {
        let shown = if i < 8 {
            format!("<del><code>{c}</code></del> <small>used</small>")
        } else {
            format!("<li><code>{c}</code></li>")
        };
        assert!(page.contains(&shown), "code {i}: {page}");
    }
    let text = between(
        &page,
        r#"readonly aria-hidden="true" tabindex="-1">"#,
        "</textarea>",
    );
    assert!(text.contains(&e.codes[8]) && text.contains(&e.codes[9]));
    assert!(
        !text.contains(&e.codes[0]),
        "the download holds unused codes only"
    );
    // Stored as a keyed hash (checked at sign-in) and encrypted (shown
    // here): never in clear.
    let stored: Vec<(String, Option<String>)> = {
        use storefront_2fa::two_factor::schema::tfa_recovery_codes as rc;
        rc::table
            .filter(rc::account_id.eq(e.id))
            .select((rc::code_hash, rc::code_sealed))
            .load(&mut app.db.get().unwrap())
            .unwrap()
    };
    assert_eq!(stored.len(), 10);
    for (hash, sealed) in stored {
        let sealed = sealed.expect("kept encrypted");
        assert!(sealed.starts_with("enc:v1:"));
        for c in &e.codes {
            assert!(!sealed.contains(c.as_str()) && !hash.contains(c.as_str()));
        }
    }
    let (status, _, _) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/recovery/regenerate"),
        &[("password", "nope")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, page) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/recovery/regenerate"),
        &[("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 200);
    let new_code = between(&page, "<li><code>", "</code>").to_string();
    let b = password_step(&app, &e).await;
    let (status, loc, _) = submit(&b, Role::Admin, &e.codes[8], "recovery").await;
    assert!(status == 303 && refused_to(&loc), "old codes are void");
    let (status, _, page) = submit(&b, Role::Admin, &new_code, "recovery").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("9 recovery codes are left"));
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_code_and_ends_other_sessions() {
    let app = app_with_addon().await;
    let e = enrol(&app, "off@example.com", Role::Customer).await;
    // A second signed-in session.
    let other = password_step(&app, &e).await;
    let (status, _, _) = submit(&other, Role::Customer, &e.codes[0], "recovery").await;
    assert_eq!(status, 200);
    assert_eq!(other.get("/account").await.status(), 200);

    let sec = "/account/security";
    let s = fresh_step().await;
    let good = code(&e.secret, s + 1);
    let (status, _, _) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/disable"),
        &[("password", "wrong-password"), ("code", &good)],
    )
    .await;
    assert_eq!(status, 401, "wrong password");
    let (status, _, _) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/disable"),
        &[("password", PASSWORD), ("code", "123456")],
    )
    .await;
    assert_eq!(status, 401, "wrong code");
    let (status, _, _) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/disable"),
        &[("password", PASSWORD), ("code", "")],
    )
    .await;
    assert_eq!(status, 401, "no code");
    let (status, _, page) = post_from(
        &e.browser,
        sec,
        &format!("{sec}/disable"),
        &[("password", PASSWORD), ("code", &good)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Two-factor authentication is off"));
    assert!(page.contains("Set up authenticator app"));
    assert_eq!(
        e.browser.get("/account").await.status(),
        200,
        "this session stays"
    );
    assert_ne!(
        other.get("/account").await.status(),
        200,
        "other session ended"
    );
    let b = app.new_browser();
    let res = b.login("/login", &e.email, PASSWORD).await;
    assert_eq!(location(&res), "/", "no challenge any more");
    use storefront_2fa::two_factor::schema::tfa_audit;
    let n: i64 = tfa_audit::table
        .filter(tfa_audit::event.eq("disable"))
        .filter(tfa_audit::outcome.eq("success"))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(n, 1, "audited");
}

#[tokio::test]
async fn an_admin_resets_a_users_two_factor_from_the_user_page() {
    let app = app_with_addon().await;
    let e = enrol(&app, "vend@example.com", Role::Vendor).await;
    let (status, page) = app
        .browser
        .get_text(&format!("/admin/users/{}", e.id))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Authenticator app: on"), "{page}");
    assert!(page.contains("Reset two-factor authentication"));
    // A vendor cannot reset anyone.
    let (status, _, _) = post_from(
        &e.browser,
        "/admin/account/security",
        &format!("/admin/two-factor/users/{}/reset", e.id),
        &[],
    )
    .await;
    assert_eq!(status, 403);
    let (status, loc, _) = post_from(
        &app.browser,
        &format!("/admin/users/{}", e.id),
        &format!("/admin/two-factor/users/{}/reset", e.id),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    assert!(loc.starts_with(&format!("/admin/users/{}", e.id)));
    let (_, page) = app
        .browser
        .get_text(&format!("/admin/users/{}", e.id))
        .await;
    assert!(page.contains("Authenticator app: off"), "{page}");
    let b = app.new_browser();
    let res = b.login("/admin/login", &e.email, PASSWORD).await;
    assert_eq!(location(&res), "/admin");
}

/// Enter in a field of the admin user form presses its first submit button:
/// that must be "Save user", never the reset. The reset has its own page
/// that names the user, with the only form that resets.
#[tokio::test]
async fn the_user_form_has_one_submit_button_and_the_reset_its_own_page() {
    let app = app_with_addon().await;
    let e = enrol(&app, "vend@example.com", Role::Vendor).await;
    let user_path = format!("/admin/users/{}", e.id);
    let (_, page) = app.browser.get_text(&user_path).await;
    let form_start = page.find(&format!(r#"action="{user_path}""#)).unwrap();
    let form = &page[form_start..form_start + page[form_start..].find("</form>").unwrap()];
    let submits = form.matches("<button").count();
    assert_eq!(submits, 1, "one button in the user form: {form}");
    assert!(form.contains(">Save user</button>"));
    assert!(!page.contains("formaction="), "no button posts elsewhere");
    let reset = format!("/admin/two-factor/users/{}/reset", e.id);
    // The link to it follows the form (see admin_pages for the danger zone).
    let after_form = &page[form_start + form.len()..];
    assert!(after_form.contains(&format!(r#"href="{reset}""#)), "{page}");
    // The confirmation names the user and changes nothing by itself.
    let (status, confirm) = app.browser.get_text(&reset).await;
    assert_eq!(status, 200);
    // The address is bidi-isolated in the admin (issue 20).
    assert!(confirm.contains("Reset two-factor authentication for <bdi>vend@example.com</bdi>?"));
    assert!(confirm.contains(r#"class="danger""#));
    let (_, page) = app.browser.get_text(&user_path).await;
    assert!(
        page.contains("Authenticator app: on"),
        "a GET resets nothing"
    );
    // A vendor cannot even see it.
    let (status, _) = e.browser.get_text(&reset).await;
    assert_eq!(status, 403);
    let (status, loc, _) = post_from(&app.browser, &reset, &reset, &[]).await;
    assert_eq!((status, loc.starts_with(&user_path)), (303, true));
    let (_, page) = app.browser.get_text(&user_path).await;
    assert!(page.contains("Authenticator app: off"), "{page}");
}

/// "Generate new codes" is a step of its own that says what stops working;
/// opening it changes nothing.
#[tokio::test]
async fn generating_new_recovery_codes_has_its_own_confirmation_step() {
    let app = app_with_addon().await;
    let e = enrol(&app, "cust@example.com", Role::Customer).await;
    let before = recovery_hashes(&app, e.id);
    let (_, page) = e.browser.get_text("/account/security").await;
    assert!(
        !page.contains("formaction="),
        "no second action in the view form"
    );
    assert!(page.contains(r#"href="/account/security/recovery/regenerate""#));
    let (status, page) = e
        .browser
        .get_text("/account/security/recovery/regenerate")
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Generate new recovery codes?"), "{page}");
    assert!(page.contains("Your 10 unused recovery codes stop working at once"));
    assert_eq!(
        recovery_hashes(&app, e.id),
        before,
        "opening it changes nothing"
    );
}

/// Setting up the app keeps the recovery codes saved at SMS set-up: they
/// are not replaced behind the user's back.
#[tokio::test]
async fn app_set_up_keeps_the_recovery_codes_already_saved() {
    let app = app_with_addon().await;
    let id = app.create_account("both@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, "2015550123", crate::helpers::SmsSetUp::Complete);
    let before = recovery_hashes(&app, id);
    assert!(!before.is_empty(), "SMS set-up left recovery codes");
    let b = app.new_browser();
    b.login("/login", "both@example.com", PASSWORD).await;
    let (_, _, page) = post_from(&b, "/account/security", "/account/security/app/start", &[]).await;
    let secret = between(&page, r#"<code id="tfa-secret">"#, "</code>").replace(' ', "");
    let step = fresh_step().await;
    let (status, _, page) = post_from(
        &b,
        "/account/security",
        "/account/security/app/confirm",
        &[("code", &code(&secret, step)), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("unused recovery codes still work"), "{page}");
    assert!(listed_codes(&page).is_empty(), "no new codes shown");
    assert_eq!(
        recovery_hashes(&app, id),
        before,
        "the saved codes are kept"
    );
}

fn recovery_hashes(app: &TestApp, account_id: i64) -> Vec<String> {
    use diesel::prelude::*;
    use storefront_2fa::two_factor::schema::tfa_recovery_codes as rc;
    let mut v: Vec<String> = rc::table
        .filter(rc::account_id.eq(account_id))
        .select(rc::code_hash)
        .load(&mut app.db.get().unwrap())
        .unwrap();
    v.sort();
    v
}

fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_storefront-2fa"))
        .args(args)
        .current_dir(&app.settings.data_dir)
        .env("STOREFRONT__DATABASE__URL", &app.settings.database.url)
        .env("STOREFRONT__DATA_DIR", &app.settings.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn the_cli_shows_and_resets_a_locked_out_admins_factors() {
    let app = app_with_addon().await;
    let e = enrol(&app, "sole@example.com", Role::Admin).await;
    let (ok, out) = cli(&app, &["tfa", "status", "--email", "SOLE@example.com"]);
    assert!(ok, "{out}");
    assert!(out.contains("authenticator app: on"), "{out}");
    assert!(out.contains("recovery codes: 10 of 10 unused"), "{out}");
    let (ok, out) = cli(&app, &["tfa", "reset", "--email", "sole@example.com"]);
    assert!(ok, "{out}");
    assert!(out.contains("reset for sole@example.com"), "{out}");
    let (ok, out) = cli(&app, &["tfa", "status", "--email", "sole@example.com"]);
    assert!(ok && out.contains("authenticator app: off"), "{out}");
    let (ok, out) = cli(&app, &["tfa", "reset", "--email", "nobody@example.com"]);
    assert!(!ok && out.contains("no account"), "{out}");
    let b = app.new_browser();
    let res = b.login("/admin/login", &e.email, PASSWORD).await;
    assert_eq!(location(&res), "/admin");
}
