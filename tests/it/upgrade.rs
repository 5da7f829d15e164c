//! A database made by the release before the addon owned its migrations
//! (every migration in one folder, secrets sealed with the store's key)
//! upgrades in place: the fixture was written by that release
//! (tests/fixtures/upgrade-from-2026-11-25: the database and what the
//! test needs to know about it). Sessions, phones, authenticator secrets,
//! recovery codes and access tokens all still work.

use storefront_2fa::startup::default_addons;

use crate::helpers::{location, post_from, spawn_app_with, Browser};
use crate::two_factor_app::{code, fresh_step};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/upgrade-from-2026-11-25"
);

#[tokio::test]
async fn a_database_from_the_previous_layout_upgrades_in_place_with_nothing_lost() {
    let facts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURE}/facts.json")).unwrap())
            .unwrap();
    let fact = |k: &str| facts[k].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("storefront.db");
    std::fs::copy(format!("{FIXTURE}/storefront.db"), &db_file).unwrap();
    let (url, key) = (
        format!("sqlite://{}", db_file.display()),
        fact("secret_key"),
    );
    let app = spawn_app_with(default_addons, move |s| {
        s.database.url = url;
        s.security.secret_key = key;
        // The fixture's session was made on the day it was written.
        s.session.idle_timeout_minutes = 10 * 365 * 24 * 60;
        s.session.absolute_timeout_minutes = 10 * 365 * 24 * 60;
    })
    .await;

    // The old key-value state was carried into its typed table: the code
    // the shopper was last sent stays bound to the sign-in that asked.
    {
        use diesel::prelude::*;
        use storefront_2fa::two_factor::schema::tfa_code_holders;
        let holders: Vec<(i64, String)> = tfa_code_holders::table
            .select((tfa_code_holders::account_id, tfa_code_holders::purpose))
            .load(&mut app.db.get().unwrap())
            .unwrap();
        assert_eq!(holders.len(), 1, "{holders:?}");
        assert_eq!(holders[0].1.len(), 43, "a pending login id: {holders:?}");
    }

    // The shopper's session from before the upgrade is still signed in.
    let b = Browser::new(&app.address);
    b.set_cookie(&fact("shopper_session"));
    let (status, page) = b.get_text("/account").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&fact("shopper_email")), "{page}");

    // The phone and the gateway key (sealed with the store's key) work.
    let shopper = app.new_browser();
    let res = shopper
        .login("/login", &fact("shopper_email"), &fact("password"))
        .await;
    assert_eq!(location(&res), "/two-factor/verify");
    let (status, page) = shopper.get_text("/two-factor/verify").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(r#"your phone <strong class="nowrap">+1 •••-•••-0123</strong>"#),
        "{page}"
    );
    let sms = crate::helpers::sandbox_code(
        &shopper.client,
        &shopper.url("/sandbox/authy"),
        &fact("shopper_phone"),
        &fact("api_key"),
    )
    .await;
    let (status, loc, _) = post_from(
        &shopper,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &sms)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/"));

    // The authenticator secret (sealed with the store's key) still checks.
    let step = fresh_step().await;
    assert!(step > facts["app_last_step"].as_i64().unwrap());
    let user = app.new_browser();
    let res = user
        .login("/login", &fact("app_email"), &fact("password"))
        .await;
    assert_eq!(location(&res), "/two-factor/app");
    let (status, loc, page) = post_from(
        &user,
        "/two-factor/app",
        "/two-factor/app",
        &[
            ("code", &code(&fact("app_secret"), step)),
            ("method", "app"),
        ],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/"), "{page}");

    // A recovery code (keyed with the store's key) still works, once.
    let codes: Vec<String> = facts["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    for accepted in [true, false] {
        let user = app.new_browser();
        user.login("/login", &fact("app_email"), &fact("password"))
            .await;
        let (status, loc, _) = post_from(
            &user,
            "/two-factor/app",
            "/two-factor/app",
            &[("code", &codes[0]), ("method", "recovery")],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(!crate::helpers::refused_to(&loc), accepted, "{loc}");
    }
    // "View recovery codes" still opens them (sealed with the store's key).
    let (status, _, page) = post_from(
        &user,
        "/account/security",
        "/account/security/recovery/view",
        &[("password", &fact("password"))],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("<del><code>{}</code></del>", codes[0])),
        "{page}"
    );
    assert!(
        page.contains(&format!("<li><code>{}</code></li>", codes[1])),
        "{page}"
    );

    // The personal access token still authenticates.
    let res = app
        .browser
        .client
        .get(app.browser.url("/api/v1/me"))
        .bearer_auth(fact("token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["email"], fact("app_email"));
}
