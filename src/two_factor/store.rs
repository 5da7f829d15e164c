//! The addon's database access: phones and sign-in challenges (the small
//! state between pages is in `state`).
//! Functions take a connection so callers choose the transaction.

use diesel::prelude::*;

use crate::db::{now, Db, DbConn, DbError};
use crate::two_factor::schema::{
    tfa_challenges, tfa_code_holders, tfa_counters, tfa_flashes, tfa_passkeys, tfa_phones,
    tfa_recovery_codes,
};

use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::gateways::AuthyId;
use crate::two_factor::sms::phone::PhoneNumber;
use crate::two_factor::{limits, state};

#[derive(Clone, Debug)]
pub struct StoredPhone {
    pub account_id: i64,
    pub phone: PhoneNumber,
    pub authy_id: Option<AuthyId>,
    /// The gateway said this number is not valid (until it changes).
    pub refused: bool,
    /// A code sent to it was entered correctly. False for a number set at
    /// registration or by an admin: its owner confirms it with the code at
    /// their next sign-in.
    pub confirmed: bool,
}

pub(crate) type PhoneRow = (
    i64,
    String,
    i32,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub(crate) fn from_row(
    (account_id, country, code, national, e164, authy, refused_at, confirmed_at): PhoneRow,
) -> StoredPhone {
    StoredPhone {
        account_id,
        phone: PhoneNumber::from_stored(country, code as u16, national, e164),
        authy_id: authy.map(AuthyId),
        refused: refused_at.is_some(),
        confirmed: confirmed_at.is_some(),
    }
}

/// A code sent to `e164` was entered correctly: the account's number, if it
/// still is that one, is confirmed.
pub async fn mark_confirmed(db: &Db, account_id: i64, e164: String) -> Result<(), DbError> {
    db.transaction(move |conn| {
        crate::on_backend!(conn, |c| diesel::update(
            tfa_phones::table
                .find(account_id)
                .filter(tfa_phones::e164.eq(&e164))
                .filter(tfa_phones::confirmed_at.is_null())
        )
        .set(tfa_phones::confirmed_at.eq(Some(now())))
        .execute(c))?;
        Ok(())
    })
    .await
}

/// `mark_confirmed` inside the caller's transaction.
pub fn mark_confirmed_in(conn: &mut DbConn, account_id: i64, e164: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |c| diesel::update(
        tfa_phones::table
            .find(account_id)
            .filter(tfa_phones::e164.eq(e164))
            .filter(tfa_phones::confirmed_at.is_null())
    )
    .set(tfa_phones::confirmed_at.eq(Some(now())))
    .execute(c))?;
    Ok(())
}

/// The gateway said the account's number (`e164`) is not valid; kept
/// until the number changes.
pub async fn mark_refused(db: &Db, account_id: i64, e164: String) -> Result<(), DbError> {
    db.transaction(move |conn| {
        crate::on_backend!(conn, |c| diesel::update(
            tfa_phones::table
                .find(account_id)
                .filter(tfa_phones::e164.eq(&e164))
        )
        .set(tfa_phones::refused_at.eq(Some(now())))
        .execute(c))?;
        Ok(())
    })
    .await
}

pub fn load_phone(conn: &mut DbConn, account_id: i64) -> Result<Option<StoredPhone>, DbError> {
    let row = crate::on_backend!(conn, |c| tfa_phones::table
        .find(account_id)
        .select((
            tfa_phones::account_id,
            tfa_phones::country,
            tfa_phones::calling_code,
            tfa_phones::national_number,
            tfa_phones::e164,
            tfa_phones::authy_id,
            tfa_phones::refused_at,
            tfa_phones::confirmed_at,
        ))
        .first::<PhoneRow>(c)
        .optional())?;
    Ok(row.map(from_row))
}

/// The account's phone with what the code pages need besides (see
/// `PhoneAndFactors`), in one query.
pub async fn phone_and_codes(
    db: &Db,
    account_id: i64,
    flash_key: Option<String>,
) -> Result<Option<PhoneAndFactors>, DbError> {
    db.run(move |conn| {
        // No session, no flash: a key no session hashes to.
        let flash_key = flash_key.unwrap_or_default();
        let cooldown_key = limits::cooldown_key(account_id);
        let row = crate::on_backend!(conn, |c| tfa_phones::table
            .left_join(
                tfa_code_holders::table.on(tfa_code_holders::account_id.eq(tfa_phones::account_id)),
            )
            .filter(tfa_phones::account_id.eq(account_id))
            .select((
                (
                    tfa_phones::account_id,
                    tfa_phones::country,
                    tfa_phones::calling_code,
                    tfa_phones::national_number,
                    tfa_phones::e164,
                    tfa_phones::authy_id,
                    tfa_phones::refused_at,
                    tfa_phones::confirmed_at,
                ),
                diesel::dsl::exists(
                    tfa_recovery_codes::table.filter(tfa_recovery_codes::account_id.eq(account_id)),
                ),
                diesel::dsl::exists(
                    tfa_passkeys::table.filter(tfa_passkeys::account_id.eq(account_id)),
                ),
                tfa_code_holders::purpose.nullable(),
                tfa_code_holders::verification_sid.nullable(),
                diesel::dsl::exists(tfa_flashes::table.find(&flash_key)),
                tfa_counters::table
                    .find(&cooldown_key)
                    .select(tfa_counters::window_start)
                    .single_value(),
            ))
            .first::<(
                PhoneRow,
                bool,
                bool,
                Option<String>,
                Option<String>,
                bool,
                Option<i64>,
            )>(c)
            .optional())?;
        Ok(row.map(
            |(
                phone,
                has_codes,
                has_passkey,
                purpose,
                verification_sid,
                has_flash,
                cooldown_started,
            )| {
                PhoneAndFactors {
                    stored: from_row(phone),
                    has_codes,
                    has_passkey,
                    holder: purpose.map(|purpose| state::CodeHolder {
                        purpose,
                        verification_sid,
                    }),
                    resend_wait: limits::cooldown_left_after(cooldown_started),
                    has_flash,
                }
            },
        ))
    })
    .await
}

/// The phone of an account at its code step, with what else the step
/// needs to know in the same read: whether recovery codes exist (SMS
/// set-up finished), whether a passkey does (the page links to it), who
/// holds the last texted code (the code step checks it; the code page
/// shows where a code sent for its sign-in went), whether a flash waits
/// for this browser (most views have none: no read of its own) and how
/// long the resend buttons wait.
pub struct PhoneAndFactors {
    pub stored: StoredPhone,
    pub has_codes: bool,
    pub has_passkey: bool,
    pub holder: Option<state::CodeHolder>,
    pub has_flash: bool,
    /// Seconds until another code may be sent (the resend cooldown).
    pub resend_wait: i64,
}

pub async fn phone_of(db: &Db, account_id: i64) -> Result<Option<StoredPhone>, DbError> {
    db.run(move |conn| load_phone(conn, account_id)).await
}

/// Stores `phone` for the account as confirmed (its owner just proved it,
/// or is proving it with the code that follows). A different number
/// forgets the gateway id (the gateway's user is per phone). Returns true
/// when anything changed.
pub fn save_phone(
    conn: &mut DbConn,
    account_id: i64,
    phone: &PhoneNumber,
) -> Result<bool, DbError> {
    store_phone(conn, account_id, phone, Some(now()))
}

/// Stores `phone` as not confirmed yet (set at registration, or by an
/// admin for someone else): the code of its owner's next sign-in goes to it
/// and confirms it.
pub fn save_unconfirmed_phone(
    conn: &mut DbConn,
    account_id: i64,
    phone: &PhoneNumber,
) -> Result<bool, DbError> {
    store_phone(conn, account_id, phone, None)
}

fn store_phone(
    conn: &mut DbConn,
    account_id: i64,
    phone: &PhoneNumber,
    confirmed_at: Option<i64>,
) -> Result<bool, DbError> {
    let existing = load_phone(conn, account_id)?;
    match existing {
        Some(old) if old.phone == *phone => Ok(false),
        Some(_) => {
            diesel::update(tfa_phones::table.find(account_id))
                .set((
                    tfa_phones::country.eq(phone.region()),
                    tfa_phones::calling_code.eq(phone.calling_code() as i32),
                    tfa_phones::national_number.eq(phone.national()),
                    tfa_phones::e164.eq(phone.e164()),
                    tfa_phones::authy_id.eq(None::<i64>),
                    tfa_phones::refused_at.eq(None::<i64>),
                    tfa_phones::updated_at.eq(now()),
                    tfa_phones::confirmed_at.eq(confirmed_at),
                ))
                .execute(conn)?;
            Ok(true)
        }
        None => {
            diesel::insert_into(tfa_phones::table)
                .values((
                    tfa_phones::account_id.eq(account_id),
                    tfa_phones::country.eq(phone.region()),
                    tfa_phones::calling_code.eq(phone.calling_code() as i32),
                    tfa_phones::national_number.eq(phone.national()),
                    tfa_phones::e164.eq(phone.e164()),
                    tfa_phones::authy_id.eq(None::<i64>),
                    tfa_phones::updated_at.eq(now()),
                    tfa_phones::confirmed_at.eq(confirmed_at),
                ))
                .execute(conn)?;
            Ok(true)
        }
    }
}

pub fn delete_phone(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(diesel::delete(tfa_phones::table.find(account_id)).execute(conn)? > 0)
    })
}

/// Remembers the gateway id, unless the phone changed meanwhile.
pub async fn set_authy_id(
    db: &Db,
    account_id: i64,
    e164: String,
    id: AuthyId,
) -> Result<(), DbError> {
    db.transaction(move |conn| save_authy_id(conn, account_id, &e164, id))
        .await
}

/// Records the gateway's user id for the phone `e164`, if it is still the
/// account's phone.
pub fn save_authy_id(
    conn: &mut DbConn,
    account_id: i64,
    e164: &str,
    id: AuthyId,
) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::update(
            tfa_phones::table
                .find(account_id)
                .filter(tfa_phones::e164.eq(e164)),
        )
        .set(tfa_phones::authy_id.eq(Some(id.0)))
        .execute(conn)?;
        Ok(())
    })
}

pub async fn forget_authy_id(db: &Db, account_id: i64) -> Result<(), DbError> {
    db.transaction(move |conn| {
        diesel::update(tfa_phones::table.find(account_id))
            .set(tfa_phones::authy_id.eq(None::<i64>))
            .execute(conn)?;
        Ok(())
    })
    .await
}

/// After the API key (or the gateway) changed: every user registers again.
pub async fn forget_all_authy_ids(db: &Db) -> Result<usize, DbError> {
    db.transaction(|conn| {
        Ok(
            diesel::update(tfa_phones::table.filter(tfa_phones::authy_id.is_not_null()))
                .set(tfa_phones::authy_id.eq(None::<i64>))
                .execute(conn)?,
        )
    })
    .await
}

/// Starts the challenge of a pending login: its audit entry lands with the
/// pending login the host keeps for it (`HostServices::write_with_pending_login`):
/// one write transaction for the password step. No challenge row is
/// written here any more: the first code's claim is a counter
/// (`limits::send_attempt_claimed`), and only a host whose completion is
/// not exclusive needs the row, which its claim inserts when it is missing
/// (`claim_completion_unless_host_does`): a statement less at every
/// password step.
pub async fn start_challenge(
    host: &crate::plugin::HostHandle,
    pending_id: String,
    ev: AuditEvent,
) -> Result<(), DbError> {
    host.write_with_pending_login(&pending_id, Box::new(move |conn| audit::insert(conn, &ev)))
        .await
}

/// Inserts the challenge row as completed, unless one is there already
/// (then nothing happens: no unique violation, so it can run inside a
/// transaction that must not fail); true when it inserted. (`sent_at` is
/// no longer written: the first code's claim is a counter,
/// `limits::send_attempt_claimed`.)
fn insert_completed_challenge(
    conn: &mut DbConn,
    pending_id: &str,
    account_id: i64,
) -> Result<bool, DbError> {
    let t = now();
    let inserted = crate::on_backend!(conn, |c| diesel::insert_into(tfa_challenges::table)
        .values((
            tfa_challenges::pending_id.eq(pending_id),
            tfa_challenges::account_id.eq(account_id),
            tfa_challenges::sent_at.eq(None::<i64>),
            tfa_challenges::completed.eq(true),
            tfa_challenges::created_at.eq(t),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Claims a step of the challenge with a conditional update (`claim`, true
/// when it changed the row); when it changed nothing, the row is either
/// missing, and then inserted as claimed (`insert`, true when it did), or
/// already claimed. The update comes first: the code page inserted the row
/// of an SMS sign-in, the one such a host's completion mostly claims.
fn claim_step(
    conn: &mut DbConn,
    claim: impl FnOnce(&mut DbConn) -> Result<bool, DbError>,
    insert: impl FnOnce(&mut DbConn) -> Result<bool, DbError>,
) -> Result<bool, DbError> {
    if claim(conn)? {
        return Ok(true);
    }
    insert(conn)
}

static SWEEP: crate::db::Sweep = crate::db::Sweep::new();

/// Sweeps challenges and counters older than a day, at most once a minute
/// per process (the code page's count of the send limits calls it).
pub fn sweep_if_due(conn: &mut DbConn, t: i64) -> Result<(), DbError> {
    SWEEP.run_if_due(t, || sweep_expired(conn, t))
}

/// Challenges and counters outlive their use by at most a day.
pub fn sweep_expired(conn: &mut DbConn, t: i64) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        let day_ago = t - 86_400;
        diesel::delete(tfa_challenges::table.filter(tfa_challenges::created_at.lt(day_ago)))
            .execute(conn)?;
        diesel::delete(tfa_counters::table.filter(tfa_counters::window_start.lt(day_ago)))
            .execute(conn)?;
        Ok(())
    })
}

/// True for exactly one of any number of concurrent correct submissions.
/// The sign-in steps claim inside the host's completion
/// (`claim_completion_in`); this is for the store's own tests.
#[cfg(test)]
pub async fn claim_completion(
    db: &Db,
    pending_id: String,
    account_id: i64,
) -> Result<bool, DbError> {
    retry_on_conflict(db, move |conn| {
        claim_completion_in(conn, &pending_id, account_id)
    })
    .await
}

/// `claim_completion` inside the caller's transaction (it cannot fail with
/// a unique violation, see `insert_completed_challenge`).
pub fn claim_completion_in(
    conn: &mut DbConn,
    pending_id: &str,
    account_id: i64,
) -> Result<bool, DbError> {
    claim_step(
        conn,
        |conn| {
            let claimed = crate::on_backend!(conn, |c| diesel::update(
                tfa_challenges::table
                    .find(pending_id)
                    .filter(tfa_challenges::completed.eq(false)),
            )
            .set(tfa_challenges::completed.eq(true))
            .execute(c))?;
            Ok(claimed == 1)
        },
        |conn| insert_completed_challenge(conn, pending_id, account_id),
    )
}

/// The claim of a sign-in step's completion (`claim_completion_in`),
/// unless the host's completion is exclusive itself
/// (`HostServices::completion_takes_pending_login`): then taking the
/// pending login, in the same transaction, is the claim and nothing is
/// written here (a statement less in every sign-in).
pub fn claim_completion_unless_host_does(
    conn: &mut DbConn,
    host_does: bool,
    pending_id: &str,
    account_id: i64,
) -> Result<bool, DbError> {
    if host_does {
        return Ok(true);
    }
    claim_completion_in(conn, pending_id, account_id)
}

/// Runs `f` again when a concurrent insert of the same key won the race
/// (PostgreSQL reports it as a unique violation; the retry then updates).
pub async fn retry_on_conflict<T, F>(db: &Db, f: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: Fn(&mut DbConn) -> Result<T, DbError> + Send + Sync + Clone + 'static,
{
    let mut tries = 0;
    loop {
        let g = f.clone();
        match db.transaction(move |conn| g(conn)).await {
            Err(DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) if tries < 3 => tries += 1,
            other => return other,
        }
    }
}
