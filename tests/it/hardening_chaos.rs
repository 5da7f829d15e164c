//! Gateway chaos under load (issue 20): customers sign in together through
//! the real login form and SMS code step while the gateway in front of the
//! real sandbox (`fault_gateway`, shared with the load generator) hangs,
//! answers 500, garbage or 401 for half of the first sends and half of the
//! first checks, each fault in turn. Every fault's body says "yes".
//!
//! Afterwards: every customer whose send or check the gateway failed saw
//! the gateway message on the page; a guessed code after a failed send
//! signs nobody in; a resend and a second try reach the sandbox, and every
//! customer signs in exactly once, with a session for each check the
//! sandbox approved and none without one; the catalog answered 200 to
//! every request made during the storm. Counts only, no timing. Twilio
//! Verify (the default) and the legacy Authy API, each on SQLite and on
//! PostgreSQL (`TEST_DATABASE_URL`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use storefront_2fa::db::schema::sessions;
use storefront_2fa::plugin::Role;
use storefront_2fa::startup::default_addons;

use crate::fault_gateway::{FaultGateway, Kind, FAULTS, ROTATION};
use crate::helpers::{
    location, outbox_texts, post_and_read_back, post_from, spawn_app_with, Browser, SmsSetUp,
    TestApp,
};

const PASSWORD: &str = "a-good-password-1";
/// Customers signing in at once.
const CUSTOMERS: usize = 32;
/// The store's gateway timeout in these tests; a hang lasts longer.
const TIMEOUT_MS: u64 = 2000;
const HANG: Duration = Duration::from_millis(5 * TIMEOUT_MS);
/// Sends and checks a customer makes before the test gives up on them
/// (each is failed by the gateway at most once).
const TRIES: usize = 4;

/// What the code page says when the gateway failed (`sms::service::gateway_message`).
const COULD_NOT_SEND: &str = "We could not send your code: the verification service is not answering right now. Please try again in a moment.";
const COULD_NOT_CHECK: &str = "We could not check your code: the verification service is not answering right now. Please try again in a moment.";

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "chaos-auth-token-1";
const VA: &str = "VA0123456789abcdef0123456789abcdef";
const AUTHY_KEY: &str = "chaos-sandbox-key";

#[derive(Clone, Copy, PartialEq)]
enum Gateway {
    Verify,
    Authy,
}

fn national(i: usize) -> String {
    format!("20155501{i:02}")
}

/// A browser of its own, from its own address (the store trusts
/// `X-Forwarded-For` here, so one machine is many shoppers).
fn shopper(app: &TestApp, i: usize) -> Browser {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        format!("198.51.100.{}", i + 1).parse().unwrap(),
    );
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    Browser {
        base: app.address.clone(),
        client,
        jar,
    }
}

/// What one customer saw.
#[derive(Default, Debug)]
struct Seen {
    /// Pages that said the code could not be sent.
    send_messages: usize,
    /// Pages that said the code could not be checked.
    check_messages: usize,
    /// A guessed code (after a failed send) was not refused.
    guess_not_refused: bool,
    signed_in: bool,
    /// Anything unexpected, for the failure message.
    odd: Vec<String>,
}

async fn sign_in(app: &TestApp, i: usize, email: &str) -> Seen {
    let mut seen = Seen::default();
    let b = shopper(app, i);
    let res = b.login("/login", email, PASSWORD).await;
    if location(&res) != "/two-factor/verify" {
        seen.odd
            .push(format!("password step led to {}", location(&res)));
        return seen;
    }
    // The code page's first view sends the code.
    let (mut status, mut page) = b.get_text("/two-factor/verify").await;
    let mut sent = false;
    for _ in 0..TRIES {
        if !page.contains(COULD_NOT_SEND) {
            sent = status == 200;
            if !sent {
                seen.odd.push(format!("code page {status}"));
            }
            break;
        }
        seen.send_messages += 1;
        if status != 503 {
            seen.odd.push(format!("the send failure answered {status}"));
        }
        if seen.send_messages == 1 {
            // No code was sent: a guess signs nobody in.
            let (status, loc, _) = post_and_read_back(
                &b,
                "/two-factor/verify",
                "/two-factor/verify",
                &[("code", "000000")],
            )
            .await;
            seen.guess_not_refused = status != 303
                || loc != "/two-factor/verify"
                || b.get("/account").await.status() == 200;
        }
        let (s, loc, _) = post_from(
            &b,
            "/two-factor/verify",
            "/two-factor/send",
            &[("via", "sms")],
        )
        .await;
        if (s, loc.as_str()) != (303, "/two-factor/verify") {
            seen.odd.push(format!("resend answered {s} {loc}"));
            return seen;
        }
        (status, page) = b.get_text("/two-factor/verify").await;
    }
    if !sent {
        return seen;
    }
    let Some(code) = outbox_texts(app, &national(i))
        .first()
        .and_then(|t| crate::helpers::code_in(t))
    else {
        seen.odd.push("no code in the sandbox's outbox".into());
        return seen;
    };
    for _ in 0..TRIES {
        let (status, loc, page) = post_and_read_back(
            &b,
            "/two-factor/verify",
            "/two-factor/verify",
            &[("code", &code)],
        )
        .await;
        if (status, loc.as_str()) == (303, "/") {
            seen.signed_in = b.get("/account").await.status() == 200;
            return seen;
        }
        if page.contains(COULD_NOT_CHECK) {
            seen.check_messages += 1;
        } else {
            seen.odd
                .push(format!("the right code answered {status} {loc}"));
            return seen;
        }
    }
    seen
}

fn sessions_of(app: &TestApp, id: i64) -> usize {
    sessions::table
        .filter(sessions::account_id.eq(id))
        .count()
        .get_result::<i64>(&mut app.db.get().unwrap())
        .unwrap() as usize
}

async fn storm(gateway: Gateway) {
    let gw = FaultGateway::start(HANG).await.unwrap();
    let url = gw.url.clone();
    let app = spawn_app_with(default_addons, move |s| {
        s.two_factor.sandbox_url = format!("{url}/sandbox/authy");
        s.two_factor.verify_sandbox_url = format!("{url}/sandbox/twilio");
        s.two_factor.gateway_timeout_ms = TIMEOUT_MS;
        s.server.trust_forwarded_for = true;
        s.sandbox.rate_limit_per_minute = 0;
        s.database.pool_size = 8;
    })
    .await;
    gw.set_upstream(&app.address);
    app.login_admin().await;
    let owner = &app.browser;
    assert_eq!(
        owner
            .post_form("/admin/addons/two_factor/enable", &[])
            .await
            .status(),
        303
    );
    let settings: Vec<(&str, &str)> = match gateway {
        Gateway::Verify => vec![
            ("gateway", "twilio_verify"),
            ("twilio_account_sid", AC),
            ("twilio_auth_token", AUTH_TOKEN),
            ("twilio_service_sid", VA),
            ("customer_enabled", "on"),
        ],
        Gateway::Authy => vec![
            ("gateway", "authy"),
            ("api_key", AUTHY_KEY),
            ("customer_enabled", "on"),
        ],
    };
    let res = owner
        .post_form("/admin/addons/two_factor/settings", &settings)
        .await;
    assert_eq!(res.status(), 303, "settings saved");

    // Returning customers: SMS set up; with Authy, known to the gateway.
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        let email = format!("c{i}@example.com");
        let id = app.create_account(&email, PASSWORD, Role::Customer);
        app.add_phone(id, &national(i), SmsSetUp::Complete);
        let key = match gateway {
            Gateway::Verify => format!("+1{}", national(i)),
            Gateway::Authy => register_with_sandbox(&app, id, &email, &national(i)).to_string(),
        };
        customers.push((i, email, id, key));
    }

    // The catalog, asked again and again while the storm lasts.
    let storming = Arc::new(AtomicBool::new(true));
    let catalog = {
        let (storming, base) = (storming.clone(), app.address.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            while storming.load(Ordering::Relaxed) {
                let status = client
                    .get(format!("{base}/"))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                statuses.push(status);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            statuses
        })
    };
    let app = Arc::new(app);
    let gate = Arc::new(tokio::sync::Barrier::new(CUSTOMERS));
    let tasks: Vec<_> = customers
        .iter()
        .map(|(i, email, _, _)| {
            let (app, gate, i, email) = (app.clone(), gate.clone(), *i, email.clone());
            tokio::spawn(async move {
                gate.wait().await;
                sign_in(&app, i, &email).await
            })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    storming.store(false, Ordering::Relaxed);
    let catalog = catalog.await.unwrap();

    // The storm had its faults: half of the first sends and of the first
    // checks, each fault a quarter of those.
    let (sends, checks) = (gw.tally(Kind::Send), gw.tally(Kind::Check));
    eprintln!(
        "gateway chaos ({}): sends {sends:?}; checks {checks:?}; catalog answers during the storm: {}",
        match gateway {
            Gateway::Verify => "Verify",
            Gateway::Authy => "Authy",
        },
        catalog.len()
    );
    let per_fault = CUSTOMERS / ROTATION.len();
    for fault in FAULTS {
        assert_eq!(sends.get(&fault), Some(&per_fault), "{fault:?} sends");
        assert_eq!(checks.get(&fault), Some(&per_fault), "{fault:?} checks");
    }

    let (mut send_affected, mut check_affected) = (0, 0);
    for ((_, email, id, key), seen) in customers.iter().zip(&seen) {
        assert!(seen.odd.is_empty(), "{email}: {:?}", seen.odd);
        // Every customer the gateway failed saw the message.
        let send_faults = gw.faults_for(Kind::Send, key);
        let check_faults = gw.faults_for(Kind::Check, key);
        assert!(
            seen.send_messages >= send_faults,
            "{email}: {send_faults} failed sends, {seen:?}"
        );
        assert!(
            seen.check_messages >= check_faults,
            "{email}: {check_faults} failed checks, {seen:?}"
        );
        send_affected += usize::from(send_faults > 0);
        check_affected += usize::from(check_faults > 0);
        assert!(
            !seen.guess_not_refused,
            "{email}: a guessed code was not refused"
        );
        // No session without a code the sandbox approved; and, the
        // gateway back for them, everyone signed in once.
        let approved = gw.approved_for(key);
        let sessions = sessions_of(&app, *id);
        assert!(
            sessions <= approved,
            "{email}: {sessions} sessions for {approved} approved codes"
        );
        assert!(
            seen.signed_in,
            "{email} signed in after the faults: {seen:?}"
        );
        assert_eq!(sessions, 1, "{email}");
    }
    eprintln!(
        "  customers: {CUSTOMERS}; saw the send message: {}; saw the check message: {}; signed in: {}",
        seen.iter().filter(|s| s.send_messages > 0).count(),
        seen.iter().filter(|s| s.check_messages > 0).count(),
        seen.iter().filter(|s| s.signed_in).count(),
    );
    assert_eq!(send_affected, CUSTOMERS / 2);
    assert_eq!(check_affected, CUSTOMERS / 2);

    // The rest of the store kept serving.
    assert!(
        !catalog.is_empty(),
        "the catalog was asked during the storm"
    );
    let failed: Vec<_> = catalog.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "catalog answers during the storm: {failed:?}"
    );
}

/// Registers the customer's phone with the sandbox's Authy API, as a first
/// code would have (a returning customer); the gateway's id.
fn register_with_sandbox(app: &TestApp, account_id: i64, email: &str, national: &str) -> i64 {
    use storefront_2fa::authy_sandbox::{phone, users};
    use storefront_2fa::two_factor::gateways::AuthyId;
    use storefront_2fa::two_factor::store;
    let mut conn = app.db.get().unwrap();
    let gateway_phone = phone::validate(1, national).unwrap();
    let id = users::register(&mut conn, &gateway_phone, email).unwrap();
    store::save_authy_id(&mut conn, account_id, &format!("+1{national}"), AuthyId(id)).unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_failing_under_a_verify_storm_signs_nobody_in_without_a_code() {
    storm(Gateway::Verify).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_failing_under_an_authy_storm_signs_nobody_in_without_a_code() {
    storm(Gateway::Authy).await;
}
