//! Monthly counters (API calls, successful authentications, SMS, calls, new
//! users) kept in the database, and the `app/stats` report.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::Datelike;
use diesel::prelude::*;

use super::responses::{obj, J};
use super::APP_ID;
use crate::authy_sandbox::schema::{sandbox_stats as st, sandbox_users};
use crate::db::{Db, DbConn, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    ApiCall,
    Auth,
    Sms,
    Call,
    User,
}

fn this_month() -> (i32, i32) {
    let now = chrono::Utc::now();
    (now.year(), now.month() as i32)
}

impl Counter {
    fn column(self) -> &'static str {
        match self {
            Counter::ApiCall => "api_calls",
            Counter::Auth => "auths",
            Counter::Sms => "sms",
            Counter::Call => "calls",
            Counter::User => "users",
        }
    }
}

/// Adds one to a counter of the current month.
pub fn bump(conn: &mut DbConn, counter: Counter) -> Result<(), DbError> {
    add(conn, counter, 1)
}

/// Adds `n` to a counter of the current month, in one upsert: an
/// update-else-insert racing another at a month's start would meet a unique
/// violation, which on PostgreSQL aborts the caller's transaction.
fn add(conn: &mut DbConn, counter: Counter, n: i64) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        use diesel::sql_types::{BigInt, Integer};
        let (year, month) = this_month();
        // The column name comes from `Counter`, never from input.
        let col = counter.column();
        diesel::sql_query(format!(
            "INSERT INTO sandbox_stats (year, month, {col}) VALUES ($1, $2, $3) \
             ON CONFLICT (year, month) DO UPDATE SET {col} = sandbox_stats.{col} + $3"
        ))
        .bind::<Integer, _>(year)
        .bind::<Integer, _>(month)
        .bind::<BigInt, _>(n)
        .execute(conn)?;
        Ok(())
    })
}

/// API calls counted in memory and added to the month's row at most a
/// second later, and before `app/stats` reads it. Every sandbox call counts,
/// and a write transaction of its own per call was three of the write
/// transactions of each sign-in. A crash loses at most a second of this
/// count (the sandbox's own statistics, nothing a login depends on).
pub struct ApiCalls {
    pending: AtomicI64,
    db: Db,
}

impl ApiCalls {
    /// The counter, and a thread that writes it down every second for as
    /// long as the counter lives.
    pub fn start(db: Db) -> Arc<ApiCalls> {
        let calls = Arc::new(ApiCalls {
            pending: AtomicI64::new(0),
            db,
        });
        let weak: Weak<ApiCalls> = Arc::downgrade(&calls);
        let spawned = std::thread::Builder::new()
            .name("sandbox-stats".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(1));
                let Some(calls) = weak.upgrade() else { return };
                if let Err(e) = calls.flush() {
                    tracing::warn!(target: "authy_sandbox", error = %e, "API call count not saved; will retry");
                }
            });
        if let Err(e) = spawned {
            tracing::error!(target: "authy_sandbox", error = %e, "could not start the stats thread");
        }
        calls
    }

    pub fn count_one(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds the calls counted so far to the database.
    pub async fn flush_now(&self) -> Result<(), DbError> {
        let n = self.pending.swap(0, Ordering::AcqRel);
        if n == 0 {
            return Ok(());
        }
        let saved = self
            .db
            .transaction(move |c| add(c, Counter::ApiCall, n))
            .await;
        self.keep_if_unsaved(n, saved)
    }

    /// Adds the calls counted so far to the database (blocking).
    pub fn flush(&self) -> Result<(), DbError> {
        let n = self.pending.swap(0, Ordering::AcqRel);
        if n == 0 {
            return Ok(());
        }
        let saved = self
            .db
            .transaction_blocking(|c| add(c, Counter::ApiCall, n));
        self.keep_if_unsaved(n, saved)
    }

    /// `n` calls taken for a write that failed are counted again at the next flush.
    fn keep_if_unsaved(&self, n: i64, saved: Result<(), DbError>) -> Result<(), DbError> {
        if saved.is_err() {
            self.pending.fetch_add(n, Ordering::AcqRel);
        }
        saved
    }
}

impl Drop for ApiCalls {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The `app/stats` body: the last twelve months with activity, newest first,
/// each entry with exactly the seven reference keys.
pub fn report(conn: &mut DbConn) -> Result<J, DbError> {
    type Row = (i32, i32, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = st::table
        .select((
            st::year,
            st::month,
            st::api_calls,
            st::auths,
            st::sms,
            st::calls,
            st::users,
        ))
        .order((st::year.desc(), st::month.desc()))
        .limit(12)
        .load(conn)?;
    let total_users: i64 = sandbox_users::table
        .filter(sandbox_users::removed_at.is_null())
        .count()
        .get_result(conn)?;
    let stats: Vec<J> = rows
        .iter()
        .map(|&(year, month, api_calls, auths, sms, calls, users)| {
            let name = MONTHS[((month - 1).clamp(0, 11)) as usize];
            obj([
                ("api_calls_count", api_calls.into()),
                ("auths_count", auths.into()),
                ("calls_count", calls.into()),
                ("month", name.into()),
                ("sms_count", sms.into()),
                ("users_count", users.into()),
                ("year", year.into()),
            ])
        })
        .collect();
    Ok(obj([
        ("app_id", APP_ID.into()),
        ("count", (stats.len() as i64).into()),
        ("message", "Monthly statistics.".into()),
        ("stats", J::Arr(stats)),
        ("total_users", total_users.into()),
        ("success", true.into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_calls(db: &Db) -> i64 {
        let (year, month) = this_month();
        st::table
            .filter(st::year.eq(year))
            .filter(st::month.eq(month))
            .select(st::api_calls)
            .first(&mut db.get().unwrap())
            .optional()
            .unwrap()
            .unwrap_or(0)
    }

    #[test]
    fn counted_calls_reach_the_database_within_seconds_and_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/s.db", dir.path().display()), 2).unwrap();
        crate::db::migrations::run_set(&mut db.get().unwrap(), &super::super::MIGRATIONS).unwrap();
        let calls = ApiCalls::start(db.clone());
        for _ in 0..3 {
            calls.count_one();
        }
        // Nobody reads the stats: the thread writes them down by itself.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while api_calls(&db) < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(api_calls(&db), 3);
        // Counted after the last flush: written when the counter goes away
        // (or by the thread just before, if it holds the counter right now).
        calls.count_one();
        calls.count_one();
        drop(calls);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while api_calls(&db) < 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(api_calls(&db), 5);
    }
}
