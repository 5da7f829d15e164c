//! The Verify tables (`sandbox_verify_*`, migration
//! `2026-11-30-000010_twilio_verify`): verifications, their sends, and one
//! lock row per service and number.
//!
//! [`start`] and [`check`] must run inside one write transaction
//! (`Db::transaction`): the lock row, the counts and the writes are decided
//! together.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::numbers::To;
use super::{random_sid, CODE_TTL_SECONDS, MAX_CHECKS, MAX_SENDS, SEND_WINDOW_SECONDS};
use crate::authy_sandbox::schema::sandbox_outbox as ob;
use crate::authy_sandbox::schema::sandbox_verify_sends as vs;
use crate::authy_sandbox::schema::sandbox_verify_verifications as vv;
use crate::authy_sandbox::{outbox, random_digits, APP_NAME};
use crate::crypto::{constant_time_eq, sha256_hex};
use crate::db::{DbConn, DbError};

/// A verification's state. A pending one (or one ended on too many checks)
/// past its expiry reads as `Expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Canceled,
    MaxAttemptsReached,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Canceled => "canceled",
            Status::MaxAttemptsReached => "max_attempts_reached",
            Status::Expired => "expired",
        }
    }

    fn stored(text: &str, expires_at: i64, now: i64) -> Status {
        match text {
            "approved" => Status::Approved,
            "canceled" => Status::Canceled,
            _ if expires_at <= now => Status::Expired,
            "pending" => Status::Pending,
            "max_attempts_reached" => Status::MaxAttemptsReached,
            _ => Status::Expired,
        }
    }

    /// Still there for GET and checks: pending, or ended on too many
    /// checks (which says so until it expires).
    fn is_live(self) -> bool {
        matches!(self, Status::Pending | Status::MaxAttemptsReached)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAttempt {
    pub attempt_sid: String,
    pub channel: String,
    pub sent_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub to: String,
    /// The channel of the latest send.
    pub channel: String,
    pub status: Status,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    pub send_code_attempts: Vec<SendAttempt>,
}

/// The text of a code's message (both channels).
pub fn message_text(code: &str) -> String {
    format!("Your {APP_NAME} verification code is: {code}")
}

fn code_hash(sid: &str, code: &str) -> String {
    sha256_hex(&format!("authy-sandbox-verify-code:{sid}:{code}"))
}

const PENDING: &str = "pending";
const MAX_ATTEMPTS: &str = "max_attempts_reached";

// ---- start ------------------------------------------------------------------

pub struct StartRequest<'a> {
    pub service_sid: &'a str,
    pub account_sid: &'a str,
    pub to: &'a To,
    /// `sms` or `call`.
    pub channel: &'a str,
    pub code_length: usize,
}

#[derive(Debug)]
pub enum Started {
    Sent(Verification),
    TooManySends,
}

/// Sends a code to `to`: the pending verification's again (a resend), or a
/// new verification's. Refused past [`MAX_SENDS`] sends in
/// [`SEND_WINDOW_SECONDS`].
pub fn start(conn: &mut DbConn, req: &StartRequest<'_>, now: i64) -> Result<Started, DbError> {
    let to = req.to.e164.as_str();
    lock_number(conn, req.service_sid, to, now)?;
    if sends_since(conn, req.service_sid, to, now - SEND_WINDOW_SECONDS)? >= MAX_SENDS {
        return Ok(Started::TooManySends);
    }
    expire_stale(conn, req.service_sid, to, now)?;
    let id = match pending(conn, req.service_sid, to)? {
        Some((id, message_id)) => {
            // The same code again: re-deliver the first message.
            let text = stored_message(conn, message_id)?;
            outbox::record(conn, req.channel, &req.to.phone, &text)?;
            touch(conn, id, req.channel, now)?;
            id
        }
        None => {
            let sid = random_sid("VE");
            let code = random_digits(req.code_length);
            let message_id =
                outbox::record(conn, req.channel, &req.to.phone, &message_text(&code))?;
            insert(conn, req, &sid, &code_hash(&sid, &code), message_id, now)?
        }
    };
    crate::on_backend!(conn, |c| {
        diesel::insert_into(vs::table)
            .values((
                vs::attempt_sid.eq(random_sid("VL")),
                vs::verification_id.eq(id),
                vs::service_sid.eq(req.service_sid),
                vs::to_number.eq(to),
                vs::channel.eq(req.channel),
                vs::sent_at.eq(now),
            ))
            .execute(c)?;
    });
    Ok(Started::Sent(load(conn, id, now)?))
}

/// Writes the number's lock row. On PostgreSQL the upsert holds the row's
/// lock until the transaction ends, so starts for one number queue here;
/// SQLite's write transactions are one at a time anyway.
fn lock_number(conn: &mut DbConn, service_sid: &str, to: &str, now: i64) -> Result<(), DbError> {
    crate::on_backend!(conn, |c| {
        diesel::sql_query(
            "INSERT INTO sandbox_verify_numbers (service_sid, to_number, locked_at) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (service_sid, to_number) DO UPDATE SET locked_at = excluded.locked_at",
        )
        .bind::<Text, _>(service_sid)
        .bind::<Text, _>(to)
        .bind::<BigInt, _>(now)
        .execute(c)?;
    });
    Ok(())
}

fn sends_since(conn: &mut DbConn, service_sid: &str, to: &str, since: i64) -> Result<i64, DbError> {
    crate::on_backend!(conn, |c| {
        Ok(vs::table
            .filter(vs::service_sid.eq(service_sid))
            .filter(vs::to_number.eq(to))
            .filter(vs::sent_at.gt(since))
            .count()
            .get_result(c)?)
    })
}

/// Marks the number's pending verifications that ran out as expired (the
/// one-pending index counts only live ones).
fn expire_stale(conn: &mut DbConn, service_sid: &str, to: &str, now: i64) -> Result<(), DbError> {
    crate::on_backend!(conn, |c| {
        diesel::update(
            vv::table
                .filter(vv::service_sid.eq(service_sid))
                .filter(vv::to_number.eq(to))
                .filter(vv::status.eq(PENDING))
                .filter(vv::expires_at.le(now)),
        )
        .set((vv::status.eq("expired"), vv::updated_at.eq(now)))
        .execute(c)?;
    });
    Ok(())
}

/// The number's pending verification: its id and first message.
fn pending(conn: &mut DbConn, service_sid: &str, to: &str) -> Result<Option<(i64, i64)>, DbError> {
    crate::on_backend!(conn, |c| {
        Ok(vv::table
            .filter(vv::service_sid.eq(service_sid))
            .filter(vv::to_number.eq(to))
            .filter(vv::status.eq(PENDING))
            .select((vv::id, vv::message_id))
            .first(c)
            .optional()?)
    })
}

fn stored_message(conn: &mut DbConn, message_id: i64) -> Result<String, DbError> {
    crate::on_backend!(conn, |c| {
        Ok(ob::table
            .filter(ob::id.eq(message_id))
            .select(ob::text)
            .first(c)?)
    })
}

fn touch(conn: &mut DbConn, id: i64, channel: &str, now: i64) -> Result<(), DbError> {
    crate::on_backend!(conn, |c| {
        diesel::update(vv::table.filter(vv::id.eq(id)))
            .set((vv::channel.eq(channel), vv::updated_at.eq(now)))
            .execute(c)?;
    });
    Ok(())
}

fn insert(
    conn: &mut DbConn,
    req: &StartRequest<'_>,
    sid: &str,
    code_hash: &str,
    message_id: i64,
    now: i64,
) -> Result<i64, DbError> {
    crate::on_backend!(conn, |c| {
        Ok(diesel::insert_into(vv::table)
            .values((
                vv::sid.eq(sid),
                vv::service_sid.eq(req.service_sid),
                vv::account_sid.eq(req.account_sid),
                vv::to_number.eq(&req.to.e164),
                vv::channel.eq(req.channel),
                vv::code_hash.eq(code_hash),
                vv::message_id.eq(message_id),
                vv::status.eq(PENDING),
                vv::checks.eq(0),
                vv::created_at.eq(now),
                vv::updated_at.eq(now),
                vv::expires_at.eq(now + CODE_TTL_SECONDS),
            ))
            .returning(vv::id)
            .get_result(c)?)
    })
}

// ---- check --------------------------------------------------------------------

/// Which verification a check means.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// `VerificationSid` (and `To`, which must then be its number).
    Sid { sid: &'a str, to: Option<&'a str> },
    /// `To` alone: the number's newest live verification.
    To(&'a str),
}

#[derive(Debug)]
pub enum Checked {
    Approved(Verification),
    /// A wrong code; the verification stays pending.
    Pending(Verification),
    /// More than [`MAX_CHECKS`] checks: it ended as `max_attempts_reached`.
    MaxAttempts,
    NotFound,
}

/// Counts a check, then compares the code (in constant time). Of several
/// concurrent checks only those that count themselves on a pending row
/// compare, at most [`MAX_CHECKS`] in all, and only one can approve.
pub fn check(
    conn: &mut DbConn,
    service_sid: &str,
    target: Target<'_>,
    code: &str,
    now: i64,
) -> Result<Checked, DbError> {
    let Some((id, status)) = locate(conn, service_sid, target, now)? else {
        return Ok(Checked::NotFound);
    };
    match status {
        Status::Pending => {}
        Status::MaxAttemptsReached => return Ok(Checked::MaxAttempts),
        _ => return Ok(Checked::NotFound),
    }
    let counted: Option<(i32, String, String)> = crate::on_backend!(conn, |c| {
        diesel::update(
            vv::table
                .filter(vv::id.eq(id))
                .filter(vv::status.eq(PENDING))
                .filter(vv::expires_at.gt(now)),
        )
        .set((vv::checks.eq(vv::checks + 1), vv::updated_at.eq(now)))
        .returning((vv::checks, vv::sid, vv::code_hash))
        .get_result(c)
        .optional()?
    });
    let Some((checks, sid, stored_hash)) = counted else {
        // Another request ended it in the meantime.
        let now_status = status_of(conn, id, now)?;
        return Ok(if now_status == Some(Status::MaxAttemptsReached) {
            Checked::MaxAttempts
        } else {
            Checked::NotFound
        });
    };
    if checks > MAX_CHECKS {
        transition(conn, id, &[PENDING], MAX_ATTEMPTS, now)?;
        return Ok(Checked::MaxAttempts);
    }
    if !constant_time_eq(stored_hash.as_bytes(), code_hash(&sid, code).as_bytes()) {
        return Ok(Checked::Pending(load(conn, id, now)?));
    }
    if transition(conn, id, &[PENDING], "approved", now)? {
        Ok(Checked::Approved(load(conn, id, now)?))
    } else {
        Ok(Checked::NotFound)
    }
}

/// The verification a check or a GET means, with its status.
fn locate(
    conn: &mut DbConn,
    service_sid: &str,
    target: Target<'_>,
    now: i64,
) -> Result<Option<(i64, Status)>, DbError> {
    let row: Option<(i64, String, i64)> = crate::on_backend!(conn, |c| {
        let mut query = vv::table
            .filter(vv::service_sid.eq(service_sid))
            .select((vv::id, vv::status, vv::expires_at))
            .order(vv::id.desc())
            .into_boxed();
        match target {
            Target::Sid { sid, to } => {
                query = query.filter(vv::sid.eq(sid));
                if let Some(to) = to {
                    query = query.filter(vv::to_number.eq(to));
                }
            }
            Target::To(to) => {
                query = query
                    .filter(vv::to_number.eq(to))
                    .filter(vv::status.eq_any([PENDING, MAX_ATTEMPTS]));
            }
        }
        query.first(c).optional()?
    });
    Ok(row.map(|(id, status, expires_at)| (id, Status::stored(&status, expires_at, now))))
}

fn status_of(conn: &mut DbConn, id: i64, now: i64) -> Result<Option<Status>, DbError> {
    let row: Option<(String, i64)> = crate::on_backend!(conn, |c| {
        vv::table
            .filter(vv::id.eq(id))
            .select((vv::status, vv::expires_at))
            .first(c)
            .optional()?
    });
    Ok(row.map(|(status, expires_at)| Status::stored(&status, expires_at, now)))
}

/// Moves a live verification from one of `from` to `to`; false when it was
/// not in one of them (or had expired).
fn transition(
    conn: &mut DbConn,
    id: i64,
    from: &[&str],
    to: &str,
    now: i64,
) -> Result<bool, DbError> {
    let changed = crate::on_backend!(conn, |c| {
        diesel::update(
            vv::table
                .filter(vv::id.eq(id))
                .filter(vv::status.eq_any(from))
                .filter(vv::expires_at.gt(now)),
        )
        .set((vv::status.eq(to), vv::updated_at.eq(now)))
        .execute(c)?
    });
    Ok(changed == 1)
}

// ---- fetch and update ---------------------------------------------------------

/// A live verification of the service (pending, or ended on too many
/// checks and not yet expired); `None` once approved, canceled or expired.
pub fn fetch(
    conn: &mut DbConn,
    service_sid: &str,
    sid: &str,
    now: i64,
) -> Result<Option<Verification>, DbError> {
    match locate(conn, service_sid, Target::Sid { sid, to: None }, now)? {
        Some((id, status)) if status.is_live() => Ok(Some(load(conn, id, now)?)),
        _ => Ok(None),
    }
}

/// `Status=canceled` (of a live verification) or `Status=approved` (of a
/// pending one); `None` when there is no such verification.
pub fn set_status(
    conn: &mut DbConn,
    service_sid: &str,
    sid: &str,
    status: Status,
    now: i64,
) -> Result<Option<Verification>, DbError> {
    let from: &[&str] = match status {
        Status::Canceled => &[PENDING, MAX_ATTEMPTS],
        Status::Approved => &[PENDING],
        _ => return Ok(None),
    };
    let Some((id, _)) = locate(conn, service_sid, Target::Sid { sid, to: None }, now)? else {
        return Ok(None);
    };
    if transition(conn, id, from, status.as_str(), now)? {
        Ok(Some(load(conn, id, now)?))
    } else {
        Ok(None)
    }
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
);

/// A verification and its sends, oldest send first.
fn load(conn: &mut DbConn, id: i64, now: i64) -> Result<Verification, DbError> {
    let (row, sends): (Row, Vec<(String, String, i64)>) = crate::on_backend!(conn, |c| {
        let row: Row = vv::table
            .filter(vv::id.eq(id))
            .select((
                vv::sid,
                vv::service_sid,
                vv::account_sid,
                vv::to_number,
                vv::channel,
                vv::status,
                vv::created_at,
                vv::updated_at,
                vv::expires_at,
            ))
            .first(c)?;
        let sends = vs::table
            .filter(vs::verification_id.eq(id))
            .select((vs::attempt_sid, vs::channel, vs::sent_at))
            .order(vs::id.asc())
            .load(c)?;
        (row, sends)
    });
    let (sid, service_sid, account_sid, to, channel, status, created_at, updated_at, expires_at) =
        row;
    Ok(Verification {
        sid,
        service_sid,
        account_sid,
        to,
        channel,
        status: Status::stored(&status, expires_at, now),
        created_at,
        updated_at,
        expires_at,
        send_code_attempts: sends
            .into_iter()
            .map(|(attempt_sid, channel, sent_at)| SendAttempt {
                attempt_sid,
                channel,
                sent_at,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_hashed_with_their_verification() {
        let a = code_hash("VE0", "123456");
        assert_eq!(a.len(), 64);
        assert!(!a.contains("123456"));
        assert_ne!(a, code_hash("VE1", "123456"));
        assert_eq!(a, code_hash("VE0", "123456"));
    }

    #[test]
    fn a_pending_verification_past_its_expiry_reads_as_expired() {
        assert_eq!(Status::stored("pending", 100, 99), Status::Pending);
        assert_eq!(Status::stored("pending", 100, 100), Status::Expired);
        assert_eq!(
            Status::stored("max_attempts_reached", 100, 99),
            Status::MaxAttemptsReached
        );
        assert_eq!(
            Status::stored("max_attempts_reached", 100, 200),
            Status::Expired
        );
        assert_eq!(Status::stored("approved", 100, 0), Status::Approved);
    }
}
