//! The sandbox as the app mounts it under `/sandbox/authy`: it takes the
//! API key the store owner entered, and exists only in test mode while
//! the addon is enabled.

use crate::helpers::{spawn_app, spawn_app_with};

async fn details(app: &crate::helpers::TestApp, key: &str) -> u16 {
    app.browser
        .client
        .get(app.browser.url("/sandbox/authy/protected/json/app/details"))
        .header("X-Authy-API-Key", key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn mounted_sandbox_follows_the_addon_settings() {
    let app = spawn_app().await;
    // The addon is off: the sandbox answers nothing at all.
    assert_eq!(details(&app, "owner-key-1").await, 404);
    app.login_admin().await;
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    // No key configured yet: nothing is accepted.
    assert_eq!(details(&app, "owner-key-1").await, 401);
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", "owner-key-1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(details(&app, "owner-key-1").await, 200);
    assert_eq!(details(&app, "another-key").await, 401);
    // Production mode: the sandbox is not there at all.
    app.browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", ""), ("production_mode", "on")],
        )
        .await;
    assert_eq!(details(&app, "owner-key-1").await, 404);
}

#[tokio::test]
async fn operator_can_mount_it_in_production_with_its_own_key() {
    let app = spawn_app_with(storefront_2fa::startup::default_addons, |s| {
        s.sandbox.api_key = "operator-key".into();
        s.sandbox.mount_in_production = true;
    })
    .await;
    assert_eq!(details(&app, "operator-key").await, 200);
    assert_eq!(details(&app, "wrong").await, 401);
}
