//! Journey "polish" (issue 15's shared polish): a shopper's checkout keeps
//! its progress and cart at the code step (375 px) and comes back to
//! checkout; the focus ring is visible on the top bar and on the page; a
//! form with errors starts on its error summary; a new access token has a
//! Copy button.

use std::time::{Duration, Instant};

use serde_json::Value;
use storefront_2fa::plugin::Role;

use crate::driver::Page;
use crate::helpers::{code_in, outbox_texts, SmsSetUp, TestApp};

const KEY: &str = "e2e-sandbox-api-key-1";
const PASSWORD: &str = "a-good-password-1";
const PHONE: &str = "2015550131";

/// Test mode, customers asked for a code; done over HTTP (the journey is
/// about the shopper's pages, not the settings).
async fn configure(app: &TestApp) {
    app.login_admin().await;
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", KEY), ("customer_enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 303, "settings saved");
}

/// The newest code texted to `PHONE` once there are `count` messages.
async fn code_number(app: &TestApp, count: usize) -> String {
    let started = Instant::now();
    loop {
        let texts = outbox_texts(app, PHONE);
        if texts.len() >= count {
            return code_in(&texts[0]).expect("a code");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no code to {PHONE}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// WCAG contrast ratio of two `rgb(r, g, b)` colours.
fn contrast(a: &str, b: &str) -> f64 {
    fn luminance(css: &str) -> f64 {
        let parts: Vec<f64> = css
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|p| p.trim().parse::<f64>().expect(css))
            .collect();
        let lin = |c: f64| {
            let c = c / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(parts[0]) + 0.7152 * lin(parts[1]) + 0.0722 * lin(parts[2])
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The focused element's focus ring: its outline colour and the colour it
/// is drawn on (the nearest ancestor background that is not transparent).
async fn focus_ring(page: &Page) -> (String, String, f64) {
    let v = page
        .js("const e = document.activeElement; const s = getComputedStyle(e);\
             let p = e.parentElement, bg = 'rgb(255, 255, 255)';\
             while (p) { const c = getComputedStyle(p).backgroundColor;\
               if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; } p = p.parentElement; }\
             return [s.outlineStyle, s.outlineColor, parseFloat(s.outlineWidth), bg, e.id || e.tagName];")
        .await;
    let get = |i: usize| v[i].as_str().unwrap_or_default().to_string();
    assert_eq!(get(0), "solid", "a focus ring on {}", get(4));
    let width = v[2].as_f64().unwrap_or(0.0);
    assert!(width >= 2.0, "the ring is {width}px on {}", get(4));
    (get(1), get(3), contrast(&get(1), &get(3)))
}

/// No box inside a card: a bordered group (div, section, fieldset, form,
/// aside) inside `.card` is a card in a card. Messages (paragraphs) and
/// fields are not boxes.
async fn assert_no_box_in_a_box(page: &Page, step: &str) {
    let nested = page
        .js("return [...document.querySelectorAll('.card')]\
             .flatMap(c => [...c.querySelectorAll('div, section, fieldset, form, aside')])\
             .filter(e => { const s = getComputedStyle(e);\
               return ['Top', 'Right', 'Bottom', 'Left'].every(k =>\
                 parseFloat(s['border' + k + 'Width']) > 0 && s['border' + k + 'Style'] !== 'none'); })\
             .map(e => e.outerHTML.slice(0, 100))")
        .await;
    assert_eq!(
        nested,
        Value::Array(vec![]),
        "boxes inside a card at {step}"
    );
}

async fn tab(page: &Page) {
    page.type_here("\u{E004}").await;
}

pub async fn polish(page: &Page, app: &TestApp) {
    configure(app).await;
    let id = app.create_account("shopper@example.com", PASSWORD, Role::Customer);
    app.add_phone(id, PHONE, SmsSetUp::Complete);

    // The focus ring on the coloured top bar: the first Tab lands on the brand.
    page.goto("/").await;
    page.wait_path("/").await;
    tab(page).await;
    let (ring, on, ratio) = focus_ring(page).await;
    assert!(ratio >= 3.0, "top bar ring {ring} on {on}: {ratio:.2}:1");
    page.shot("01-focus-ring-top-bar").await;

    // A form with errors starts on its summary, whose links lead to the fields.
    page.goto("/register").await;
    page.type_into("#f-email", "not-an-email").await;
    page.type_into("#f-password", "short").await;
    page.type_into("#f-confirm_password", "other").await;
    page.click("main form.card button[type=submit]").await;
    page.find("#error-summary").await;
    page.wait_path("/register").await;
    assert_eq!(
        page.focused_id().await,
        "error-summary",
        "focus on the summary"
    );
    page.assert_fits_375("02-error-summary").await;
    page.shot("02-error-summary").await;
    page.click("#error-summary a[href='#f-email']").await;
    assert_eq!(
        page.focused_id().await,
        "f-email",
        "the link puts the focus in its field"
    );
    let (ring, on, ratio) = focus_ring(page).await;
    assert!(ratio >= 3.0, "field ring {ring} on {on}: {ratio:.2}:1");

    // The focus ring on a button in a card, by keyboard.
    page.goto("/login").await;
    page.wait_path("/login").await;
    assert_eq!(page.focused_id().await, "f-email");
    tab(page).await;
    tab(page).await;
    let tag = page.js("return document.activeElement.tagName").await;
    assert_eq!(tag, Value::from("BUTTON"));
    let (ring, on, ratio) = focus_ring(page).await;
    assert!(ratio >= 3.0, "button ring {ring} on {on}: {ratio:.2}:1");
    page.shot("03-focus-ring-button").await;

    // Checkout: the code step keeps the checkout's progress and cart.
    page.goto("/").await;
    let product = page.text_of("ul.products li.product h2").await;
    page.click("ul.products li.product button[type=submit]")
        .await;
    page.wait_path("/cart").await;
    page.goto("/checkout").await;
    page.type_into("#f-email", "shopper@example.com").await;
    page.type_into("#f-password", PASSWORD).await;
    page.click("main form.card button[type=submit]").await;
    page.wait_path("/two-factor/verify").await;
    page.wait_text("step 2 of 3").await;
    let cart = page.text_of("#checkout-cart").await;
    assert!(cart.contains(&product), "{cart}");
    assert!(cart.contains("Total"), "{cart}");
    let header = page.text_of("header").await;
    assert!(
        !header.contains("Log in") && !header.contains("Register"),
        "no Log in mid sign-in: {header}"
    );
    assert_eq!(
        page.focused_id().await,
        "tfa-code",
        "focus in the code field"
    );
    assert_no_box_in_a_box(page, "code step").await;
    page.assert_fits_375("04-checkout-code-step").await;
    page.shot("04-checkout-code-step").await;
    let code = code_number(app, 1).await;
    page.type_here(&code).await;
    page.press_enter().await;
    page.wait_path("/checkout").await;
    page.assert_text("Place order").await;
    page.assert_text(&product).await;
    page.shot("05-back-at-checkout").await;

    // A new access token: Copy copies it and says so.
    page.goto("/account/security").await;
    page.type_into("#tok-name", "backup script").await;
    page.type_into("#tok-password", PASSWORD).await;
    page.click_text("Create token").await;
    page.find("#new-token").await;
    assert_no_box_in_a_box(page, "security").await;
    page.click("#token-copy").await;
    page.wait_text_of("#token-copy-status", "Copied.").await;
    page.assert_fits_375("06-token-copy").await;
    page.shot("06-token-copy").await;
}
