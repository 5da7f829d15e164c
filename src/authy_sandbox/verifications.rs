//! Phone verification (start / check): a `code_length`-digit code per
//! phone number, valid 10 minutes, replaced by a new start, removed once
//! checked correctly.

use diesel::prelude::*;

use super::phone::Phone;
use super::{random_digits, random_uuid};
use crate::authy_sandbox::schema::sandbox_verifications as pv;
use crate::crypto::sha256_hex;
use crate::db::{now, DbConn, DbError};

pub const DEFAULT_CODE_LENGTH: usize = 4;
pub const TTL_SECONDS: i64 = 600;

fn hash(phone: &Phone, code: &str) -> String {
    sha256_hex(&format!(
        "authy-sandbox-verification:{}:{}:{code}",
        phone.country_code, phone.national
    ))
}

/// Starts (or restarts) a verification; returns (uuid, code).
pub fn start(
    conn: &mut DbConn,
    phone: &Phone,
    via: &str,
    code_length: usize,
) -> Result<(String, String), DbError> {
    let code = random_digits(code_length);
    let uuid = random_uuid();
    let t = now();
    crate::db::write_transaction(conn, |conn| {
        diesel::delete(
            pv::table
                .filter(pv::country_code.eq(phone.country_code))
                .filter(pv::phone.eq(&phone.national)),
        )
        .execute(conn)?;
        diesel::insert_into(pv::table)
            .values((
                pv::uuid.eq(&uuid),
                pv::country_code.eq(phone.country_code),
                pv::phone.eq(&phone.national),
                pv::via.eq(via),
                pv::code_hash.eq(hash(phone, &code)),
                pv::code_length.eq(code_length as i32),
                pv::created_at.eq(t),
                pv::expires_at.eq(t + TTL_SECONDS),
            ))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })?;
    Ok((uuid, code))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Correct,
    Incorrect,
    NoPending,
}

/// Checks a code; a correct one ends the verification (single use).
pub fn check(conn: &mut DbConn, phone: &Phone, code: &str) -> Result<Check, DbError> {
    let t = now();
    let pending: Option<(i64, String)> = pv::table
        .filter(pv::country_code.eq(phone.country_code))
        .filter(pv::phone.eq(&phone.national))
        .filter(pv::expires_at.gt(t))
        .select((pv::id, pv::code_hash))
        .first(conn)
        .optional()?;
    let Some((id, code_hash)) = pending else {
        return Ok(Check::NoPending);
    };
    if !crate::crypto::constant_time_eq(code_hash.as_bytes(), hash(phone, code).as_bytes()) {
        return Ok(Check::Incorrect);
    }
    let deleted = diesel::delete(pv::table.filter(pv::id.eq(id))).execute(conn)?;
    Ok(if deleted == 1 {
        Check::Correct
    } else {
        Check::NoPending
    })
}
