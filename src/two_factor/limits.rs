//! Rate limits and lockouts, all in the database so every instance shares
//! them. Counters are fixed windows in `tfa_counters`, each hit one atomic
//! upsert that returns the new count, inside the transaction of the check
//! it guards, so concurrent requests cannot slip past.

use diesel::prelude::*;

use crate::db::{now, Db, DbConn, DbError};
use crate::two_factor::schema::tfa_counters;

/// Wrong codes an account may enter per window before it is locked.
pub const MAX_FAILS: i32 = 10;
pub const FAIL_WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;
/// Wrong codes per pending login; the next attempt voids it.
pub const MAX_PENDING_ATTEMPTS: i32 = 5;

pub const SEND_COOLDOWN_SECS: i64 = 30;
pub const SENDS_PER_ACCOUNT_PER_HOUR: i32 = 5;
pub const SENDS_PER_IP_PER_HOUR: i32 = 20;
/// Codes one phone number may receive, whichever accounts ask: many
/// accounts made for one number must not make many texts (SMS pumping).
pub const SENDS_PER_NUMBER_PER_HOUR: i32 = 5;
pub const SENDS_PER_NUMBER_PER_DAY: i32 = 10;
/// Accounts registered with a phone number from one address in an hour.
pub const REGISTRATIONS_PER_IP_PER_HOUR: i32 = 10;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub count: i32,
    pub window_start: i64,
}

/// Adds one to `key` in a window of `window` seconds (a new window starts
/// when the old one is over) and returns the new count, in one atomic
/// statement on both backends: an upsert that counts on a live window,
/// restarts a window that has run out, or starts the first. Concurrent hits
/// on one key queue on its row, so none is lost. (It replaced an update,
/// an update, an insert and a select: diesel compiles every UPDATE afresh,
/// and three counters are hit on each sign-in.)
pub fn hit(conn: &mut DbConn, key: &str, window: i64, t: i64) -> Result<Hit, DbError> {
    crate::on_backend!(conn, |conn| {
        use diesel::sql_types::{BigInt, Text};
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            count: i32,
            #[diesel(sql_type = BigInt)]
            window_start: i64,
        }
        // `$n` parameters are understood by PostgreSQL and SQLite alike.
        let row: Row = diesel::sql_query(
            "INSERT INTO tfa_counters (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN tfa_counters.window_start > $3 THEN tfa_counters.count + 1 ELSE 1 END, \
               window_start = CASE WHEN tfa_counters.window_start > $3 THEN tfa_counters.window_start ELSE $2 END \
             RETURNING count, window_start",
        )
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(t)
        .bind::<BigInt, _>(t - window)
        .get_result(conn)?;
        Ok(Hit {
            count: row.count,
            window_start: row.window_start,
        })
    })
}

/// Counts a code attempt on the account's failure counter and returns,
/// with its count, when the account's lock started (None: never locked):
/// one statement, not a count and a read. The lock row is part of the
/// upsert (created as never locked, start 0, or left as it is), not read
/// by a subquery: a subquery reads PostgreSQL's snapshot from before the
/// statement waited on the failure counter, so attempts that queued
/// behind the one that locked the account would not see its lock. An
/// upserted row is read as it is once its lock is taken.
fn count_failure_reading_lock(
    conn: &mut DbConn,
    account_id: i64,
    t: i64,
) -> Result<(Hit, Option<i64>), DbError> {
    crate::on_backend!(conn, |conn| {
        use diesel::sql_types::{BigInt, Text};
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            key: String,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            count: i32,
            #[diesel(sql_type = BigInt)]
            window_start: i64,
        }
        let (fails, lock) = (fail_key(account_id), lock_key(account_id));
        // Parameters in order of first use: SQLite numbers `$n` that way.
        let rows: Vec<Row> = diesel::sql_query(
            "INSERT INTO tfa_counters (key, window_start, count) VALUES ($1, $2, 1), ($3, 0, 0) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN excluded.key = $3 THEN tfa_counters.count \
                 WHEN tfa_counters.window_start > $4 THEN tfa_counters.count + 1 ELSE 1 END, \
               window_start = CASE WHEN excluded.key = $3 THEN tfa_counters.window_start \
                 WHEN tfa_counters.window_start > $4 THEN tfa_counters.window_start ELSE $2 END \
             RETURNING key, count, window_start",
        )
        .bind::<Text, _>(&fails)
        .bind::<BigInt, _>(t)
        .bind::<Text, _>(&lock)
        .bind::<BigInt, _>(t - FAIL_WINDOW_SECS)
        .load(conn)?;
        let mut hit = None;
        let mut locked_since = None;
        for row in rows {
            if row.key == fails {
                hit = Some(Hit {
                    count: row.count,
                    window_start: row.window_start,
                });
            } else if row.window_start > 0 {
                locked_since = Some(row.window_start);
            }
        }
        let hit = hit.ok_or(DbError::Query(diesel::result::Error::NotFound))?;
        Ok((hit, locked_since))
    })
}

/// Starts a new window of one for `key` at `t`, whether or not it had one.
fn restart(conn: &mut DbConn, key: &str, t: i64) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        use diesel::sql_types::{BigInt, Text};
        diesel::sql_query(
            "INSERT INTO tfa_counters (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET window_start = $2, count = 1",
        )
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(t)
        .execute(conn)?;
        Ok(())
    })
}

fn fail_key(account_id: i64) -> String {
    format!("fail:acct:{account_id}")
}
fn lock_key(account_id: i64) -> String {
    format!("lock:acct:{account_id}")
}
pub(crate) fn cooldown_key(account_id: i64) -> String {
    format!("send-cooldown:acct:{account_id}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeGate {
    /// Go on and check the code.
    Allowed,
    /// The account is locked (refuse even a correct code).
    Locked,
    /// This attempt crossed the limit and locked the account.
    LockedNow,
}

/// Counts one code attempt for the account before the code is checked.
pub async fn code_attempt(db: &Db, account_id: i64) -> Result<CodeGate, DbError> {
    // Only upserts and reads: nothing here can conflict, so nothing to retry.
    db.transaction(move |conn| code_attempt_in(conn, account_id))
        .await
}

/// `code_attempt` inside the caller's write transaction.
pub fn code_attempt_in(conn: &mut DbConn, account_id: i64) -> Result<CodeGate, DbError> {
    {
        let t = now();
        let (fails, locked_since) = count_failure_reading_lock(conn, account_id, t)?;
        if locked_since.is_some_and(|since| since > t - LOCK_SECS) {
            return Ok(CodeGate::Locked);
        }
        if fails.count > MAX_FAILS {
            // Start the lock; the next window of failures starts after it.
            restart(conn, &lock_key(account_id), t)?;
            crate::on_backend!(conn, |c| diesel::delete(
                tfa_counters::table.find(fail_key(account_id))
            )
            .execute(c))?;
            return Ok(CodeGate::LockedNow);
        }
        Ok(CodeGate::Allowed)
    }
}

/// Where an account stands after a wrong code: how many more it may enter
/// before it is locked, and when it may sign in again if it cannot now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Wrong codes the account may still enter in this window; the next
    /// one after these locks it (even a right code is then refused).
    pub fails_left: i32,
    /// Seconds until a code is accepted again: the lock's end when the
    /// account is locked, else the end of the window of failures when none
    /// are left; 0 when codes are accepted now.
    pub wait_secs: i64,
}

/// The account's standing, read (nothing is counted).
pub async fn standing(db: &Db, account_id: i64) -> Result<Standing, DbError> {
    db.run(move |conn| {
        let t = now();
        let read = |conn: &mut DbConn, key: String| -> Result<Option<(i64, i32)>, DbError> {
            Ok(crate::on_backend!(conn, |c| tfa_counters::table
                .find(key)
                .select((tfa_counters::window_start, tfa_counters::count))
                .first::<(i64, i32)>(c)
                .optional())?)
        };
        if let Some((since, _)) =
            read(conn, lock_key(account_id))?.filter(|(s, _)| *s > t - LOCK_SECS)
        {
            return Ok(Standing {
                fails_left: 0,
                wait_secs: (since + LOCK_SECS - t).max(1),
            });
        }
        Ok(
            match read(conn, fail_key(account_id))?.filter(|(s, _)| *s > t - FAIL_WINDOW_SECS) {
                Some((start, count)) => {
                    let fails_left = (MAX_FAILS - count).max(0);
                    Standing {
                        fails_left,
                        wait_secs: if fails_left == 0 {
                            (start + FAIL_WINDOW_SECS - t).max(1)
                        } else {
                            0
                        },
                    }
                }
                None => Standing {
                    fails_left: MAX_FAILS,
                    wait_secs: 0,
                },
            },
        )
    })
    .await
}

/// A correct code does not count as a failure: give the attempt back.
pub async fn code_succeeded(db: &Db, account_id: i64) -> Result<(), DbError> {
    db.transaction(move |conn| give_back_attempt(conn, account_id))
        .await
}

/// Takes one failure off the account's count (never below zero), in the
/// caller's transaction (`code_succeeded`).
pub fn give_back_attempt(conn: &mut DbConn, account_id: i64) -> Result<(), DbError> {
    crate::on_backend!(conn, |c| diesel::update(
        tfa_counters::table
            .find(fail_key(account_id))
            .filter(tfa_counters::count.gt(0)),
    )
    .set(tfa_counters::count.eq(tfa_counters::count - 1))
    .execute(c))?;
    Ok(())
}

/// A texted code was used: the attempt is given back (as `code_succeeded`)
/// and the resend cooldown ends, so that the next sign-in, even seconds
/// later, gets its own first code. In the caller's write transaction (the
/// one that completes the sign-in).
pub fn code_used_in(conn: &mut DbConn, account_id: i64) -> Result<(), DbError> {
    // One statement for both: the failure count goes down by one (never
    // below zero), and the cooldown's window is moved to the epoch, which
    // has run out for `hit` and `cooldown_left` alike (the sweep deletes it).
    let (fail, cooldown) = (fail_key(account_id), cooldown_key(account_id));
    crate::on_backend!(conn, |c| diesel::update(
        tfa_counters::table.filter(tfa_counters::key.eq_any([&fail, &cooldown]))
    )
    .set((
        tfa_counters::count.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(
            "CASE WHEN key LIKE 'fail:%' AND count > 0 THEN count - 1 ELSE count END"
        )),
        tfa_counters::window_start.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CASE WHEN key LIKE 'send-cooldown:%' THEN 0 ELSE window_start END"
        )),
    ))
    .execute(c))?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendGate {
    Allowed,
    /// Refused; the user may try again after this many seconds.
    Wait {
        seconds: i64,
        reason: WaitReason,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitReason {
    Cooldown,
    AccountHourly,
    IpHourly,
    NumberHourly,
    NumberDaily,
    /// The store-wide hourly ceiling was reached.
    StoreHourly,
}

impl WaitReason {
    /// For the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Cooldown => "cooldown",
            WaitReason::AccountHourly => "account hourly limit",
            WaitReason::IpHourly => "IP hourly limit",
            WaitReason::NumberHourly => "phone number hourly limit",
            WaitReason::NumberDaily => "phone number daily limit",
            WaitReason::StoreHourly => "store hourly ceiling",
        }
    }
}

/// Where a code would go and what the store allows in all.
#[derive(Clone, Debug)]
pub struct SendQuota {
    /// The destination number (E.164); kept only hashed in the counters.
    pub destination: String,
    pub store_hourly_ceiling: i32,
}

fn number_key(window: &str, destination: &str) -> String {
    format!(
        "send:num:{window}:{}",
        crate::crypto::sha256_hex(destination)
    )
}

const STORE_KEY: &str = "send:store";

/// `send_attempt_claimed` without a claim.
#[cfg(test)]
pub async fn send_attempt(
    db: &Db,
    account_id: i64,
    ip: &str,
    initial: bool,
    quota: &SendQuota,
) -> Result<SendGate, DbError> {
    let gate = send_attempt_claimed(db, account_id, ip, initial, quota, None).await?;
    Ok(gate.unwrap_or(SendGate::Allowed))
}

/// The counter that claims the first code of a sign-in for one view of
/// the code page: counted first, with the send limits, in one statement
/// (`send_attempt_claimed`); the view that counts it first sends. It was
/// a row of its own (`tfa_challenges.sent_at`), one statement more.
fn first_code_key(pending_id: &str) -> String {
    format!("first-code:{pending_id}")
}

/// The first code of the sign-in `pending_id` could not be sent (a limit):
/// the next view of the code page may try again.
pub fn unclaim_first_code(conn: &mut DbConn, pending_id: &str) -> Result<(), DbError> {
    diesel::delete(tfa_counters::table.find(first_code_key(pending_id))).execute(conn)?;
    Ok(())
}

/// A limit held the first code of the sign-in `pending_id` back for
/// `seconds` (at its password step): the claim stays taken until then, so
/// the views during the wait send nothing, and the first view after it
/// claims and sends the code. (The claim's window is a day: it is made to
/// end when the wait does.)
pub fn defer_first_code(conn: &mut DbConn, pending_id: &str, seconds: i64) -> Result<(), DbError> {
    restart(conn, &first_code_key(pending_id), now() + seconds - DAY)
}

/// A code was sent for the sign-in `pending_id` otherwise (a resend after
/// a first view that could not send): the next view must not send one.
pub fn mark_first_code_sent(conn: &mut DbConn, pending_id: &str) -> Result<(), DbError> {
    restart(conn, &first_code_key(pending_id), now())
}

/// Counts one SMS or call before it is requested: 30 s apart, at most 5 per
/// account, 5 an hour and 10 a day per destination number, 20 per client IP
/// per hour, and the store's hourly ceiling. The first code of a sign-in
/// (`initial`) skips the per-IP quota: it follows a correct password, and
/// many shoppers can share one address; the per-number and store-wide caps
/// still hold, so making accounts does not make texts. With `first_code`
/// (the sign-in's pending login id, for the code page's view that sends
/// its first code), that claim is counted first, in the same statement:
/// None when it was lost (an earlier view sent it), and then nothing else
/// is counted.
pub async fn send_attempt_claimed(
    db: &Db,
    account_id: i64,
    ip: &str,
    initial: bool,
    quota: &SendQuota,
    first_code: Option<String>,
) -> Result<Option<SendGate>, DbError> {
    let (ip, quota) = (ip.to_string(), quota.clone());
    db.transaction(move |conn| {
        send_attempt_claimed_in(conn, account_id, &ip, initial, &quota, first_code)
    })
    .await
}

/// `send_attempt_claimed` in the caller's transaction (the password step's,
/// which claims the first code of its sign-in with the pending login).
pub fn send_attempt_claimed_in(
    conn: &mut DbConn,
    account_id: i64,
    ip: &str,
    initial: bool,
    quota: &SendQuota,
    first_code: Option<String>,
) -> Result<Option<SendGate>, DbError> {
    // One check per counter, in this order: the first refusal says why.
    let mut checks = vec![
        (
            cooldown_key(account_id),
            SEND_COOLDOWN_SECS,
            1,
            WaitReason::Cooldown,
        ),
        (
            format!("send:acct:{account_id}"),
            HOUR,
            SENDS_PER_ACCOUNT_PER_HOUR,
            WaitReason::AccountHourly,
        ),
        (
            number_key("h", &quota.destination),
            HOUR,
            SENDS_PER_NUMBER_PER_HOUR,
            WaitReason::NumberHourly,
        ),
        (
            number_key("d", &quota.destination),
            DAY,
            SENDS_PER_NUMBER_PER_DAY,
            WaitReason::NumberDaily,
        ),
    ];
    if !initial {
        checks.push((
            format!("send:ip:{ip}"),
            HOUR,
            SENDS_PER_IP_PER_HOUR,
            WaitReason::IpHourly,
        ));
    }
    checks.push((
        STORE_KEY.to_string(),
        HOUR,
        quota.store_hourly_ceiling,
        WaitReason::StoreHourly,
    ));
    // Every counter is counted in one statement (`hit_all`). When one
    // refuses, the ones after it are given back in one more, so a refused
    // request uses up no quota past the one that refused it, as when they
    // were counted one by one.
    // The claim of the first code comes first: one a day, so a second
    // view finds it taken (the reason is never shown: a lost claim is None).
    let claimed = first_code.is_some();
    if let Some(pending_id) = first_code {
        checks.insert(
            0,
            (first_code_key(&pending_id), DAY, 1, WaitReason::Cooldown),
        );
    }
    let t = now();
    crate::two_factor::store::sweep_if_due(conn, t)?;
    let windows: Vec<(&str, i64)> = checks.iter().map(|c| (c.0.as_str(), c.1)).collect();
    let hits = hit_all(conn, &windows, t)?;
    for (i, (key, window, limit, reason)) in checks.iter().enumerate() {
        let Some(hit) = hits.get(key.as_str()) else {
            return Err(DbError::Query(diesel::result::Error::NotFound));
        };
        if hit.count > *limit {
            let after: Vec<&str> = checks[i + 1..].iter().map(|c| c.0.as_str()).collect();
            give_back(conn, &after)?;
            if claimed && i == 0 {
                return Ok(None);
            }
            return Ok(Some(SendGate::Wait {
                seconds: (hit.window_start + window - t).max(1),
                reason: *reason,
            }));
        }
    }
    Ok(Some(SendGate::Allowed))
}

/// `hit` for several keys at once, each with its own window, in one
/// statement; the new counts by key.
pub fn hit_all(
    conn: &mut DbConn,
    keys: &[(&str, i64)],
    t: i64,
) -> Result<std::collections::HashMap<String, Hit>, DbError> {
    use diesel::sql_types::{BigInt, Integer, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        key: String,
        #[diesel(sql_type = Integer)]
        count: i32,
        #[diesel(sql_type = BigInt)]
        window_start: i64,
    }
    if keys.is_empty() {
        return Ok(Default::default());
    }
    // Parameter 1 is now; each key brings its name and its window. A live
    // window counts on; one that has run out starts again at now. Numbered
    // parameters: `$n` on PostgreSQL, `?n` on SQLite (where `$n` would be
    // a named one, numbered by first appearance).
    let mark = if matches!(conn, DbConn::Sqlite(_)) {
        "?"
    } else {
        "$"
    };
    let n = keys.len();
    let values: Vec<String> = (0..n)
        .map(|i| format!("({mark}{}, {mark}1, 1)", 2 + 2 * i))
        .collect();
    let windows: Vec<String> = (0..n)
        .map(|i| format!("WHEN {mark}{} THEN {mark}{}", 2 + 2 * i, 3 + 2 * i))
        .collect();
    let live = format!(
        "tfa_counters.window_start > {mark}1 - CASE excluded.key {} END",
        windows.join(" ")
    );
    let sql = format!(
        "INSERT INTO tfa_counters (key, window_start, count) VALUES {} \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN {live} THEN tfa_counters.count + 1 ELSE 1 END, \
           window_start = CASE WHEN {live} THEN tfa_counters.window_start ELSE {mark}1 END \
         RETURNING key, count, window_start",
        values.join(", ")
    );
    let rows: Vec<Row> = crate::on_backend!(conn, |c| {
        let mut q = diesel::sql_query(&sql).into_boxed().bind::<BigInt, _>(t);
        for (key, window) in keys {
            q = q.bind::<Text, _>(*key).bind::<BigInt, _>(*window);
        }
        q.load(c)?
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            let hit = Hit {
                count: r.count,
                window_start: r.window_start,
            };
            (r.key, hit)
        })
        .collect())
}

/// Takes back one count from each of `keys` (counted by `hit_all` for a
/// request that another counter refused, or whose first-code claim was
/// lost). A count of one was a window this request started (the key was
/// new or its window had run out): it is ended too (start 0), as it was
/// before, so a page reload does not start a cooldown or move a window.
fn give_back(conn: &mut DbConn, keys: &[&str]) -> Result<(), DbError> {
    if keys.is_empty() {
        return Ok(());
    }
    // Both backends compute SET from the row as it was.
    diesel::update(tfa_counters::table.filter(tfa_counters::key.eq_any(keys)))
        .set((
            tfa_counters::count.eq(tfa_counters::count - 1),
            tfa_counters::window_start.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "CASE WHEN count <= 1 THEN 0 ELSE window_start END",
            )),
        ))
        .execute(conn)?;
    Ok(())
}

/// Counts a registration that brings a phone number from `ip`; false when
/// the address has made too many this hour.
pub async fn registration_attempt(db: &Db, ip: &str) -> Result<bool, DbError> {
    let key = format!("register:ip:{ip}");
    db.transaction(move |conn| {
        Ok(hit(conn, &key, HOUR, now())?.count <= REGISTRATIONS_PER_IP_PER_HOUR)
    })
    .await
}

/// When the store-wide hourly ceiling was last passed, if within the hour.
pub async fn store_ceiling_reached(db: &Db, ceiling: i32) -> Result<Option<i64>, DbError> {
    db.run(move |conn| {
        let row: Option<(i64, i32)> = tfa_counters::table
            .find(STORE_KEY)
            .select((tfa_counters::window_start, tfa_counters::count))
            .first(conn)
            .optional()?;
        Ok(row
            .filter(|(start, count)| *count > ceiling && *start > now() - HOUR)
            .map(|(start, _)| start))
    })
    .await
}

/// Seconds until the account may ask for another code (the resend
/// cooldown); 0 when it may now. For the countdown on the code pages.
pub async fn cooldown_left(db: &Db, account_id: i64) -> Result<i64, DbError> {
    db.run(move |conn| {
        let start = crate::on_backend!(conn, |c| tfa_counters::table
            .find(cooldown_key(account_id))
            .select(tfa_counters::window_start)
            .first::<i64>(c)
            .optional())?;
        Ok(cooldown_left_after(start))
    })
    .await
}

/// The seconds left of a resend cooldown that started at `start` (None:
/// none is running).
pub fn cooldown_left_after(start: Option<i64>) -> i64 {
    start.map_or(0, |s| (s + SEND_COOLDOWN_SECS - now()).max(0))
}

/// The gateway failed: let the user retry at once (quotas stay counted).
pub async fn release_cooldown(db: &Db, account_id: i64) -> Result<(), DbError> {
    db.transaction(move |conn| {
        diesel::delete(tfa_counters::table.find(cooldown_key(account_id))).execute(conn)?;
        Ok(())
    })
    .await
}

/// "in 25 seconds", "in 12 minutes".
pub fn human_wait(seconds: i64) -> String {
    if seconds < 60 {
        format!("in {seconds} second{}", if seconds == 1 { "" } else { "s" })
    } else {
        let minutes = (seconds + 59) / 60;
        format!("in {minutes} minute{}", if minutes == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits_read_well() {
        assert_eq!(super::human_wait(1), "in 1 second");
        assert_eq!(super::human_wait(25), "in 25 seconds");
        assert_eq!(super::human_wait(61), "in 2 minutes");
        assert_eq!(super::human_wait(3600), "in 60 minutes");
    }
}
