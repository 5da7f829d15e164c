//! The account's passkeys and security keys: each a WebAuthn credential
//! (kept as webauthn-rs serialises it: public key, counter, backup flags),
//! the name its owner gave it, when it was added and last used.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use serde::Serialize;
use webauthn_rs::prelude::{AuthenticationResult, Passkey};

use crate::db::{now, DbConn, DbError};
use crate::two_factor::schema::tfa_passkeys;

/// Longest name a key may have (characters).
pub const MAX_NAME: usize = 60;
/// Keys one account may have: enough for a phone, a laptop and spares.
pub const MAX_KEYS: i64 = 20;

/// A key as the Security page lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct KeyLine {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A key's name, trimmed, 1 to `MAX_NAME` characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(raw: &str) -> Result<KeyName, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("Give the key a name, such as “Work laptop” or “Blue YubiKey”, so you can tell your keys apart.");
        }
        if name.chars().count() > MAX_NAME {
            return Err("That name is too long: use at most 60 characters.");
        }
        if name.chars().any(char::is_control) {
            return Err(
                "That name has characters that cannot be shown: use letters, digits and spaces.",
            );
        }
        Ok(KeyName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a credential id is stored and compared: base64url without padding.
pub fn credential_id_text(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode(stored: &str) -> Option<Passkey> {
    serde_json::from_str(stored).ok()
}

fn encode(key: &Passkey) -> Result<String, DbError> {
    serde_json::to_string(key)
        .map_err(|e| DbError::Query(diesel::result::Error::SerializationError(Box::new(e))))
}

pub fn list(conn: &mut DbConn, account_id: i64) -> Result<Vec<KeyLine>, DbError> {
    let rows: Vec<(i64, String, i64, Option<i64>)> = tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq(account_id))
        .order(tfa_passkeys::id.asc())
        .select((
            tfa_passkeys::id,
            tfa_passkeys::name,
            tfa_passkeys::created_at,
            tfa_passkeys::last_used_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, last_used_at)| KeyLine {
            id,
            name,
            created_at,
            last_used_at,
        })
        .collect())
}

pub fn count(conn: &mut DbConn, account_id: i64) -> Result<i64, DbError> {
    Ok(tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq(account_id))
        .count()
        .get_result(conn)?)
}

/// The account's credentials, for a sign-in's allowed list or a
/// registration's excluded list.
pub fn credentials(conn: &mut DbConn, account_id: i64) -> Result<Vec<Passkey>, DbError> {
    let stored: Vec<String> = tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq(account_id))
        .order(tfa_passkeys::id.asc())
        .select(tfa_passkeys::passkey)
        .load(conn)?;
    Ok(stored.iter().filter_map(|s| decode(s)).collect())
}

/// One of the account's credentials, by its row id.
pub fn credential(
    conn: &mut DbConn,
    account_id: i64,
    key_id: i64,
) -> Result<Option<Passkey>, DbError> {
    let stored: Option<String> = tfa_passkeys::table
        .find(key_id)
        .filter(tfa_passkeys::account_id.eq(account_id))
        .select(tfa_passkeys::passkey)
        .first(conn)
        .optional()?;
    Ok(stored.as_deref().and_then(decode))
}

/// The key whose credential id is `raw`, with its account (a credential
/// belongs to one account only), for a passkey sign-in's answer.
pub fn by_credential_id(conn: &mut DbConn, raw: &[u8]) -> Result<Option<(i64, Passkey)>, DbError> {
    let found: Option<(i64, String)> = tfa_passkeys::table
        .filter(tfa_passkeys::credential_id.eq(credential_id_text(raw)))
        .select((tfa_passkeys::account_id, tfa_passkeys::passkey))
        .first(conn)
        .optional()?;
    Ok(found.and_then(|(account_id, stored)| Some((account_id, decode(&stored)?))))
}

/// What adding a key did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Added,
    /// This authenticator's credential is registered already (here or to
    /// another account): a credential belongs to one account only.
    Duplicate,
    /// The account has `MAX_KEYS` keys.
    TooMany,
}

pub fn add(
    conn: &mut DbConn,
    account_id: i64,
    name: &KeyName,
    key: &Passkey,
) -> Result<Added, DbError> {
    if count(conn, account_id)? >= MAX_KEYS {
        return Ok(Added::TooMany);
    }
    let cred_id = credential_id_text(key.cred_id().as_ref());
    let taken: i64 = tfa_passkeys::table
        .filter(tfa_passkeys::credential_id.eq(&cred_id))
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Ok(Added::Duplicate);
    }
    diesel::insert_into(tfa_passkeys::table)
        .values((
            tfa_passkeys::account_id.eq(account_id),
            tfa_passkeys::credential_id.eq(&cred_id),
            tfa_passkeys::name.eq(name.as_str()),
            tfa_passkeys::passkey.eq(encode(key)?),
            tfa_passkeys::sign_count.eq(0_i64),
            tfa_passkeys::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(Added::Added)
}

/// Renames one of the account's keys; false when it has no such key.
pub fn rename(
    conn: &mut DbConn,
    account_id: i64,
    key_id: i64,
    name: &KeyName,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        tfa_passkeys::table
            .find(key_id)
            .filter(tfa_passkeys::account_id.eq(account_id)),
    )
    .set(tfa_passkeys::name.eq(name.as_str()))
    .execute(conn)?
        == 1)
}

/// Removes one of the account's keys; its name, or None when it has no
/// such key.
pub fn remove(conn: &mut DbConn, account_id: i64, key_id: i64) -> Result<Option<String>, DbError> {
    let name: Option<String> = tfa_passkeys::table
        .find(key_id)
        .filter(tfa_passkeys::account_id.eq(account_id))
        .select(tfa_passkeys::name)
        .first(conn)
        .optional()?;
    if name.is_some() {
        diesel::delete(
            tfa_passkeys::table
                .find(key_id)
                .filter(tfa_passkeys::account_id.eq(account_id)),
        )
        .execute(conn)?;
    }
    Ok(name)
}

/// Removes every key of the account; how many there were.
pub fn remove_all(conn: &mut DbConn, account_id: i64) -> Result<usize, DbError> {
    Ok(
        diesel::delete(tfa_passkeys::table.filter(tfa_passkeys::account_id.eq(account_id)))
            .execute(conn)?,
    )
}

/// What recording a verified assertion found.
#[derive(Debug, PartialEq, Eq)]
pub enum Use {
    /// Counter and backup flags stored, last use now; the key's name.
    Recorded { name: String },
    /// The signature counter is not past the stored one: the key may have
    /// been cloned, or the assertion replayed. Refused.
    CounterWentBack { name: String, stored: i64, got: i64 },
    /// The account has no such key (removed meanwhile, or another's).
    Unknown,
}

/// After webauthn-rs verified an assertion for `account_id`: stores the
/// new counter and backup flags and the time. The counter is checked
/// again in the UPDATE itself, so that of two sign-ins finishing with the
/// same counter at once (on two instances, say) only one counts.
pub fn record_use(
    conn: &mut DbConn,
    account_id: i64,
    result: &AuthenticationResult,
) -> Result<Use, DbError> {
    let cred_id = credential_id_text(result.cred_id().as_ref());
    let row: Option<(i64, String, String, i64)> = tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq(account_id))
        .filter(tfa_passkeys::credential_id.eq(&cred_id))
        .select((
            tfa_passkeys::id,
            tfa_passkeys::name,
            tfa_passkeys::passkey,
            tfa_passkeys::sign_count,
        ))
        .first(conn)
        .optional()?;
    let Some((id, name, stored, stored_count)) = row else {
        return Ok(Use::Unknown);
    };
    let Some(mut key) = decode(&stored) else {
        return Ok(Use::Unknown);
    };
    let got = i64::from(result.counter());
    key.update_credential(result);
    // A counter of 0 means the authenticator keeps none (most synced
    // passkeys); once a key has counted, it must go on counting up.
    let values = (
        tfa_passkeys::passkey.eq(encode(&key)?),
        tfa_passkeys::sign_count.eq(got),
        tfa_passkeys::last_used_at.eq(Some(now())),
    );
    let row = tfa_passkeys::table.find(id);
    let moved = if got == 0 {
        diesel::update(row.filter(tfa_passkeys::sign_count.eq(0_i64)))
            .set(values)
            .execute(conn)?
    } else {
        diesel::update(row.filter(tfa_passkeys::sign_count.lt(got)))
            .set(values)
            .execute(conn)?
    };
    if moved == 1 {
        Ok(Use::Recorded { name })
    } else {
        Ok(Use::CounterWentBack {
            name,
            stored: stored_count,
            got,
        })
    }
}

/// The opaque WebAuthn user handle of an account: keyed with the store's
/// secret, so the authenticator learns neither the account number nor
/// anything another store could link.
pub fn user_handle(key: &crate::crypto::SecretKey, account_id: i64) -> webauthn_rs::prelude::Uuid {
    let mac = key.sign("webauthn-user-handle", &account_id.to_be_bytes());
    let bytes = URL_SAFE_NO_PAD.decode(mac.as_bytes()).unwrap_or_default();
    let mut id = [0u8; 16];
    for (slot, b) in id.iter_mut().zip(bytes) {
        *slot = b;
    }
    webauthn_rs::prelude::Uuid::from_bytes(id)
}
