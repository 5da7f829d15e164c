//! "Don't ask again on this device": a trusted browser skips the code at
//! sign-in for the account that trusted it, and for no other; every event
//! that ends what it was trusted under ends it; its expiry never moves.
//! Over HTTP against the real server (and a second instance).

use diesel::prelude::*;
use reqwest::cookie::CookieStore;
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::{tfa_audit, tfa_trusted_devices as td};

use crate::helpers::{extract_csrf, location, Browser, TestApp};
use crate::two_factor_app::{app_with_addon, enrol, paths, Enrolled, PASSWORD};

/// The trusted-device cookies the browser holds: (name, value).
fn device_cookies(b: &Browser) -> Vec<(String, String)> {
    let Some(header) = b.jar.cookies(&b.base.parse().unwrap()) else {
        return Vec::new();
    };
    header
        .to_str()
        .unwrap()
        .split(';')
        .map(str::trim)
        .filter(|kv| kv.starts_with("sf_device_"))
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn set_cookie_headers(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .filter(|c| c.starts_with("sf_device_"))
        .collect()
}

/// The password step, then a recovery code on the app page with the box
/// ticked or not; returns the code POST's response.
async fn sign_in_with_code(b: &Browser, e: &mut Enrolled, remember: bool) -> reqwest::Response {
    let (form, _, challenge, _) = paths(e.role);
    let res = b.login(form, &e.email, PASSWORD).await;
    assert_eq!(location(&res), challenge, "{} is asked for a code", e.email);
    let (_, page) = b.get_text(&format!("{challenge}?method=recovery")).await;
    let code = e.codes.pop().expect("a recovery code left");
    let mut fields = vec![
        ("code", code.as_str()),
        ("method", "recovery"),
        ("csrf_token", ""),
    ];
    let token = extract_csrf(&page);
    fields[2].1 = &token;
    if remember {
        fields.push(("remember_device", "on"));
    }
    let res = b
        .client
        .post(b.url(challenge))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        location(&res).ends_with("/two-factor/recovery-used"),
        "signed in with the code"
    );
    res
}

async fn sign_out(b: &Browser, role: Role) {
    let path = if role == Role::Customer {
        "/logout"
    } else {
        "/admin/logout"
    };
    let res = b.post_form(path, &[]).await;
    assert_eq!(res.status(), 303);
}

/// Signs in with the password only; the Location says whether the code
/// was skipped (the home page) or asked for (the app page).
async fn password_only(b: &Browser, e: &Enrolled) -> String {
    let (form, _, _, _) = paths(e.role);
    location(&b.login(form, &e.email, PASSWORD).await)
}

/// Enrols a customer and trusts its enrolment browser; returns both.
async fn trusted_customer(app: &TestApp, email: &str) -> (Enrolled, Browser) {
    let mut e = enrol(app, email, Role::Customer).await;
    let b = app.new_browser();
    let res = sign_in_with_code(&b, &mut e, true).await;
    let set = set_cookie_headers(&res);
    assert_eq!(set.len(), 1, "one device cookie: {set:?}");
    sign_out(&b, Role::Customer).await;
    (e, b)
}

fn audit_count(app: &TestApp, account_id: i64, outcome: &str) -> i64 {
    tfa_audit::table
        .filter(tfa_audit::account_id.eq(account_id))
        .filter(tfa_audit::event.eq("trusted_device"))
        .filter(tfa_audit::outcome.eq(outcome))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_ticked_box_skips_the_code_on_that_browser_for_that_account_only() {
    let app = app_with_addon().await;
    let mut ann = enrol(&app, "ann@example.com", Role::Customer).await;
    let mut bob = enrol(&app, "bob@example.com", Role::Customer).await;
    let shared = app.new_browser();

    // The code page offers the box for the customers' 30 days.
    let res = shared.login("/login", &ann.email, PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/app");
    let (_, page) = shared.get_text("/two-factor/app").await;
    assert!(
        page.contains("Don't ask again on this device for 30 days"),
        "{page}"
    );
    assert!(page.contains(r#"name="remember_device" type="checkbox""#));
    shared.post_form("/two-factor/cancel", &[]).await;

    // Without the box: no cookie, and the next sign-in asks again.
    let res = sign_in_with_code(&shared, &mut ann, false).await;
    assert!(set_cookie_headers(&res).is_empty());
    sign_out(&shared, Role::Customer).await;
    assert_eq!(password_only(&shared, &ann).await, "/two-factor/app");
    shared.post_form("/two-factor/cancel", &[]).await;

    // With it: an HttpOnly, SameSite=Lax cookie for 30 days, stored hashed.
    let res = sign_in_with_code(&shared, &mut ann, true).await;
    let set = set_cookie_headers(&res);
    assert_eq!(set.len(), 1);
    assert!(set[0].contains("HttpOnly") && set[0].contains("SameSite=Lax"));
    assert!(
        set[0].contains(&format!("Max-Age={}", 30 * 86_400)),
        "{}",
        set[0]
    );
    assert!(set[0].contains("Path=/"));
    let (ann_cookie, ann_token) = device_cookies(&shared)[0].clone();
    // Named by a keyed hash of the account id, not by the id itself.
    assert_eq!(ann_cookie.len(), "sf_device_".len() + 16, "{ann_cookie}");
    assert_ne!(ann_cookie, format!("sf_device_{}", ann.id));
    let stored: Vec<(String, i64)> = td::table
        .select((td::token_hash, td::account_id))
        .load(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, ann.id);
    assert_ne!(stored[0].0, ann_token, "only the hash is stored");
    assert_eq!(stored[0].0, storefront_2fa::crypto::sha256_hex(&ann_token));
    assert_eq!(audit_count(&app, ann.id, "trusted"), 1);
    sign_out(&shared, Role::Customer).await;

    // Ann's next sign-in on this browser skips the code: password, home.
    assert_eq!(password_only(&shared, &ann).await, "/");
    assert_eq!(shared.get("/account").await.status(), 200, "signed in");
    assert_eq!(audit_count(&app, ann.id, "used"), 1);
    sign_out(&shared, Role::Customer).await;

    // Bob on the same computer is still asked for his code, and trusting
    // it for him adds his own cookie beside Ann's.
    assert_eq!(password_only(&shared, &bob).await, "/two-factor/app");
    shared.post_form("/two-factor/cancel", &[]).await;
    sign_in_with_code(&shared, &mut bob, true).await;
    sign_out(&shared, Role::Customer).await;
    let cookies = device_cookies(&shared);
    assert_eq!(cookies.len(), 2, "one cookie per account: {cookies:?}");
    assert_eq!(password_only(&shared, &ann).await, "/");
    sign_out(&shared, Role::Customer).await;
    assert_eq!(password_only(&shared, &bob).await, "/");
    sign_out(&shared, Role::Customer).await;

    // The red team: Ann's token under Bob's cookie name does not help Bob.
    let bob_cookie = cookies
        .iter()
        .find(|(name, _)| *name != ann_cookie)
        .unwrap()
        .0
        .clone();
    let attacker = app.new_browser();
    attacker.jar.add_cookie_str(
        &format!("{bob_cookie}={ann_token}; Path=/"),
        &attacker.base.parse().unwrap(),
    );
    assert_eq!(password_only(&attacker, &bob).await, "/two-factor/app");
    // Nor does a made-up token, nor Ann's cookie in another browser for Bob.
    let other = app.new_browser();
    other.jar.add_cookie_str(
        &format!("{ann_cookie}={ann_token}; Path=/"),
        &other.base.parse().unwrap(),
    );
    assert_eq!(password_only(&other, &bob).await, "/two-factor/app");
    // The password is still needed: a wrong one is refused on a trusted browser.
    let res = shared.login("/login", &ann.email, "wrong-password").await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_expiry_is_never_extended_and_an_expired_device_is_refused() {
    let app = app_with_addon().await;
    let (ann, b) = trusted_customer(&app, "ann@example.com").await;
    let (created, expires): (i64, i64) = td::table
        .select((td::created_at, td::expires_at))
        .first(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(expires - created, 30 * 86_400);
    for _ in 0..2 {
        assert_eq!(password_only(&b, &ann).await, "/");
        sign_out(&b, Role::Customer).await;
    }
    let (expires_after, used): (i64, Option<i64>) = td::table
        .select((td::expires_at, td::last_used_at))
        .first(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(expires_after, expires, "use never moves the expiry");
    assert!(used.is_some(), "last use noted");

    // Past its expiry: refused, forgotten, and its cookie removed.
    diesel::update(td::table)
        .set(td::expires_at.eq(crate::two_factor_app::now() - 1))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(password_only(&b, &ann).await, "/two-factor/app");
    let res = b.get("/two-factor/app").await;
    let set = set_cookie_headers(&res);
    assert!(set.len() == 1 && set[0].contains("Max-Age=0"), "{set:?}");
    assert!(device_cookies(&b).is_empty());
    let rows: i64 = td::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(audit_count(&app, ann.id, "forgotten"), 1);
}

#[tokio::test]
async fn lowering_the_period_below_a_device_age_refuses_it() {
    let app = app_with_addon().await;
    let (ann, b) = trusted_customer(&app, "ann@example.com").await;
    // Trusted ten days ago (for 30): still good under 30 days.
    let ten_days = 10 * 86_400;
    diesel::update(td::table)
        .set((
            td::created_at.eq(td::created_at - ten_days),
            td::expires_at.eq(td::expires_at - ten_days),
        ))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(password_only(&b, &ann).await, "/");
    sign_out(&b, Role::Customer).await;
    // The store lowers the period to 7 days: the device is too old now.
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("customer_trusted_device_days", "7")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(password_only(&b, &ann).await, "/two-factor/app");
    // A bad value is refused with a clear message and changes nothing.
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("customer_trusted_device_days", "400")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("from 0 (off) to 365"));
    // 0 turns it off: no box on the code page.
    app.browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("customer_trusted_device_days", "0")],
        )
        .await;
    let (_, page) = b.get_text("/two-factor/app").await;
    assert!(!page.contains("Don't ask again"), "{page}");
}

#[tokio::test]
async fn a_password_change_forgets_every_device() {
    let app = app_with_addon().await;
    let (ann, b) = trusted_customer(&app, "ann@example.com").await;
    assert_eq!(password_only(&b, &ann).await, "/");
    let res = b
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a-new-password-2"),
                ("confirm_password", "a-new-password-2"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account?saved=password");
    sign_out(&b, Role::Customer).await;
    let res = b.login("/login", &ann.email, "a-new-password-2").await;
    assert_eq!(
        location(&res),
        "/two-factor/app",
        "asked for the code again"
    );
    assert_eq!(audit_count(&app, ann.id, "forgotten"), 1);
    let rows: i64 = td::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_device() {
    let app = app_with_addon().await;
    let (ann, b) = trusted_customer(&app, "ann@example.com").await;
    // Signed in elsewhere with a code, Ann signs out everywhere.
    let mut ann = ann;
    let elsewhere = app.new_browser();
    sign_in_with_code(&elsewhere, &mut ann, false).await;
    let res = elsewhere
        .post_form("/account/sign-out-everywhere", &[])
        .await;
    assert_eq!(res.status(), 303);
    // The Security page no longer lists it, and the log says it was forgotten.
    let (_, page) = elsewhere.get_text("/account/security").await;
    assert!(page.contains(r#"id="no-trusted-devices""#), "{page}");
    assert_eq!(audit_count(&app, ann.id, "forgotten"), 1);
    assert_eq!(password_only(&b, &ann).await, "/two-factor/app");
}

#[tokio::test]
async fn disabling_or_an_admin_reset_ends_every_device() {
    let app = app_with_addon().await;
    // An admin reset: the user sets up a new app, and the old device does
    // not skip it.
    let (ann, b) = trusted_customer(&app, "ann@example.com").await;
    let (status, _, _) = crate::helpers::post_from(
        &app.browser,
        &format!("/admin/users/{}", ann.id),
        &format!("/admin/two-factor/users/{}/reset", ann.id),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let rows: i64 = td::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(rows, 0, "the reset forgot the device");
    // Set up again from the same browser (no factor: the password signs in).
    let again = enrol_again(&app, &b, &ann).await;
    sign_out(&b, Role::Customer).await;
    assert_eq!(password_only(&b, &again).await, "/two-factor/app");
    b.post_form("/two-factor/cancel", &[]).await;

    // Disabling from the Security page ends the devices too.
    let (bea, b2) = trusted_customer(&app, "bea@example.com").await;
    assert_eq!(password_only(&b2, &bea).await, "/");
    let code = bea.codes[0].clone();
    let (status, _, page) = crate::helpers::post_from(
        &b2,
        "/account/security",
        "/account/security/disable",
        &[("password", PASSWORD), ("code", &code)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Two-factor authentication is off"));
    let left: i64 = td::table
        .filter(td::account_id.eq(bea.id))
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(left, 0);
}

/// Sets up an authenticator app again for `e` in `b` (signed out, no
/// factor left): returns the new enrolment with its recovery codes.
async fn enrol_again(app: &TestApp, b: &Browser, e: &Enrolled) -> Enrolled {
    use crate::two_factor_app::{code, fresh_step};
    let res = b.login("/login", &e.email, PASSWORD).await;
    assert_eq!(location(&res), "/", "no factor: the password signs in");
    let (_, _, page) =
        crate::helpers::post_from(b, "/account/security", "/account/security/app/start", &[]).await;
    let start = page.find(r#"<code id="tfa-secret">"#).unwrap() + r#"<code id="tfa-secret">"#.len();
    let secret = page[start..start + page[start..].find("</code>").unwrap()].replace(' ', "");
    let step = fresh_step().await;
    let (status, _, page) = crate::helpers::post_from(
        b,
        "/account/security",
        "/account/security/app/confirm",
        &[("code", &code(&secret, step)), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    Enrolled {
        id: e.id,
        email: e.email.clone(),
        role: e.role,
        secret,
        codes: crate::helpers::listed_codes(&page),
        confirm_step: step,
        browser: app.new_browser(),
    }
}

#[tokio::test]
async fn the_security_page_lists_devices_and_forgets_one_or_all() {
    let app = app_with_addon().await;
    let (mut ann, laptop) = trusted_customer(&app, "ann@example.com").await;
    let phone = app.new_browser();
    sign_in_with_code(&phone, &mut ann, true).await;
    // Ann, signed in on her phone, sees both devices.
    let (status, page) = phone.get_text("/account/security").await;
    assert_eq!(status, 200);
    assert!(page.contains("Trusted devices"));
    assert_eq!(
        page.matches("/devices/").count(),
        3,
        "two Forget, one Forget all"
    );
    assert!(page.contains("Unknown browser") || page.contains(" on "));
    let ids: Vec<i64> = td::table
        .filter(td::account_id.eq(ann.id))
        .order(td::id.asc())
        .select(td::id)
        .load(&mut app.db.get().unwrap())
        .unwrap();
    // Forget the laptop's: the laptop is asked again, the phone is not.
    let (status, _, page) = crate::helpers::post_from(
        &phone,
        "/account/security",
        &format!("/account/security/devices/{}/forget", ids[0]),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("is forgotten"), "{page}");
    assert_eq!(password_only(&laptop, &ann).await, "/two-factor/app");
    laptop.post_form("/two-factor/cancel", &[]).await;
    // Another account cannot forget Ann's devices.
    let (mallory, mb) = trusted_customer(&app, "mallory@example.com").await;
    assert_eq!(password_only(&mb, &mallory).await, "/");
    let (status, _, page) = crate::helpers::post_from(
        &mb,
        "/account/security",
        &format!("/account/security/devices/{}/forget", ids[1]),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("already forgotten"));
    sign_out(&phone, Role::Customer).await;
    assert_eq!(
        password_only(&phone, &ann).await,
        "/",
        "Ann's phone still trusted"
    );

    // The admin user page shows the count and forgets all for that user.
    let (_, page) = app
        .browser
        .get_text(&format!("/admin/users/{}", ann.id))
        .await;
    assert!(page.contains("Trusted devices: 1"), "{page}");
    let (status, loc, _) = crate::helpers::post_from(
        &app.browser,
        &format!("/admin/users/{}", ann.id),
        &format!("/admin/two-factor/users/{}/forget-devices", ann.id),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let (_, page) = app.browser.get_text(&loc).await;
    assert!(page.contains("Every trusted device of ann@example.com is forgotten"));
    assert!(page.contains("Trusted devices: 0"));
    sign_out(&phone, Role::Customer).await;
    assert_eq!(password_only(&phone, &ann).await, "/two-factor/app");
    phone.post_form("/two-factor/cancel", &[]).await;

    // Forget all from the Security page.
    let (bea, b) = trusted_customer(&app, "bea@example.com").await;
    assert_eq!(password_only(&b, &bea).await, "/");
    let (status, _, page) = crate::helpers::post_from(
        &b,
        "/account/security",
        "/account/security/devices/forget-all",
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Every trusted device is forgotten"));
    assert!(page.contains(r#"id="no-trusted-devices""#));
    sign_out(&b, Role::Customer).await;
    assert_eq!(password_only(&b, &bea).await, "/two-factor/app");
}

#[tokio::test]
async fn admins_trust_no_device_until_the_store_allows_it() {
    let app = app_with_addon().await;
    let mut vera = enrol(&app, "vera@example.com", Role::Vendor).await;
    let b = app.new_browser();
    let res = b.login("/admin/login", &vera.email, PASSWORD).await;
    assert_eq!(location(&res), "/admin/two-factor/app");
    let (_, page) = b.get_text("/admin/two-factor/app").await;
    assert!(
        !page.contains("Don't ask again"),
        "off for admins and vendors by default"
    );
    b.post_form("/admin/two-factor/cancel", &[]).await;
    // A ticked box posted anyway trusts nothing while it is off.
    let res = sign_in_with_code(&b, &mut vera, true).await;
    assert!(set_cookie_headers(&res).is_empty());
    sign_out(&b, Role::Vendor).await;
    app.browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("admin_trusted_device_days", "1")],
        )
        .await;
    let res = sign_in_with_code(&b, &mut vera, true).await;
    let set = set_cookie_headers(&res);
    assert!(set[0].contains("Max-Age=86400"), "{set:?}");
    sign_out(&b, Role::Vendor).await;
    assert_eq!(password_only(&b, &vera).await, "/admin");
}

#[tokio::test]
async fn the_api_never_honours_the_cookie() {
    let app = app_with_addon().await;
    let (ann, b) = trusted_customer(&app, "ann@example.com").await;
    let (name, token) = device_cookies(&b)[0].clone();
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/signin", app.address))
        .header("Cookie", format!("{name}={token}"))
        .json(&serde_json::json!({"email": ann.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["two_factor_required"], true, "{body}");
    assert!(body.get("token").is_none());
}

#[tokio::test]
async fn a_device_trusted_on_one_instance_counts_on_another() {
    let app = app_with_addon().await;
    let sibling = app.spawn_sibling().await;
    let mut ann = enrol(&app, "ann@example.com", Role::Customer).await;
    let b = app.new_browser();
    sign_in_with_code(&b, &mut ann, true).await;
    sign_out(&b, Role::Customer).await;
    let (name, token) = device_cookies(&b)[0].clone();
    let there = sibling.new_browser();
    there.jar.add_cookie_str(
        &format!("{name}={token}; Path=/"),
        &there.base.parse().unwrap(),
    );
    assert_eq!(password_only(&there, &ann).await, "/");
    // Forgotten through the sibling, refused on the first instance.
    let (status, _, _) = crate::helpers::post_from(
        &there,
        "/account/security",
        "/account/security/devices/forget-all",
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(password_only(&b, &ann).await, "/two-factor/app");
}
