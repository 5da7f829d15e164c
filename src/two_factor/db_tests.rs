//! The addon's database code against a real database: SQLite in a temp
//! folder, or PostgreSQL when `TEST_DATABASE_URL` is set.

use diesel::prelude::*;

use crate::db::schema::accounts;
use crate::db::scratch::ScratchDatabase;
use crate::db::{now, Db};

use crate::two_factor::gateways::AuthyId;
use crate::two_factor::limits::{self, CodeGate, SendGate, WaitReason};
use crate::two_factor::sms::phone::PhoneNumber;
use crate::two_factor::store;

struct TestDb {
    db: Db,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<ScratchDatabase>,
}

fn fresh() -> TestDb {
    let (url, dir, pg) = match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let pg = ScratchDatabase::create(&base, "tfa_unit").expect("create a test database");
            (pg.url().to_string(), None, Some(pg))
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            (
                format!("sqlite://{}/t.db", dir.path().display()),
                Some(dir),
                None,
            )
        }
    };
    let db = Db::connect(&url, 8).unwrap();
    crate::db::migrations::run(&mut db.get().unwrap()).unwrap();
    crate::db::migrations::run_set(&mut db.get().unwrap(), &crate::two_factor::MIGRATIONS).unwrap();
    TestDb {
        db,
        _dir: dir,
        _pg: pg,
    }
}

fn account(db: &Db, email: &str) -> i64 {
    let mut conn = db.get().unwrap();
    diesel::insert_into(accounts::table)
        .values((
            accounts::email.eq(email),
            accounts::password_hash.eq("x"),
            accounts::role.eq("customer"),
            accounts::name.eq(""),
            accounts::must_change_password.eq(false),
            accounts::created_at.eq(now()),
            accounts::updated_at.eq(now()),
        ))
        .execute(&mut conn)
        .unwrap();
    accounts::table
        .filter(accounts::email.eq(email))
        .select(accounts::id)
        .first(&mut conn)
        .unwrap()
}

/// Moves every counter window back, as if `secs` had passed.
fn age_counters(db: &Db, secs: i64) {
    use crate::two_factor::schema::tfa_counters;
    diesel::update(tfa_counters::table)
        .set(tfa_counters::window_start.eq(tfa_counters::window_start - secs))
        .execute(&mut db.get().unwrap())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_failures_lock_the_account_even_under_concurrency() {
    let t = fresh();
    let id = account(&t.db, "a@example.com");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let db = t.db.clone();
        tasks.push(tokio::spawn(async move {
            limits::code_attempt(&db, id).await.unwrap()
        }));
    }
    let mut gates = Vec::new();
    for task in tasks {
        gates.push(task.await.unwrap());
    }
    let allowed = gates.iter().filter(|g| **g == CodeGate::Allowed).count();
    assert_eq!(allowed, limits::MAX_FAILS as usize, "{gates:?}");
    assert_eq!(
        gates.iter().filter(|g| **g == CodeGate::LockedNow).count(),
        1
    );
    // Locked: even the attempt that would carry a correct code is refused.
    assert_eq!(
        limits::code_attempt(&t.db, id).await.unwrap(),
        CodeGate::Locked
    );
    // Another account is not affected.
    let other = account(&t.db, "b@example.com");
    assert_eq!(
        limits::code_attempt(&t.db, other).await.unwrap(),
        CodeGate::Allowed
    );
    // After the lock, codes are checked again.
    age_counters(&t.db, limits::LOCK_SECS + 1);
    assert_eq!(
        limits::code_attempt(&t.db, id).await.unwrap(),
        CodeGate::Allowed
    );
}

#[tokio::test]
async fn successes_do_not_count_as_failures() {
    let t = fresh();
    let id = account(&t.db, "a@example.com");
    for _ in 0..30 {
        assert_eq!(
            limits::code_attempt(&t.db, id).await.unwrap(),
            CodeGate::Allowed
        );
        limits::code_succeeded(&t.db, id).await.unwrap();
    }
}

/// All of a send's counters are counted in one statement; a refusal gives
/// back the ones after the counter that refused, so pressing "resend"
/// during the cooldown uses up none of the hourly quotas.
#[tokio::test]
async fn a_refused_send_uses_no_quota_after_the_refusing_counter() {
    use crate::two_factor::schema::tfa_counters;
    let t = fresh();
    let id = account(&t.db, "a@example.com");
    let dest = to("+12015550100");
    assert_eq!(
        limits::send_attempt(&t.db, id, "10.0.0.1", false, &dest)
            .await
            .unwrap(),
        SendGate::Allowed
    );
    for _ in 0..8 {
        let gate = limits::send_attempt(&t.db, id, "10.0.0.1", false, &dest)
            .await
            .unwrap();
        assert!(
            matches!(
                gate,
                SendGate::Wait {
                    reason: WaitReason::Cooldown,
                    ..
                }
            ),
            "{gate:?}"
        );
    }
    let counts: std::collections::BTreeMap<String, i32> =
        t.db.run(|conn| {
            Ok(tfa_counters::table
                .select((tfa_counters::key, tfa_counters::count))
                .load::<(String, i32)>(conn)?
                .into_iter()
                .collect())
        })
        .await
        .unwrap();
    let of = |prefix: &str| {
        counts
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, c)| *c)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("send-cooldown:"), vec![9], "{counts:?}");
    assert_eq!(of("send:acct:"), vec![1], "{counts:?}");
    assert_eq!(of("send:num:"), vec![1, 1], "{counts:?}");
    assert_eq!(of("send:ip:"), vec![1], "{counts:?}");
    assert_eq!(of("send:store"), vec![1], "{counts:?}");
}

/// A used code gives one failure back and ends the resend cooldown, in
/// one statement: the next sign-in may send at once.
#[tokio::test]
async fn a_used_code_gives_back_a_failure_and_ends_the_cooldown() {
    use crate::two_factor::schema::tfa_counters;
    let t = fresh();
    let id = account(&t.db, "a@example.com");
    let dest = to("+12015550100");
    assert_eq!(
        limits::send_attempt(&t.db, id, "10.0.0.1", true, &dest)
            .await
            .unwrap(),
        SendGate::Allowed
    );
    for _ in 0..2 {
        assert_eq!(
            limits::code_attempt(&t.db, id).await.unwrap(),
            CodeGate::Allowed
        );
    }
    assert!(limits::cooldown_left(&t.db, id).await.unwrap() > 0);
    t.db.transaction(move |conn| limits::code_used_in(conn, id))
        .await
        .unwrap();
    assert_eq!(limits::cooldown_left(&t.db, id).await.unwrap(), 0);
    let fails: i32 =
        t.db.run(move |conn| {
            Ok(tfa_counters::table
                .find(format!("fail:acct:{id}"))
                .select(tfa_counters::count)
                .first(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(fails, 1, "one of the two attempts given back");
    assert_eq!(
        limits::send_attempt(&t.db, id, "10.0.0.1", true, &dest)
            .await
            .unwrap(),
        SendGate::Allowed,
        "the next sign-in sends at once"
    );
}

#[tokio::test]
async fn sends_have_a_cooldown_and_hourly_quotas() {
    let t = fresh();
    let id = account(&t.db, "a@example.com");
    assert_eq!(
        limits::send_attempt(&t.db, id, "10.0.0.1", false, &to("+12015550100"))
            .await
            .unwrap(),
        SendGate::Allowed
    );
    match limits::send_attempt(&t.db, id, "10.0.0.1", false, &to("+12015550100"))
        .await
        .unwrap()
    {
        SendGate::Wait {
            seconds,
            reason: WaitReason::Cooldown,
        } => assert!((1..=30).contains(&seconds)),
        other => panic!("{other:?}"),
    }
    // A failed delivery gives the cooldown back.
    limits::release_cooldown(&t.db, id).await.unwrap();
    assert_eq!(
        limits::send_attempt(&t.db, id, "10.0.0.1", false, &to("+12015550100"))
            .await
            .unwrap(),
        SendGate::Allowed
    );
    // Sends 3..5 (each after the cooldown) pass; the 6th in the hour does not.
    for _ in 0..3 {
        age_counters(&t.db, 31);
        assert_eq!(
            limits::send_attempt(&t.db, id, "10.0.0.1", false, &to("+12015550100"))
                .await
                .unwrap(),
            SendGate::Allowed
        );
    }
    age_counters(&t.db, 31);
    match limits::send_attempt(&t.db, id, "10.0.0.1", false, &to("+12015550100"))
        .await
        .unwrap()
    {
        SendGate::Wait {
            seconds,
            reason: WaitReason::AccountHourly,
        } => assert!(seconds > 60 && seconds <= 3600),
        other => panic!("{other:?}"),
    }
    // Per IP: 20 an hour across accounts.
    let mut allowed = 0;
    for n in 0..25 {
        let acct = account(&t.db, &format!("ip{n}@example.com"));
        if limits::send_attempt(
            &t.db,
            acct,
            "10.9.9.9",
            false,
            &to(&format!("+120155502{n:02}")),
        )
        .await
        .unwrap()
            == SendGate::Allowed
        {
            allowed += 1;
        }
    }
    assert_eq!(allowed, limits::SENDS_PER_IP_PER_HOUR);
    // The first code of a sign-in is not held back by the per-IP quota.
    let late = account(&t.db, "late@example.com");
    assert_eq!(
        limits::send_attempt(&t.db, late, "10.9.9.9", true, &to("+12015550300"))
            .await
            .unwrap(),
        SendGate::Allowed
    );
}

/// A send to `number`, with a store ceiling no test here reaches.
fn to(number: &str) -> limits::SendQuota {
    limits::SendQuota {
        destination: number.to_string(),
        store_hourly_ceiling: 10_000,
    }
}

#[tokio::test]
async fn a_number_gets_five_codes_an_hour_and_ten_a_day_whichever_accounts_ask() {
    let t = fresh();
    let mut allowed = 0;
    for n in 0..8 {
        // A fresh account each time, from its own address: only the
        // number is shared, as in SMS pumping through registrations.
        let acct = account(&t.db, &format!("pump{n}@example.com"));
        let ip = format!("10.1.0.{n}");
        if limits::send_attempt(&t.db, acct, &ip, true, &to("+12015550123"))
            .await
            .unwrap()
            == SendGate::Allowed
        {
            allowed += 1;
        }
    }
    assert_eq!(allowed, limits::SENDS_PER_NUMBER_PER_HOUR);
    // Another number is not held back.
    let other = account(&t.db, "other@example.com");
    assert_eq!(
        limits::send_attempt(&t.db, other, "10.2.0.1", true, &to("+12015550124"))
            .await
            .unwrap(),
        SendGate::Allowed
    );
    // Hour after hour, the day's ten are the most.
    let mut day = allowed;
    for hour in 0..3 {
        age_counters(&t.db, 3601);
        for n in 0..6 {
            let acct = account(&t.db, &format!("h{hour}n{n}@example.com"));
            match limits::send_attempt(&t.db, acct, "10.3.0.1", true, &to("+12015550123"))
                .await
                .unwrap()
            {
                SendGate::Allowed => day += 1,
                SendGate::Wait { reason, .. } => assert!(
                    matches!(reason, WaitReason::NumberHourly | WaitReason::NumberDaily),
                    "{reason:?}"
                ),
            }
        }
        // Counters older than a day would be swept; none are here yet.
    }
    assert_eq!(day, limits::SENDS_PER_NUMBER_PER_DAY);
}

#[tokio::test]
async fn the_store_wide_ceiling_stops_every_send_and_is_reported() {
    let t = fresh();
    let quota = |n: usize| limits::SendQuota {
        destination: format!("+1201555{n:04}"),
        store_hourly_ceiling: 3,
    };
    let mut results = Vec::new();
    for n in 0..5 {
        let acct = account(&t.db, &format!("c{n}@example.com"));
        results.push(
            limits::send_attempt(&t.db, acct, "10.4.0.1", true, &quota(n))
                .await
                .unwrap(),
        );
    }
    assert_eq!(&results[..3], &[SendGate::Allowed; 3]);
    for r in &results[3..] {
        assert!(
            matches!(
                r,
                SendGate::Wait {
                    reason: WaitReason::StoreHourly,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    assert!(limits::store_ceiling_reached(&t.db, 3)
        .await
        .unwrap()
        .is_some());
    assert!(limits::store_ceiling_reached(&t.db, 10)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pending_login_completes_once() {
    let t = fresh();
    let id = account(&t.db, "a@example.com");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = t.db.clone();
        tasks.push(tokio::spawn(async move {
            store::claim_completion(&db, "pending-1".into(), id)
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += task.await.unwrap() as usize;
    }
    assert_eq!(wins, 1);
    // The first show of the page sends exactly once too: its claim is
    // counted with the send limits, and a lost claim counts nothing.
    let quota = limits::SendQuota {
        destination: "+12015550123".into(),
        store_hourly_ceiling: 1000,
    };
    let claim = |db: crate::db::Db| {
        let quota = quota.clone();
        async move {
            limits::send_attempt_claimed(
                &db,
                id,
                "10.0.0.1",
                true,
                &quota,
                Some("pending-2".into()),
            )
            .await
            .unwrap()
        }
    };
    let first = claim(t.db.clone()).await;
    let again = claim(t.db.clone()).await;
    assert_eq!((first, again), (Some(limits::SendGate::Allowed), None));
    let standing = limits::send_attempt(&t.db, id, "10.0.0.1", false, &quota)
        .await
        .unwrap();
    assert!(
        matches!(
            standing,
            limits::SendGate::Wait {
                reason: limits::WaitReason::Cooldown,
                ..
            }
        ),
        "the first claim counted the send: {standing:?}"
    );
    // A challenge row is completed once too (a host whose completion is
    // not exclusive claims with it).
    let won = store::claim_completion(&t.db, "pending-2".into(), id)
        .await
        .unwrap();
    let again = store::claim_completion(&t.db, "pending-2".into(), id)
        .await
        .unwrap();
    assert!(won && !again);
}

#[tokio::test]
async fn the_sweep_drops_challenges_and_counters_older_than_a_day_only() {
    use crate::two_factor::schema::{tfa_challenges, tfa_counters};
    let t = fresh();
    let id = account(&t.db, "a@example.com");
    store::claim_completion(&t.db, "old".into(), id)
        .await
        .unwrap();
    store::claim_completion(&t.db, "new".into(), id)
        .await
        .unwrap();
    limits::code_attempt(&t.db, id).await.unwrap();
    let mut conn = t.db.get().unwrap();
    let day_and_a_bit = now() - 86_400 - 60;
    diesel::update(tfa_challenges::table.find("old"))
        .set(tfa_challenges::created_at.eq(day_and_a_bit))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(tfa_counters::table)
        .values((
            tfa_counters::key.eq("send:acct:stale"),
            tfa_counters::window_start.eq(day_and_a_bit),
            tfa_counters::count.eq(3),
        ))
        .execute(&mut conn)
        .unwrap();
    store::sweep_expired(&mut conn, now()).unwrap();
    let challenges: Vec<String> = tfa_challenges::table
        .select(tfa_challenges::pending_id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(challenges, ["new"]);
    let counters: Vec<String> = tfa_counters::table
        .select(tfa_counters::key)
        .load(&mut conn)
        .unwrap();
    assert_eq!(counters, [format!("fail:acct:{id}")]);
}

#[tokio::test]
async fn changing_the_phone_or_the_key_forgets_the_gateway_id() {
    let t = fresh();
    let id = account(&t.db, "a@example.com");
    let phone = PhoneNumber::parse("US", "201-555-0123").unwrap();
    let p = phone.clone();
    assert!(t
        .db
        .transaction(move |c| store::save_phone(c, id, &p))
        .await
        .unwrap());
    store::set_authy_id(&t.db, id, phone.e164().into(), AuthyId(77))
        .await
        .unwrap();
    assert_eq!(
        store::phone_of(&t.db, id).await.unwrap().unwrap().authy_id,
        Some(AuthyId(77))
    );
    // Same number again: nothing changes.
    let p = phone.clone();
    assert!(!t
        .db
        .transaction(move |c| store::save_phone(c, id, &p))
        .await
        .unwrap());
    assert_eq!(
        store::phone_of(&t.db, id).await.unwrap().unwrap().authy_id,
        Some(AuthyId(77))
    );
    // A new number: the id goes.
    let new = PhoneNumber::parse("GB", "07400 123456").unwrap();
    let n = new.clone();
    assert!(t
        .db
        .transaction(move |c| store::save_phone(c, id, &n))
        .await
        .unwrap());
    let stored = store::phone_of(&t.db, id).await.unwrap().unwrap();
    assert_eq!(stored.authy_id, None);
    assert_eq!(stored.phone, new);
    // An id for the old number arriving late is not stored.
    store::set_authy_id(&t.db, id, phone.e164().into(), AuthyId(78))
        .await
        .unwrap();
    assert_eq!(
        store::phone_of(&t.db, id).await.unwrap().unwrap().authy_id,
        None
    );
    store::set_authy_id(&t.db, id, new.e164().into(), AuthyId(79))
        .await
        .unwrap();
    assert_eq!(store::forget_all_authy_ids(&t.db).await.unwrap(), 1);
    assert_eq!(
        store::phone_of(&t.db, id).await.unwrap().unwrap().authy_id,
        None
    );
}

#[tokio::test]
async fn audit_pages_newest_first_and_filters_by_email() {
    use crate::two_factor::audit::{self, AuditEvent};
    let t = fresh();
    for n in 0..60 {
        let mut ev = AuditEvent::new("verify", "failure");
        ev.account_email = if n % 2 == 0 {
            "even_one@example.com".into()
        } else {
            "odd@example.com".into()
        };
        ev.detail = format!("n{n}");
        audit::record(&t.db, ev).await;
    }
    let (rows, more) = audit::page(&t.db, "", 1).await.unwrap();
    assert_eq!(rows.len(), 50);
    assert!(more);
    assert_eq!(rows[0].detail, "n59");
    let (rows, more) = audit::page(&t.db, "", 2).await.unwrap();
    assert_eq!((rows.len(), more), (10, false));
    let (rows, _) = audit::page(&t.db, "EVEN_", 1).await.unwrap();
    assert_eq!(rows.len(), 30);
    assert!(rows.iter().all(|r| r.account_email.starts_with("even")));
    // `_` and `%` are literal in the filter.
    assert_eq!(audit::page(&t.db, "%", 1).await.unwrap().0.len(), 0);
    assert_eq!(audit::page(&t.db, "od_@", 1).await.unwrap().0.len(), 0);
}
