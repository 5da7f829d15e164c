//! Security headers on every response (issue 20): the tests walk every page
//! a link reaches, signed out, as a customer and as the store owner, plus
//! error answers and the pages that show a secret, and check each answer's
//! headers and that no HTML page holds an inline script, an inline event
//! handler or a `style=""` the Content-Security-Policy would block.

use std::collections::{BTreeSet, VecDeque};

use storefront_2fa::host::security_headers::{CONTENT_SECURITY_POLICY, STRICT_TRANSPORT_SECURITY};
use storefront_2fa::plugin::Role;

use crate::helpers::{spawn_app_with, Browser};
use crate::two_factor_app::{app_with_addon, PASSWORD};

/// The headers every answer carries, whatever made it.
fn assert_security_headers(path: &str, res: &reqwest::Response) {
    let h = res.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(
        get("content-security-policy"),
        CONTENT_SECURITY_POLICY,
        "{path}"
    );
    let csp = get("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{path}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{path}"
    );
    assert_eq!(get("x-frame-options"), "DENY", "{path}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(get("referrer-policy"), "same-origin", "{path}");
}

/// What the CSP would block in a page: `<script>` without `src`, `style`
/// attributes, `<style>` elements, `on…=` handlers, `javascript:` links.
fn inline_code_in(page: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(page);
    let all = scraper::Selector::parse("*").unwrap();
    let mut found = Vec::new();
    for el in doc.select(&all) {
        let v = el.value();
        if v.name() == "script" && v.attr("src").is_none() {
            found.push(format!("inline <script>: {}", el.inner_html()));
        }
        if v.name() == "style" {
            found.push("a <style> element".to_string());
        }
        for (name, value) in v.attrs() {
            if name == "style" || name.starts_with("on") {
                found.push(format!("<{} {name}=\"{value}\">", v.name()));
            }
            if (name == "href" || name == "action" || name == "formaction")
                && value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("javascript:")
            {
                found.push(format!("<{} {name}=\"{value}\">", v.name()));
            }
        }
    }
    found
}

/// Same-site links of a page (`a[href]`) and the files it loads (styles,
/// scripts, icons), as paths without fragments.
fn links_in(page: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(page);
    let a = scraper::Selector::parse("a[href], link[href], script[src]").unwrap();
    doc.select(&a)
        .filter_map(|el| el.value().attr("href").or(el.value().attr("src")))
        .filter(|h| h.starts_with('/') && !h.starts_with("//"))
        .map(|h| h.split('#').next().unwrap_or(h).to_string())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Visits every page reachable by links from `start` (at most `limit`),
/// checking each answer; returns the paths visited.
async fn walk(b: &Browser, start: &[&str], limit: usize, signed_in: bool) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = start.iter().map(|s| s.to_string()).collect();
    let mut queue: VecDeque<String> = start.iter().map(|s| s.to_string()).collect();
    let mut visited = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        if visited.len() >= limit {
            break;
        }
        let res = b.get(&path).await;
        assert!(
            res.status().as_u16() < 500,
            "{path} answered {}",
            res.status()
        );
        assert_security_headers(&path, &res);
        let cache = res
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if path.starts_with("/static/") {
            assert!(cache.starts_with("public"), "{path}: {cache}");
        } else {
            // Every page is no-store (the signed-in ones must be; the
            // others hold a CSRF token bound to the browser's session).
            assert_eq!(cache, "no-store", "{path} (signed in: {signed_in})");
        }
        let html = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        let body = res.text().await.unwrap();
        visited.insert(path.clone());
        if !html {
            continue;
        }
        let inline = inline_code_in(&body);
        assert!(inline.is_empty(), "{path}: {inline:#?}");
        for link in links_in(&body) {
            // Log out is a form, not a link; skip any such link anyway
            // so the walk stays signed in.
            if seen.insert(link.clone()) && !link.contains("logout") {
                queue.push_back(link);
            }
        }
    }
    visited
}

#[tokio::test]
async fn every_page_signed_out_signed_in_and_as_the_owner_carries_the_headers() {
    let app = app_with_addon().await;
    // The store owner (signed in by app_with_addon): every admin page.
    let owner_pages = walk(&app.browser, &["/admin"], 200, true).await;
    for must in [
        "/admin/users",
        "/admin/addons",
        "/admin/two-factor/audit",
        "/admin/two-factor/audit.csv",
        "/static/style.css",
        "/static/forms.js",
    ] {
        assert!(
            owner_pages.iter().any(|p| p.starts_with(must)),
            "the walk reached {must}: {owner_pages:?}"
        );
    }
    // A customer, signed in.
    app.create_account("shopper@example.com", PASSWORD, Role::Customer);
    let shopper = app.new_browser();
    let res = shopper
        .login("/login", "shopper@example.com", PASSWORD)
        .await;
    assert_eq!(res.status(), 303);
    let shopper_pages = walk(
        &shopper,
        &["/", "/account", "/cart", "/checkout"],
        200,
        true,
    )
    .await;
    assert!(
        shopper_pages.contains("/account/security"),
        "{shopper_pages:?}"
    );
    assert!(shopper_pages.iter().any(|p| p.starts_with("/products/")));
    // Nobody signed in.
    let anonymous = app.new_browser();
    let public = walk(
        &anonymous,
        &[
            "/",
            "/login",
            "/register",
            "/admin/login",
            "/cart",
            "/healthz",
        ],
        200,
        false,
    )
    .await;
    assert!(public.len() >= 6, "{public:?}");

    // Error answers and refusals get the headers too.
    for (path, status) in [("/no-such-page", 404), ("/products/no-such-product", 404)] {
        let res = anonymous.get(path).await;
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert_security_headers(path, &res);
    }
    let res = anonymous.post_raw("/login", &[("email", "a@b.c")]).await;
    assert_eq!(res.status(), 403, "no CSRF token");
    assert_security_headers("POST /login", &res);
    let res = anonymous
        .client
        .get(anonymous.url("/sandbox/authy/protected/json/app/details"))
        .send()
        .await
        .unwrap();
    assert_security_headers("sandbox API", &res);
    // Without TLS configured there is no HSTS (it would lock a plain-HTTP
    // demo store out of the browser).
    assert!(anonymous
        .get("/")
        .await
        .headers()
        .get("strict-transport-security")
        .is_none());
}

/// The pages that show a secret (the authenticator key, recovery codes, a
/// new API token) are answers to a POST: each is no-store with the headers.
#[tokio::test]
async fn pages_showing_a_secret_are_never_stored() {
    let app = app_with_addon().await;
    app.create_account("keys@example.com", PASSWORD, Role::Customer);
    let b = app.new_browser();
    assert_eq!(
        b.login("/login", "keys@example.com", PASSWORD)
            .await
            .status(),
        303
    );
    let sec = "/account/security";
    let check = |what: &str, res: &reqwest::Response| {
        assert_security_headers(what, res);
        assert_eq!(
            res.headers().get("cache-control").unwrap(),
            "no-store",
            "{what}"
        );
    };
    let (_, page) = b.get_text(sec).await;
    let token = crate::helpers::extract_csrf(&page);
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let mut all = fields;
        all.push(("csrf_token", token.clone()));
        b.client.post(b.url(&path)).form(&all).send()
    };
    let res = post(format!("{sec}/app/start"), vec![]).await.unwrap();
    assert_eq!(res.status(), 200);
    check("TOTP key", &res);
    assert!(res.text().await.unwrap().contains(r#"id="tfa-secret""#));
    // Recovery codes, shown again with the password, and a new API token:
    // an account with a factor set up.
    let e = crate::two_factor_app::enrol(&app, "codes@example.com", Role::Customer).await;
    let (_, page) = e.browser.get_text(sec).await;
    let token = crate::helpers::extract_csrf(&page);
    let b = &e.browser;
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let mut all = fields;
        all.push(("csrf_token", token.clone()));
        b.client.post(b.url(&path)).form(&all).send()
    };
    let res = post(
        format!("{sec}/recovery/view"),
        vec![("password", PASSWORD.into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    check("recovery codes", &res);
    assert!(res.text().await.unwrap().contains(&e.codes[0]));
    let res = post(
        format!("{sec}/tokens"),
        vec![
            ("name", "ci".into()),
            ("scope", "read".into()),
            ("expires_days", "30".into()),
            ("password", PASSWORD.into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    check("new API token", &res);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Copy your new personal access token now"));
}

#[tokio::test]
async fn hsts_is_sent_when_the_store_is_served_over_tls() {
    let app = spawn_app_with(storefront_2fa::startup::default_addons, |s| {
        s.server.secure_cookies = true;
    })
    .await;
    for path in ["/", "/login", "/no-such-page", "/static/style.css"] {
        let res = app.browser.get(path).await;
        assert_security_headers(path, &res);
        assert_eq!(
            res.headers().get("strict-transport-security").unwrap(),
            STRICT_TRANSPORT_SECURITY,
            "{path}"
        );
    }
}
