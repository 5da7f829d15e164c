//! Small state kept between requests, one typed table per job (these were
//! one string key-value table before): which sign-in the last texted code
//! was sent for, notes for the pages between a completed sign-in and its
//! target, a notice for the profile page, and the gateway's last error.
//! Each write is one upsert; functions take a connection so callers choose
//! the transaction.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::{now, DbConn, DbError};
use crate::two_factor::schema::{
    tfa_code_holders, tfa_connection_tests, tfa_gateway_errors, tfa_page_notes,
};

/// Records which sign-in (pending login id, API challenge or page) the
/// account's last texted code was sent for: a code is accepted only there.
/// With Twilio Verify, also the verification the code belongs to.
pub fn set_code_holder(
    conn: &mut DbConn,
    account_id: i64,
    purpose: &str,
    verification_sid: Option<&str>,
) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::sql_query(
            "INSERT INTO tfa_code_holders (account_id, purpose, updated_at, verification_sid) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE \
             SET purpose = $2, updated_at = $3, verification_sid = $4",
        )
        .bind::<BigInt, _>(account_id)
        .bind::<Text, _>(purpose)
        .bind::<BigInt, _>(now())
        .bind::<diesel::sql_types::Nullable<Text>, _>(verification_sid)
        .execute(conn)?;
        Ok(())
    })
}

/// Who holds the account's last texted code: what it was sent for, and
/// its Twilio Verify verification, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeHolder {
    pub purpose: String,
    pub verification_sid: Option<String>,
}

/// Who holds the account's code, as far as a caller knows it: the code
/// step reads it with the phone (`store::phone_and_codes`), other callers
/// leave it to the check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KnownHolder {
    /// Not read yet: the check reads it.
    Unread,
    /// Read with the phone (None: no code was sent for the account).
    Read(Option<CodeHolder>),
}

/// Who holds the account's last texted code.
pub fn code_holder(conn: &mut DbConn, account_id: i64) -> Result<Option<CodeHolder>, DbError> {
    Ok(crate::on_backend!(conn, |c| tfa_code_holders::table
        .find(account_id)
        .select((
            tfa_code_holders::purpose,
            tfa_code_holders::verification_sid
        ))
        .first::<(String, Option<String>)>(c)
        .optional())?
    .map(|(purpose, verification_sid)| CodeHolder {
        purpose,
        verification_sid,
    }))
}

/// Forgets the account's code holder (a cancelled sign-in); returns the
/// verification it named, so the gateway can be told.
pub fn take_code_holder(
    conn: &mut DbConn,
    account_id: i64,
    purpose: &str,
) -> Result<Option<String>, DbError> {
    let held = code_holder(conn, account_id)?;
    match held {
        Some(h) if h.purpose == purpose => {
            crate::on_backend!(conn, |c| diesel::delete(
                tfa_code_holders::table
                    .filter(tfa_code_holders::account_id.eq(account_id))
                    .filter(tfa_code_holders::purpose.eq(purpose))
            )
            .execute(c))?;
            Ok(h.verification_sid)
        }
        _ => Ok(None),
    }
}

/// The last connection test: whether it worked, what it said, when.
pub fn record_connection_test(conn: &mut DbConn, ok: bool, text: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::sql_query(
            "INSERT INTO tfa_connection_tests (id, ok, text, at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET ok = $1, text = $2, at = $3",
        )
        .bind::<diesel::sql_types::Bool, _>(ok)
        .bind::<Text, _>(text)
        .bind::<BigInt, _>(now())
        .execute(conn)?;
        Ok(())
    })
}

/// The last connection test, if one was run.
pub fn last_connection_test(conn: &mut DbConn) -> Result<Option<(bool, String, i64)>, DbError> {
    Ok(crate::on_backend!(conn, |c| tfa_connection_tests::table
        .find(1)
        .select((
            tfa_connection_tests::ok,
            tfa_connection_tests::text,
            tfa_connection_tests::at
        ))
        .first(c)
        .optional())?)
}

/// The pages shown between a completed sign-in and its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotePage {
    /// The first recovery codes, at the end of SMS set-up.
    FirstCodes,
    /// "You used a recovery code; N are left."
    RecoveryUsed,
}

impl NotePage {
    fn as_str(self) -> &'static str {
        match self {
            NotePage::FirstCodes => "first-codes",
            NotePage::RecoveryUsed => "recovery-used",
        }
    }
}

/// Notes where the account's sign-in was going, for `page`.
pub fn leave_note(
    conn: &mut DbConn,
    account_id: i64,
    page: NotePage,
    target: &str,
) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::sql_query(
            "INSERT INTO tfa_page_notes (account_id, page, target, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, page) DO UPDATE SET target = $3, created_at = $4",
        )
        .bind::<BigInt, _>(account_id)
        .bind::<Text, _>(page.as_str())
        .bind::<Text, _>(target)
        .bind::<BigInt, _>(now())
        .execute(conn)?;
        Ok(())
    })
}

/// The note for `page` and when it was left, if there is one.
pub fn note(
    conn: &mut DbConn,
    account_id: i64,
    page: NotePage,
) -> Result<Option<(String, i64)>, DbError> {
    Ok(crate::on_backend!(conn, |c| tfa_page_notes::table
        .find((account_id, page.as_str()))
        .select((tfa_page_notes::target, tfa_page_notes::created_at))
        .first(c)
        .optional())?)
}

pub fn delete_note(conn: &mut DbConn, account_id: i64, page: NotePage) -> Result<(), DbError> {
    crate::on_backend!(conn, |c| diesel::delete(
        tfa_page_notes::table.find((account_id, page.as_str()))
    )
    .execute(c))?;
    Ok(())
}

/// A notice for the account's profile page.
pub fn set_notice(conn: &mut DbConn, account_id: i64, text: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::sql_query(
            "INSERT INTO tfa_notices (account_id, text, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET text = $2, created_at = $3",
        )
        .bind::<BigInt, _>(account_id)
        .bind::<Text, _>(text)
        .bind::<BigInt, _>(now())
        .execute(conn)?;
        Ok(())
    })
}

/// Keeps the gateway's last error (no key, token or number in it).
pub fn record_gateway_error(conn: &mut DbConn, text: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::sql_query(
            "INSERT INTO tfa_gateway_errors (id, text, at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET text = $1, at = $2",
        )
        .bind::<Text, _>(text)
        .bind::<BigInt, _>(now())
        .execute(conn)?;
        Ok(())
    })
}

/// The gateway's last error and when it happened.
pub fn last_gateway_error(conn: &mut DbConn) -> Result<Option<(String, i64)>, DbError> {
    Ok(crate::on_backend!(conn, |c| tfa_gateway_errors::table
        .find(1)
        .select((tfa_gateway_errors::text, tfa_gateway_errors::at))
        .first(c)
        .optional())?)
}
