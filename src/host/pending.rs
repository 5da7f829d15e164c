//! Pending logins: the server-side state between a verified password and a
//! completed login. Only the host turns one into a signed-in session.

use diesel::prelude::*;

use actix_web::HttpRequest;

use super::accounts::AccountRow;
use super::session;
use crate::db::schema::pending_logins;
use crate::db::{now, DbConn, DbError};
pub use crate::plugin::safe_target;
use crate::plugin::Interface;

/// A pending login lives this long (seconds).
pub const TTL_SECS: i64 = 10 * 60;

pub const STAGE_PASSWORD_CHANGE: &str = "password_change";
/// The second factor was met; a password change the admin required comes
/// next, then the session (the factor first: the password may have leaked).
pub const STAGE_PASSWORD_CHANGE_VERIFIED: &str = "password_change_verified";
pub const STAGE_CHALLENGE: &str = "challenge";

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = pending_logins)]
pub struct PendingRow {
    pub id: String,
    pub account_id: i64,
    pub interface: String,
    pub target: String,
    pub stage: String,
    pub addon_id: Option<String>,
    pub challenge_url: String,
    pub ip: String,
    pub attempts: i32,
    pub created_at: i64,
    pub expires_at: i64,
    /// The account's credential generation when the password was verified.
    pub credential_generation: i64,
}

impl PendingRow {
    pub fn new(
        id: String,
        account: &crate::plugin::Account,
        interface: Interface,
        target: String,
        ip: String,
    ) -> PendingRow {
        let t = now();
        PendingRow {
            id,
            account_id: account.id,
            interface: interface.as_str().to_string(),
            target,
            stage: String::new(),
            addon_id: None,
            challenge_url: String::new(),
            ip,
            attempts: 0,
            created_at: t,
            expires_at: t + TTL_SECS,
            credential_generation: account.credential_generation,
        }
    }

    /// At the password-change step (with or without the second factor met).
    pub fn changes_password(&self) -> bool {
        self.stage == STAGE_PASSWORD_CHANGE || self.stage == STAGE_PASSWORD_CHANGE_VERIFIED
    }

    pub fn interface(&self) -> Interface {
        Interface::parse(&self.interface).unwrap_or(Interface::Customer)
    }
}

impl super::HostState {
    /// The unexpired pending login this request's session holds, with its
    /// account, while the account's credential generation is still the one
    /// the sign-in started under (a password change, a two-factor reset or
    /// disable since then voids it, even one that raced with its start).
    /// Read with the session, once per request (`session::current`): the
    /// writes that act on it (counting an attempt, taking it to sign in)
    /// check again in their own statements.
    pub async fn pending_with_account(
        &self,
        req: &HttpRequest,
    ) -> Option<(PendingRow, AccountRow)> {
        let current = session::current(self, req).await.ok()?;
        current.pending.clone()
    }
}

pub fn insert(conn: &mut DbConn, row: &PendingRow) -> Result<(), DbError> {
    let t = now();
    SWEEP.run_if_due(t, || sweep_expired(conn, t))?;
    crate::on_backend!(conn, |conn| {
        diesel::insert_into(pending_logins::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    })
}

/// `insert`, unless the account has failed passwords (or a lock) on
/// record: false then, and nothing is written. The password step's check
/// of the failures, after the hash, in the write that keeps the pending
/// login: for nearly every sign-in (no failures on record) no read of its
/// own; the caller deals with the rest in the same transaction.
pub fn insert_unless_failures(conn: &mut DbConn, row: &PendingRow) -> Result<bool, DbError> {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};
    let t = now();
    SWEEP.run_if_due(t, || sweep_expired(conn, t))?;
    let inserted = crate::on_backend!(conn, |c| diesel::sql_query(
        "INSERT INTO pending_logins (id, account_id, interface, target, stage, addon_id, \
         challenge_url, ip, attempts, created_at, expires_at, credential_generation) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
         WHERE NOT EXISTS (SELECT 1 FROM login_failures WHERE account_id = $2)",
    )
    .bind::<Text, _>(&row.id)
    .bind::<BigInt, _>(row.account_id)
    .bind::<Text, _>(&row.interface)
    .bind::<Text, _>(&row.target)
    .bind::<Text, _>(&row.stage)
    .bind::<Nullable<Text>, _>(&row.addon_id)
    .bind::<Text, _>(&row.challenge_url)
    .bind::<Text, _>(&row.ip)
    .bind::<Integer, _>(row.attempts)
    .bind::<BigInt, _>(row.created_at)
    .bind::<BigInt, _>(row.expires_at)
    .bind::<BigInt, _>(row.credential_generation)
    .execute(c))?;
    Ok(inserted == 1)
}

static SWEEP: crate::db::Sweep = crate::db::Sweep::new();

/// Deletes pending logins that have expired: the ones a session no longer
/// names (a second password step in the same browser, `session::attach_pending`)
/// and the ones whose browser never came back. An expired one is never
/// read (`load_valid`, `session::current`), so this only frees the rows.
pub fn sweep_expired(conn: &mut DbConn, t: i64) -> Result<usize, DbError> {
    Ok(crate::on_backend!(conn, |c| diesel::delete(
        pending_logins::table.filter(pending_logins::expires_at.le(t))
    )
    .execute(c))?)
}

/// The pending login if it exists and has not expired.
pub fn load_valid(conn: &mut DbConn, id: &str) -> Result<Option<PendingRow>, DbError> {
    Ok(crate::on_backend!(conn, |c| pending_logins::table
        .find(id)
        .filter(pending_logins::expires_at.gt(now()))
        .select(PendingRow::as_select())
        .first(c)
        .optional())?)
}

pub fn set_challenge(
    conn: &mut DbConn,
    id: &str,
    addon_id: &str,
    url: &str,
) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::update(pending_logins::table.find(id))
            .set((
                pending_logins::stage.eq(STAGE_CHALLENGE),
                pending_logins::addon_id.eq(Some(addon_id)),
                pending_logins::challenge_url.eq(url),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Moves the pending login to the password-change step after its second
/// factor was met (see `STAGE_PASSWORD_CHANGE_VERIFIED`); false when it is
/// gone.
pub fn to_password_change(conn: &mut DbConn, id: &str, url: &str) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(diesel::update(
            pending_logins::table
                .find(id)
                .filter(pending_logins::expires_at.gt(now()))
                // Once: of concurrent completions, one moves it on.
                .filter(pending_logins::stage.ne(STAGE_PASSWORD_CHANGE_VERIFIED)),
        )
        .set((
            pending_logins::stage.eq(STAGE_PASSWORD_CHANGE_VERIFIED),
            pending_logins::challenge_url.eq(url),
        ))
        .execute(conn)?
            == 1)
    })
}

/// Adds one attempt atomically; None when the pending login is gone.
pub fn count_attempt(conn: &mut DbConn, id: &str) -> Result<Option<i32>, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(diesel::update(
            pending_logins::table
                .find(id)
                .filter(pending_logins::expires_at.gt(now())),
        )
        .set(pending_logins::attempts.eq(pending_logins::attempts + 1))
        .returning(pending_logins::attempts)
        .get_result(conn)
        .optional()?)
    })
}

/// Deletes the pending login; true when this call removed a live one (so
/// of two concurrent completions exactly one sees true).
pub fn take(conn: &mut DbConn, id: &str) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(diesel::delete(
            pending_logins::table
                .find(id)
                .filter(pending_logins::expires_at.gt(now())),
        )
        .execute(conn)?
            == 1)
    })
}

pub fn delete(conn: &mut DbConn, id: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::delete(pending_logins::table.find(id)).execute(conn)?;
        Ok(())
    })
}
