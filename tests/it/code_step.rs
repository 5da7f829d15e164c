//! The code step of a sign-in, as the person at it sees it: a wrong code
//! says how many tries are left, a first code confirms the phone, every
//! POST answers with a redirect (a reload sends and submits nothing), the
//! resend buttons know the cooldown, and cancelling says what happens.

use storefront_2fa::plugin::Role;

use crate::helpers::{location, post_and_read_back, post_from, SmsSetUp};
use crate::two_factor::{setup, Tfa};

const PASSWORD: &str = "a-good-password-1";
const NATIONAL: &str = "2015550123";

fn shopper(t: &Tfa, set_up: SmsSetUp) -> i64 {
    let id = t
        .app
        .create_account("cust@example.com", PASSWORD, Role::Customer);
    t.app.add_phone(id, NATIONAL, set_up);
    id
}

/// The number in `data-wait="N"` on the page's resend form.
fn resend_wait(page: &str) -> i64 {
    let at = page.find("data-wait=\"").expect("a resend form") + "data-wait=\"".len();
    page[at..].split('"').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_wrong_code_says_the_attempts_left_and_a_reload_submits_nothing() {
    let t = setup(true, false).await;
    shopper(&t, SmsSetUp::Complete);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    let (_, page) = b.get_text("/two-factor/verify").await;
    assert!(page.contains("Enter your verification code"), "{page}");
    // POST, redirect, GET: the message is on the page the redirect leads to.
    let (status, loc, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", "0000000")],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    let (status, page) = b.get_text(&loc).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("That code is not right. 4 attempts left."),
        "{page}"
    );
    assert!(page.contains(r#"role="alert""#), "{page}");
    // A reload neither submits the code again nor repeats the message.
    let (status, page) = b.get_text(&loc).await;
    assert_eq!(status, 200);
    assert!(!page.contains("That code is not right"), "{page}");
    let (_, _, page) = post_and_read_back(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", "0000000")],
    )
    .await;
    assert!(
        page.contains("That code is not right. 3 attempts left."),
        "{page}"
    );
    // Input that can never be a code still counts.
    let (_, _, page) = post_and_read_back(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", "not a code")],
    )
    .await;
    assert!(
        page.contains("That code is not right. 2 attempts left."),
        "{page}"
    );
    // Only one code was ever sent: reloads of the code page send none.
    assert_eq!(t.gw.messages_to(NATIONAL).len(), 1);
}

#[tokio::test]
async fn resend_redirects_and_a_reload_never_sends_another_code() {
    let t = setup(true, false).await;
    shopper(&t, SmsSetUp::Complete);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    let (_, page) = b.get_text("/two-factor/verify").await;
    // The cooldown after the first code: the buttons count down from it.
    let wait = resend_wait(&page);
    assert!((25..=30).contains(&wait), "{wait}");
    assert!(page.contains("You can ask for another code in"), "{page}");
    assert!(page.contains(r#"src="/static/countdown.js""#));
    // Early (no JavaScript): refused with how long to wait, after a redirect.
    let (status, loc, page) = post_and_read_back(
        &b,
        "/two-factor/verify",
        "/two-factor/send",
        &[("via", "sms")],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    assert!(
        page.contains("A code was sent moments ago. You can ask for another one in"),
        "{page}"
    );
    assert_eq!(t.gw.messages_to(NATIONAL).len(), 1);
    // After the cooldown: sent, and the reloads of the page it leads to send nothing.
    age_counters(&t, 31);
    let (status, loc, page) = post_and_read_back(
        &b,
        "/two-factor/verify",
        "/two-factor/send",
        &[("via", "sms")],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/verify"));
    assert!(
        page.contains("We sent a new code by text message"),
        "{page}"
    );
    assert!(resend_wait(&page) > 0);
    for _ in 0..2 {
        let (status, _) = b.get_text(&loc).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        t.gw.messages_to(NATIONAL).len(),
        2,
        "no code sent by a reload"
    );
    // Once the cooldown is over the page says so: nothing to wait for.
    age_counters(&t, 31);
    let (_, page) = b.get_text(&loc).await;
    assert_eq!(resend_wait(&page), 0);
}

#[tokio::test]
async fn the_first_code_after_registration_confirms_the_phone_and_cancel_says_the_account_is_kept()
{
    let t = setup(true, false).await;
    let b = t.app.new_browser();
    let (status, loc, page) = post_from(
        &b,
        "/register",
        "/register",
        &[
            ("email", "new@example.com"),
            ("name", "New"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
            ("tfa_country", "US"),
            ("tfa_phone", NATIONAL),
        ],
    )
    .await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/two-factor/verify"),
        "{page}"
    );
    let (_, page) = b.get_text(&loc).await;
    assert!(
        page.contains("<h1 id=\"tfa-title\">Confirm your phone number</h1>"),
        "{page}"
    );
    assert!(page.contains("<title>Confirm your phone number"), "{page}");
    assert!(!page.contains("Enter your verification code"), "{page}");
    // Cancel: not signed in; the account stays, and the next sign-in
    // texts a code to confirm the phone.
    let (status, loc, page) =
        post_and_read_back(&b, "/two-factor/verify", "/two-factor/cancel", &[]).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/ended"));
    assert!(page.contains("You are not signed in"), "{page}");
    assert!(page.contains("Your account is kept"), "{page}");
    assert!(
        page.contains("the next time you sign in, we will text a code to confirm it"),
        "{page}"
    );
    assert!(page.contains(r#"href="/login""#), "{page}");
    assert_ne!(b.get("/account").await.status(), 200);
    // And so it does.
    age_counters(&t, 31);
    let b = t.app.new_browser();
    let res = b.login("/login", "new@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    let (_, page) = b.get_text("/two-factor/verify").await;
    assert!(page.contains("Confirm your phone number"), "{page}");
    assert_eq!(t.gw.messages_to(NATIONAL).len(), 2);
}

#[tokio::test]
async fn cancelling_an_ordinary_sign_in_says_you_are_not_signed_in() {
    let t = setup(true, false).await;
    shopper(&t, SmsSetUp::Complete);
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    let (_, page) = b.get_text("/two-factor/verify").await;
    assert!(page.contains("You will not be signed in."), "{page}");
    let (status, loc, page) =
        post_and_read_back(&b, "/two-factor/verify", "/two-factor/cancel", &[]).await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/ended"));
    assert!(
        page.contains("You are not signed in. Your account has not changed"),
        "{page}"
    );
    assert!(!page.contains("confirm"), "{page}");
    assert_eq!(location(&b.get("/two-factor/verify").await), "/login");
}

/// A browser that is signed in (from before, or by the same sign-in
/// finished in another tab) is not told it is signed out.
#[tokio::test]
async fn the_ended_page_tells_a_signed_in_browser_it_is_signed_in() {
    let t = setup(false, false).await;
    shopper(&t, SmsSetUp::Complete);
    let b = t.app.new_browser();
    let res = b.login("/login", "cust@example.com", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(b.get("/account").await.status(), 200, "signed in");
    let (status, page) = b.get_text("/two-factor/ended").await;
    assert_eq!(status, 200);
    assert!(page.contains("You are signed in"), "{page}");
    assert!(!page.contains("You are not signed in"), "{page}");
    assert!(page.contains(r#"href="/account""#), "{page}");

    let (_, page) = t.app.new_browser().get_text("/two-factor/ended").await;
    assert!(page.contains("You are not signed in"), "{page}");
}

/// Moves the addon's counter windows back (cooldowns, quotas).
fn age_counters(t: &Tfa, secs: i64) {
    use diesel::prelude::*;
    use storefront_2fa::two_factor::schema::tfa_counters;
    diesel::update(tfa_counters::table)
        .set(tfa_counters::window_start.eq(tfa_counters::window_start - secs))
        .execute(&mut t.app.db.get().unwrap())
        .unwrap();
}

#[tokio::test]
async fn a_flash_no_browser_came_back_for_is_swept_when_the_next_is_left() {
    use diesel::prelude::*;
    use storefront_2fa::two_factor::schema::tfa_flashes;
    let t = setup(true, false).await;
    shopper(&t, SmsSetUp::Complete);
    // A session that left a message an hour ago and never came back.
    diesel::insert_into(tfa_flashes::table)
        .values((
            tfa_flashes::session_key.eq("gone"),
            tfa_flashes::kind.eq("error"),
            tfa_flashes::text.eq("old"),
            tfa_flashes::created_at.eq(storefront_2fa::db::now() - 3600),
        ))
        .execute(&mut t.app.db.get().unwrap())
        .unwrap();
    let b = t.app.new_browser();
    b.login("/login", "cust@example.com", PASSWORD).await;
    b.get_text("/two-factor/verify").await;
    let (status, _, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", "0000000")],
    )
    .await;
    assert_eq!(status, 303);
    let keys: Vec<String> = tfa_flashes::table
        .select(tfa_flashes::session_key)
        .load(&mut t.app.db.get().unwrap())
        .unwrap();
    // This browser's message waits; the abandoned one is gone.
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_ne!(keys[0], "gone");
}

#[tokio::test]
async fn the_password_step_texts_the_first_code_and_the_code_page_only_says_where_it_went() {
    let t = setup(true, false).await;
    shopper(&t, SmsSetUp::Complete);
    let b = t.app.new_browser();
    let res = b.login("/login", "cust@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/two-factor/verify");
    // Sent before the code page opens: the phone buzzes as it loads.
    assert_eq!(t.gw.messages_to(NATIONAL).len(), 1);
    let before = t.app.db.counted();
    for _ in 0..2 {
        let (status, page) = b.get_text("/two-factor/verify").await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains("We sent a code by text message to your phone +1 •••-•••-0123."),
            "{page}"
        );
        // The cooldown the send started, read with the phone.
        assert!(resend_wait(&page) > 0, "{page}");
    }
    let viewed = t.app.db.counted() - before;
    assert_eq!(
        viewed.write_transactions, 0,
        "the code page only reads: {viewed}"
    );
    assert_eq!(t.gw.messages_to(NATIONAL).len(), 1, "a view sends nothing");
    // After a wrong code the page says that, not where the code went.
    let code = t.gw.last_code(NATIONAL).unwrap();
    let wrong = if code == "1111111" {
        "2222222"
    } else {
        "1111111"
    };
    let (_, _, page) = post_and_read_back(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", wrong)],
    )
    .await;
    assert!(page.contains("That code is not right"), "{page}");
    assert!(!page.contains("We sent a code"), "{page}");
    // The code it sent signs in.
    let (status, loc, _) = post_from(
        &b,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/"));
}

#[tokio::test]
async fn a_right_password_on_a_locked_account_texts_nothing() {
    let t = setup(true, false).await;
    shopper(&t, SmsSetUp::Complete);
    for i in 0..10 {
        let res = t
            .app
            .new_browser()
            .login("/login", "cust@example.com", &format!("wrong-password-{i}"))
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = t
        .app
        .new_browser()
        .login("/login", "cust@example.com", PASSWORD)
        .await;
    assert_eq!(res.status(), 401, "locked: the right password is refused");
    assert!(
        t.gw.messages_to(NATIONAL).is_empty(),
        "no pending login was kept, so no code was sent"
    );
}
