//! Which second factors an account has, and removing them all (disable,
//! admin reset, CLI reset).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use serde::Serialize;

use crate::db::{Db, DbConn, DbError};
use crate::two_factor::schema::{
    tfa_api_challenges, tfa_api_tokens, tfa_passkeys, tfa_phones, tfa_totp,
};

use crate::two_factor::app::totp;
use crate::two_factor::passkey;
use crate::two_factor::recovery::codes as recovery;
use crate::two_factor::store;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Factors {
    /// A confirmed authenticator app.
    pub app: bool,
    pub app_since: Option<i64>,
    /// The last two digits of the SMS phone, when one is on file.
    pub phone_last_two: Option<String>,
    /// The SMS phone for pages that mask it: "+44 •••• ••3456".
    pub phone_masked: Option<String>,
    /// Passkeys and security keys on file.
    pub passkeys: i64,
    pub recovery: recovery::Summary,
}

impl Factors {
    /// Any factor that a sign-in can be challenged with.
    pub fn any(&self) -> bool {
        self.app || self.phone_last_two.is_some() || self.passkeys > 0
    }
}

/// What the profile form and the Security link show of an account, read
/// together: its factors, its stored phone, a new number waiting for its
/// code, and the last notice the profile should repeat.
#[derive(Clone, Debug, Default)]
pub struct ProfileReads {
    pub factors: Factors,
    pub phone: Option<store::StoredPhone>,
    pub change: Option<crate::two_factor::sms::phone_change::PhoneChange>,
    /// The notice's text and when it was kept.
    pub notice: Option<(String, i64)>,
}

/// The account's factors in one query (they were four: the app, the
/// phone, the passkeys, the recovery codes; the Security and profile
/// pages read them on every view).
pub fn load(conn: &mut DbConn, account_id: i64) -> Result<Factors, DbError> {
    load_profile(conn, account_id).map(|r| r.factors)
}

/// The phone columns of a query that joins `tfa_phones` with a LEFT JOIN
/// (`p.country, p.calling_code, p.national_number, p.e164, p.authy_id,
/// p.refused_at, p.confirmed_at`): all NULL when the account has no phone.
#[derive(QueryableByName)]
struct JoinedPhone {
    #[diesel(sql_type = Nullable<Text>)]
    country: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    calling_code: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    national_number: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    e164: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    authy_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    refused_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    confirmed_at: Option<i64>,
}

impl JoinedPhone {
    /// The account's phone, if the join found one.
    fn stored(self, account_id: i64) -> Option<store::StoredPhone> {
        let (Some(country), Some(code), Some(national), Some(e164)) = (
            self.country,
            self.calling_code,
            self.national_number,
            self.e164,
        ) else {
            return None;
        };
        Some(store::from_row((
            account_id,
            country,
            code,
            national,
            e164,
            self.authy_id,
            self.refused_at,
            self.confirmed_at,
        )))
    }
}

/// `ProfileReads` in one query (the profile page read them in four).
pub fn load_profile(conn: &mut DbConn, account_id: i64) -> Result<ProfileReads, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<BigInt>)]
        app_since: Option<i64>,
        #[diesel(embed)]
        phone: JoinedPhone,
        #[diesel(sql_type = Nullable<Text>)]
        change_country: Option<String>,
        #[diesel(sql_type = Nullable<Integer>)]
        change_calling_code: Option<i32>,
        #[diesel(sql_type = Nullable<Text>)]
        change_national_number: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        change_e164: Option<String>,
        #[diesel(sql_type = Nullable<BigInt>)]
        change_authy_id: Option<i64>,
        #[diesel(sql_type = Nullable<BigInt>)]
        change_expires_at: Option<i64>,
        #[diesel(sql_type = Nullable<Text>)]
        notice_text: Option<String>,
        #[diesel(sql_type = Nullable<BigInt>)]
        notice_at: Option<i64>,
        #[diesel(sql_type = BigInt)]
        codes_total: i64,
        #[diesel(sql_type = BigInt)]
        codes_remaining: i64,
        #[diesel(sql_type = Nullable<BigInt>)]
        codes_generated_at: Option<i64>,
        #[diesel(sql_type = BigInt)]
        passkeys: i64,
    }
    // `$1` is one parameter, used several times, on both backends.
    let row: Row = crate::on_backend!(conn, |c| diesel::sql_query(
        "SELECT t.created_at AS app_since, \
           p.country, p.calling_code, p.national_number, p.e164, \
           p.authy_id, p.refused_at, p.confirmed_at, \
           c.country AS change_country, c.calling_code AS change_calling_code, \
           c.national_number AS change_national_number, c.e164 AS change_e164, \
           c.authy_id AS change_authy_id, c.expires_at AS change_expires_at, \
           n.text AS notice_text, n.created_at AS notice_at, \
           (SELECT COUNT(*) FROM tfa_recovery_codes r WHERE r.account_id = $1) AS codes_total, \
           (SELECT COUNT(*) FROM tfa_recovery_codes r WHERE r.account_id = $1 \
              AND r.used_at IS NULL) AS codes_remaining, \
           (SELECT MAX(r.created_at) FROM tfa_recovery_codes r WHERE r.account_id = $1) \
              AS codes_generated_at, \
           (SELECT COUNT(*) FROM tfa_passkeys k WHERE k.account_id = $1) AS passkeys \
         FROM (SELECT 1 AS one) AS account \
         LEFT JOIN tfa_totp t ON t.account_id = $1 AND t.confirmed = TRUE \
         LEFT JOIN tfa_phones p ON p.account_id = $1 \
         LEFT JOIN tfa_phone_changes c ON c.account_id = $1 \
         LEFT JOIN tfa_notices n ON n.account_id = $1",
    )
    .bind::<BigInt, _>(account_id)
    .get_result(c))?;
    let phone = row.phone.stored(account_id);
    let change = match (
        row.change_country,
        row.change_calling_code,
        row.change_national_number,
        row.change_e164,
        row.change_expires_at,
    ) {
        (Some(country), Some(code), Some(national), Some(e164), Some(expires_at)) => Some(
            crate::two_factor::sms::phone_change::PhoneChange::from_row((
                country,
                code,
                national,
                e164,
                row.change_authy_id,
                expires_at,
            )),
        ),
        _ => None,
    };
    let factors = Factors {
        app: row.app_since.is_some(),
        app_since: row.app_since,
        phone_last_two: phone.as_ref().map(|p| p.phone.last_two().to_string()),
        phone_masked: phone.as_ref().map(|p| p.phone.masked()),
        passkeys: row.passkeys,
        recovery: recovery::Summary {
            total: row.codes_total,
            remaining: row.codes_remaining,
            generated_at: row.codes_generated_at,
        },
    };
    Ok(ProfileReads {
        factors,
        phone,
        change,
        notice: row.notice_text.zip(row.notice_at),
    })
}

pub async fn profile_of(db: &Db, account_id: i64) -> Result<ProfileReads, DbError> {
    db.run(move |conn| load_profile(conn, account_id)).await
}

pub async fn of(db: &Db, account_id: i64) -> Result<Factors, DbError> {
    db.run(move |conn| load(conn, account_id)).await
}

/// Which of the second factors a sign-in can ask for an account has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kinds {
    pub app: bool,
    pub sms: bool,
    pub passkey: bool,
}

impl Kinds {
    pub fn any(self) -> bool {
        self.app || self.sms || self.passkey
    }
}

/// The factors of every account in `ids`, in three queries however many
/// there are (the Users list, the dashboard); accounts with none are absent.
pub fn kinds_of(
    conn: &mut DbConn,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Kinds>, DbError> {
    let mut out: std::collections::HashMap<i64, Kinds> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let apps: Vec<i64> = tfa_totp::table
        .filter(tfa_totp::account_id.eq_any(ids))
        .filter(tfa_totp::confirmed.eq(true))
        .select(tfa_totp::account_id)
        .load(conn)?;
    let phones: Vec<i64> = tfa_phones::table
        .filter(tfa_phones::account_id.eq_any(ids))
        .select(tfa_phones::account_id)
        .load(conn)?;
    let keys: Vec<i64> = tfa_passkeys::table
        .filter(tfa_passkeys::account_id.eq_any(ids))
        .select(tfa_passkeys::account_id)
        .distinct()
        .load(conn)?;
    for id in keys {
        out.entry(id).or_default().passkey = true;
    }
    for id in apps {
        out.entry(id).or_default().app = true;
    }
    for id in phones {
        out.entry(id).or_default().sms = true;
    }
    Ok(out)
}

/// The personal access tokens of the account that still work.
pub fn active_access_tokens(conn: &mut DbConn, account_id: i64) -> Result<i64, DbError> {
    let now = crate::db::now();
    Ok(tfa_api_tokens::table
        .filter(tfa_api_tokens::account_id.eq(account_id))
        .filter(tfa_api_tokens::kind.eq(crate::two_factor::api::tokens::Kind::Pat.as_str()))
        .filter(tfa_api_tokens::revoked_at.is_null())
        .filter(
            tfa_api_tokens::expires_at
                .is_null()
                .or(tfa_api_tokens::expires_at.gt(now)),
        )
        .count()
        .get_result(conn)?)
}

/// Whether the account has a confirmed app and a passkey, and its phone
/// (what a sign-in decision needs, and the SMS sign-in its first code),
/// without the recovery-code summary, in one query.
pub async fn second_factors(db: &Db, account_id: i64) -> Result<SecondFactors, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        app: bool,
        #[diesel(sql_type = Bool)]
        passkey: bool,
        #[diesel(embed)]
        phone: JoinedPhone,
    }
    db.run(move |conn| {
        // The phone row is optional: joined to a row that is always there.
        let row: Row = crate::on_backend!(conn, |c| diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM tfa_totp WHERE account_id = $1 AND confirmed = TRUE) AS app, \
                    EXISTS (SELECT 1 FROM tfa_passkeys WHERE account_id = $1) AS passkey, \
                    p.country, p.calling_code, p.national_number, p.e164, p.authy_id, \
                    p.refused_at, p.confirmed_at \
             FROM (SELECT 1 AS one) AS always LEFT JOIN tfa_phones p ON p.account_id = $1"
        )
        .bind::<BigInt, _>(account_id)
        .get_result(c))?;
        Ok(SecondFactors {
            app: row.app,
            phone: row.phone.stored(account_id),
            passkey: row.passkey,
        })
    })
    .await
}

/// Which second factors an account has, as a sign-in needs to know (one
/// read, `second_factors`): a passkey is asked for first, then the app, then
/// the phone.
#[derive(Clone, Debug, Default)]
pub struct SecondFactors {
    pub app: bool,
    /// The SMS phone, when one is on file.
    pub phone: Option<store::StoredPhone>,
    pub passkey: bool,
}

pub async fn app_confirmed(db: &Db, account_id: i64) -> Result<bool, DbError> {
    db.run(move |conn| totp::has_confirmed(conn, account_id))
        .await
}

/// The host's `void_pending_sign_ins`, as a function on the caller's
/// connection (the command line has no host handle, only the database).
pub type VoidSignIns<'a> = &'a dyn Fn(&mut DbConn, i64) -> Result<(), DbError>;

/// Removes every factor of the account (app, phone, passkeys and their
/// ceremonies, recovery codes), its
/// open API sign-in challenges and every API token (session tokens are
/// deleted; personal access tokens revoked, so their list keeps them), and
/// voids every sign-in under way through `void`: whoever disabled or reset
/// two-factor authentication, nothing issued under the old factors lives on.
pub fn remove_all(
    conn: &mut DbConn,
    account_id: i64,
    void: VoidSignIns<'_>,
) -> Result<bool, DbError> {
    let app = totp::remove(conn, account_id)?;
    let phone = store::delete_phone(conn, account_id)?;
    let keys = passkey::keys::remove_all(conn, account_id)? > 0;
    passkey::ceremony::remove_all(conn, account_id)?;
    let codes = recovery::remove_all(conn, account_id)? > 0;
    diesel::delete(tfa_api_challenges::table.filter(tfa_api_challenges::account_id.eq(account_id)))
        .execute(conn)?;
    diesel::delete(
        tfa_api_tokens::table
            .filter(tfa_api_tokens::account_id.eq(account_id))
            .filter(tfa_api_tokens::kind.eq("session")),
    )
    .execute(conn)?;
    diesel::update(
        tfa_api_tokens::table
            .filter(tfa_api_tokens::account_id.eq(account_id))
            .filter(tfa_api_tokens::revoked_at.is_null()),
    )
    .set(tfa_api_tokens::revoked_at.eq(Some(crate::db::now())))
    .execute(conn)?;
    // No device trusted under the old factors skips the new ones.
    crate::two_factor::trusted_device::store::forget_all(conn, account_id)?;
    void(conn, account_id)?;
    Ok(app || phone || keys || codes)
}
