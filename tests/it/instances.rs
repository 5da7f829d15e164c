//! Two instances of the store on one database behave as one store.

use storefront_2fa::plugin::Role;

use crate::helpers::{location, spawn_app, Browser};

#[tokio::test]
async fn sessions_and_csrf_tokens_work_across_instances() {
    let a = spawn_app().await;
    let b = a.spawn_sibling().await;
    assert_ne!(a.port, b.port);
    a.create_account("ann@example.com", "right-password-1", Role::Customer);

    let on_a = Browser::new(&a.address);
    let res = on_a
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    assert_eq!(res.status(), 303);
    let cookie = on_a.cookie().unwrap();

    // The same session cookie, sent to the other instance.
    let on_b = Browser::new(&b.address);
    on_b.set_cookie(&cookie);
    let (status, page) = on_b.get_text("/account").await;
    assert_eq!(status, 200);
    assert!(page.contains("ann@example.com"));
    // A form rendered by A is accepted by B (shared secret key).
    let (_, account_page) = on_a.get_text("/account").await;
    let token = crate::helpers::extract_csrf(&account_page);
    let res = on_b
        .client
        .post(on_b.url("/cart/add"))
        .form(&[
            ("product_id", "2"),
            ("quantity", "1"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/cart");
    let (_, cart) = on_a.get_text("/cart").await;
    assert!(
        cart.contains("Pour-over kettle"),
        "cart added via B shows on A"
    );
    // Logging out on B ends the session everywhere.
    on_b.post_form("/logout", &[]).await;
    assert_eq!(on_a.get("/account").await.status(), 303);
}

#[tokio::test]
async fn an_addon_switched_off_on_one_instance_is_off_on_the_other_within_a_second() {
    let a = spawn_app().await;
    let b = a.spawn_sibling().await;
    a.login_admin().await;
    a.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    let on_b = Browser::new(&b.address);
    on_b.set_cookie(&a.browser.cookie().unwrap());
    // B has read the addon state (and may keep it up to CACHE_TTL).
    assert_eq!(on_b.get("/admin/two-factor/audit").await.status(), 200);
    a.browser
        .post_form("/admin/addons/two_factor/disable", &[])
        .await;
    assert_eq!(a.browser.get("/admin/two-factor/audit").await.status(), 404);
    tokio::time::sleep(storefront_2fa::plugin::registry::CACHE_TTL).await;
    assert_eq!(
        on_b.get("/admin/two-factor/audit").await.status(),
        404,
        "B follows A's change within the cache time"
    );
}

mod two_factor {
    use crate::helpers::{extract_csrf, location, spawn_app, Browser, SmsSetUp, TestApp};
    use storefront_2fa::plugin::Role;

    const PASSWORD: &str = "a-good-password-1";
    const KEY: &str = "shared-sandbox-key";
    const NATIONAL: &str = "2015550142";

    async fn two_instances() -> (TestApp, TestApp) {
        let a = spawn_app().await;
        a.login_admin().await;
        a.browser
            .post_form("/admin/addons/two_factor/enable", &[])
            .await;
        a.browser
            .post_form(
                "/admin/addons/two_factor/settings",
                &[("api_key", KEY), ("customer_enabled", "on")],
            )
            .await;
        let b = a.spawn_sibling().await;
        let id = a.create_account("cust@example.com", PASSWORD, Role::Customer);
        a.add_phone(id, NATIONAL, SmsSetUp::Complete);
        (a, b)
    }

    async fn code_from(app: &TestApp) -> String {
        let res = app
            .browser
            .client
            .get(
                app.browser
                    .url(&format!("/sandbox/authy/outbox?phone={NATIONAL}&limit=1")),
            )
            .header("X-Authy-API-Key", KEY)
            .send()
            .await
            .unwrap();
        let list: serde_json::Value = res.json().await.unwrap();
        list[0]["text"]
            .as_str()
            .unwrap()
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    }

    /// A browser on `base` that carries `cookie` (the same shopper, routed
    /// to another instance by the load balancer).
    fn same_shopper_on(base: &str, cookie: &str) -> Browser {
        let b = Browser::new(base);
        b.set_cookie(cookie);
        b
    }

    async fn post(b: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let (_, page) = b.get_text("/login").await;
        let token = extract_csrf(&page);
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        b.client.post(b.url(path)).form(&all).send().await.unwrap()
    }

    #[tokio::test]
    async fn a_pending_login_and_its_code_move_between_instances() {
        let (a, b) = two_instances().await;
        let on_a = Browser::new(&a.address);
        assert_eq!(
            location(&on_a.login("/login", "cust@example.com", PASSWORD).await),
            "/two-factor/verify"
        );
        assert_eq!(
            on_a.get("/two-factor/verify").await.status(),
            200,
            "code sent via A"
        );
        let code = code_from(&b).await;
        let on_b = same_shopper_on(&b.address, &on_a.cookie().unwrap());
        let res = post(&on_b, "/two-factor/verify", &[("code", &code)]).await;
        assert_eq!(location(&res), "/", "verified via B");
        let signed_in = crate::helpers::session_cookie(&res).unwrap();
        let back_on_a = same_shopper_on(&a.address, &signed_in);
        assert_eq!(back_on_a.get("/account").await.status(), 200);
    }

    #[tokio::test]
    async fn resend_cooldown_is_shared() {
        let (a, b) = two_instances().await;
        let on_a = Browser::new(&a.address);
        on_a.login("/login", "cust@example.com", PASSWORD).await;
        on_a.get("/two-factor/verify").await;
        let on_b = same_shopper_on(&b.address, &on_a.cookie().unwrap());
        let res = post(&on_b, "/two-factor/send", &[("via", "sms")]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/two-factor/verify");
        // The refusal is kept for the next page, which either instance serves.
        let on_a_again = same_shopper_on(&a.address, &on_a.cookie().unwrap());
        let (_, page) = on_a_again.get_text("/two-factor/verify").await;
        assert!(page.contains("A code was sent moments ago"), "{page}");
    }

    #[tokio::test]
    async fn guesses_split_across_instances_lock_the_account_at_the_limit() {
        let (a, b) = two_instances().await;
        // Three pending logins, each guessing four times (under the
        // per-login limit of five), alternately through A and B, all at once.
        let mut browsers = Vec::new();
        for _ in 0..3 {
            let on_a = Browser::new(&a.address);
            on_a.login("/login", "cust@example.com", PASSWORD).await;
            let on_b = same_shopper_on(&b.address, &on_a.cookie().unwrap());
            browsers.push((on_a, on_b));
        }
        let mut tasks = Vec::new();
        for (on_a, on_b) in browsers {
            tasks.push(tokio::spawn(async move {
                for i in 0..4 {
                    let b = if i % 2 == 0 { &on_a } else { &on_b };
                    post(b, "/two-factor/verify", &[("code", "000000")]).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Twelve wrong codes: the account is locked everywhere; the right
        // code from a fresh sign-in is refused on both instances.
        let on_a = Browser::new(&a.address);
        on_a.login("/login", "cust@example.com", PASSWORD).await;
        on_a.get("/two-factor/verify").await;
        let code = code_from(&a).await;
        for base in [&a.address, &b.address] {
            let shopper = same_shopper_on(base, &on_a.cookie().unwrap());
            let res = post(&shopper, "/two-factor/verify", &[("code", &code)]).await;
            let loc = location(&res);
            assert!(loc != "/" && !loc.is_empty(), "locked on {base}: {loc}");
        }
    }
}

mod authenticator_app {
    use storefront_2fa::plugin::Role;

    use crate::two_factor_app::{
        app_with_addon, code, enrol, password_step, reset_last_step, submit,
    };

    #[tokio::test]
    async fn an_app_code_used_on_one_instance_is_refused_on_the_other() {
        let a = app_with_addon().await;
        let b = a.spawn_sibling().await;
        let e = enrol(&a, "app@example.com", Role::Customer).await;
        // Let the set-up's own code sign in once (no wait for the next step).
        let step = e.confirm_step;
        reset_last_step(&a, e.id, step - 2);
        let current = code(&e.secret, step);
        let on_a = password_step(&a, &e).await;
        let on_b = password_step(&b, &e).await;
        let (status, loc, _) = submit(&on_a, Role::Customer, &current, "app").await;
        assert_eq!((status, loc.as_str()), (303, "/"), "accepted on A");
        let (status, loc, _) = submit(&on_b, Role::Customer, &current, "app").await;
        assert_eq!(
            (status, loc.as_str()),
            (303, "/two-factor/app"),
            "the same code is refused on B"
        );
        // And a code of an earlier step too (the last used step is shared).
        let earlier = code(&e.secret, step - 1);
        let (status, loc, _) = submit(&on_b, Role::Customer, &earlier, "app").await;
        assert_eq!((status, loc.as_str()), (303, "/two-factor/app"));
    }
}
