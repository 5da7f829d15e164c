//! The addon API, exercised by the example "word check" addon that uses
//! only `storefront_2fa::plugin`.

use storefront_2fa::plugin::Role;

use crate::example_addon::only_word_check;
use crate::helpers::{location, spawn_app_with, Browser, TestApp};

async fn app_with_word_check() -> (TestApp, std::sync::Arc<crate::example_addon::WordCheck>) {
    let (addon, factory) = only_word_check();
    let app = spawn_app_with(factory, |_| {}).await;
    storefront_2fa::plugin::AddonRegistry::new(vec![])
        .set_enabled(&app.db, "word_check", true)
        .await
        .unwrap();
    (app, addon)
}

fn word_on(page: &str) -> String {
    let start =
        page.find("<strong id=\"word\">").expect("word shown") + "<strong id=\"word\">".len();
    page[start..start + page[start..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn example_addon_challenges_every_role_through_the_public_api() {
    let (app, _) = app_with_word_check().await;
    let cases = [
        ("admin@example.com", Role::Admin, "/admin/login", "/admin"),
        ("vendor@example.com", Role::Vendor, "/admin/login", "/admin"),
        ("cust@example.com", Role::Customer, "/login", "/"),
    ];
    for (email, role, form, home) in cases {
        app.create_account(email, "a-good-password-1", role);
        let b = app.new_browser();
        let res = b.login(form, email, "a-good-password-1").await;
        assert_eq!(location(&res), "/word-check", "{email} is challenged");
        // A pending login grants nothing.
        for page in ["/account", "/admin", "/checkout"] {
            let res = b.get(page).await;
            assert_eq!(
                location(&res),
                "/word-check",
                "{email}: {page} sends back to the challenge"
            );
        }
        let (status, page) = b.get_text("/word-check").await;
        assert_eq!(status, 200);
        let word = word_on(&page);
        let res = b.post_form("/word-check", &[("word", "wrong")]).await;
        assert_eq!(res.status(), 401);
        let before = b.cookie().unwrap();
        let res = b.post_form("/word-check", &[("word", &word)]).await;
        assert_eq!(location(&res), home, "{email} signed in");
        assert_ne!(
            b.cookie().unwrap(),
            before,
            "completion rotates the session id"
        );
        assert_eq!(b.get("/account").await.status(), 200);
    }
}

#[tokio::test]
async fn a_pending_login_expires_and_can_be_voided_by_the_addon() {
    let (app, _) = app_with_word_check().await;
    app.create_account("cust@example.com", "a-good-password-1", Role::Customer);
    let b = app.new_browser();
    b.login("/login", "cust@example.com", "a-good-password-1")
        .await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query("UPDATE pending_logins SET expires_at = expires_at - 601"),
        &mut *app.db.get().unwrap(),
    )
    .unwrap();
    assert_eq!(location(&b.get("/word-check").await), "/login");
    assert!(location(&b.get("/account").await).starts_with("/login"));

    // Attempts are counted by the host; the addon voids after too many.
    let b = app.new_browser();
    b.login("/login", "cust@example.com", "a-good-password-1")
        .await;
    for _ in 0..3 {
        assert_eq!(
            b.post_form("/word-check", &[("word", "nope")])
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        location(&b.post_form("/word-check", &[("word", "nope")]).await),
        "/login"
    );
    assert_eq!(location(&b.get("/word-check").await), "/login", "voided");
}

#[tokio::test]
async fn concurrent_completions_sign_in_once() {
    let (app, _) = app_with_word_check().await;
    app.create_account("cust@example.com", "a-good-password-1", Role::Customer);
    let b = app.new_browser();
    b.login("/login", "cust@example.com", "a-good-password-1")
        .await;
    let (_, page) = b.get_text("/word-check").await;
    let word = word_on(&page);
    let token = b.csrf().await;
    // Three at once: the example addon voids the pending login from the
    // fourth counted attempt on, which would race with the winner.
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let client = b.client.clone();
        let url = b.url("/word-check");
        let form = vec![
            ("word".to_string(), word.clone()),
            ("csrf_token".to_string(), token.clone()),
        ];
        tasks.push(tokio::spawn(async move {
            client.post(url).form(&form).send().await.unwrap()
        }));
    }
    let mut signed_in = 0;
    for t in tasks {
        let res = t.await.unwrap();
        if res
            .cookies()
            .any(|c| c.name() == "sf_session" && !c.value().is_empty())
            && location(&res) == "/"
        {
            signed_in += 1;
        }
    }
    assert_eq!(signed_in, 1, "exactly one completion creates a session");
    let sessions: i64 = diesel::RunQueryDsl::get_result(
        diesel::QueryDsl::count(diesel::QueryDsl::filter(
            storefront_2fa::db::schema::sessions::table,
            diesel::ExpressionMethods::is_not_null(
                storefront_2fa::db::schema::sessions::account_id,
            ),
        )),
        &mut *app.db.get().unwrap(),
    )
    .unwrap();
    assert_eq!(sessions, 1);
}

#[tokio::test]
async fn addon_profile_fields_appear_validate_and_save_on_all_three_forms() {
    let (app, addon) = app_with_word_check().await;
    let b = Browser::new(&app.address);
    let (_, page) = b.get_text("/register").await;
    assert!(page.contains("Favourite word"));
    let res = b
        .post_form(
            "/register",
            &[
                ("email", "new@example.com"),
                ("password", "a-good-password-1"),
                ("confirm_password", "a-good-password-1"),
                ("favourite_word", "not valid!"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Use up to 20 letters."));
    assert!(
        storefront_2fa::host::accounts::by_email(&mut app.db.get().unwrap(), "new@example.com")
            .unwrap()
            .is_none(),
        "an addon field error saves nothing"
    );
    let res = b
        .post_form(
            "/register",
            &[
                ("email", "new@example.com"),
                ("password", "a-good-password-1"),
                ("confirm_password", "a-good-password-1"),
                ("favourite_word", "river"),
            ],
        )
        .await;
    // The new account is challenged like any login.
    assert_eq!(location(&res), "/word-check");
    let id =
        storefront_2fa::host::accounts::by_email(&mut app.db.get().unwrap(), "new@example.com")
            .unwrap()
            .unwrap()
            .id;
    assert_eq!(
        addon
            .favourites
            .lock()
            .unwrap()
            .get(&id)
            .map(String::as_str),
        Some("river")
    );

    // The admin's user page shows and saves the field too.
    let admin_id = app.create_account("admin@example.com", "a-good-password-1", Role::Admin);
    let admin = app.new_browser();
    admin
        .login("/admin/login", "admin@example.com", "a-good-password-1")
        .await;
    let (_, page) = admin.get_text("/word-check").await;
    admin
        .post_form("/word-check", &[("word", &word_on(&page))])
        .await;
    let (_, page) = admin.get_text(&format!("/admin/users/{id}")).await;
    assert!(page.contains("Favourite word") && page.contains("value=\"river\""));
    admin
        .post_form(
            &format!("/admin/users/{id}"),
            &[
                ("email", "new@example.com"),
                ("role", "customer"),
                ("favourite_word", "meadow"),
            ],
        )
        .await;
    assert_eq!(
        addon
            .favourites
            .lock()
            .unwrap()
            .get(&id)
            .map(String::as_str),
        Some("meadow")
    );
    // The account page, and the logout hook.
    let res = admin
        .post_form(
            "/account",
            &[("email", "admin@example.com"), ("favourite_word", "copper")],
        )
        .await;
    assert_eq!(location(&res), "/account?saved=profile");
    assert_eq!(
        addon
            .favourites
            .lock()
            .unwrap()
            .get(&admin_id)
            .map(String::as_str),
        Some("copper")
    );
    admin.post_form("/admin/logout", &[]).await;
    assert_eq!(addon.logouts.lock().unwrap().as_slice(), &[admin_id]);
}

/// Each addon gets a handle scoped to itself: its own key, derived from the
/// store's (never the store's key, which signs CSRF tokens), and its own
/// settings only. What it sealed is its own; what an older release sealed
/// with the store's key still opens.
#[tokio::test]
async fn each_addon_has_its_own_key_and_reads_only_its_own_settings() {
    use diesel::prelude::*;
    use storefront_2fa::db::schema::addon_settings;
    use storefront_2fa::startup::{default_addons, Application};
    use storefront_2fa::two_factor::schema::tfa_totp;

    let app = crate::two_factor_app::app_with_addon().await;
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", "scoped-key-1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let e = crate::two_factor_app::enrol(&app, "cust@example.com", Role::Customer).await;
    let store_key = app.secret_key();
    let addon_key = store_key.for_addon("two_factor");
    let mut conn = app.db.get().unwrap();
    let sealed_secret: String = tfa_totp::table
        .find(e.id)
        .select(tfa_totp::secret)
        .first(&mut conn)
        .unwrap();
    assert!(
        store_key.decrypt(&sealed_secret).is_err(),
        "not the store key"
    );
    assert_eq!(
        addon_key.decrypt(&sealed_secret).unwrap().replace(' ', ""),
        e.secret
    );
    let sealed_api_key: String = addon_settings::table
        .filter(addon_settings::key.eq("api_key"))
        .select(addon_settings::value)
        .first(&mut conn)
        .unwrap();
    assert!(store_key.decrypt(&sealed_api_key).is_err());
    assert_eq!(addon_key.decrypt(&sealed_api_key).unwrap(), "scoped-key-1");
    drop(conn);

    // The handles themselves, from a second instance on the same database.
    let built = Application::build_with(app.settings.clone(), default_addons)
        .await
        .unwrap();
    let state = built.state();
    let two_factor = state.handle_for("two_factor");
    assert_eq!(two_factor.secret_key().to_base64(), addon_key.to_base64());
    assert_eq!(
        two_factor
            .addon_settings("two_factor")
            .await
            .unwrap()
            .text("api_key"),
        "scoped-key-1"
    );
    let other = state.handle_for("word_check");
    assert_ne!(other.secret_key().to_base64(), store_key.to_base64());
    assert_ne!(other.secret_key().to_base64(), addon_key.to_base64());
    assert_eq!(
        other
            .addon_settings("two_factor")
            .await
            .unwrap()
            .text("api_key"),
        "",
        "another addon's settings are not readable"
    );
}

/// Two addons in one store: a sign-in held by one addon's challenge is not
/// the other's to complete. Here the word check, whose page any signed-out
/// visitor can pass, must not complete a sign-in the two-factor addon is
/// holding for its texted code.
#[tokio::test]
async fn one_addon_cannot_complete_a_sign_in_another_addon_holds() {
    use storefront_2fa::startup::{default_addons, AddonContext, AddonList};
    let (_, word_check) = only_word_check();
    let factory = move |ctx: &AddonContext<'_>| -> AddonList {
        let mut all = default_addons(ctx);
        all.extend(word_check(ctx));
        all
    };
    let app = spawn_app_with(factory, |_| {}).await;
    app.login_admin().await;
    for id in ["two_factor", "word_check"] {
        let res = app
            .browser
            .post_form(&format!("/admin/addons/{id}/enable"), &[])
            .await;
        assert_eq!(res.status(), 303);
    }
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", "two-addons-key"), ("customer_enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = app.create_account("cust@example.com", "a-good-password-1", Role::Customer);
    app.add_phone(id, "2015550123", crate::helpers::SmsSetUp::Complete);
    let b = app.new_browser();
    let res = b
        .login("/login", "cust@example.com", "a-good-password-1")
        .await;
    assert_eq!(
        location(&res),
        "/two-factor/verify",
        "the first addon holds it"
    );
    // The word check's page does not see the sign-in, so it offers no word.
    let res = b.get("/word-check").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    for word in [
        "apple", "river", "copper", "meadow", "lantern", "pepper", "harbor", "violet",
    ] {
        let (status, _, _) =
            crate::helpers::post_from(&b, "/login", "/word-check", &[("word", word)]).await;
        assert_ne!(status, 200);
    }
    assert!(
        location(&b.get("/account").await).starts_with("/two-factor/verify"),
        "still held for the texted code, not signed in"
    );
}
