//! API sign-in challenges: the API's pending logins (there is no browser
//! session to hold one). A random id given to the client, stored as
//! SHA-256, bound to one account, expiring after 10 minutes, with its
//! attempts counted before any code is checked.

use diesel::prelude::*;

use crate::crypto::{random_token, sha256_hex};
use crate::db::{now, DbConn, DbError};
use crate::plugin::Account;
use crate::two_factor::schema::tfa_api_challenges;

pub const TTL_SECS: i64 = 600;

static SWEEP: crate::db::Sweep = crate::db::Sweep::new();

#[derive(Clone, Debug)]
pub struct Challenge {
    pub account_id: i64,
    /// The account's credential generation when the password was checked;
    /// the challenge is void once the account's has moved on.
    pub credential_generation: i64,
    pub sms_sent_at: Option<i64>,
}

pub fn create(conn: &mut DbConn, account: &Account) -> Result<String, DbError> {
    let account_id = account.id;
    let id = random_token(32);
    let t = now();
    // Challenges a day past their end go, at most once a minute per
    // process: not a delete with every sign-in.
    SWEEP.run_if_due(t, || {
        diesel::delete(
            tfa_api_challenges::table.filter(tfa_api_challenges::expires_at.lt(t - 86_400)),
        )
        .execute(conn)
        .map_err(DbError::from)
    })?;
    diesel::insert_into(tfa_api_challenges::table)
        .values((
            tfa_api_challenges::id_hash.eq(sha256_hex(&id)),
            tfa_api_challenges::account_id.eq(account_id),
            tfa_api_challenges::attempts.eq(0),
            tfa_api_challenges::completed.eq(false),
            tfa_api_challenges::sms_sent_at.eq(None::<i64>),
            tfa_api_challenges::created_at.eq(t),
            tfa_api_challenges::expires_at.eq(t + TTL_SECS),
            tfa_api_challenges::credential_generation.eq(account.credential_generation),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The open (unexpired, not completed) challenge with this id.
pub fn load(conn: &mut DbConn, id: &str) -> Result<Option<Challenge>, DbError> {
    if id.len() > 100 {
        return Ok(None);
    }
    Ok(tfa_api_challenges::table
        .find(sha256_hex(id))
        .filter(tfa_api_challenges::completed.eq(false))
        .filter(tfa_api_challenges::expires_at.gt(now()))
        .select((
            tfa_api_challenges::account_id,
            tfa_api_challenges::sms_sent_at,
            tfa_api_challenges::credential_generation,
        ))
        .first::<(i64, Option<i64>, i64)>(conn)
        .optional()?
        .map(
            |(account_id, sms_sent_at, credential_generation)| Challenge {
                account_id,
                credential_generation,
                sms_sent_at,
            },
        ))
}

/// Counts one attempt; returns the new count, or None when the challenge
/// is gone (expired, completed, unknown).
pub fn count_attempt(conn: &mut DbConn, id: &str) -> Result<Option<i32>, DbError> {
    let h = sha256_hex(id);
    // The new count comes back with the update: one statement.
    Ok(crate::on_backend!(conn, |c| diesel::update(
        tfa_api_challenges::table
            .find(&h)
            .filter(tfa_api_challenges::completed.eq(false))
            .filter(tfa_api_challenges::expires_at.gt(now())),
    )
    .set(tfa_api_challenges::attempts.eq(tfa_api_challenges::attempts + 1))
    .returning(tfa_api_challenges::attempts)
    .get_result(c)
    .optional())?)
}

/// Marks the challenge completed: true for exactly one caller.
pub fn complete(conn: &mut DbConn, id: &str) -> Result<bool, DbError> {
    Ok(diesel::update(
        tfa_api_challenges::table
            .find(sha256_hex(id))
            .filter(tfa_api_challenges::completed.eq(false))
            .filter(tfa_api_challenges::expires_at.gt(now())),
    )
    .set(tfa_api_challenges::completed.eq(true))
    .execute(conn)?
        == 1)
}

pub fn delete(conn: &mut DbConn, id: &str) -> Result<(), DbError> {
    diesel::delete(tfa_api_challenges::table.find(sha256_hex(id))).execute(conn)?;
    Ok(())
}

pub fn mark_sms_sent(conn: &mut DbConn, id: &str) -> Result<(), DbError> {
    diesel::update(tfa_api_challenges::table.find(sha256_hex(id)))
        .set(tfa_api_challenges::sms_sent_at.eq(Some(now())))
        .execute(conn)?;
    Ok(())
}
