//! SMS and call tokens: 7 digits from the OS CSPRNG, valid 10 minutes,
//! single use, one per user (a new one replaces the previous). Stored as a
//! hash; used atomically with a conditional UPDATE.

use diesel::prelude::*;

use super::{is_unique_violation, random_digits};
use crate::crypto::sha256_hex;
use crate::db::schema::sandbox_tokens as tk;
use crate::db::{now, DbConn, DbError};

pub const TOKEN_LENGTH: usize = 7;
pub const TOKEN_TTL_SECONDS: i64 = 600;

fn hash(user_id: i64, code: &str) -> String {
    sha256_hex(&format!("authy-sandbox-token:{user_id}:{code}"))
}

/// Issues a new token for the user (replacing any previous one).
pub fn issue(conn: &mut DbConn, user_id: i64, channel: &str) -> Result<String, DbError> {
    let code = random_digits(TOKEN_LENGTH);
    let code_hash = hash(user_id, &code);
    let t = now();
    for _ in 0..3 {
        let updated = diesel::update(tk::table.filter(tk::user_id.eq(user_id)))
            .set((
                tk::code_hash.eq(&code_hash),
                tk::channel.eq(channel),
                tk::created_at.eq(t),
                tk::expires_at.eq(t + TOKEN_TTL_SECONDS),
                tk::used_at.eq(None::<i64>),
            ))
            .execute(conn)?;
        if updated > 0 {
            return Ok(code);
        }
        let inserted = diesel::insert_into(tk::table)
            .values((
                tk::user_id.eq(user_id),
                tk::code_hash.eq(&code_hash),
                tk::channel.eq(channel),
                tk::created_at.eq(t),
                tk::expires_at.eq(t + TOKEN_TTL_SECONDS),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(code),
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DbError::Query(diesel::result::Error::RollbackTransaction))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Valid,
    /// The right code, already used.
    Used,
    /// Wrong, expired or replaced code, or no code at all.
    Invalid,
}

/// Checks and consumes a token. Exactly one of several concurrent checks
/// of the same code can succeed: the UPDATE only matches an unused row.
pub fn verify(conn: &mut DbConn, user_id: i64, token: &str) -> Result<Verification, DbError> {
    if token.len() != TOKEN_LENGTH || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Verification::Invalid);
    }
    let code_hash = hash(user_id, token);
    let t = now();
    let used = diesel::update(
        tk::table
            .filter(tk::user_id.eq(user_id))
            .filter(tk::code_hash.eq(&code_hash))
            .filter(tk::used_at.is_null())
            .filter(tk::expires_at.gt(t)),
    )
    .set(tk::used_at.eq(Some(t)))
    .execute(conn)?;
    if used == 1 {
        return Ok(Verification::Valid);
    }
    let used_before: Option<Option<i64>> = tk::table
        .filter(tk::user_id.eq(user_id))
        .filter(tk::code_hash.eq(&code_hash))
        .select(tk::used_at)
        .first(conn)
        .optional()?;
    Ok(match used_before {
        Some(Some(_)) => Verification::Used,
        _ => Verification::Invalid,
    })
}
