//! Which second factors an account has, and removing them all (disable,
//! admin reset, CLI reset).

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{tfa_api_challenges, tfa_api_tokens};
use crate::db::{Db, DbConn, DbError};

use super::providers::{recovery, totp};
use super::store;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Factors {
    /// A confirmed authenticator app.
    pub app: bool,
    pub app_since: Option<i64>,
    /// The last two digits of the SMS phone, when one is on file.
    pub phone_last_two: Option<String>,
    pub recovery: recovery::Summary,
}

impl Factors {
    /// Any factor that a sign-in can be challenged with.
    pub fn any(&self) -> bool {
        self.app || self.phone_last_two.is_some()
    }
}

pub fn load(conn: &mut DbConn, account_id: i64) -> Result<Factors, DbError> {
    let app = totp::load(conn, account_id)?.filter(|r| r.confirmed);
    Ok(Factors {
        app: app.is_some(),
        app_since: app.map(|r| r.created_at),
        phone_last_two: store::load_phone(conn, account_id)?
            .map(|p| p.phone.last_two().to_string()),
        recovery: recovery::summary(conn, account_id)?,
    })
}

pub async fn of(db: &Db, account_id: i64) -> Result<Factors, DbError> {
    db.run(move |conn| load(conn, account_id)).await
}

pub async fn app_confirmed(db: &Db, account_id: i64) -> Result<bool, DbError> {
    db.run(move |conn| totp::has_confirmed(conn, account_id))
        .await
}

/// Removes every factor of the account (app, phone, recovery codes) and its
/// open API sign-in challenges and API session tokens. Personal access
/// tokens stay: they are not a factor and are revoked on their own.
pub fn remove_all(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    let app = totp::remove(conn, account_id)?;
    let phone = store::delete_phone(conn, account_id)?;
    let codes = recovery::remove_all(conn, account_id)? > 0;
    diesel::delete(tfa_api_challenges::table.filter(tfa_api_challenges::account_id.eq(account_id)))
        .execute(conn)?;
    diesel::delete(
        tfa_api_tokens::table
            .filter(tfa_api_tokens::account_id.eq(account_id))
            .filter(tfa_api_tokens::kind.eq("session")),
    )
    .execute(conn)?;
    Ok(app || phone || codes)
}
