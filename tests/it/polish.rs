//! Issue 15's shared polish, over HTTP: the header during and after a
//! sign-in, the checkout context of a checkout sign-in's code step, the
//! addon's description, the favicon, the error summary, and a crawl of
//! every page a signed-in admin and customer reach, for links that 404.

use std::collections::{BTreeSet, VecDeque};

use storefront_2fa::plugin::Role;

use crate::helpers::{location, post_from, Browser, SmsSetUp};
use crate::two_factor::setup;

const PASSWORD: &str = "a-good-password-1";
/// National number of the test phone (+1 201-555-0123).
const NATIONAL: &str = "2015550123";

/// Lets the 30-second cool-down between codes to one account pass.
fn let_cooldown_pass(app: &crate::helpers::TestApp) {
    use diesel::prelude::*;
    use storefront_2fa::two_factor::schema::tfa_counters;
    diesel::update(tfa_counters::table)
        .set(tfa_counters::window_start.eq(tfa_counters::window_start - 31))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
}

fn header_of(page: &str) -> &str {
    let start = page.find("<header").expect("a header");
    let end = page[start..].find("</header>").expect("the header ends") + start;
    &page[start..end]
}

/// Adds two bags of espresso beans ($49.00) to `b`'s cart, then signs in
/// at `form` with the password, and opens the code step.
async fn to_code_step(b: &Browser, form: &str, email: &str) {
    let res = b
        .post_form("/cart/add", &[("product_id", "1"), ("quantity", "2")])
        .await;
    assert_eq!(location(&res), "/cart");
    let res = b
        .post_form(form, &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(location(&res), "/two-factor/verify");
    // The code page sends the code when it is first shown.
    let (status, _) = b.get_text("/two-factor/verify").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_header_offers_no_log_in_while_signing_in_nor_once_signed_in() {
    let t = setup(true, false).await;
    let id = t
        .app
        .create_account("cust@example.com", PASSWORD, Role::Customer);
    t.app.add_phone(id, NATIONAL, SmsSetUp::Complete);
    let b = t.app.new_browser();
    let (_, home) = b.get_text("/").await;
    assert!(
        header_of(&home).contains("href=\"/login\""),
        "a visitor may log in"
    );

    to_code_step(&b, "/login", "cust@example.com").await;
    for path in ["/two-factor/verify", "/"] {
        let (status, page) = b.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        let header = header_of(&page);
        assert!(
            !header.contains("href=\"/login\"") && !header.contains("href=\"/register\""),
            "no Log in or Register mid sign-in on {path}: {header}"
        );
    }

    let code = t.gw.last_code(NATIONAL).unwrap();
    let (status, _, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!(status, 303);
    let (_, home) = b.get_text("/").await;
    let header = header_of(&home);
    assert!(header.contains("Log out"), "{header}");
    assert!(
        !header.contains("href=\"/login\"") && !header.contains("href=\"/register\""),
        "{header}"
    );
}

#[tokio::test]
async fn a_checkout_sign_in_keeps_the_checkout_and_cart_at_the_code_step_and_returns_there() {
    let t = setup(true, false).await;
    let id = t
        .app
        .create_account("cust@example.com", PASSWORD, Role::Customer);
    t.app.add_phone(id, NATIONAL, SmsSetUp::Complete);

    let b = t.app.new_browser();
    to_code_step(&b, "/checkout/login", "cust@example.com").await;
    let (status, page) = b.get_text("/two-factor/verify").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"checkout-progress\""), "{page}");
    assert!(page.contains("step 2 of 3: confirm it"), "{page}");
    assert!(page.contains("aria-current=\"step\""), "{page}");
    let cart = &page[page.find("id=\"checkout-cart\"").expect("the cart summary")..];
    assert!(cart.contains("2 × Espresso beans"), "{cart}");
    assert!(cart.contains("$49.00"), "{cart}");
    assert!(page.contains("name=\"code\""), "still the code page");

    let code = t.gw.last_code(NATIONAL).unwrap();
    let (status, loc, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/checkout"));
    let (status, page) = b.get_text("/checkout").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Place order") && page.contains("$49.00"),
        "back at checkout with the cart: {page}"
    );
    assert!(
        !page.contains("id=\"checkout-progress\""),
        "the code step is over"
    );

    // A sign-in that did not start at checkout shows no checkout.
    let other = t.app.new_browser();
    to_code_step(&other, "/login", "cust@example.com").await;
    let (_, page) = other.get_text("/two-factor/verify").await;
    assert!(page.contains("name=\"code\""));
    assert!(
        !page.contains("checkout-progress") && !page.contains("checkout-cart"),
        "{page}"
    );
}

#[tokio::test]
async fn the_addons_page_describes_every_factor() {
    let t = setup(false, false).await;
    let (_, page) = t.app.browser.get_text("/admin/addons").await;
    let page = page.to_lowercase();
    for factor in [
        "sms",
        "voice call",
        "authenticator app",
        "recovery code",
        "twilio verify",
    ] {
        assert!(page.contains(factor), "{factor} missing from {page}");
    }
}

#[tokio::test]
async fn the_status_box_is_not_a_card_inside_the_settings_card() {
    let t = setup(true, false).await;
    let (status, page) = t
        .app
        .browser
        .get_text("/admin/addons/two_factor/settings")
        .await;
    assert_eq!(status, 200);
    let start = page.find("id=\"addon-status\"").expect("the status box");
    let end = start + page[start..].find("</section>").expect("its end");
    assert!(page[start..end].contains("<section class=\"tfa-status\""));
    assert!(
        !page[start..end].contains("class=\"card"),
        "{}",
        &page[start..end]
    );
}

#[tokio::test]
async fn every_page_names_a_favicon_that_is_served() {
    let t = setup(false, false).await;
    let b = t.app.new_browser();
    let (_, page) = b.get_text("/").await;
    assert!(
        page.contains(r#"<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">"#),
        "{page}"
    );
    let res = b.get("/static/favicon.svg").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.text().await.unwrap().starts_with("<svg"));
    let res = b.get("/favicon.ico").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/static/favicon.svg");
}

#[tokio::test]
async fn a_form_with_errors_lists_them_at_the_top_linking_to_each_field() {
    let t = setup(true, false).await;
    let b = t.app.new_browser();
    let res = b
        .post_form(
            "/register",
            &[
                ("email", "not-an-email"),
                ("name", "Sam"),
                ("password", "short"),
                ("confirm_password", "different"),
                ("tfa_country", "US"),
                ("tfa_phone", "12"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422, "refused");
    let page = res.text().await.unwrap();
    let start = page
        .find(r#"<div class="error-summary" id="error-summary" role="alert" tabindex="-1""#)
        .expect("an error summary");
    let h1 = page.find("<h1").unwrap();
    assert!(start < h1, "the summary comes first");
    let summary = &page[start..start + page[start..].find("</div>").unwrap()];
    for field in ["email", "password", "confirm_password", "tfa_phone"] {
        assert!(
            summary.contains(&format!("href=\"#f-{field}\"")),
            "{field}: {summary}"
        );
        assert!(
            page.contains(&format!("id=\"f-{field}\"")),
            "the link's target {field}"
        );
    }
    assert!(summary.contains("fields need your attention"), "{summary}");
    // A page without errors has none.
    let (_, page) = b.get_text("/register").await;
    assert!(!page.contains("error-summary\""), "{page}");
}

/// Every same-origin `href` and `src` of a page.
fn links_of(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in page.split(attr).skip(1) {
            let Some(end) = part.find('"') else { continue };
            let link = part[..end].replace("&amp;", "&").replace("&#x2F;", "/");
            let link = link.split('#').next().unwrap_or("").to_string();
            if link.starts_with('/') && !link.starts_with("//") {
                out.push(link);
            }
        }
    }
    out
}

/// Follows every same-origin link from `start` (GET only: forms are not
/// submitted), up to 300 pages; returns the links that answered 404, with
/// the page that had them.
async fn crawl(b: &Browser, start: &[&str]) -> (usize, Vec<String>) {
    let mut seen: BTreeSet<String> = start.iter().map(|s| s.to_string()).collect();
    let mut queue: VecDeque<(String, String)> = start
        .iter()
        .map(|s| (s.to_string(), "(start)".to_string()))
        .collect();
    let mut broken = Vec::new();
    let mut visited = 0;
    while let Some((path, from)) = queue.pop_front() {
        visited += 1;
        assert!(visited < 300, "too many pages");
        let res = b.get(&path).await;
        let status = res.status().as_u16();
        if status == 404 {
            broken.push(format!("{path} (linked from {from})"));
            continue;
        }
        let html = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"));
        if !html {
            continue;
        }
        let body = res.text().await.unwrap();
        for link in links_of(&body) {
            // The outbox's JSON and other links outside the pages are
            // checked but not followed into every query string.
            if seen.insert(link.clone()) {
                queue.push_back((link, path.clone()));
            }
        }
    }
    (visited, broken)
}

#[tokio::test]
async fn no_page_of_an_admin_or_a_customer_links_to_a_missing_page() {
    let t = setup(true, false).await;
    // The admin (signed in by `setup`).
    let (visited, broken) = crawl(
        &t.app.browser,
        &[
            "/admin",
            "/admin/addons/two_factor/settings",
            "/favicon.ico",
        ],
    )
    .await;
    assert!(visited > 8, "crawled {visited} pages");
    assert!(broken.is_empty(), "admin pages link to 404s: {broken:#?}");

    // A customer with SMS set up, signed in with the code.
    let id = t
        .app
        .create_account("cust@example.com", PASSWORD, Role::Customer);
    t.app.add_phone(id, NATIONAL, SmsSetUp::Complete);
    let b = t.app.new_browser();
    to_code_step(&b, "/login", "cust@example.com").await;
    let code = t.gw.last_code(NATIONAL).unwrap();
    let (status, _, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!(status, 303);
    let (visited, broken) = crawl(&b, &["/", "/account", "/cart", "/checkout"]).await;
    // And the pages of a sign-in under way (the code step and its links).
    let_cooldown_pass(&t.app);
    let mid = t.app.new_browser();
    to_code_step(&mid, "/login", "cust@example.com").await;
    let (_, broken_mid) = crawl(&mid, &["/two-factor/verify"]).await;
    assert!(visited > 6, "crawled {visited} pages");
    assert!(
        broken.is_empty() && broken_mid.is_empty(),
        "customer pages link to 404s: {broken:#?} {broken_mid:#?}"
    );
}

/// One name for a code field on every page: each label of a field named
/// `code` (or the profile's `tfa_code`) in the addon's templates says
/// "Verification code" (the recovery-code field names its own credential).
#[test]
fn every_code_field_is_called_verification_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/two_factor/templates");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("<label for=\"") {
            let label = &text[at..at + text[at..].find("</label>").unwrap()];
            let id = &label["<label for=\"".len()..];
            let id = &id[..id.find('"').unwrap()];
            let input = text
                .find(&format!("id=\"{id}\""))
                .map(|i| &text[i..i + text[i..].find('>').unwrap_or(0)])
                .unwrap_or("");
            if !(input.contains("name=\"code\"") || input.contains("name=\"tfa_code\"")) {
                continue;
            }
            let words = &label[label.find('>').unwrap() + 1..];
            checked += 1;
            assert!(
                words.starts_with("Verification code") || words == "Recovery code",
                "{}: the code field {id} is labelled {words:?}",
                path.display()
            );
        }
    }
    assert!(checked >= 6, "checked {checked} code fields");
}
