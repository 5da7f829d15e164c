//! The server half of a WebAuthn ceremony (the challenge and the keys it
//! allows, as webauthn-rs keeps it), stored in the database so that any
//! instance can finish what another started and nothing of it rides in a
//! cookie. Each is bound to what it was started for, replaced when that
//! starts again, taken (deleted) by the one answer that may finish it, and
//! gone after 5 minutes: an answer replayed later finds nothing.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::{now, DbConn, DbError};
use crate::two_factor::schema::{tfa_passkey_sign_in_ceremonies, tfa_webauthn_ceremonies};

/// How long the browser has to answer (the WebAuthn prompt's own timeout
/// is shorter).
pub const TTL_SECS: i64 = 5 * 60;

/// What a ceremony belongs to.
#[derive(Clone, Copy, Debug)]
pub enum Binding<'a> {
    /// Adding a key on the Security page, in this signed-in session.
    Register { session_key: &'a str },
    /// Confirming with a key itself on the Security page (removing it).
    Confirm { session_key: &'a str },
    /// The key step of this pending sign-in.
    SignIn { pending_id: &'a str },
    /// The key step of this API sign-in challenge.
    Api { challenge_id: &'a str },
}

impl Binding<'_> {
    fn key(self) -> String {
        match self {
            Binding::Register { session_key } => format!("register:{session_key}"),
            Binding::SignIn { pending_id } => format!("sign-in:{pending_id}"),
            Binding::Confirm { session_key } => format!("confirm:{session_key}"),
            Binding::Api { challenge_id } => format!("api:{challenge_id}"),
        }
    }
}

/// A ceremony's state as stored (webauthn-rs's own serialisation).
fn to_json<S: Serialize>(state: &S) -> Result<String, DbError> {
    serde_json::to_string(state)
        .map_err(|e| DbError::Query(diesel::result::Error::SerializationError(Box::new(e))))
}

/// Keeps `state` for `binding` of `account_id`, replacing one started
/// before; sweeps expired ceremonies on the way.
pub fn put<S: Serialize>(
    conn: &mut DbConn,
    binding: Binding<'_>,
    account_id: i64,
    state: &S,
) -> Result<(), DbError> {
    let state = to_json(state)?;
    let key = binding.key();
    let t = now();
    diesel::delete(
        tfa_webauthn_ceremonies::table.filter(tfa_webauthn_ceremonies::expires_at.le(t)),
    )
    .execute(conn)?;
    // One upsert: two tabs (or instances) starting at once both succeed,
    // the later state winning.
    crate::on_backend!(conn, |c| {
        diesel::sql_query(
            "INSERT INTO tfa_webauthn_ceremonies (binding, account_id, state, expires_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (binding) DO UPDATE \
             SET account_id = $2, state = $3, expires_at = $4",
        )
        .bind::<Text, _>(&key)
        .bind::<BigInt, _>(account_id)
        .bind::<Text, _>(&state)
        .bind::<BigInt, _>(t + TTL_SECS)
        .execute(c)?;
    });
    Ok(())
}

/// Takes the unexpired ceremony of `binding` for `account_id`: it is
/// deleted whatever the answer turns out to be, so it finishes at most once.
/// None when there is none (never started, expired, already used, another
/// account's), or when its state no longer reads (an upgrade changed it).
pub fn take<S: DeserializeOwned>(
    conn: &mut DbConn,
    binding: Binding<'_>,
    account_id: i64,
) -> Result<Option<S>, DbError> {
    let key = binding.key();
    let found: Option<(String, i64)> = tfa_webauthn_ceremonies::table
        .find(&key)
        .filter(tfa_webauthn_ceremonies::account_id.eq(account_id))
        .select((
            tfa_webauthn_ceremonies::state,
            tfa_webauthn_ceremonies::expires_at,
        ))
        .first(conn)
        .optional()?;
    let Some((state, expires_at)) = found else {
        return Ok(None);
    };
    // Only the request whose DELETE removed the row may use it.
    let taken = diesel::delete(
        tfa_webauthn_ceremonies::table
            .find(&key)
            .filter(tfa_webauthn_ceremonies::account_id.eq(account_id)),
    )
    .execute(conn)?;
    if taken != 1 || expires_at <= now() {
        return Ok(None);
    }
    Ok(serde_json::from_str(&state).ok())
}

/// Drops every ceremony of the account (its keys were reset or removed).
pub fn remove_all(conn: &mut DbConn, account_id: i64) -> Result<usize, DbError> {
    Ok(diesel::delete(
        tfa_webauthn_ceremonies::table.filter(tfa_webauthn_ceremonies::account_id.eq(account_id)),
    )
    .execute(conn)?)
}

/// Keeps the state of a passkey sign-in started in the browser session
/// `session_key`, replacing one started before; sweeps expired ones on
/// the way. It belongs to no account until the answer names its key.
pub fn put_passkey_sign_in<S: Serialize>(
    conn: &mut DbConn,
    session_key: &str,
    state: &S,
) -> Result<(), DbError> {
    let state = to_json(state)?;
    let t = now();
    diesel::delete(
        tfa_passkey_sign_in_ceremonies::table
            .filter(tfa_passkey_sign_in_ceremonies::expires_at.le(t)),
    )
    .execute(conn)?;
    crate::on_backend!(conn, |c| {
        diesel::sql_query(
            "INSERT INTO tfa_passkey_sign_in_ceremonies (session_key, state, expires_at) \
             VALUES ($1, $2, $3) ON CONFLICT (session_key) DO UPDATE \
             SET state = $2, expires_at = $3",
        )
        .bind::<Text, _>(session_key)
        .bind::<Text, _>(&state)
        .bind::<BigInt, _>(t + TTL_SECS)
        .execute(c)?;
    });
    Ok(())
}

/// Takes the unexpired passkey sign-in of the browser session
/// `session_key`: deleted whatever the answer turns out to be, in one
/// statement that returns it, so of two answers at once only one gets it.
pub fn take_passkey_sign_in<S: DeserializeOwned>(
    conn: &mut DbConn,
    session_key: &str,
) -> Result<Option<S>, DbError> {
    let taken: Option<(String, i64)> = crate::on_backend!(conn, |c| {
        diesel::delete(tfa_passkey_sign_in_ceremonies::table.find(session_key))
            .returning((
                tfa_passkey_sign_in_ceremonies::state,
                tfa_passkey_sign_in_ceremonies::expires_at,
            ))
            .get_result(c)
            .optional()?
    });
    Ok(taken
        .filter(|(_, expires_at)| *expires_at > now())
        .and_then(|(state, _)| serde_json::from_str(&state).ok()))
}
