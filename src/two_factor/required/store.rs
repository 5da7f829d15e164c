//! When each account's grace period started: the first sign-in that saw
//! the requirement. Written once; later sign-ins read it.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::{DbConn, DbError};
use crate::two_factor::schema::tfa_setup_grace as g;

pub fn started_at(conn: &mut DbConn, account_id: i64) -> Result<Option<i64>, DbError> {
    Ok(g::table
        .find(account_id)
        .select(g::started_at)
        .first(conn)
        .optional()?)
}

/// Starts the account's clock at `now` unless it has started; returns the
/// start that counts and whether it was this call's. Run it with
/// `store::retry_on_conflict`: two instances may race to insert.
pub fn start_once(conn: &mut DbConn, account_id: i64, now: i64) -> Result<(i64, bool), DbError> {
    if let Some(t) = started_at(conn, account_id)? {
        return Ok((t, false));
    }
    diesel::insert_into(g::table)
        .values((g::account_id.eq(account_id), g::started_at.eq(now)))
        .execute(conn)?;
    Ok((now, true))
}

/// The starts of the accounts in `ids` that have one (one query).
pub fn starts_of(conn: &mut DbConn, ids: &[i64]) -> Result<HashMap<i64, i64>, DbError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, i64)> = g::table
        .filter(g::account_id.eq_any(ids))
        .select((g::account_id, g::started_at))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Every start on record (the dashboard's counts).
pub fn all(conn: &mut DbConn) -> Result<Vec<(i64, i64)>, DbError> {
    Ok(g::table.select((g::account_id, g::started_at)).load(conn)?)
}
