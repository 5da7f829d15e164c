//! The trusted devices' rows: one per device and account, the token's
//! SHA-256 (never the token), a name, where and when it was trusted, when
//! it was last used, its expiry (set once) and the account's credential
//! generation it was trusted under.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::{DbConn, DbError};
use crate::two_factor::schema::tfa_trusted_devices as td;

use super::period::Trusted;

/// A device about to be trusted.
#[derive(Debug)]
pub struct NewDevice<'a> {
    pub account_id: i64,
    pub token_hash: &'a str,
    pub device_name: &'a str,
    pub ip: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub credential_generation: i64,
}

pub fn trust(conn: &mut DbConn, d: &NewDevice<'_>) -> Result<(), DbError> {
    diesel::insert_into(td::table)
        .values((
            td::account_id.eq(d.account_id),
            td::token_hash.eq(d.token_hash),
            td::device_name.eq(d.device_name),
            td::ip.eq(d.ip),
            td::created_at.eq(d.now),
            td::last_used_at.eq(None::<i64>),
            td::expires_at.eq(d.expires_at),
            td::credential_generation.eq(d.credential_generation),
        ))
        .execute(conn)?;
    Ok(())
}

/// A stored device, found by its token for one account.
#[derive(Clone, Debug)]
pub struct Found {
    pub id: i64,
    pub device_name: String,
    pub trusted: Trusted,
}

/// The device whose token hashes to `token_hash`, if it belongs to
/// `account_id`: a token of another account is as good as none (one
/// indexed lookup by the unique hash).
pub fn find(
    conn: &mut DbConn,
    account_id: i64,
    token_hash: &str,
) -> Result<Option<Found>, DbError> {
    let row: Option<(i64, String, i64, i64, i64)> = td::table
        .filter(td::token_hash.eq(token_hash))
        .filter(td::account_id.eq(account_id))
        .select((
            td::id,
            td::device_name,
            td::created_at,
            td::expires_at,
            td::credential_generation,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(id, device_name, created_at, expires_at, generation)| Found {
            id,
            device_name,
            trusted: Trusted {
                created_at,
                expires_at,
                credential_generation: generation,
            },
        },
    ))
}

/// Notes a use. Only `last_used_at` moves: the expiry stays.
pub fn mark_used(conn: &mut DbConn, id: i64, now: i64) -> Result<(), DbError> {
    diesel::update(td::table.find(id))
        .set(td::last_used_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

/// A device as the Security page lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    pub id: i64,
    pub device_name: String,
    pub ip: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: i64,
}

/// The account's devices that still count under `generation`, newest first.
pub fn list(
    conn: &mut DbConn,
    account_id: i64,
    generation: i64,
    now: i64,
) -> Result<Vec<Listed>, DbError> {
    type Row = (i64, String, String, i64, Option<i64>, i64);
    let rows: Vec<Row> = td::table
        .filter(td::account_id.eq(account_id))
        .filter(td::credential_generation.eq(generation))
        .filter(td::expires_at.gt(now))
        .order(td::id.desc())
        .select((
            td::id,
            td::device_name,
            td::ip,
            td::created_at,
            td::last_used_at,
            td::expires_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, device_name, ip, created_at, last_used_at, expires_at)| Listed {
                id,
                device_name,
                ip,
                created_at,
                last_used_at,
                expires_at,
            },
        )
        .collect())
}

/// How many devices of the account still count under `generation`.
pub fn count(
    conn: &mut DbConn,
    account_id: i64,
    generation: i64,
    now: i64,
) -> Result<i64, DbError> {
    Ok(td::table
        .filter(td::account_id.eq(account_id))
        .filter(td::credential_generation.eq(generation))
        .filter(td::expires_at.gt(now))
        .count()
        .get_result(conn)?)
}

/// Forgets one device of the account; its name when there was one.
pub fn forget(conn: &mut DbConn, account_id: i64, id: i64) -> Result<Option<String>, DbError> {
    let name: Option<String> = td::table
        .find(id)
        .filter(td::account_id.eq(account_id))
        .select(td::device_name)
        .first(conn)
        .optional()?;
    if name.is_some() {
        diesel::delete(td::table.find(id).filter(td::account_id.eq(account_id))).execute(conn)?;
    }
    Ok(name)
}

/// Forgets one device found at sign-in (no longer counting).
pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    diesel::delete(td::table.find(id)).execute(conn)?;
    Ok(())
}

/// Forgets every device of the account; how many there were.
pub fn forget_all(conn: &mut DbConn, account_id: i64) -> Result<usize, DbError> {
    Ok(diesel::delete(td::table.filter(td::account_id.eq(account_id))).execute(conn)?)
}

/// Removes the account's rows that no longer count (another generation,
/// or expired): housekeeping when the list is shown.
pub fn sweep(
    conn: &mut DbConn,
    account_id: i64,
    generation: i64,
    now: i64,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        td::table.filter(td::account_id.eq(account_id)).filter(
            td::credential_generation
                .ne(generation)
                .or(td::expires_at.le(now)),
        ),
    )
    .execute(conn)?)
}
