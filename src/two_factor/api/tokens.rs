//! API bearer tokens: session tokens (from sign-in, with 2FA when the user
//! has it) and personal access tokens (for scripts, created on the Security
//! page). 32 random bytes, shown once, stored as SHA-256.

use diesel::prelude::*;
use serde::Serialize;

use crate::crypto::{random_token, sha256_hex};
use crate::db::{now, DbConn, DbError};
use crate::two_factor::schema::tfa_api_tokens;

/// API session tokens last 12 hours.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;
pub const PREFIX_SESSION: &str = "sfs_";
pub const PREFIX_PAT: &str = "sfp_";
pub const MAX_NAME: usize = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Session,
    Pat,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::Pat => "pat",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Full,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Full => "full",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "full" => Some(Scope::Full),
            _ => None,
        }
    }
}

/// What a valid bearer token grants.
#[derive(Clone, Debug)]
pub struct Grant {
    pub token_id: i64,
    pub account_id: i64,
    pub kind: Kind,
    pub scope: Scope,
}

/// Creates a token and returns it in clear (the only time it exists so).
pub fn create(
    conn: &mut DbConn,
    account_id: i64,
    kind: Kind,
    name: &str,
    scope: Scope,
    expires_at: Option<i64>,
) -> Result<String, DbError> {
    let prefix = match kind {
        Kind::Session => PREFIX_SESSION,
        Kind::Pat => PREFIX_PAT,
    };
    let token = format!("{prefix}{}", random_token(32));
    diesel::insert_into(tfa_api_tokens::table)
        .values((
            tfa_api_tokens::account_id.eq(account_id),
            tfa_api_tokens::token_hash.eq(sha256_hex(&token)),
            tfa_api_tokens::kind.eq(kind.as_str()),
            tfa_api_tokens::name.eq(name.chars().take(MAX_NAME).collect::<String>()),
            tfa_api_tokens::scope.eq(scope.as_str()),
            tfa_api_tokens::created_at.eq(now()),
            tfa_api_tokens::expires_at.eq(expires_at),
            tfa_api_tokens::last_used_at.eq(None::<i64>),
            tfa_api_tokens::revoked_at.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The grant of a live token (not revoked, not expired); notes its use.
pub fn authenticate(conn: &mut DbConn, token: &str) -> Result<Option<Grant>, DbError> {
    if token.len() > 100 || !(token.starts_with(PREFIX_SESSION) || token.starts_with(PREFIX_PAT)) {
        return Ok(None);
    }
    let t = now();
    let row: Option<(i64, i64, String, String)> = tfa_api_tokens::table
        .filter(tfa_api_tokens::token_hash.eq(sha256_hex(token)))
        .filter(tfa_api_tokens::revoked_at.is_null())
        .filter(
            tfa_api_tokens::expires_at
                .is_null()
                .or(tfa_api_tokens::expires_at.gt(t)),
        )
        .select((
            tfa_api_tokens::id,
            tfa_api_tokens::account_id,
            tfa_api_tokens::kind,
            tfa_api_tokens::scope,
        ))
        .first(conn)
        .optional()?;
    let Some((id, account_id, kind, scope)) = row else {
        return Ok(None);
    };
    diesel::update(tfa_api_tokens::table.find(id))
        .set(tfa_api_tokens::last_used_at.eq(Some(t)))
        .execute(conn)?;
    Ok(Some(Grant {
        token_id: id,
        account_id,
        kind: if kind == "pat" {
            Kind::Pat
        } else {
            Kind::Session
        },
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
    }))
}

#[derive(Clone, Debug, Serialize)]
pub struct PatRow {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub expired: bool,
}

/// The account's personal access tokens that are not revoked, newest first.
pub fn list_pats(conn: &mut DbConn, account_id: i64) -> Result<Vec<PatRow>, DbError> {
    let t = now();
    type Row = (i64, String, String, i64, Option<i64>, Option<i64>);
    let rows: Vec<Row> = tfa_api_tokens::table
        .filter(tfa_api_tokens::account_id.eq(account_id))
        .filter(tfa_api_tokens::kind.eq("pat"))
        .filter(tfa_api_tokens::revoked_at.is_null())
        .order(tfa_api_tokens::id.desc())
        .select((
            tfa_api_tokens::id,
            tfa_api_tokens::name,
            tfa_api_tokens::scope,
            tfa_api_tokens::created_at,
            tfa_api_tokens::expires_at,
            tfa_api_tokens::last_used_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, scope, created_at, expires_at, last_used_at)| PatRow {
                id,
                name,
                scope,
                created_at,
                expires_at,
                last_used_at,
                expired: expires_at.is_some_and(|e| e <= t),
            },
        )
        .collect())
}

/// Revokes one token of the account; false when there was none to revoke.
pub fn revoke(conn: &mut DbConn, account_id: i64, token_id: i64) -> Result<bool, DbError> {
    Ok(diesel::update(
        tfa_api_tokens::table
            .find(token_id)
            .filter(tfa_api_tokens::account_id.eq(account_id))
            .filter(tfa_api_tokens::revoked_at.is_null()),
    )
    .set(tfa_api_tokens::revoked_at.eq(Some(now())))
    .execute(conn)?
        == 1)
}
