//! Random form and JSON bodies at every state-changing route (issue 20):
//! random field names (known and unknown), values of any type, size and
//! script, repeated fields and wrong content types. Each answer is a clear
//! refusal (never a 5xx, the server never falls over), and nothing the
//! request should not change has changed: accounts, passwords, roles,
//! addons and their settings, factors and tokens. (The cart routes are
//! fuzzed too, but a random body can be a valid "add to cart"; the
//! settings form is left out: a body without its checkboxes is a valid
//! "all off".)
//!
//! proptest drives real HTTP requests against one real server; the case
//! counts are bounded (see `CASES`).

use diesel::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use storefront_2fa::db::schema::{accounts, addon_settings, addons};
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::{
    tfa_api_tokens, tfa_phones, tfa_recovery_codes, tfa_totp,
};

use crate::helpers::{extract_csrf, Browser, TestApp};
use crate::two_factor_app::{app_with_addon, PASSWORD};

/// Requests per test: enough to hit every route with many shapes, few
/// enough for a 2-core CI machine.
const CASES: u32 = 96;

/// What must not change, as one comparable value.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    accounts: Vec<(i64, String, String, String, String, bool)>,
    addons: Vec<(String, bool)>,
    settings: Vec<(String, String, String)>,
    counts: [i64; 4],
}

fn fingerprint(app: &TestApp) -> Fingerprint {
    let mut c = app.db.get().unwrap();
    Fingerprint {
        accounts: accounts::table
            .order(accounts::id.asc())
            .select((
                accounts::id,
                accounts::email,
                accounts::password_hash,
                accounts::role,
                accounts::name,
                accounts::must_change_password,
            ))
            .load(&mut c)
            .unwrap(),
        addons: addons::table
            .order(addons::id.asc())
            .select((addons::id, addons::enabled))
            .load(&mut c)
            .unwrap(),
        settings: addon_settings::table
            .order((addon_settings::addon_id.asc(), addon_settings::key.asc()))
            .select((
                addon_settings::addon_id,
                addon_settings::key,
                addon_settings::value,
            ))
            .load(&mut c)
            .unwrap(),
        counts: [
            tfa_phones::table.count().get_result(&mut c).unwrap(),
            tfa_totp::table.count().get_result(&mut c).unwrap(),
            tfa_api_tokens::table.count().get_result(&mut c).unwrap(),
            tfa_recovery_codes::table
                .count()
                .get_result(&mut c)
                .unwrap(),
        ],
    }
}

/// Field names the forms read, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "email", "password", "confirm_password", "new_password", "name", "role",
            "must_change_password", "next", "product_id", "quantity", "code", "phone",
            "country", "via", "scope", "expires_days", "enabled", "production_mode",
            "api_key", "csrf_token", "remember", "current_password", "slug",
        ])
        .prop_map(str::to_string),
        1 => any::<String>(),
        1 => "[a-z_\\[\\]]{1,20}",
    ]
}

/// Values of any shape: numbers, huge numbers, Unicode, long text, empty.
fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,25}",
        "-?[0-9]{1,3}(\\.[0-9]{1,3})?(e[0-9]{1,4})?",
        any::<String>(),
        "\\PC{0,40}",
        Just("owner@example.com".to_string()),
        Just(PASSWORD.to_string()),
        Just("customer".to_string()),
        Just("admin".to_string()),
        (0usize..9000).prop_map(|n| "x".repeat(n)),
        Just(String::new()),
        Just("\u{202E}\u{200B}\u{0430}".to_string()),
    ]
}

/// A JSON value of any type, nested a little.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)),
        field_value().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(field_name(), inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The form routes that change something, for someone signed in as the
/// store owner (the admin ones) or as a customer.
const OWNER_ROUTES: &[&str] = &[
    "/admin/users/2",
    "/admin/users/1",
    "/admin/login",
    "/admin/account/security/app/confirm",
    "/admin/account/security/tokens",
    "/admin/account/security/disable",
    "/admin/account/security/recovery/regenerate",
    "/admin/login/change-password",
    "/admin/two-factor/account/new-phone/send",
    "/admin/two-factor/passkey-sign-in",
];
const CUSTOMER_ROUTES: &[&str] = &[
    "/login",
    "/register",
    "/cart/add",
    "/cart/update",
    "/checkout/login",
    "/checkout/place",
    "/account",
    "/account/password",
    "/account/security/app/confirm",
    "/account/security/tokens",
    "/account/security/recovery/view",
    "/two-factor/account/send-code",
    "/two-factor/verify",
    "/two-factor/send",
    "/two-factor/passkey-sign-in",
];

async fn csrf_of(b: &Browser, page: &str) -> String {
    let (_, body) = b.get_text(page).await;
    extract_csrf(&body)
}

/// Fields as `key=value&…`, percent-encoded, repeated keys allowed.
fn encode(fields: &[(String, String)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

#[test]
fn random_form_bodies_are_refused_clearly_and_change_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(app_with_addon());
    let customer = app.new_browser();
    rt.block_on(async {
        // Passkey sign-in on, so its answer route reads the bodies.
        app.save_addon_settings(&[
            ("customer_passkey_sign_in", "on"),
            ("admin_passkey_sign_in", "on"),
        ])
        .await;
        app.create_account("vend@example.com", PASSWORD, Role::Vendor);
        app.create_account("fuzz@example.com", PASSWORD, Role::Customer);
        assert_eq!(
            customer
                .login("/login", "fuzz@example.com", PASSWORD)
                .await
                .status(),
            303
        );
    });
    let owner_token = rt.block_on(csrf_of(&app.browser, "/admin"));
    let customer_token = rt.block_on(csrf_of(&customer, "/account"));
    let before = fingerprint(&app);
    let strategy = (
        any::<bool>(),
        any::<prop::sample::Index>(),
        prop::collection::vec((field_name(), field_value()), 0..8),
        prop::sample::select(vec![
            "application/x-www-form-urlencoded",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
        ]),
    );
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, u32>::new());
    runner
        .run(&strategy, |(as_owner, route, fields, content_type)| {
            let (b, routes, token) = if as_owner {
                (&app.browser, OWNER_ROUTES, &owner_token)
            } else {
                (&customer, CUSTOMER_ROUTES, &customer_token)
            };
            let path = route.get(routes);
            let mut body = encode(&fields);
            // A valid token, so the request reaches the handler.
            if !body.is_empty() {
                body.push('&');
            }
            body.push_str(&encode(&[("csrf_token".to_string(), token.clone())]));
            let status = rt.block_on(async {
                b.client
                    .post(b.url(path))
                    .header("content-type", content_type)
                    .header("x-csrf-token", token.as_str())
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            });
            *statuses.borrow_mut().entry(status).or_default() += 1;
            prop_assert!(status < 500, "{path} answered {status} to {fields:?}");
            prop_assert_eq!(
                &fingerprint(&app),
                &before,
                "{} changed something: {:?}",
                path,
                fields
            );
            Ok(())
        })
        .unwrap();
    // The requests reached the handlers (not all refused by the CSRF check).
    let statuses = statuses.into_inner();
    assert!(statuses.keys().any(|s| *s != 403), "{statuses:?}");
    // And the store still serves both users.
    rt.block_on(async {
        assert_eq!(app.browser.get("/admin").await.status(), 200);
        assert_eq!(customer.get("/account").await.status(), 200);
    });
}

#[test]
fn random_json_bodies_at_the_api_are_refused_clearly_and_change_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(app_with_addon());
    app.create_account("api@example.com", PASSWORD, Role::Customer);
    let before = fingerprint(&app);
    let client = reqwest::Client::new();
    let strategy = (
        prop::sample::select(vec![
            "/api/v1/signin",
            "/api/v1/verify-2fa",
            "/api/v1/two-factor/sms",
            "/api/v1/signout",
            "/api/v1/two-factor/disable",
            "/sandbox/authy/protected/json/users/new",
            "/sandbox/authy/protected/json/sms/1",
        ]),
        prop_oneof![
            json_value().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..300),
        ],
        prop_oneof![Just(None), "Bearer [A-Za-z0-9_-]{0,60}".prop_map(Some),],
    );
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(path, body, auth)| {
            let status = rt.block_on(async {
                let mut req = client
                    .post(format!("{}{path}", app.address))
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.send().await.unwrap().status().as_u16()
            });
            prop_assert!((400..500).contains(&status), "{path} answered {status}");
            prop_assert_eq!(&fingerprint(&app), &before);
            Ok(())
        })
        .unwrap();
}
