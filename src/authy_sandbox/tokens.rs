//! SMS and call tokens: 7 digits from the OS CSPRNG, valid 10 minutes,
//! single use, one per user (a new one replaces the previous). Stored as a
//! hash; used atomically with a conditional UPDATE.

use diesel::prelude::*;

use super::random_digits;
use crate::authy_sandbox::schema::sandbox_tokens as tk;
use crate::crypto::sha256_hex;
use crate::db::{now, DbConn, DbError};

pub const TOKEN_LENGTH: usize = 7;
pub const TOKEN_TTL_SECONDS: i64 = 600;

fn hash(user_id: i64, code: &str) -> String {
    sha256_hex(&format!("authy-sandbox-token:{user_id}:{code}"))
}

/// Issues a new token for the user (replacing any previous one).
pub fn issue(conn: &mut DbConn, user_id: i64, channel: &str) -> Result<String, DbError> {
    crate::on_backend!(conn, |conn| {
        let code = random_digits(TOKEN_LENGTH);
        let code_hash = hash(user_id, &code);
        let t = now();
        // One upsert: an update-else-insert racing another first token would
        // meet a unique violation, which on PostgreSQL aborts the transaction.
        use diesel::sql_types::{BigInt, Text};
        diesel::sql_query(
            "INSERT INTO sandbox_tokens (user_id, code_hash, channel, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, NULL) \
             ON CONFLICT (user_id) DO UPDATE SET code_hash = $2, channel = $3, \
               created_at = $4, expires_at = $5, used_at = NULL",
        )
        .bind::<BigInt, _>(user_id)
        .bind::<Text, _>(&code_hash)
        .bind::<Text, _>(channel)
        .bind::<BigInt, _>(t)
        .bind::<BigInt, _>(t + TOKEN_TTL_SECONDS)
        .execute(conn)?;
        Ok(code)
    })
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
    crate::on_backend!(conn, |conn| {
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
    })
}
