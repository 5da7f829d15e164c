//! Crash and restart (issue 20): the real binary serves SMS sign-ins from
//! several clients, is killed with SIGKILL in the middle of the storm and
//! started again on the same database. Afterwards the database is intact
//! (SQLite: `PRAGMA integrity_check`), no account has a session it did not
//! earn with its code, every sign-in the server acknowledged before the
//! kill is still signed in, a lock taken before the kill still holds, and
//! the store serves again within 5 seconds of the restart.
//!
//! Runs on SQLite, and on PostgreSQL with `TEST_DATABASE_URL` (there the
//! store process is killed, not the database; see `hardening_pg_restart`).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use storefront_2fa::authy_sandbox::schema::sandbox_outbox;
use storefront_2fa::db::schema::sessions;
use storefront_2fa::db::Db;
use storefront_2fa::host::{accounts, email::Email, password::hash_blocking};
use storefront_2fa::plugin::Role;

use crate::helpers::{extract_csrf, location, refused_to, Browser, TestDb};

const PASSWORD: &str = "a-good-password-1";
const KEY: &str = "crash-test-sandbox-key";
/// Customers in the storm: one sign-in each (the per-account resend
/// cooldown allows one code per half minute).
const CUSTOMERS: usize = 16;
/// Concurrent clients, each signing in its share of the customers.
const CLIENTS: usize = 4;
/// Acknowledged sign-ins to wait for before the kill.
const KILL_AFTER: usize = 5;

struct Store {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(db: &TestDb, data: &std::path::Path, port: u16) -> Store {
    let log = std::fs::File::create(data.join(format!("server-{port}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_storefront-2fa"))
        .current_dir(data)
        .env("STOREFRONT__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("STOREFRONT__SERVER__WORKERS", "2")
        .env("STOREFRONT__DATABASE__URL", &db.url)
        .env("STOREFRONT__DATABASE__POOL_SIZE", "4")
        .env("STOREFRONT__DATA_DIR", data)
        .env("STOREFRONT__DEMO_DATA", "true")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the store binary");
    Store {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Polls until the store answers its health check and its home page;
/// returns how long that took, or None past `limit`.
async fn wait_serving(base: &str, limit: Duration) -> Option<Duration> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < limit {
        let health = client.get(format!("{base}/healthz")).send().await;
        if health.is_ok_and(|r| r.status() == 200) {
            let home = client.get(format!("{base}/")).send().await;
            if home.is_ok_and(|r| r.status() == 200) {
                return Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn national(i: usize) -> String {
    format!("20155501{i:02}")
}

fn create_customer(
    db: &Db,
    key: &storefront_2fa::crypto::SecretKey,
    email: &str,
    phone: &str,
) -> i64 {
    use storefront_2fa::two_factor::recovery::codes as recovery;
    use storefront_2fa::two_factor::sms::phone::PhoneNumber;
    use storefront_2fa::two_factor::store;
    let mut conn = db.get().unwrap();
    let id = accounts::insert(
        &mut conn,
        &Email::parse(email).unwrap(),
        &hash_blocking(PASSWORD),
        Role::Customer,
        "Crash Test",
    )
    .unwrap();
    store::save_phone(&mut conn, id, &PhoneNumber::parse("US", phone).unwrap()).unwrap();
    recovery::regenerate(&mut conn, key, id).unwrap();
    id
}

/// The newest code the sandbox texted to `phone`, if any.
fn last_code(db: &Db, phone: &str) -> Option<String> {
    let text: String = sandbox_outbox::table
        .filter(sandbox_outbox::phone.eq(phone))
        .order(sandbox_outbox::id.desc())
        .select(sandbox_outbox::text)
        .first(&mut db.get().ok()?)
        .optional()
        .ok()??;
    crate::helpers::code_in(&text)
}

/// Moves every counter window back, past the resend cooldown.
fn age_counters(db: &Db) {
    use storefront_2fa::two_factor::schema::tfa_counters;
    diesel::update(tfa_counters::table)
        .set(tfa_counters::window_start.eq(tfa_counters::window_start - 31))
        .execute(&mut db.get().unwrap())
        .unwrap();
}

/// POSTs a code on the customer code page; the status and Location.
async fn post_code(b: &Browser, code: &str) -> Result<(u16, String), reqwest::Error> {
    let page = b
        .client
        .get(b.url("/two-factor/verify"))
        .send()
        .await?
        .text()
        .await?;
    let token = extract_csrf(&page);
    let res = b
        .client
        .post(b.url("/two-factor/verify"))
        .form(&[("code", code), ("csrf_token", token.as_str())])
        .send()
        .await?;
    Ok((res.status().as_u16(), location(&res)))
}

#[derive(Default)]
struct Storm {
    /// Sign-ins the server acknowledged (303 to the account), by account:
    /// the session cookie it set.
    acknowledged: Vec<(String, String)>,
    /// Right codes sent, by account, answered or not.
    codes_sent: BTreeMap<String, usize>,
}

/// One client: signs in each of `emails` in turn, until the store goes away.
async fn client(base: String, db: Db, emails: Vec<(String, String)>, storm: Arc<Mutex<Storm>>) {
    for (email, phone) in emails {
        let b = Browser::new(&base);
        let step = async {
            let res = b.login("/login", &email, PASSWORD).await;
            if location(&res) != "/two-factor/verify" {
                return Ok::<bool, reqwest::Error>(false);
            }
            // Showing the code page sends the code.
            b.client
                .get(b.url("/two-factor/verify"))
                .send()
                .await?
                .text()
                .await?;
            let Some(code) = last_code(&db, &phone) else {
                return Ok(false);
            };
            *storm
                .lock()
                .unwrap()
                .codes_sent
                .entry(email.clone())
                .or_default() += 1;
            let (status, loc) = post_code(&b, &code).await?;
            Ok(status == 303 && !refused_to(&loc))
        };
        // `login` unwraps its own request; a dead server panics there.
        match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(step)).await {
            Ok(Ok(true)) => {
                let cookie = b.cookie().expect("a session cookie");
                storm.lock().unwrap().acknowledged.push((email, cookie));
            }
            Ok(Ok(false)) => {}
            Ok(Err(_)) | Err(_) => return,
        }
    }
}

fn sessions_of(db: &Db, id: i64) -> i64 {
    sessions::table
        .filter(sessions::account_id.eq(id))
        .count()
        .get_result(&mut db.get().unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_killed_mid_storm_restarts_intact() {
    let db = TestDb::fresh();
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut store = Guard(start(&db, data.path(), port));
    let base = store.0.base.clone();
    assert!(
        wait_serving(&base, Duration::from_secs(60)).await.is_some(),
        "the store started"
    );
    let pool = Db::connect(&db.url, 4).unwrap();
    let key = storefront_2fa::crypto::SecretKey::load_or_create(data.path()).unwrap();

    // The owner turns SMS codes on for customers, in test mode.
    {
        let mut conn = pool.get().unwrap();
        accounts::insert(
            &mut conn,
            &Email::parse("owner@example.com").unwrap(),
            &hash_blocking("owner-password-1"),
            Role::Admin,
            "Owner",
        )
        .unwrap();
    }
    let owner = Browser::new(&base);
    let res = owner
        .login("/admin/login", "owner@example.com", "owner-password-1")
        .await;
    assert_eq!(location(&res), "/admin");
    assert_eq!(
        owner
            .post_form("/admin/addons/two_factor/enable", &[])
            .await
            .status(),
        303
    );
    let res = owner
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", KEY), ("customer_enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);

    // A customer locked by ten wrong codes before the crash.
    let locked_phone = national(99);
    let locked = create_customer(&pool, &key, "locked@example.com", &locked_phone);
    for _ in 0..2 {
        let b = Browser::new(&base);
        assert_eq!(
            location(&b.login("/login", "locked@example.com", PASSWORD).await),
            "/two-factor/verify"
        );
        age_counters(&pool);
        b.get_text("/two-factor/verify").await;
        for _ in 0..5 {
            let (status, _) = post_code(&b, "0000000").await.unwrap();
            assert_eq!(status, 303);
        }
    }
    let locked_code = last_code(&pool, &locked_phone).expect("a code was sent");

    // The storm.
    let mut ids = BTreeMap::new();
    let mut shares: Vec<Vec<(String, String)>> = vec![Vec::new(); CLIENTS];
    for i in 0..CUSTOMERS {
        let email = format!("c{i}@example.com");
        ids.insert(
            email.clone(),
            create_customer(&pool, &key, &email, &national(i)),
        );
        shares[i % CLIENTS].push((email, national(i)));
    }
    let storm = Arc::new(Mutex::new(Storm::default()));
    let tasks: Vec<_> = shares
        .into_iter()
        .map(|share| tokio::spawn(client(base.clone(), pool.clone(), share, storm.clone())))
        .collect();
    let waited = Instant::now();
    while storm.lock().unwrap().acknowledged.len() < KILL_AFTER {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "sign-ins go through"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.0.child.kill().expect("SIGKILL");
    store.0.child.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let storm = Arc::try_unwrap(storm).ok().unwrap().into_inner().unwrap();
    assert!(storm.acknowledged.len() >= KILL_AFTER);
    assert!(
        storm.acknowledged.len() < CUSTOMERS,
        "the kill came mid-storm: {} of {CUSTOMERS} signed in",
        storm.acknowledged.len()
    );

    // The database is intact.
    if db.dir().is_some() {
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let path = db.url.strip_prefix("sqlite://").unwrap();
        let mut raw = diesel::SqliteConnection::establish(path).unwrap();
        let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut raw)
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].integrity_check, "ok");
    }

    // Restart on the same database: serving within 5 seconds.
    let mut restarted = Guard(start(&db, data.path(), port));
    let took = wait_serving(&base, Duration::from_secs(5)).await;
    assert!(took.is_some(), "serving again within 5 s of the restart");
    eprintln!(
        "crash test: {} of {CUSTOMERS} sign-ins acknowledged before SIGKILL; serving again after {:?}",
        storm.acknowledged.len(),
        took.unwrap()
    );

    // Every acknowledged sign-in is still signed in.
    for (email, cookie) in &storm.acknowledged {
        let b = Browser::new(&base);
        b.set_cookie(cookie);
        let (status, page) = b.get_text("/account").await;
        assert_eq!(status, 200, "{email} still signed in");
        assert!(page.contains(email.as_str()), "{email}");
    }
    // No account holds a session it did not earn with its code.
    for (email, id) in &ids {
        let sent = storm.codes_sent.get(email).copied().unwrap_or(0) as i64;
        assert!(
            sessions_of(&pool, *id) <= sent,
            "{email}: a session without a code"
        );
    }
    assert_eq!(sessions_of(&pool, locked), 0);
    // The lock taken before the crash still holds, even for the right code.
    let b = Browser::new(&base);
    assert_eq!(
        location(&b.login("/login", "locked@example.com", PASSWORD).await),
        "/two-factor/verify"
    );
    let (status, loc) = post_code(&b, &locked_code).await.unwrap();
    assert_eq!((status, loc.as_str()), (303, "/two-factor/ended"));
    let (_, page) = b.get_text("/two-factor/ended").await;
    assert!(
        page.contains("you can sign in again in 15 minutes"),
        "{page}"
    );
    assert_eq!(sessions_of(&pool, locked), 0);
    restarted.0.child.kill().unwrap();
    restarted.0.child.wait().unwrap();
}

/// Kills the store if the test fails before it does.
struct Guard(Store);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}
