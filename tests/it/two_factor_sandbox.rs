//! The two-factor addon against the real Authy-compatible sandbox that the
//! app mounts in test mode: codes are read from the sandbox outbox JSON.

use storefront_2fa::plugin::Role;
use storefront_2fa::startup::default_addons;

use crate::helpers::{
    extract_csrf, location, post_from, spawn_app, spawn_app_with, Browser, SmsSetUp, TestApp,
};

pub const PASSWORD: &str = "a-good-password-1";
pub const KEY: &str = "sandbox-owner-key-1";
pub const NATIONAL: &str = "2015550123";

pub async fn configure(app: &TestApp, fields: &[(&str, &str)]) {
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    let res = app
        .browser
        .post_form("/admin/addons/two_factor/settings", fields)
        .await;
    assert_eq!(res.status(), 303);
}

/// Test mode, the mounted sandbox, both toggles on.
pub async fn app_in_test_mode() -> TestApp {
    let app = spawn_app().await;
    app.login_admin().await;
    configure(
        &app,
        &[
            ("api_key", KEY),
            ("customer_enabled", "on"),
            ("admin_enabled", "on"),
        ],
    )
    .await;
    app
}

pub fn with_phone(app: &TestApp, email: &str, role: Role) -> i64 {
    let id = app.create_account(email, PASSWORD, role);
    app.add_phone(id, NATIONAL, SmsSetUp::Complete);
    id
}

/// The code in the newest outbox message for the test phone.
pub async fn outbox_code(app: &TestApp) -> String {
    let sandbox = app.browser.url("/sandbox/authy");
    crate::helpers::sandbox_code(&app.browser.client, &sandbox, NATIONAL, KEY).await
}

pub async fn outbox_len(app: &TestApp) -> usize {
    let res = app
        .browser
        .client
        .get(
            app.browser
                .url(&format!("/sandbox/authy/outbox?phone={NATIONAL}")),
        )
        .header("X-Authy-API-Key", KEY)
        .send()
        .await
        .unwrap();
    res.json::<serde_json::Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .len()
}

async fn api_calls(app: &TestApp) -> i64 {
    let res = app
        .browser
        .client
        .get(app.browser.url("/sandbox/authy/protected/json/app/stats"))
        .header("X-Authy-API-Key", KEY)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    body["stats"][0]["api_calls_count"].as_i64().unwrap_or(0)
}

pub fn age_counters(app: &TestApp, secs: i64) {
    use diesel::prelude::*;
    use storefront_2fa::two_factor::schema::tfa_counters;
    diesel::update(tfa_counters::table)
        .set(tfa_counters::window_start.eq(tfa_counters::window_start - secs))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
}

#[tokio::test]
async fn every_role_and_checkout_sign_in_with_a_sandbox_code() {
    let app = app_in_test_mode().await;
    let cases = [
        (
            "cust@example.com",
            Role::Customer,
            "/login",
            "/two-factor",
            "/",
        ),
        (
            "boss@example.com",
            Role::Admin,
            "/admin/login",
            "/admin/two-factor",
            "/admin",
        ),
        (
            "vend@example.com",
            Role::Vendor,
            "/admin/login",
            "/admin/two-factor",
            "/admin",
        ),
        (
            "shop@example.com",
            Role::Customer,
            "/checkout/login",
            "/two-factor",
            "/checkout",
        ),
    ];
    for (email, role, form, base, target) in cases {
        with_phone(&app, email, role);
        let b = app.new_browser();
        let res = b.login(form, email, PASSWORD).await;
        assert_eq!(location(&res), format!("{base}/verify"), "{email}");
        let (status, page) = b.get_text(&format!("{base}/verify")).await;
        assert_eq!(status, 200, "{page}");
        let code = outbox_code(&app).await;
        assert_eq!(code.len(), 7);
        let (status, loc, _) =
            post_with_csrf(&b, &format!("{base}/verify"), &[("code", &code)]).await;
        assert_eq!((status, loc.as_str()), (303, target), "{email}");
        age_counters(&app, 31);
    }
    // The outbox page for the store admin is mounted by the addon.
    let (status, page) = app.browser.get_text("/admin/two-factor/sandbox").await;
    assert_eq!(status, 200);
    assert!(page.contains("verification code"), "{page}");
}

#[tokio::test]
async fn resend_replaces_the_code_call_works_and_wrong_codes_are_refused() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    let b = app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let first = outbox_code(&app).await;
    age_counters(&app, 31);
    let (status, _, page) = post_with_csrf(&b, "/two-factor/send", &[("via", "sms")]).await;
    assert_eq!(status, 303);
    assert!(page.contains("We sent a new code"), "{page}");
    let second = outbox_code(&app).await;
    assert_eq!(outbox_len(&app).await, 2);
    if first != second {
        let (status, loc, page) =
            post_with_csrf(&b, "/two-factor/verify", &[("code", &first)]).await;
        assert_eq!(
            (status, loc.as_str()),
            (303, "/two-factor/verify"),
            "replaced code refused"
        );
        assert!(
            page.contains("That code is not right. 4 attempts left."),
            "{page}"
        );
    }
    age_counters(&app, 31);
    let (status, _, page) = post_with_csrf(&b, "/two-factor/send", &[("via", "call")]).await;
    assert_eq!(status, 303, "{page}");
    assert!(page.contains("We are calling"), "{page}");
    let third = outbox_code(&app).await;
    let (status, loc, _) = post_with_csrf(&b, "/two-factor/verify", &[("code", &third)]).await;
    assert_eq!((status, loc.as_str()), (303, "/"));
}

#[tokio::test]
async fn the_fifth_wrong_code_cancels_and_ten_failures_lock() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    for round in 0..2 {
        let b = app.new_browser();
        b.login("/login", "cust@example.com", PASSWORD).await;
        age_counters(&app, 31);
        b.get_text("/two-factor/verify").await;
        for n in 1..=5 {
            let (status, loc, page) =
                post_with_csrf(&b, "/two-factor/verify", &[("code", "0000000")]).await;
            assert_eq!(status, 303);
            if n < 5 {
                assert_eq!(loc, "/two-factor/verify");
            } else {
                // The second round used up the account's ten: a code is
                // accepted again when its 15-minute window ends.
                let when = if round == 0 { "now" } else { "in 15 minutes" };
                assert_eq!(loc, "/two-factor/ended", "round {round}");
                assert!(page.contains(&format!("Too many wrong codes: this sign-in was cancelled; you can sign in again {when}.")), "{page}");
            }
        }
        let code = outbox_code(&app).await;
        let (status, loc, _) = post_with_csrf(&b, "/two-factor/verify", &[("code", &code)]).await;
        assert_eq!((status, loc.as_str()), (303, "/login"), "round {round}");
        assert_eq!(location(&b.get("/two-factor/verify").await), "/login");
    }
    // Ten wrong codes in 15 minutes: even the right code is refused.
    let b = app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    age_counters(&app, 31);
    b.get_text("/two-factor/verify").await;
    let code = outbox_code(&app).await;
    let (status, loc, page) = post_with_csrf(&b, "/two-factor/verify", &[("code", &code)]).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/ended"));
    assert!(
        page.contains("you can sign in again in 15 minutes."),
        "{page}"
    );
    assert_ne!(b.get("/account").await.status(), 200);
}

#[tokio::test]
async fn concurrent_correct_codes_succeed_once() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    let b = app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    let (_, page) = b.get_text("/two-factor/verify").await;
    let token = extract_csrf(&page);
    let code = outbox_code(&app).await;
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let client = b.client.clone();
        let url = b.url("/two-factor/verify");
        let fields = vec![("code", code.clone()), ("csrf_token", token.clone())];
        tasks.push(tokio::spawn(async move {
            let res = client.post(url).form(&fields).send().await.unwrap();
            (res.status().as_u16(), location(&res))
        }));
    }
    let mut ok = 0;
    let mut answers = Vec::new();
    for t in tasks {
        let answer = t.await.unwrap();
        if answer == (303, "/".to_string()) {
            ok += 1;
        }
        answers.push(answer);
    }
    assert_eq!(ok, 1, "{answers:?}");
    // The others met a used code, not a wrong one: none of them ended the
    // sign-in (as a fifth wrong code would) before the winner completed it.
    assert!(
        answers.iter().all(|(_, to)| to != "/two-factor/ended"),
        "{answers:?}"
    );
}

#[tokio::test]
async fn hostile_codes_never_reach_the_sandbox() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    let b = app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let idle = {
        let a = api_calls(&app).await;
        api_calls(&app).await - a
    };
    let before = api_calls(&app).await;
    let long = "9".repeat(50 * 1024);
    for code in [
        "../sms",
        "123456/1#",
        "١٢٣٤٥٦٧",
        "1234567?x=1",
        long.as_str(),
    ] {
        let (status, loc, _) = post_with_csrf(&b, "/two-factor/verify", &[("code", code)]).await;
        assert!(status != 303 || crate::helpers::refused_to(&loc), "{loc}");
    }
    let after = api_calls(&app).await;
    assert_eq!(after - before, idle, "no gateway call for hostile codes");
}

#[tokio::test]
async fn a_gateway_that_is_down_refuses_with_a_message_in_production_mode() {
    // Production mode pointed at a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(default_addons, move |s| {
        s.two_factor.gateway_url = format!("http://127.0.0.1:{port}");
        s.two_factor.gateway_timeout_ms = 500;
    })
    .await;
    app.login_admin().await;
    configure(
        &app,
        &[
            ("api_key", KEY),
            ("customer_enabled", "on"),
            ("production_mode", "on"),
        ],
    )
    .await;
    with_phone(&app, "cust@example.com", Role::Customer);
    let b = app.new_browser();
    assert_eq!(
        location(&b.login("/login", "cust@example.com", PASSWORD).await),
        "/two-factor/verify"
    );
    let (status, page) = b.get_text("/two-factor/verify").await;
    assert_eq!(status, 503);
    assert!(page.contains("We could not send your code"));
    let (status, loc, page) =
        post_with_csrf(&b, "/two-factor/verify", &[("code", "1234567")]).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    assert!(
        page.contains("No code has been sent yet") || page.contains("We could not check your code")
    );
    assert_ne!(b.get("/account").await.status(), 200);
    let (_, settings) = app
        .browser
        .get_text("/admin/addons/two_factor/settings")
        .await;
    assert!(settings.contains("production") && settings.contains("not answering"));
}

#[tokio::test]
async fn a_code_is_bound_to_the_sign_in_that_asked_for_it() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    let first = app.new_browser();
    let second = app.new_browser();
    first.login("/login", "cust@example.com", PASSWORD).await;
    second.login("/login", "cust@example.com", PASSWORD).await;
    assert_eq!(first.get("/two-factor/verify").await.status(), 200);
    let code = outbox_code(&app).await;
    // The second sign-in comes within the cooldown: it gets no new code and
    // cannot borrow the first one's.
    second.get("/two-factor/verify").await;
    let (status, loc, body) =
        post_with_csrf(&second, "/two-factor/verify", &[("code", &code)]).await;
    assert!(
        status == 303 && crate::helpers::refused_to(&loc),
        "a code sent for another pending login is refused"
    );
    assert!(!body.contains("My account"));
    let (status, loc, _) = post_with_csrf(&first, "/two-factor/verify", &[("code", &code)]).await;
    assert_eq!((status, loc.as_str()), (303, "/"));
}

/// Register with a phone (the first code confirms it), sign out, sign in
/// again at once: the code page is never a 429, the new sign-in gets its
/// own code, and that code works.
#[tokio::test]
async fn signing_in_again_right_after_registering_gets_a_fresh_code_not_a_429() {
    let app = app_in_test_mode().await;
    let b = app.new_browser();
    let (status, loc, page) = post_from(
        &b,
        "/register",
        "/register",
        &[
            ("email", "new@example.com"),
            ("name", "New"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
            ("tfa_country", "US"),
            ("tfa_phone", NATIONAL),
        ],
    )
    .await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/two-factor/verify"),
        "{page}"
    );
    assert_eq!(b.get("/two-factor/verify").await.status(), 200);
    let first = outbox_code(&app).await;
    let (status, _, _) = post_with_csrf(&b, "/two-factor/verify", &[("code", &first)]).await;
    assert_eq!(status, 303);
    post_with_csrf(&b, "/logout", &[]).await;

    let res = b.login("/login", "new@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    let (status, page) = b.get_text("/two-factor/verify").await;
    assert_eq!(status, 200, "a page view is never a 429: {page}");
    assert!(page.contains("We sent a code"), "{page}");
    assert!(!page.contains("moments ago"), "{page}");
    assert_eq!(
        outbox_len(&app).await,
        2,
        "the new sign-in got its own code"
    );
    let second = outbox_code(&app).await;
    let (status, loc, page) = post_with_csrf(&b, "/two-factor/verify", &[("code", &second)]).await;
    assert_eq!((status, loc.as_str()), (303, "/"), "{page}");
}

/// Two sign-ins of one account within the cooldown: the second page view
/// is not a 429 either; it says when a code can be asked for.
#[tokio::test]
async fn a_second_sign_in_within_the_cooldown_says_when_to_ask_again() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    let first = app.new_browser();
    let second = app.new_browser();
    first.login("/login", "cust@example.com", PASSWORD).await;
    second.login("/login", "cust@example.com", PASSWORD).await;
    assert_eq!(first.get("/two-factor/verify").await.status(), 200);
    let (status, page) = second.get_text("/two-factor/verify").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Resend SMS with code"), "{page}");
    assert!(page.contains("You can ask for another one in"), "{page}");
    // Once the wait is over, viewing the page again sends the code.
    age_counters(&app, 31);
    let (status, page) = second.get_text("/two-factor/verify").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("We sent a code"), "{page}");
}

#[tokio::test]
async fn many_shoppers_behind_one_address_still_get_their_first_code() {
    let app = app_in_test_mode().await;
    for n in 0..22 {
        let email = format!("nat{n}@example.com");
        let id = app.create_account(&email, PASSWORD, Role::Customer);
        app.add_phone(id, &format!("20155501{n:02}"), SmsSetUp::Complete);
        let b = app.new_browser();
        assert_eq!(
            location(&b.login("/login", &email, PASSWORD).await),
            "/two-factor/verify"
        );
        let (status, page) = b.get_text("/two-factor/verify").await;
        assert_eq!(status, 200, "shopper {n} got a code: {page}");
    }
}

#[tokio::test]
async fn an_api_key_that_no_longer_decrypts_refuses_logins_instead_of_skipping_2fa() {
    let app = app_in_test_mode().await;
    with_phone(&app, "cust@example.com", Role::Customer);
    {
        use diesel::prelude::*;
        use storefront_2fa::db::schema::addon_settings;
        // As if the server's secret key had changed since the key was saved.
        let other = storefront_2fa::crypto::SecretKey::generate().encrypt(KEY);
        diesel::update(addon_settings::table.filter(addon_settings::key.eq("api_key")))
            .set(addon_settings::value.eq(other))
            .execute(&mut app.db.get().unwrap())
            .unwrap();
    }
    // Written behind the server's back: it sees the row once its cache of
    // addon settings expires.
    tokio::time::sleep(storefront_2fa::plugin::registry::CACHE_TTL).await;
    let b = app.new_browser();
    let res = b.login("/login", "cust@example.com", PASSWORD).await;
    assert_eq!(res.status(), 401, "refused, not signed in without a code");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("two-factor settings need attention"));
    assert!(location(&b.get("/account").await).starts_with("/login"));
}

/// POSTs a form with the CSRF token of the login page.
async fn post_with_csrf(b: &Browser, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    crate::helpers::post_and_read_back(b, "/login", path, fields).await
}

/// A sole admin in test mode: the code page says where the code is (the
/// console and `storefront-2fa sandbox outbox`), never the code itself, and
/// that command lists it from the shell.
#[tokio::test]
async fn in_test_mode_the_code_page_says_where_the_code_is_and_the_shell_lists_it() {
    let app = app_in_test_mode().await;
    with_phone(&app, "boss@example.com", Role::Admin);
    let b = app.new_browser();
    b.login("/admin/login", "boss@example.com", PASSWORD).await;
    let (status, page) = b.get_text("/admin/two-factor/verify").await;
    assert_eq!(status, 200);
    let code = outbox_code(&app).await;
    assert!(page.contains("Test mode:"), "{page}");
    assert!(page.contains("storefront-2fa sandbox outbox"), "{page}");
    let shown = page.replace(&extract_csrf(&page), "");
    assert!(!shown.contains(&code), "the page never shows the code");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_storefront-2fa"))
        .args(["sandbox", "outbox", "--phone", NATIONAL, "--limit", "1"])
        .current_dir(&app.settings.data_dir)
        .env("STOREFRONT__DATABASE__URL", &app.settings.database.url)
        .env("STOREFRONT__DATA_DIR", &app.settings.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&code) && text.contains(NATIONAL), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// The status box never says "asked for a code" when nobody can be, and
/// warns an admin who switched admins on without a factor of their own.
#[tokio::test]
async fn the_settings_status_does_not_contradict_itself() {
    let app = spawn_app().await;
    app.login_admin().await;
    configure(&app, &[("customer_enabled", "on"), ("admin_enabled", "on")]).await;
    let (_, page) = app
        .browser
        .get_text("/admin/addons/two_factor/settings")
        .await;
    assert!(page.contains(r#"id="tfa-no-credentials""#), "{page}");
    assert!(!page.contains("Customers: asked for a code"), "{page}");
    assert!(page.contains("not asked yet"));
    configure(
        &app,
        &[
            ("api_key", KEY),
            ("customer_enabled", "on"),
            ("admin_enabled", "on"),
        ],
    )
    .await;
    let (_, page) = app
        .browser
        .get_text("/admin/addons/two_factor/settings")
        .await;
    assert!(!page.contains(r#"id="tfa-no-credentials""#));
    assert!(page.contains("Customers: asked for a code"));
    assert!(page.contains(r#"id="tfa-me-unprotected""#), "{page}");
}

/// Administrators reach the addon's audit log from the admin navigation
/// while the addon is enabled, and the outbox from the status box in test
/// mode; both links lead to pages that exist.
#[tokio::test]
async fn the_admin_navigation_links_the_audit_log_and_the_status_box_the_outbox() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (_, page) = app.browser.get_text("/admin").await;
    assert!(!page.contains("/admin/two-factor/audit"), "addon disabled");
    configure(&app, &[("api_key", KEY), ("customer_enabled", "on")]).await;
    let (_, page) = app.browser.get_text("/admin").await;
    assert!(
        page.contains(r#"<a href="/admin/two-factor/audit">2FA audit log</a>"#),
        "{page}"
    );
    let (_, page) = app
        .browser
        .get_text("/admin/addons/two_factor/settings")
        .await;
    assert!(
        page.contains(r#"href="/admin/two-factor/sandbox""#),
        "{page}"
    );
    for path in ["/admin/two-factor/audit", "/admin/two-factor/sandbox"] {
        let (status, _) = app.browser.get_text(path).await;
        assert_eq!(status, 200, "{path}");
    }
    // A vendor sees no admin-only link.
    let id = app.create_account("vendor@example.com", PASSWORD, Role::Vendor);
    let _ = id;
    let vendor = app.new_browser();
    vendor
        .login("/admin/login", "vendor@example.com", PASSWORD)
        .await;
    let (_, page) = vendor.get_text("/admin").await;
    assert!(!page.contains("/admin/two-factor/audit"), "{page}");
}
