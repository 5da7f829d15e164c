//! The storefront host over HTTP: accounts, the three login pipelines,
//! sessions, CSRF, forced password change, checkout, admin and addons.

use storefront_2fa::plugin::Role;

use crate::helpers::{location, session_cookie, spawn_app, spawn_app_with, Browser, TestApp};

const GENERIC: &str = "Those sign-in details are not right, or the account is temporarily locked.";

#[tokio::test]
async fn healthz_reports_the_database() {
    let app = spawn_app().await;
    let res = app.browser.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["database"]["reachable"], true);
    assert_eq!(json["status"], "ok");
}

#[tokio::test]
async fn catalog_shows_demo_products_and_unknown_pages_are_404_pages() {
    let app = spawn_app().await;
    let (status, body) = app.browser.get_text("/").await;
    assert_eq!(status, 200);
    assert!(body.contains("Espresso beans"), "demo products are seeded");
    let (status, body) = app.browser.get_text("/products/ceramic-mug").await;
    assert_eq!(status, 200);
    assert!(body.contains("$12.00"));
    let (status, body) = app.browser.get_text("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(body.contains("Page not found") && body.contains("<html"));
    assert_eq!(app.browser.get("/products/nope").await.status(), 404);
}

#[tokio::test]
async fn registration_signs_the_customer_in_with_a_new_session_id() {
    let app = spawn_app().await;
    let b = &app.browser;
    b.get("/register").await;
    let before = b.cookie().expect("anonymous cookie");
    let res = b
        .post_form(
            "/register",
            &[
                ("email", "Shopper@Example.com"),
                ("name", "Sam"),
                ("password", "blue-kettle-42"),
                ("confirm_password", "blue-kettle-42"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/account");
    let after = session_cookie(&res).expect("new session cookie");
    assert_ne!(before, after, "session id rotates at login");
    let (status, body) = b.get_text("/account").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("shopper@example.com"),
        "email stored lower-cased"
    );

    // The same email again is a field error, and nothing else is created.
    let other = app.new_browser();
    let res = other
        .post_form(
            "/register",
            &[
                ("email", "shopper@example.com"),
                ("password", "another-pass-9"),
                ("confirm_password", "another-pass-9"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("already exists"));
}

#[tokio::test]
async fn registration_errors_are_shown_next_to_fields_and_nothing_is_saved() {
    let app = spawn_app().await;
    let res = app
        .browser
        .post_form(
            "/register",
            &[
                ("email", "not-an-email"),
                ("password", "short"),
                ("confirm_password", "other"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("name@example.com"), "email error shown");
    assert!(
        body.contains("at least 8 characters"),
        "password error shown"
    );
    assert!(body.contains("The two passwords differ."));
    let (rows, total) =
        storefront_2fa::host::accounts::search(&mut app.db.get().unwrap(), "", 1, 10).unwrap();
    assert_eq!((rows.len(), total), (0, 0));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_generic_message() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    let wrong = app
        .browser
        .login("/login", "ann@example.com", "wrong-password")
        .await;
    assert_eq!(wrong.status(), 401);
    let wrong = wrong.text().await.unwrap();
    let unknown = app
        .new_browser()
        .login("/login", "nobody@example.com", "wrong-password")
        .await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    assert!(wrong.contains(GENERIC) && unknown.contains(GENERIC));
    assert_eq!(
        app.browser.get("/account").await.status(),
        303,
        "still signed out"
    );
}

#[tokio::test]
async fn admin_interface_takes_admins_and_vendors_but_refuses_customers() {
    let app = spawn_app().await;
    app.create_account("admin@example.com", "admin-password-1", Role::Admin);
    app.create_account("vendor@example.com", "vendor-password-1", Role::Vendor);
    app.create_account("cust@example.com", "cust-password-1", Role::Customer);

    let admin = app.new_browser();
    let res = admin
        .login("/admin/login", "admin@example.com", "admin-password-1")
        .await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/admin".into())
    );
    assert_eq!(admin.get("/admin/users").await.status(), 200);

    let vendor = app.new_browser();
    let res = vendor
        .login("/admin/login", "vendor@example.com", "vendor-password-1")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(vendor.get("/admin").await.status(), 200);
    assert_eq!(
        vendor.get("/admin/users").await.status(),
        403,
        "vendors do not manage users"
    );

    let customer = app.new_browser();
    let res = customer
        .login("/admin/login", "cust@example.com", "cust-password-1")
        .await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains(GENERIC));
    assert_eq!(
        customer.get("/admin").await.status(),
        303,
        "no session was created"
    );
    // Signed in on the storefront, a customer still cannot open the admin.
    customer
        .login("/login", "cust@example.com", "cust-password-1")
        .await;
    assert_eq!(customer.get("/admin").await.status(), 403);
}

#[tokio::test]
async fn post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.browser.get("/register").await;
    let fields = [
        ("email", "csrf@example.com"),
        ("password", "blue-kettle-42"),
        ("confirm_password", "blue-kettle-42"),
    ];
    let res = app.browser.post_raw("/register", &fields).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Form expired"));
    let mut with_bad = fields.to_vec();
    with_bad.push(("csrf_token", "forged"));
    assert_eq!(
        app.browser.post_raw("/register", &with_bad).await.status(),
        403
    );
    // A token from another browser's session does not work either.
    let other = app.new_browser();
    let foreign = other.csrf().await;
    let mut with_foreign = fields.to_vec();
    with_foreign.push(("csrf_token", &foreign));
    assert_eq!(
        app.browser
            .post_raw("/register", &with_foreign)
            .await
            .status(),
        403
    );
    let exists =
        storefront_2fa::host::accounts::by_email(&mut app.db.get().unwrap(), "csrf@example.com")
            .unwrap();
    assert!(exists.is_none());
}

#[tokio::test]
async fn login_rotates_the_session_and_logout_kills_it_server_side() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    let b = &app.browser;
    b.get("/login").await;
    let anonymous = b.cookie().unwrap();
    let res = b
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    assert_eq!(res.status(), 303);
    let signed_in = b.cookie().unwrap();
    assert_ne!(anonymous, signed_in);
    assert_eq!(b.get("/account").await.status(), 200);

    // The pre-login id grants nothing.
    let replay = app.new_browser();
    replay.set_cookie(&anonymous);
    assert_eq!(replay.get("/account").await.status(), 303);

    // Logout deletes the session row: the old cookie value is dead.
    let res = b.post_form("/logout", &[]).await;
    assert_eq!(res.status(), 303);
    let stolen = app.new_browser();
    stolen.set_cookie(&signed_in);
    assert_eq!(stolen.get("/account").await.status(), 303);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    app.browser
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    assert_eq!(app.browser.get("/account").await.status(), 200);
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE sessions SET last_seen_at = last_seen_at - 3600"),
        &mut *app.db.get().unwrap(),
    )
    .unwrap();
    assert_eq!(app.browser.get("/account").await.status(), 303);
}

#[tokio::test]
async fn only_local_paths_are_followed_after_login() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    let res = app
        .browser
        .post_form(
            "/login",
            &[
                ("email", "ann@example.com"),
                ("password", "right-password-1"),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/");
    let b = app.new_browser();
    let res = b
        .post_form(
            "/login",
            &[
                ("email", "ann@example.com"),
                ("password", "right-password-1"),
                ("next", "/cart"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/cart");
}

#[tokio::test]
async fn forced_password_change_comes_before_anything_else() {
    let app = spawn_app().await;
    app.login_admin().await;
    let user = app.create_account("vera@example.com", "first-password-1", Role::Vendor);
    let res = app
        .browser
        .post_form(
            &format!("/admin/users/{user}"),
            &[
                ("email", "vera@example.com"),
                ("name", "Vera"),
                ("role", "vendor"),
                ("must_change_password", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);

    let vera = app.new_browser();
    let res = vera
        .login("/admin/login", "vera@example.com", "first-password-1")
        .await;
    assert_eq!(location(&res), "/admin/login/change-password");
    // The pending login grants nothing: every page sends her back.
    for page in ["/admin", "/account", "/admin/users"] {
        let res = vera.get(page).await;
        assert_eq!(location(&res), "/admin/login/change-password", "{page}");
    }
    let res = vera
        .post_form(
            "/admin/login/change-password",
            &[("new_password", "short"), ("confirm_password", "short")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = vera
        .post_form(
            "/admin/login/change-password",
            &[
                ("new_password", "second-password-2"),
                ("confirm_password", "second-password-2"),
            ],
        )
        .await;
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/admin".into())
    );
    assert_eq!(vera.get("/admin").await.status(), 200);
    // The flag is cleared and the old password is gone.
    let again = app.new_browser();
    assert_eq!(
        again
            .login("/admin/login", "vera@example.com", "first-password-1")
            .await
            .status(),
        401
    );
    let res = again
        .login("/admin/login", "vera@example.com", "second-password-2")
        .await;
    assert_eq!(location(&res), "/admin");
}

#[tokio::test]
async fn checkout_sends_a_logged_out_shopper_through_login_and_back() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    let b = &app.browser;
    let (_, home) = b.get_text("/").await;
    assert!(home.contains("Add to cart"));
    let res = b
        .post_form("/cart/add", &[("product_id", "1"), ("quantity", "2")])
        .await;
    assert_eq!(location(&res), "/cart");
    let (status, page) = b.get_text("/checkout").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("action=\"/checkout/login\""),
        "login step shown"
    );
    assert!(page.contains("$49.00"), "cart summary on the login step");
    let res = b
        .login("/checkout/login", "ann@example.com", "right-password-1")
        .await;
    assert_eq!(location(&res), "/checkout");
    let (_, page) = b.get_text("/checkout").await;
    assert!(
        page.contains("Place order") && page.contains("$49.00"),
        "the cart followed the shopper"
    );
    let res = b.post_form("/checkout/place", &[]).await;
    let order = location(&res);
    assert!(order.starts_with("/orders/"), "{order}");
    let (status, page) = b.get_text(&order).await;
    assert_eq!(status, 200);
    assert!(page.contains("is placed") && page.contains("Espresso beans"));
    let (_, cart) = b.get_text("/cart").await;
    assert!(cart.contains("Your cart is empty"));
    // Another customer cannot see the order.
    app.create_account("bob@example.com", "bob-password-1", Role::Customer);
    let bob = app.new_browser();
    bob.login("/login", "bob@example.com", "bob-password-1")
        .await;
    assert_eq!(bob.get(&order).await.status(), 404);
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let app = spawn_app().await;
    let b = &app.browser;
    let token = b.csrf().await;
    let big = "x".repeat(70 * 1024);
    let res = b
        .client
        .post(b.url("/login"))
        .form(&[("csrf_token", token.as_str()), ("email", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("64 KiB"));
    let res = b
        .client
        .post(b.url("/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-csrf-token", &token)
        .body("product_id=%FF%FE&quantity=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = b
        .post_form("/cart/add", &[("product_id", "1"), ("quantity", "-5")])
        .await;
    assert_eq!(res.status(), 400);
    let res = b
        .post_form("/cart/add", &[("product_id", "999"), ("quantity", "1")])
        .await;
    assert_eq!(res.status(), 404);
    let res = b
        .post_form(
            "/login",
            &[("email", "ann\u{202e}@example.com"), ("password", "\u{0}")],
        )
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn admin_users_list_searches_and_pages() {
    let app = spawn_app().await;
    app.login_admin().await;
    for i in 0..25 {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let email =
            storefront_2fa::host::email::Email::parse(&format!("user{i:02}@shop.example")).unwrap();
        storefront_2fa::host::accounts::insert(
            &mut app.db.get().unwrap(),
            &email,
            hash,
            Role::Customer,
            "",
        )
        .unwrap();
    }
    let (_, page1) = app.browser.get_text("/admin/users?q=shop.example").await;
    assert!(page1.contains("25 account(s)") && page1.contains("Page 1 of 2"));
    let (_, page2) = app
        .browser
        .get_text("/admin/users?q=shop.example&page=2")
        .await;
    assert!(page2.contains("user00@shop.example") && !page2.contains("user24@shop.example"));
    let (_, one) = app.browser.get_text("/admin/users?q=user07").await;
    assert!(one.contains("1 account(s)") && one.contains("user07@shop.example"));
    let (_, none) = app.browser.get_text("/admin/users?q=%25").await;
    assert!(none.contains("0 account(s)"), "LIKE wildcards are escaped");
}

#[tokio::test]
async fn addons_are_enabled_configured_and_secrets_never_echoed() {
    let app = spawn_app().await;
    app.login_admin().await;
    let b = &app.browser;
    let (_, page) = b.get_text("/admin/addons").await;
    assert!(page.contains("Two Factor Authentication") && page.contains("Disabled"));
    let res = b.post_form("/admin/addons/two_factor/enable", &[]).await;
    assert_eq!(location(&res), "/admin/addons");
    let (_, page) = b.get_text("/admin/addons").await;
    assert!(page.contains("Enabled"));

    let (status, form) = b.get_text("/admin/addons/two_factor/settings").await;
    assert_eq!(status, 200);
    for label in [
        "API key",
        "Production mode",
        "customer interface",
        "administrator interface",
    ] {
        assert!(form.contains(label), "{label}");
    }
    let res = b
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("api_key", "super-secret-key-123"),
                ("customer_enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, form) = b.get_text("/admin/addons/two_factor/settings").await;
    assert!(
        !form.contains("super-secret-key-123"),
        "secret is never echoed"
    );
    assert!(form.contains("stored; leave empty to keep"));
    assert!(form.contains("name=\"customer_enabled\" type=\"checkbox\" checked"));
    // Stored encrypted.
    let raw: Vec<String> = diesel::RunQueryDsl::load(
        diesel::QueryDsl::select(
            storefront_2fa::db::schema::addon_settings::table,
            storefront_2fa::db::schema::addon_settings::value,
        ),
        &mut *app.db.get().unwrap(),
    )
    .unwrap();
    assert!(raw.iter().any(|v| v.starts_with("enc:v1:")));
    assert!(raw.iter().all(|v| !v.contains("super-secret")));
    // Saving again with an empty key keeps it.
    b.post_form("/admin/addons/two_factor/settings", &[("api_key", "")])
        .await;
    let (_, form) = b.get_text("/admin/addons/two_factor/settings").await;
    assert!(form.contains("stored; leave empty to keep"));
    assert!(
        !form.contains("name=\"customer_enabled\" type=\"checkbox\" checked"),
        "unticked box saved as off"
    );
    // Disabling: routes under the addon's prefixes answer 404.
    b.post_form("/admin/addons/two_factor/disable", &[]).await;
    assert_eq!(b.get("/two-factor/verify").await.status(), 404);
    assert_eq!(b.get("/admin/two-factor/audit").await.status(), 404);
    // Non-admins cannot reach addon settings.
    let anon = app.new_browser();
    assert_eq!(anon.get("/admin/addons").await.status(), 303);
    assert_eq!(
        anon.post_form("/admin/addons/two_factor/enable", &[])
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn profile_changes_of_email_need_the_current_password() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    app.browser
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    let res = app
        .browser
        .post_form("/account", &[("email", "new@example.com"), ("name", "Ann")])
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .browser
        .post_form(
            "/account",
            &[
                ("email", "new@example.com"),
                ("name", "Ann"),
                ("current_password", "right-password-1"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account?saved=profile");
    let (_, page) = app.browser.get_text("/account").await;
    assert!(page.contains("new@example.com"));
}

#[tokio::test]
async fn password_change_ends_other_sessions() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    let laptop = app.new_browser();
    let phone = app.new_browser();
    laptop
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    phone
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    let before = laptop.cookie().unwrap();
    let res = laptop
        .post_form(
            "/account/password",
            &[
                ("current_password", "right-password-1"),
                ("new_password", "next-password-2"),
                ("confirm_password", "next-password-2"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account?saved=password");
    assert_ne!(laptop.cookie().unwrap(), before, "session id rotated");
    assert_eq!(laptop.get("/account").await.status(), 200);
    assert_eq!(
        phone.get("/account").await.status(),
        303,
        "other session ended"
    );
}

#[tokio::test]
async fn disabled_addons_do_not_challenge() {
    let (_addon, factory) = crate::example_addon::only_word_check();
    let app = spawn_app_with(factory, |_| {}).await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    let b = Browser::new(&app.address);
    let res = b
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    assert_eq!(location(&res), "/", "addon disabled: no challenge");
    assert_eq!(b.get("/word-check").await.status(), 404);
}

#[tokio::test]
async fn the_right_password_clears_earlier_wrong_ones() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    let failures = |app: &TestApp| -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::RunQueryDsl::get_result::<N>(
            diesel::sql_query("SELECT count(*) AS n FROM login_failures"),
            &mut *app.db.get().unwrap(),
        )
        .unwrap()
        .n
    };
    // Nine wrong, the right one, nine wrong again: 18 wrong in the window,
    // but never ten in a row, so the account is never locked.
    for round in 0..2 {
        for i in 0..9 {
            let res = app
                .new_browser()
                .login("/login", "ann@example.com", &format!("wrong-{round}-{i}"))
                .await;
            assert_eq!(res.status(), 401);
        }
        assert_eq!(failures(&app), 1, "the failures are on record");
        let res = app
            .new_browser()
            .login("/login", "ann@example.com", "right-password-1")
            .await;
        assert_eq!(res.status(), 303, "round {round}: not locked");
        assert_eq!(failures(&app), 0, "the right password cleared them");
    }
}

#[tokio::test]
async fn password_guessing_locks_the_account_with_the_generic_message() {
    let app = spawn_app().await;
    app.create_account("ann@example.com", "right-password-1", Role::Customer);
    // Ten concurrent wrong guesses fill the window.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let b = app.new_browser();
        tasks.push(tokio::spawn(async move {
            b.login("/login", "ann@example.com", &format!("wrong-password-{i}"))
                .await
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 401);
    }
    let res = app
        .browser
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    assert_eq!(
        res.status(),
        401,
        "locked: even the right password is refused"
    );
    assert!(res.text().await.unwrap().contains(GENERIC));
    // After the lock runs out the right password works again.
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE login_failures SET locked_until = 0"),
        &mut *app.db.get().unwrap(),
    )
    .unwrap();
    let res = app
        .browser
        .login("/login", "ann@example.com", "right-password-1")
        .await;
    assert_eq!(res.status(), 303);
}
