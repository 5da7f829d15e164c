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
