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
    tfa_code_holders, tfa_gateway_errors, tfa_notices, tfa_page_notes,
};

/// Records which sign-in (pending login id, API challenge or page) the
/// account's last texted code was sent for: a code is accepted only there.
pub fn set_code_holder(conn: &mut DbConn, account_id: i64, purpose: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::sql_query(
            "INSERT INTO tfa_code_holders (account_id, purpose, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET purpose = $2, updated_at = $3",
        )
        .bind::<BigInt, _>(account_id)
        .bind::<Text, _>(purpose)
        .bind::<BigInt, _>(now())
        .execute(conn)?;
        Ok(())
    })
}

/// What the account's last texted code was sent for.
pub fn code_holder(conn: &mut DbConn, account_id: i64) -> Result<Option<String>, DbError> {
    Ok(crate::on_backend!(conn, |c| tfa_code_holders::table
        .find(account_id)
        .select(tfa_code_holders::purpose)
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

/// The account's notice and when it was left.
pub fn notice(conn: &mut DbConn, account_id: i64) -> Result<Option<(String, i64)>, DbError> {
    Ok(crate::on_backend!(conn, |c| tfa_notices::table
        .find(account_id)
        .select((tfa_notices::text, tfa_notices::created_at))
        .first(c)
        .optional())?)
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
