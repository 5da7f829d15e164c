//! Phone numbers on the profile forms: a new number of one's own waits for
//! the code sent to it (the old one stays in use until then); a number an
//! admin sets for someone is unconfirmed until that user's next sign-in;
//! numbers are shown in international form, typed in any form, and a wrong
//! phone does not clear the passwords just typed.

use diesel::prelude::*;
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::tfa_phone_changes;
use storefront_2fa::two_factor::store;

use crate::helpers::{location, post_from, Browser, SmsSetUp};
use crate::two_factor::{setup, Tfa};

const PASSWORD: &str = "a-good-password-1";
/// The phone on file: +1 201-555-0123.
const OLD: &str = "2015550123";
/// The new one: +44 7400 123456.
const NEW: &str = "7400123456";

fn customer_with_phone(t: &Tfa, email: &str) -> i64 {
    let id = t.app.create_account(email, PASSWORD, Role::Customer);
    t.app.add_phone(id, OLD, SmsSetUp::Complete);
    id
}

/// Moves the addon's counter windows back (the cooldown between codes).
fn age_counters(t: &Tfa) {
    use storefront_2fa::two_factor::schema::tfa_counters;
    diesel::update(tfa_counters::table)
        .set(tfa_counters::window_start.eq(tfa_counters::window_start - 31))
        .execute(&mut t.app.db.get().unwrap())
        .unwrap();
}

async fn sign_in(t: &Tfa, email: &str, national: &str) -> Browser {
    age_counters(t);
    let b = t.app.new_browser();
    let res = b.login("/login", email, PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    b.get_text("/two-factor/verify").await;
    let code = t.gw.last_code(national).expect("a sign-in code");
    let (status, _, page) = post_from(&b, "/login", "/two-factor/verify", &[("code", &code)]).await;
    assert_eq!(status, 303, "{page}");
    b
}

/// Asks for the new number on /account with the password and a code from
/// the current phone, as the profile requires.
async fn ask_for_new_number(t: &Tfa, b: &Browser) {
    age_counters(t);
    let (status, loc, _) = post_from(
        b,
        "/account",
        "/two-factor/account/send-code",
        &[("email", "cust@example.com"), ("name", "Cust")],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/account"));
    let current = t.gw.last_code(OLD).unwrap();
    let (status, _, page) = post_from(
        b,
        "/account",
        "/account",
        &[
            ("email", "cust@example.com"),
            ("name", "Cust"),
            ("tfa_country", "US"),
            // Typed in international form with "United States" chosen:
            // the number's own country code wins.
            ("tfa_phone", "+44 7400 123456"),
            ("tfa_current_password", PASSWORD),
            ("tfa_code", &current),
        ],
    )
    .await;
    assert_eq!(status, 303, "{page}");
}

/// Submits the profile, its phone field showing the old number, with the
/// code for the new one.
async fn confirm(b: &Browser, code: &str) -> (u16, String) {
    confirm_showing(b, "(201) 555-0123", code).await
}

async fn confirm_showing(b: &Browser, phone: &str, code: &str) -> (u16, String) {
    let (status, _, page) = post_from(
        b,
        "/account",
        "/account",
        &[
            ("email", "cust@example.com"),
            ("name", "Cust"),
            ("tfa_country", "US"),
            ("tfa_phone", phone),
            ("tfa_new_phone_code", code),
        ],
    )
    .await;
    (status, page)
}

async fn e164_of(t: &Tfa, id: i64) -> String {
    let stored = store::phone_of(&t.app.db, id).await.unwrap().unwrap();
    stored.phone.e164().to_string()
}

#[tokio::test]
async fn a_new_number_of_ones_own_waits_for_its_code_and_the_old_one_stays_in_use() {
    let t = setup(true, false).await;
    let id = customer_with_phone(&t, "cust@example.com");
    let b = sign_in(&t, "cust@example.com", OLD).await;
    ask_for_new_number(&t, &b).await;
    assert_eq!(
        e164_of(&t, id).await,
        "+12015550123",
        "the old number stays"
    );
    // Until the new one is confirmed, sign-in codes go to the old number.
    let before = t.gw.messages_to(OLD).len();
    sign_in(&t, "cust@example.com", OLD).await;
    assert_eq!(t.gw.messages_to(OLD).len(), before + 1);
    assert_eq!(t.gw.messages_to(NEW).len(), 0);
    age_counters(&t);

    // The profile shows the new number waiting and sends its code once.
    let (_, page) = b.get_text("/account").await;
    assert!(
        page.contains("Confirm your new number +44 •••• ••3456"),
        "{page}"
    );
    assert!(page.contains(r#"name="tfa_new_phone_code""#));
    assert!(page.contains(r#"autocomplete="one-time-code""#));
    assert_eq!(t.gw.messages_to(NEW).len(), 1, "sent on the first view");
    b.get_text("/account").await;
    assert_eq!(t.gw.messages_to(NEW).len(), 1, "a reload does not re-send");
    let code = t.gw.last_code(NEW).unwrap();

    // A wrong code changes nothing and says what to do.
    let (status, page) = confirm(&b, "0000000").await;
    assert_ne!(status, 303);
    assert!(page.contains("That code is not right"), "{page}");
    assert_eq!(e164_of(&t, id).await, "+12015550123");

    // The right code makes it the number on file, confirmed; once.
    let (status, page) = confirm(&b, &code).await;
    assert_eq!(status, 303, "{page}");
    let stored = store::phone_of(&t.app.db, id).await.unwrap().unwrap();
    assert_eq!(stored.phone.e164(), "+447400123456");
    assert!(stored.confirmed);
    let (status, page) = confirm_showing(&b, "+44 7400 123456", &code).await;
    assert_ne!(status, 303, "single use");
    assert!(page.contains("No new phone number is waiting"), "{page}");
    sign_in(&t, "cust@example.com", NEW).await;
}

#[tokio::test]
async fn an_expired_new_number_is_refused_and_the_old_one_stays() {
    let t = setup(true, false).await;
    let id = customer_with_phone(&t, "cust@example.com");
    let b = sign_in(&t, "cust@example.com", OLD).await;
    ask_for_new_number(&t, &b).await;
    b.get_text("/account").await;
    let code = t.gw.last_code(NEW).unwrap();
    // The page was open for more than 10 minutes before the code was sent.
    let (_, page) = b.get_text("/account").await;
    let token = crate::helpers::extract_csrf(&page);
    diesel::update(tfa_phone_changes::table)
        .set(tfa_phone_changes::expires_at.eq(tfa_phone_changes::expires_at - 601))
        .execute(&mut t.app.db.get().unwrap())
        .unwrap();
    let res = b
        .client
        .post(b.url("/account"))
        .form(&[
            ("email", "cust@example.com"),
            ("name", "Cust"),
            ("tfa_country", "US"),
            ("tfa_phone", "(201) 555-0123"),
            ("tfa_new_phone_code", code.as_str()),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 303);
    let page = res.text().await.unwrap();
    assert!(page.contains("has expired"), "{page}");
    assert_eq!(e164_of(&t, id).await, "+12015550123");
    // Once said, the expired change is gone.
    let (status, page) = confirm(&b, &code).await;
    assert_ne!(status, 303);
    assert!(page.contains("No new phone number is waiting"), "{page}");
    assert_eq!(e164_of(&t, id).await, "+12015550123");
}

#[tokio::test]
async fn a_number_an_admin_sets_for_someone_is_confirmed_at_their_next_sign_in() {
    let t = setup(true, false).await;
    let id = customer_with_phone(&t, "cust@example.com");
    let page = format!("/admin/users/{id}");
    let admin = &t.app.browser;
    let (_, form) = admin.get_text(&page).await;
    assert!(form.contains("this user's phone"), "{form}");
    assert!(!form.contains("your phone"), "{form}");
    // The messages speak of this user's phone.
    let (status, _, body) = post_from(
        admin,
        &page,
        &page,
        &[
            ("email", "cust@example.com"),
            ("name", "Cust"),
            ("role", "customer"),
            ("tfa_country", ""),
            ("tfa_phone", "07400 123456"),
        ],
    )
    .await;
    assert_ne!(status, 303);
    assert!(
        body.contains("Choose the country of this user&#x27;s phone number")
            || body.contains("Choose the country of this user's phone number"),
        "{body}"
    );
    let (status, _, body) = post_from(
        admin,
        &page,
        &page,
        &[
            ("email", "cust@example.com"),
            ("name", "Cust"),
            ("role", "customer"),
            ("tfa_country", "GB"),
            ("tfa_phone", "07400 123456"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let stored = store::phone_of(&t.app.db, id).await.unwrap().unwrap();
    assert_eq!(stored.phone.e164(), "+447400123456");
    assert!(!stored.confirmed, "saved as unconfirmed");
    let (_, form) = admin.get_text(&page).await;
    assert!(form.contains("not confirmed yet"), "{form}");
    // The user's next sign-in sends its code to that number, says so (their
    // recovery codes exist, so only the unconfirmed number tells), and
    // confirms it.
    age_counters(&t);
    let b = t.app.new_browser();
    let res = b.login("/login", "cust@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    let (_, verify) = b.get_text("/two-factor/verify").await;
    assert!(verify.contains("Confirm your phone number"), "{verify}");
    let code = t.gw.last_code(NEW).expect("a code to the new number");
    let (status, _, page) = post_from(&b, "/login", "/two-factor/verify", &[("code", &code)]).await;
    assert_eq!(status, 303, "{page}");
    let stored = store::phone_of(&t.app.db, id).await.unwrap().unwrap();
    assert!(stored.confirmed);
}

#[tokio::test]
async fn phones_show_in_international_form_and_the_store_country_comes_chosen() {
    let t = setup(true, false).await;
    customer_with_phone(&t, "cust@example.com");
    let b = sign_in(&t, "cust@example.com", OLD).await;
    let (_, page) = b.get_text("/account").await;
    // The local field shows the national number, never a "+".
    assert!(
        page.contains(r#"name="tfa_phone" type="tel" value="(201) 555-0123""#),
        "{page}"
    );
    assert!(page.contains("+1 •••-•••-0123"), "{page}");
    assert!(page.contains(r#"<option value="US" selected>United States (+1)"#));
    let (_, page) = b.get_text("/account/security").await;
    assert!(
        page.contains(r#"phone <span class="nowrap">+1 •••-•••-0123</span>"#),
        "{page}"
    );

    // No phone yet: the store's country is chosen in advance.
    let (_, page) = t.app.new_browser().get_text("/register").await;
    assert!(page.contains(r#"<option value="US" selected>"#), "{page}");
    let res = t
        .app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("customer_enabled", "on"), ("store_country", "GB")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, page) = t.app.new_browser().get_text("/register").await;
    assert!(
        page.contains(r#"<option value="GB" selected>United Kingdom (+44)"#),
        "{page}"
    );
    // Short common names, sorted by name.
    assert!(!page.contains("Great Britain"));
    let at = |name: &str| page.find(name).unwrap_or_else(|| panic!("{name}"));
    assert!(at(">South Korea") < at(">Spain") && at(">United Kingdom") < at(">United States"));

    // A full international number works whatever country is chosen.
    let b = t.app.new_browser();
    let (status, _, page) = post_from(
        &b,
        "/register",
        "/register",
        &[
            ("email", "new@example.com"),
            ("name", "New"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
            ("tfa_country", "US"),
            ("tfa_phone", "0044 7400 123456"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    let e164: Vec<(String, String)> = storefront_2fa::two_factor::schema::tfa_phones::table
        .select((
            storefront_2fa::two_factor::schema::tfa_phones::country,
            storefront_2fa::two_factor::schema::tfa_phones::e164,
        ))
        .filter(storefront_2fa::two_factor::schema::tfa_phones::e164.eq("+447400123456"))
        .load(&mut t.app.db.get().unwrap())
        .unwrap();
    assert_eq!(e164, vec![("GB".to_string(), "+447400123456".to_string())]);
}

#[tokio::test]
async fn a_wrong_phone_keeps_the_passwords_just_typed() {
    let t = setup(true, false).await;
    let b = t.app.new_browser();
    let (status, _, page) = post_from(
        &b,
        "/register",
        "/register",
        &[
            ("email", "new@example.com"),
            ("name", "New"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
            ("tfa_country", "GB"),
            ("tfa_phone", "12345"),
        ],
    )
    .await;
    assert_ne!(status, 303);
    assert!(page.contains("not a valid phone number for United Kingdom"));
    assert_eq!(
        page.matches(&format!(r#"type="password" value="{PASSWORD}""#))
            .count(),
        2,
        "{page}"
    );
    // Wrong passwords are not sent back.
    let (_, _, page) = post_from(
        &b,
        "/register",
        "/register",
        &[
            ("email", "new@example.com"),
            ("password", PASSWORD),
            ("confirm_password", "another-one-2"),
            ("tfa_country", "GB"),
            ("tfa_phone", "12345"),
        ],
    )
    .await;
    assert!(!page.contains(PASSWORD), "{page}");

    // The profile keeps the current password when only the phone was wrong.
    customer_with_phone(&t, "cust@example.com");
    let b = sign_in(&t, "cust@example.com", OLD).await;
    let (status, _, page) = post_from(
        &b,
        "/account",
        "/account",
        &[
            ("email", "cust@example.com"),
            ("name", "Cust"),
            ("tfa_country", "GB"),
            ("tfa_phone", "12345"),
            ("tfa_current_password", PASSWORD),
        ],
    )
    .await;
    assert_ne!(status, 303);
    assert!(page.contains("not a valid phone number"), "{page}");
    assert!(
        page.contains(&format!(r#"type="password" value="{PASSWORD}""#)),
        "{page}"
    );
}

#[tokio::test]
async fn an_admins_own_new_number_on_the_admin_user_page_waits_for_its_code() {
    let t = setup(true, true).await;
    let admin = &t.app.browser;
    // `setup` signed in as owner@example.com, an admin with no phone yet.
    let id: i64 = {
        use storefront_2fa::host::accounts;
        let mut conn = t.app.db.get().unwrap();
        accounts::by_email(&mut conn, "owner@example.com")
            .unwrap()
            .unwrap()
            .id
    };
    let page = format!("/admin/users/{id}");
    let fields = [
        ("email", "owner@example.com"),
        ("name", "Owner"),
        ("role", "admin"),
        ("tfa_country", "US"),
        ("tfa_phone", "+44 7400 123456"),
    ];
    // An admin account's phone needs "confirm it is you" first.
    let (status, _, body) = post_from(admin, &page, &page, &fields).await;
    assert_eq!(status, 422, "{body}");
    let confirm = "/admin/two-factor/confirm-access";
    let (status, _, body) = post_from(
        admin,
        confirm,
        confirm,
        &[("password", "owner-password-1"), ("code", "")],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let (status, _, body) = post_from(admin, &page, &page, &fields).await;
    assert_eq!(status, 303, "{body}");
    assert!(store::phone_of(&t.app.db, id).await.unwrap().is_none());
    // The admin's own page speaks of "your" number and sends its code.
    let (_, form) = admin.get_text(&page).await;
    assert!(
        form.contains("Confirm your new number +44 •••• ••3456"),
        "{form}"
    );
    assert!(form.contains("/admin/two-factor/account/new-phone/send"));
    assert_eq!(t.gw.messages_to(NEW).len(), 1, "sent on the first view");
    // "Send a new code to my new number" goes back to the admin's own page.
    age_counters(&t);
    let (status, loc, _) = post_from(
        admin,
        &page,
        "/admin/two-factor/account/new-phone/send",
        &[],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, page.as_str()));
    let code = t.gw.last_code(NEW).unwrap();
    assert_eq!(t.gw.messages_to(NEW).len(), 2);
    let (status, _, body) = post_from(
        admin,
        &page,
        &page,
        &[
            ("email", "owner@example.com"),
            ("name", "Owner"),
            ("role", "admin"),
            ("tfa_country", ""),
            ("tfa_phone", ""),
            ("tfa_new_phone_code", &code),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let stored = store::phone_of(&t.app.db, id).await.unwrap().unwrap();
    assert_eq!(stored.phone.e164(), "+447400123456");
    assert!(stored.confirmed);
}
