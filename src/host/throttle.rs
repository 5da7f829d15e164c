//! Password guessing: per account, at most 10 wrong passwords in 15
//! minutes, then a 15-minute lock that refuses even the right password with
//! the generic message (OWASP ASVS V2.2.1). Kept in the database, so every
//! instance counts together.

use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::{now, DbConn, DbError};

pub const MAX_FAILURES: i32 = 10;
pub const WINDOW_SECS: i64 = 15 * 60;
pub const LOCK_SECS: i64 = 15 * 60;

pub fn is_locked(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        let until: Option<i64> = login_failures::table
            .find(account_id)
            .select(login_failures::locked_until)
            .first(conn)
            .optional()?;
        Ok(until.is_some_and(|u| u > now()))
    })
}

/// True when the account has failures (or a lock) on record.
pub fn has_record(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(
            diesel::select(diesel::dsl::exists(login_failures::table.find(account_id)))
                .get_result(conn)?,
        )
    })
}

/// Counts a wrong password; locks the account when the window is full.
pub fn record_failure(conn: &mut DbConn, account_id: i64) -> Result<(), DbError> {
    let t = now();
    // A window that has run out starts again from this failure.
    diesel::update(
        login_failures::table
            .find(account_id)
            .filter(login_failures::window_start.le(t - WINDOW_SECS)),
    )
    .set((
        login_failures::failures.eq(0),
        login_failures::window_start.eq(t),
    ))
    .execute(conn)?;
    let updated = diesel::update(login_failures::table.find(account_id))
        .set(login_failures::failures.eq(login_failures::failures + 1))
        .execute(conn)?;
    if updated == 0 {
        // In a savepoint: on PostgreSQL a failed statement aborts the whole
        // transaction, so the fallback below could not run without one.
        let inserted = crate::db::write_transaction(conn, |conn| {
            Ok(diesel::insert_into(login_failures::table)
                .values((
                    login_failures::account_id.eq(account_id),
                    login_failures::failures.eq(1),
                    login_failures::window_start.eq(t),
                    login_failures::locked_until.eq(0),
                ))
                .execute(conn)?)
        });
        if inserted.is_err() {
            // Another request inserted the row first: count on it.
            diesel::update(login_failures::table.find(account_id))
                .set(login_failures::failures.eq(login_failures::failures + 1))
                .execute(conn)?;
        }
    }
    diesel::update(
        login_failures::table
            .find(account_id)
            .filter(login_failures::failures.ge(MAX_FAILURES)),
    )
    .set((
        login_failures::locked_until.eq(t + LOCK_SECS),
        login_failures::failures.eq(0),
        login_failures::window_start.eq(t),
    ))
    .execute(conn)?;
    Ok(())
}

pub fn clear(conn: &mut DbConn, account_id: i64) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::delete(login_failures::table.find(account_id)).execute(conn)?;
        Ok(())
    })
}
