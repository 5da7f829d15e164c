//! The two-factor addon end to end: the real server on loopback, HTTP with
//! a cookie-keeping client, an Authy-compatible gateway on loopback.

use diesel::prelude::*;
use storefront_2fa::plugin::Role;
use storefront_2fa::startup::default_addons;
use storefront_2fa::two_factor::store;

use crate::helpers::{
    extract_csrf, listed_codes, location, post_and_read_back, post_from, refused_to,
    spawn_app_with, Browser, SmsSetUp, TestApp,
};
use crate::two_factor_gateway::{FakeGateway, Fault, API_KEY};

const PASSWORD: &str = "a-good-password-1";
/// National number of the test phone (+1 201-555-0123).
const NATIONAL: &str = "2015550123";

pub struct Tfa {
    pub app: TestApp,
    pub gw: FakeGateway,
}

/// A server whose addon is enabled in test mode and talks to a fresh gateway.
pub async fn setup(customer: bool, admin: bool) -> Tfa {
    let gw = FakeGateway::start().await;
    let url = gw.base_url.clone();
    let app = spawn_app_with(default_addons, move |s| {
        s.two_factor.sandbox_url = url;
        s.two_factor.gateway_timeout_ms = 800;
    })
    .await;
    app.login_admin().await;
    let b = &app.browser;
    b.post_form("/admin/addons/two_factor/enable", &[]).await;
    let mut fields = vec![("api_key", API_KEY)];
    if customer {
        fields.push(("customer_enabled", "on"));
    }
    if admin {
        fields.push(("admin_enabled", "on"));
    }
    let res = b
        .post_form("/admin/addons/two_factor/settings", &fields)
        .await;
    assert_eq!(res.status(), 303, "settings saved");
    Tfa { app, gw }
}

impl Tfa {
    fn account_with_phone(&self, email: &str, role: Role) -> i64 {
        let id = self.app.create_account(email, PASSWORD, role);
        self.app.add_phone(id, NATIONAL, SmsSetUp::Complete);
        id
    }

    /// Moves the addon's counter windows back (cooldowns, quotas).
    fn age_counters(&self, secs: i64) {
        use storefront_2fa::two_factor::schema::tfa_counters;
        diesel::update(tfa_counters::table)
            .set(tfa_counters::window_start.eq(tfa_counters::window_start - secs))
            .execute(&mut self.app.db.get().unwrap())
            .unwrap();
    }

    fn audit_events(&self) -> Vec<(String, String)> {
        use storefront_2fa::two_factor::schema::tfa_audit;
        tfa_audit::table
            .order(tfa_audit::id.asc())
            .select((tfa_audit::event, tfa_audit::outcome))
            .load(&mut self.app.db.get().unwrap())
            .unwrap()
    }
}

/// The end of SMS set-up: the page the sign-in leads to says the codes are
/// ready; its button (a POST with the CSRF token) shows them, once.
async fn show_first_codes(b: &Browser, path: &str) -> (u16, String) {
    let (status, page) = b.get_text(path).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Show my recovery codes"), "{page}");
    let token = extract_csrf(&page);
    let res = b
        .client
        .post(b.url(path))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

async fn submit_code(b: &Browser, base: &str, code: &str) -> (u16, String, String) {
    post_and_read_back(b, "/login", &format!("{base}/verify"), &[("code", code)]).await
}

#[tokio::test]
async fn customer_admin_and_vendor_sign_in_with_an_sms_code() {
    let t = setup(true, true).await;
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
    ];
    for (email, role, form, base, home) in cases {
        t.account_with_phone(email, role);
        let b = t.app.new_browser();
        let res = b.login(form, email, PASSWORD).await;
        assert_eq!(
            location(&res),
            format!("{base}/verify"),
            "{email} challenged"
        );
        // The pending login grants nothing yet.
        assert_ne!(b.get("/account").await.status(), 200);
        let (status, page) = b.get_text(&format!("{base}/verify")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(r#"your phone <strong class="nowrap">+1 •••-•••-0123</strong>"#));
        // The CSRF token is random and may hold any digits: look past it.
        let shown = page.replace(&extract_csrf(&page), "");
        assert!(!shown.contains("555"), "only the last two digits are shown");
        assert!(page.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
        assert!(page.contains("Resend SMS with code") && page.contains("Call me instead"));
        // Reloading does not send another SMS.
        b.get_text(&format!("{base}/verify")).await;
        let code = t.gw.last_code(NATIONAL).expect("an SMS was sent");
        let (status, loc, _) = submit_code(&b, base, &code).await;
        assert_eq!((status, loc.as_str()), (303, home), "{email} signed in");
        let (status, _) = b.get_text(home).await;
        assert_eq!(status, 200);
    }
    assert_eq!(t.gw.messages_to(NATIONAL), vec!["sms", "sms", "sms"]);
    let events = t.audit_events();
    for e in ["challenge", "code_sent", "verify"] {
        assert!(
            events.iter().any(|(ev, _)| ev == e),
            "{e} audited: {events:?}"
        );
    }
    assert_eq!(
        events
            .iter()
            .filter(|(e, o)| e == "verify" && o == "success")
            .count(),
        3
    );
}

#[tokio::test]
async fn checkout_login_comes_back_to_checkout_after_the_code() {
    let t = setup(true, false).await;
    t.account_with_phone("cust@example.com", Role::Customer);
    let (_, status, loc) = checkout_sign_in_with_code(&t, "cust@example.com").await;
    assert_eq!((status, loc.as_str()), (303, "/checkout"));
}

/// Signs in at checkout with the texted code; the browser and the answer
/// to the code.
async fn checkout_sign_in_with_code(t: &Tfa, email: &str) -> (Browser, u16, String) {
    let b = t.app.new_browser();
    let res = b
        .post_form(
            "/checkout/login",
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&res), "/two-factor/verify");
    b.get_text("/two-factor/verify").await;
    let code = t.gw.last_code(NATIONAL).unwrap();
    let (status, loc, _) = submit_code(&b, "/two-factor", &code).await;
    (b, status, loc)
}

#[tokio::test]
async fn the_first_sms_sign_in_ends_on_ten_recovery_codes_then_goes_on() {
    let t = setup(true, false).await;
    let id = t
        .app
        .create_account("new@example.com", PASSWORD, Role::Customer);
    t.app.add_phone(id, NATIONAL, SmsSetUp::FirstSignInPending);
    let (b, status, loc) = checkout_sign_in_with_code(&t, "new@example.com").await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/recovery-codes"));
    let (status, page) = show_first_codes(&b, "/two-factor/recovery-codes").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Save your recovery codes"), "{page}");
    assert!(page.contains("Log out"), "the page shows the new session");
    let codes = listed_codes(&page);
    assert_eq!(codes.len(), 10, "{page}");
    assert!(page.contains(r#"<form method="get" action="&#x2F;checkout" id="codes-done-form">"#));
    assert!(page.contains(r#"<input type="checkbox" id="codes-saved" required>"#));
    assert!(page.contains("Download") && page.contains("Copy"));
    // Signed in already: the page's Done leads on to the checkout.
    assert_eq!(b.get("/checkout").await.status(), 200);
    assert!(t
        .audit_events()
        .contains(&("recovery_codes".to_string(), "generated".to_string())));
    // Shown once: a reload goes to the Security page (where "View recovery
    // codes" asks for the password).
    let res = b.get("/two-factor/recovery-codes").await;
    assert_eq!(location(&res), "/account/security");
    // Nobody else's session can open it.
    let other = t.app.new_browser();
    assert_eq!(
        location(&other.get("/two-factor/recovery-codes").await),
        "/login?next=%2Ftwo%2Dfactor%2Frecovery%2Dcodes"
    );

    // The next sign-in goes straight on, and the codes work in place of SMS.
    t.age_counters(3600);
    let b = t.app.new_browser();
    b.login("/login", "new@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let code = t.gw.last_code(NATIONAL).unwrap();
    let (status, loc, _) = submit_code(&b, "/two-factor", &code).await;
    assert_eq!((status, loc.as_str()), (303, "/"));
    let b = t.app.new_browser();
    b.login("/login", "new@example.com", PASSWORD).await;
    let (status, loc, _) = post_from(
        &b,
        "/two-factor/app?method=recovery",
        "/two-factor/app",
        &[("code", &codes[3]), ("method", "recovery")],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/recovery-used"));
    let (status, page) = b.get_text(&loc).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("9 recovery codes are left"), "{page}");
    assert!(
        page.contains(r#"href="/""#),
        "Continue goes where the sign-in was going"
    );
}

#[tokio::test]
async fn the_role_decides_not_the_form_and_toggles_off_or_no_phone_mean_no_challenge() {
    // Customer toggle only: admins are not challenged, customers are.
    let t = setup(true, false).await;
    t.account_with_phone("boss@example.com", Role::Admin);
    t.account_with_phone("cust@example.com", Role::Customer);
    t.app
        .create_account("nophone@example.com", PASSWORD, Role::Customer);
    let b = t.app.new_browser();
    assert_eq!(
        location(&b.login("/admin/login", "boss@example.com", PASSWORD).await),
        "/admin"
    );
    let b = t.app.new_browser();
    assert_eq!(
        location(&b.login("/login", "cust@example.com", PASSWORD).await),
        "/two-factor/verify"
    );
    let b = t.app.new_browser();
    assert_eq!(
        location(&b.login("/login", "nophone@example.com", PASSWORD).await),
        "/",
        "no phone: no challenge"
    );

    // Admin toggle only: the admin is challenged; a customer is not, whichever form.
    let t = setup(false, true).await;
    t.account_with_phone("boss@example.com", Role::Admin);
    t.account_with_phone("cust@example.com", Role::Customer);
    let b = t.app.new_browser();
    assert_eq!(
        location(&b.login("/admin/login", "boss@example.com", PASSWORD).await),
        "/admin/two-factor/verify"
    );
    // The challenged admin was texted a code; the customer's logins below
    // are not challenged and text nothing.
    let texts = || {
        t.gw.requests()
            .iter()
            .filter(|r| r.contains("/sms/"))
            .count()
    };
    assert_eq!(texts(), 1, "{:?}", t.gw.requests());
    let b = t.app.new_browser();
    assert_eq!(
        location(&b.login("/login", "cust@example.com", PASSWORD).await),
        "/"
    );
    let b = t.app.new_browser();
    let res = b
        .post_form(
            "/checkout/login",
            &[("email", "cust@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&res), "/checkout");
    assert_eq!(texts(), 1, "no code for unchallenged logins");

    // Both toggles off.
    let t = setup(false, false).await;
    t.account_with_phone("boss@example.com", Role::Admin);
    let b = t.app.new_browser();
    assert_eq!(
        location(&b.login("/admin/login", "boss@example.com", PASSWORD).await),
        "/admin"
    );
}

#[tokio::test]
async fn wrong_codes_say_the_attempts_left_and_the_fifth_cancels_the_login() {
    let t = setup(true, false).await;
    t.account_with_phone("cust@example.com", Role::Customer);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let code = t.gw.last_code(NATIONAL).unwrap();
    let wrong = if code == "1111111" {
        "2222222"
    } else {
        "1111111"
    };
    // The password was right: the code page says what happened, after a
    // redirect (POST, redirect, GET).
    for n in 1..=4 {
        let (status, loc, page) = submit_code(&b, "/two-factor", wrong).await;
        assert_eq!(
            (status, loc.as_str()),
            (303, "/two-factor/verify"),
            "attempt {n}"
        );
        let left = 5 - n;
        let s = if left == 1 { "" } else { "s" };
        assert!(
            page.contains(&format!("That code is not right. {left} attempt{s} left.")),
            "{page}"
        );
    }
    // The fifth wrong code cancels the pending login, and says so.
    let (status, loc, page) = submit_code(&b, "/two-factor", wrong).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/ended"));
    assert!(
        page.contains(
            "Too many wrong codes: this sign-in was cancelled; you can sign in again now."
        ) && page.contains("/login"),
        "{page}"
    );
    // After it, even the right code is refused.
    let (status, loc, _) = submit_code(&b, "/two-factor", &code).await;
    assert_eq!((status, loc.as_str()), (303, "/login"));
    let res = b.get("/two-factor/verify").await;
    assert_eq!(location(&res), "/login", "pending login is gone");
    assert_ne!(b.get("/account").await.status(), 200);
}

/// A body that is not a form (here the code given twice, both times the
/// right one) reads as the empty form: counted as an attempt like a wrong
/// code, so five of them cancel the sign-in and the right code is refused.
#[tokio::test]
async fn a_malformed_code_form_is_an_attempt_and_never_a_pass() {
    let t = setup(true, false).await;
    t.account_with_phone("cust@example.com", Role::Customer);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let code = t.gw.last_code(NATIONAL).unwrap();
    let token = b.csrf().await;
    for n in 1..=5 {
        let res = b
            .client
            .post(b.url("/two-factor/verify"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("csrf_token={token}&code={code}&code={code}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303, "attempt {n}");
        let loc = location(&res);
        assert!(refused_to(&loc), "attempt {n}: {loc}");
        let (_, page) = b.get_text(&loc).await;
        let expected = if n < 5 {
            format!("That code is not right. {} attempt", 5 - n)
        } else {
            "Too many wrong codes: this sign-in was cancelled".to_string()
        };
        assert!(page.contains(&expected), "attempt {n}: {page}");
    }
    let (status, loc, _) = submit_code(&b, "/two-factor", &code).await;
    assert_eq!((status, loc.as_str()), (303, "/login"));
    assert_ne!(b.get("/account").await.status(), 200);
}

/// "894 3320" and "894-3320" are the code 8943320, as people read it out.
#[tokio::test]
async fn an_sms_code_typed_with_spaces_or_dashes_signs_in() {
    let t = setup(true, false).await;
    t.account_with_phone("cust@example.com", Role::Customer);
    for (n, sep) in [" ", "-"].into_iter().enumerate() {
        let b = t.app.new_browser();
        if n > 0 {
            t.age_counters(31);
        }
        b.login("/login", "cust@example.com", PASSWORD).await;
        b.get_text("/two-factor/verify").await;
        let code = t.gw.last_code(NATIONAL).unwrap();
        let typed = format!("{}{sep}{}", &code[..3], &code[3..]);
        let (status, loc, _) = submit_code(&b, "/two-factor", &typed).await;
        assert_eq!((status, loc.as_str()), (303, "/"), "{typed:?}");
    }
}

#[tokio::test]
async fn resend_replaces_the_code_and_is_rate_limited() {
    let t = setup(true, false).await;
    t.account_with_phone("cust@example.com", Role::Customer);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let first = t.gw.last_code(NATIONAL).unwrap();
    // At once: refused with when to try again, and nothing reaches the gateway.
    let before = t.gw.requests().len();
    let (status, loc, page) =
        post_and_read_back(&b, "/login", "/two-factor/send", &[("via", "sms")]).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    assert!(page.contains("You can ask for another one in"), "{page}");
    assert_eq!(t.gw.requests().len(), before);
    t.age_counters(31);
    let (status, _, page) =
        post_and_read_back(&b, "/login", "/two-factor/send", &[("via", "sms")]).await;
    assert_eq!(status, 303, "{page}");
    assert!(page.contains("We sent a new code"));
    let second = t.gw.last_code(NATIONAL).unwrap();
    if second != first {
        let (status, loc, _) = submit_code(&b, "/two-factor", &first).await;
        assert_eq!(
            (status, loc.as_str()),
            (303, "/two-factor/verify"),
            "the replaced code no longer works"
        );
    }
    // Call me instead.
    t.age_counters(31);
    let (status, _, page) =
        post_and_read_back(&b, "/login", "/two-factor/send", &[("via", "call")]).await;
    assert_eq!(status, 303, "{page}");
    assert!(page.contains("We are calling"));
    assert_eq!(t.gw.messages_to(NATIONAL), vec!["sms", "sms", "call"]);
    let third = t.gw.last_code(NATIONAL).unwrap();
    let (status, loc, _) = submit_code(&b, "/two-factor", &third).await;
    assert_eq!((status, loc.as_str()), (303, "/"));
    // Hourly quota: 5 per account (3 used).
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    t.age_counters(31);
    b.get_text("/two-factor/verify").await; // 4th
    t.age_counters(31);
    let (status, _, page) =
        post_and_read_back(&b, "/login", "/two-factor/send", &[("via", "sms")]).await; // 5th
    assert_eq!(status, 303);
    assert!(page.contains("We sent a new code"), "{page}");
    t.age_counters(31);
    let (status, _, page) =
        post_and_read_back(&b, "/login", "/two-factor/send", &[("via", "sms")]).await;
    assert_eq!(status, 303);
    assert!(page.contains("Too many codes"), "{page}");
    assert_eq!(t.gw.messages_to(NATIONAL).len(), 5);
}

#[tokio::test]
async fn ten_wrong_codes_lock_the_account_even_for_the_right_code() {
    let t = setup(true, false).await;
    t.account_with_phone("cust@example.com", Role::Customer);
    let mut wrong_total = 0;
    // Two pending logins of five wrong codes each.
    for _ in 0..2 {
        let b = t.app.new_browser();
        b.login("/login", "cust@example.com", PASSWORD).await;
        t.age_counters(31);
        b.get_text("/two-factor/verify").await;
        for _ in 0..5 {
            let (status, loc, _) = submit_code(&b, "/two-factor", "0000000").await;
            assert!(status == 303 && refused_to(&loc), "{loc}");
            wrong_total += 1;
        }
    }
    assert_eq!(wrong_total, 10);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    t.age_counters(31);
    b.get_text("/two-factor/verify").await;
    let code = t.gw.last_code(NATIONAL).unwrap();
    let verifies = t.gw.verify_requests();
    // Locked: refused even with the right code, the sign-in is cancelled,
    // and the page says when a code is accepted again (the 15-minute lock).
    let (status, loc, page) = submit_code(&b, "/two-factor", &code).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/ended"));
    assert!(
        page.contains("Too many wrong codes: this sign-in was cancelled; you can sign in again in 15 minutes."),
        "{page}"
    );
    assert_ne!(b.get("/account").await.status(), 200);
    assert_eq!(
        t.gw.verify_requests(),
        verifies,
        "a locked account's code is not even checked"
    );
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    let (status, loc, page) = submit_code(&b, "/two-factor", &code).await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/two-factor/ended"),
        "still locked"
    );
    assert!(
        page.contains("you can sign in again in 15 minutes"),
        "{page}"
    );
    assert!(t
        .audit_events()
        .iter()
        .any(|(e, o)| e == "lock" && o == "locked"));
}

#[tokio::test]
async fn concurrent_correct_codes_sign_in_exactly_once() {
    let t = setup(true, false).await;
    t.gw.set_reusable_codes(true); // only the addon's own claim stops a second use
    t.account_with_phone("cust@example.com", Role::Customer);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    let (_, page) = b.get_text("/two-factor/verify").await;
    let token = extract_csrf(&page);
    let code = t.gw.last_code(NATIONAL).unwrap();
    let mut tasks = Vec::new();
    // Five: a sixth attempt would void the pending login by itself.
    for _ in 0..5 {
        let client = b.client.clone();
        let url = b.url("/two-factor/verify");
        let fields = vec![
            ("code".to_string(), code.clone()),
            ("csrf_token".to_string(), token.clone()),
        ];
        tasks.push(tokio::spawn(async move {
            let res = client.post(url).form(&fields).send().await.unwrap();
            (res.status().as_u16(), location(&res))
        }));
    }
    let mut signed_in = 0;
    for task in tasks {
        let (status, loc) = task.await.unwrap();
        if status == 303 && loc == "/" {
            signed_in += 1;
        }
    }
    assert_eq!(signed_in, 1);
}

#[tokio::test]
async fn hostile_codes_never_reach_the_gateway() {
    let t = setup(true, false).await;
    t.account_with_phone("cust@example.com", Role::Customer);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let long = "1".repeat(50 * 1024);
    for code in [
        "../sms",
        "123456/1#",
        "１２３４５６",
        "12345",
        "123456789",
        long.as_str(),
    ] {
        let (status, loc, _) = submit_code(&b, "/two-factor", code).await;
        assert!(
            (status == 303 && (refused_to(&loc) || loc == "/login"))
                || status == 413
                || status == 400,
            "{status} {loc}"
        );
    }
    assert_eq!(t.gw.verify_requests(), 0, "{:?}", t.gw.requests());
}

#[tokio::test]
async fn a_failing_gateway_refuses_with_a_clear_message() {
    for fault in [Fault::Hang, Fault::Status500, Fault::Garbage] {
        let t = setup(true, false).await;
        t.account_with_phone("cust@example.com", Role::Customer);
        let b = t.app.new_browser();
        // Sending the first code (after the password) fails: the code page
        // says so and offers a retry.
        t.gw.set_fault(fault);
        b.login("/login", "cust@example.com", PASSWORD).await;
        let (status, page) = b.get_text("/two-factor/verify").await;
        assert_eq!(status, 503, "{fault:?}");
        assert!(page.contains("We could not send your code"), "{page}");
        assert!(page.contains("Resend SMS with code"));
        // The gateway comes back: retry at once (no cooldown after a failure).
        t.gw.set_fault(Fault::None);
        let (status, _, page) =
            post_and_read_back(&b, "/login", "/two-factor/send", &[("via", "sms")]).await;
        assert_eq!(status, 303);
        assert!(page.contains("We sent a new code"), "{page}");
        let code = t.gw.last_code(NATIONAL).unwrap();
        // Verifying fails: refused, never let through.
        t.gw.set_fault(fault);
        let (status, loc, page) = submit_code(&b, "/two-factor", &code).await;
        assert_eq!(
            (status, loc.as_str()),
            (303, "/two-factor/verify"),
            "{fault:?}"
        );
        assert!(page.contains("We could not check your code"), "{page}");
        assert_ne!(b.get("/account").await.status(), 200);
        // The settings page shows the failure.
        let (_, settings) = t
            .app
            .browser
            .get_text("/admin/addons/two_factor/settings")
            .await;
        assert!(settings.contains("not answering"), "{fault:?}");
    }
}

#[tokio::test]
async fn no_phone_and_a_new_password_leads_to_phone_entry() {
    let t = setup(true, false).await;
    let id = t
        .app
        .create_account("cust@example.com", PASSWORD, Role::Customer);
    {
        use storefront_2fa::db::schema::accounts;
        diesel::update(accounts::table.find(id))
            .set(accounts::must_change_password.eq(true))
            .execute(&mut t.app.db.get().unwrap())
            .unwrap();
    }
    let b = t.app.new_browser();
    let res = b.login("/login", "cust@example.com", PASSWORD).await;
    let mut loc = location(&res);
    // The host first asks for the new password.
    if loc != "/two-factor/phone" {
        let (_, page) = b.get_text(&loc).await;
        let token = extract_csrf(&page);
        let form_action = loc.clone();
        let res = b
            .client
            .post(b.url(&form_action))
            .form(&[
                ("new_password", "next-password-2"),
                ("confirm_password", "next-password-2"),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        loc = location(&res);
    }
    assert_eq!(loc, "/two-factor/phone");
    let (status, page) = b.get_text("/two-factor/phone").await;
    assert_eq!(status, 200);
    assert!(page.contains("Country phone code") && page.contains("United States (+1)"));
    let (status, _, page) = post_from(
        &b,
        "/login",
        "/two-factor/phone",
        &[("tfa_country", "US"), ("tfa_phone", "555")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("not a valid phone number for United States"),
        "{page}"
    );
    let (status, loc, _) = post_from(
        &b,
        "/login",
        "/two-factor/phone",
        &[("tfa_country", "US"), ("tfa_phone", "(201) 555-0123")],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    b.get_text("/two-factor/verify").await;
    let code = t.gw.last_code(NATIONAL).unwrap();
    // SMS set-up ends on the recovery codes, signed in, then goes on home.
    let (status, loc, _) = submit_code(&b, "/two-factor", &code).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/recovery-codes"));
    let (status, page) = show_first_codes(&b, "/two-factor/recovery-codes").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Save your recovery codes"), "{page}");
    assert!(page.contains(r#"action="&#x2F;""#), "{page}");
    assert_eq!(b.get("/account").await.status(), 200);
    let stored = store::phone_of(&t.app.db, id).await.unwrap().unwrap();
    assert_eq!(stored.phone.e164(), "+12015550123");
}

#[tokio::test]
async fn registration_validates_and_stores_the_phone_in_e164() {
    let t = setup(true, false).await;
    let (_, page) = t.app.new_browser().get_text("/register").await;
    assert!(page.contains("Country phone code") && page.contains("Phone number"));
    assert!(page.contains("United Kingdom (+44)"));
    let b = t.app.new_browser();
    let (status, _, page) = post_from(
        &b,
        "/register",
        "/register",
        &[
            ("email", "new@example.com"),
            ("name", "New"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
            ("tfa_country", "GB"),
            ("tfa_phone", "12345"),
        ],
    )
    .await;
    assert_ne!(status, 303, "invalid phone refused");
    assert!(
        page.contains("not a valid phone number for United Kingdom"),
        "{page}"
    );
    let (status, _, page) = post_from(
        &b,
        "/register",
        "/register",
        &[
            ("email", "new@example.com"),
            ("name", "New"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
            ("tfa_country", "GB"),
            ("tfa_phone", "07400 123456"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    let e164: Vec<String> = storefront_2fa::two_factor::schema::tfa_phones::table
        .select(storefront_2fa::two_factor::schema::tfa_phones::e164)
        .load(&mut t.app.db.get().unwrap())
        .unwrap();
    assert_eq!(e164, vec!["+447400123456".to_string()]);
}

#[tokio::test]
async fn audit_page_lists_events_newest_first_for_admins_only() {
    let t = setup(true, false).await;
    t.account_with_phone("cust@example.com", Role::Customer);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    submit_code(&b, "/two-factor", "0000000").await;
    let (status, page) = t
        .app
        .browser
        .get_text("/admin/two-factor/audit?email=cust")
        .await;
    assert_eq!(status, 200);
    // Events and outcomes read as words ("Code sent", "Failed").
    assert!(
        page.contains("cust@example.com")
            && page.contains("<td>Code sent</td>")
            && page.contains("<td>Failed</td>"),
        "{page}"
    );
    let fail = page.find("<td>Failed</td>").unwrap();
    let sent = page.find("<td>Code sent</td>").unwrap();
    assert!(fail < sent, "newest first");
    let code = t.gw.last_code(NATIONAL).unwrap();
    assert!(!page.contains(&code), "never a code");
    let (_, none) = t
        .app
        .browser
        .get_text("/admin/two-factor/audit?email=nobody")
        .await;
    assert!(!none.contains("cust@example.com"));
    assert_ne!(b.get("/admin/two-factor/audit").await.status(), 200);
}

async fn sign_in_with_code(t: &Tfa, email: &str) -> Browser {
    let b = t.app.new_browser();
    let res = b.login("/login", email, PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    b.get_text("/two-factor/verify").await;
    let code = t.gw.last_code(NATIONAL).unwrap();
    let (status, _, _) = submit_code(&b, "/two-factor", &code).await;
    assert_eq!(status, 303);
    b
}

#[tokio::test]
async fn changing_ones_own_phone_needs_the_password_and_a_code_from_the_current_phone() {
    let t = setup(true, false).await;
    let id = t.account_with_phone("cust@example.com", Role::Customer);
    let b = sign_in_with_code(&t, "cust@example.com").await;
    let (_, page) = b.get_text("/account").await;
    assert!(
        page.contains("Country phone code") && page.contains("Send a code to my current phone")
    );
    let base = [
        ("email", "cust@example.com"),
        ("name", "Cust"),
        ("tfa_country", "GB"),
        ("tfa_phone", "07400 123456"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f = base.to_vec();
        f.extend_from_slice(extra);
        f
    };
    let (status, _, page) = post_from(&b, "/account", "/account", &with(&[])).await;
    assert_ne!(status, 303);
    assert!(
        page.contains("Enter your current password to change your phone number"),
        "{page}"
    );
    let (_, _, page) = post_from(
        &b,
        "/account",
        "/account",
        &with(&[("tfa_current_password", "wrong-one-1")]),
    )
    .await;
    assert!(page.contains("That is not your current password"));
    let (_, _, page) = post_from(
        &b,
        "/account",
        "/account",
        &with(&[("tfa_current_password", PASSWORD)]),
    )
    .await;
    assert!(
        page.contains("Enter the code sent to your current phone (+1 •••-•••-0123)"),
        "{page}"
    );
    // "Send a code to my current phone".
    t.age_counters(31);
    let (status, loc, _) =
        post_from(&b, "/account", "/two-factor/account/send-code", &with(&[])).await;
    assert_eq!((status, loc.as_str()), (303, "/account"));
    let (_, page) = b.get_text("/account").await;
    assert!(
        page.contains("A code was sent to your current phone (+1 •••-•••-0123)"),
        "{page}"
    );
    let code = t.gw.last_code(NATIONAL).unwrap();
    let (_, _, page) = post_from(
        &b,
        "/account",
        "/account",
        &with(&[("tfa_current_password", PASSWORD), ("tfa_code", "0000000")]),
    )
    .await;
    assert!(page.contains("That code is not right"), "{page}");
    let mut fields = with(&[("tfa_current_password", PASSWORD)]);
    fields.push(("tfa_code", &code));
    let (status, _, page) = post_from(&b, "/account", "/account", &fields).await;
    assert_eq!(status, 303, "{page}");
    // The new number waits for the code sent to it (see tests/it/phones.rs);
    // once that is entered, it replaces the old one.
    let (_, page) = b.get_text("/account").await;
    assert!(
        page.contains("Confirm your new number +44 •••• ••3456"),
        "{page}"
    );
    let new_code =
        t.gw.last_code("7400123456")
            .expect("a code to the new number");
    let (status, _, page) = post_from(
        &b,
        "/account",
        "/account",
        &[
            ("email", "cust@example.com"),
            ("name", "Cust"),
            ("tfa_country", "US"),
            ("tfa_phone", "(201) 555-0123"),
            ("tfa_new_phone_code", &new_code),
        ],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    let stored = store::phone_of(&t.app.db, id).await.unwrap().unwrap();
    assert_eq!(stored.phone.e164(), "+447400123456");
    assert_eq!(stored.authy_id, None, "a new phone forgets the gateway id");
    assert!(t
        .audit_events()
        .iter()
        .any(|(e, o)| e == "phone_change" && o == "saved"));
}

#[tokio::test]
async fn an_admin_sets_a_users_phone_without_password_or_code_and_a_new_key_forgets_ids() {
    let t = setup(true, false).await;
    let id = t.account_with_phone("cust@example.com", Role::Customer);
    sign_in_with_code(&t, "cust@example.com").await;
    assert!(store::phone_of(&t.app.db, id)
        .await
        .unwrap()
        .unwrap()
        .authy_id
        .is_some());
    let page = format!("/admin/users/{id}");
    let (status, form) = t.app.browser.get_text(&page).await;
    assert_eq!(status, 200);
    assert!(form.contains("Country phone code") && !form.contains("tfa_current_password"));
    let fields = [
        ("email", "cust@example.com"),
        ("name", "Cust"),
        ("role", "customer"),
        ("tfa_country", "US"),
        ("tfa_phone", "1"),
    ];
    let (status, _, body) = post_from(&t.app.browser, &page, &page, &fields).await;
    assert_ne!(status, 303);
    assert!(body.contains("not a valid phone number"), "{body}");
    assert_eq!(
        store::phone_of(&t.app.db, id)
            .await
            .unwrap()
            .unwrap()
            .phone
            .e164(),
        "+12015550123",
        "nothing saved"
    );
    let mut fields = fields.to_vec();
    fields[4] = ("tfa_phone", "201-555-0199");
    let (status, _, body) = post_from(&t.app.browser, &page, &page, &fields).await;
    assert_eq!(status, 303, "{body}");
    let stored = store::phone_of(&t.app.db, id).await.unwrap().unwrap();
    assert_eq!(stored.phone.e164(), "+12015550199");
    assert_eq!(stored.authy_id, None);

    // A new API key: every stored gateway id is forgotten.
    let other = t.account_with_phone("two@example.com", Role::Customer);
    sign_in_with_code(&t, "two@example.com").await;
    assert!(store::phone_of(&t.app.db, other)
        .await
        .unwrap()
        .unwrap()
        .authy_id
        .is_some());
    let res = t
        .app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", "another-key-456"), ("customer_enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        store::phone_of(&t.app.db, other)
            .await
            .unwrap()
            .unwrap()
            .authy_id,
        None
    );
    assert!(t.audit_events().iter().any(|(e, _)| e == "settings_change"));
}

#[tokio::test]
async fn settings_page_shows_mode_base_url_and_gateway_health() {
    let t = setup(true, false).await;
    let (status, page) = t
        .app
        .browser
        .get_text("/admin/addons/two_factor/settings")
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Gateway status"), "{page}");
    let shown = t.gw.base_url.replace('/', "&#x2F;");
    assert!(page.contains(&shown), "base URL shown");
    assert!(page.contains("test") && page.contains("answers"), "{page}");
    assert!(t
        .gw
        .requests()
        .iter()
        .any(|r| r.contains("/protected/json/app/details")));
    assert!(!page.contains(API_KEY), "never the key");
}
