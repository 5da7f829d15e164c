//! A new number someone asked for on their own profile, kept apart from
//! the number on file until the code sent to it is entered: a typo must not
//! lock its owner out. The number on file stays in use until then. One per
//! account, single use, and it expires like a code.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;

use crate::db::{now, Db, DbConn, DbError};
use crate::plugin::{Account, HostHandle, Interface};
use crate::two_factor::gateways::{AuthyId, Channel};
use crate::two_factor::pages::{interface_of, see_other, skin, PageError};
use crate::two_factor::schema::tfa_phone_changes;
use crate::two_factor::settings::{Gateway, StoreSettings};
use crate::two_factor::sms::phone::PhoneNumber;
use crate::two_factor::sms::profile::{ADMIN_NEW_PHONE_SEND_PATH, NEW_PHONE_SEND_PATH};
use crate::two_factor::sms::service::{
    gateway_message, wait_message, Actor, SendOutcome, Service, ServiceError,
};
use crate::two_factor::store::{self, StoredPhone};

/// The purpose of codes sent to a new number: a code sent for a sign-in or
/// for the current phone is not accepted here, nor the other way round.
pub const NEW_PHONE_PURPOSE: &str = "new-phone";
/// A new number waits this long for its code (as long as a code is valid).
pub const TTL_SECS: i64 = 600;

/// The number waiting for its code.
#[derive(Clone, Debug)]
pub struct PhoneChange {
    pub phone: PhoneNumber,
    authy_id: Option<AuthyId>,
    expires_at: i64,
}

impl PhoneChange {
    /// A change as stored: country, calling code, national number, E.164,
    /// the gateway's id for it, and when it expires.
    pub fn from_row((country, code, national, e164, authy, expires_at): Row) -> PhoneChange {
        PhoneChange {
            phone: PhoneNumber::from_stored(country, code as u16, national, e164),
            authy_id: authy.map(AuthyId),
            expires_at,
        }
    }

    pub fn expired(&self) -> bool {
        self.expires_at <= now()
    }

    /// The number as the gateway calls see it (it is not confirmed).
    pub fn as_stored(&self, account_id: i64) -> StoredPhone {
        StoredPhone {
            account_id,
            phone: self.phone.clone(),
            authy_id: self.authy_id,
            refused: false,
            confirmed: false,
        }
    }
}

pub type Row = (String, i32, String, String, Option<i64>, i64);

/// Keeps `phone` as the account's new number, replacing an earlier one.
pub fn start(conn: &mut DbConn, account_id: i64, phone: &PhoneNumber) -> Result<(), DbError> {
    let t = now();
    crate::on_backend!(conn, |c| {
        diesel::delete(tfa_phone_changes::table.find(account_id)).execute(c)?;
        diesel::insert_into(tfa_phone_changes::table)
            .values((
                tfa_phone_changes::account_id.eq(account_id),
                tfa_phone_changes::country.eq(phone.region()),
                tfa_phone_changes::calling_code.eq(phone.calling_code() as i32),
                tfa_phone_changes::national_number.eq(phone.national()),
                tfa_phone_changes::e164.eq(phone.e164()),
                tfa_phone_changes::created_at.eq(t),
                tfa_phone_changes::expires_at.eq(t + TTL_SECS),
            ))
            .execute(c)?;
        Ok(())
    })
}

pub fn load(conn: &mut DbConn, account_id: i64) -> Result<Option<PhoneChange>, DbError> {
    let row = crate::on_backend!(conn, |c| tfa_phone_changes::table
        .find(account_id)
        .select((
            tfa_phone_changes::country,
            tfa_phone_changes::calling_code,
            tfa_phone_changes::national_number,
            tfa_phone_changes::e164,
            tfa_phone_changes::authy_id,
            tfa_phone_changes::expires_at,
        ))
        .first::<Row>(c)
        .optional())?;
    Ok(row.map(PhoneChange::from_row))
}

pub async fn of(db: &Db, account_id: i64) -> Result<Option<PhoneChange>, DbError> {
    db.run(move |conn| load(conn, account_id)).await
}

/// Forgets the account's new number; true when there was one.
pub fn forget(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |c| {
        Ok(diesel::delete(tfa_phone_changes::table.find(account_id)).execute(c)? > 0)
    })
}

/// Makes the new number `e164` the account's number, confirmed, once: the
/// change is used up. False when it is gone, expired or another number.
pub fn complete(conn: &mut DbConn, account_id: i64, e164: &str) -> Result<bool, DbError> {
    let Some(change) = load(conn, account_id)? else {
        return Ok(false);
    };
    forget(conn, account_id)?;
    if change.expired() || change.phone.e164() != e164 {
        return Ok(false);
    }
    store::save_phone(conn, account_id, &change.phone)?;
    Ok(true)
}

/// Claims the first send of the account's new number: true once, so a
/// reload of the profile never sends it again.
fn claim_first_send(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |c| {
        Ok(diesel::update(
            tfa_phone_changes::table
                .find(account_id)
                .filter(tfa_phone_changes::sent_at.is_null())
                .filter(tfa_phone_changes::expires_at.gt(now())),
        )
        .set(tfa_phone_changes::sent_at.eq(Some(now())))
        .execute(c)?
            == 1)
    })
}

fn keep_authy_id(
    conn: &mut DbConn,
    account_id: i64,
    e164: &str,
    id: AuthyId,
) -> Result<(), DbError> {
    crate::on_backend!(conn, |c| {
        diesel::update(
            tfa_phone_changes::table
                .find(account_id)
                .filter(tfa_phone_changes::e164.eq(e164)),
        )
        .set(tfa_phone_changes::authy_id.eq(Some(id.0)))
        .execute(c)?;
        Ok(())
    })
}

/// Sends the first code to the new number, once (the profile page calls
/// this as it shows the waiting number). The text to show, if anything
/// was tried.
pub async fn send_first(
    service: &Service,
    host: &HostHandle,
    account: &Account,
    ip: &str,
) -> Result<Option<String>, ServiceError> {
    let id = account.id;
    if !host
        .db()
        .transaction(move |c| claim_first_send(c, id))
        .await?
    {
        return Ok(None);
    }
    send(service, host, account, ip).await.map(Some)
}

/// Sends a code by SMS to the account's new number; the text to show.
pub async fn send(
    service: &Service,
    host: &HostHandle,
    account: &Account,
    ip: &str,
) -> Result<String, ServiceError> {
    let Some(change) = of(host.db(), account.id).await?.filter(|c| !c.expired()) else {
        return Ok(EXPIRED.to_string());
    };
    let settings: StoreSettings = service.settings(host).await?;
    let mut stored = change.as_stored(account.id);
    // The legacy gateway registers each number as a user of its own; the
    // new number's id is kept with the change, never on the number on file.
    if settings.gateway == Gateway::AuthyLegacy && stored.authy_id.is_none() {
        match service.authy_id(host, &settings, account, &stored).await {
            Ok(authy) => {
                let (id, e164) = (account.id, change.phone.e164().to_string());
                host.db()
                    .transaction(move |c| keep_authy_id(c, id, &e164, authy))
                    .await?;
                stored.authy_id = Some(authy);
            }
            Err(_) => return Ok(gateway_message(true).to_string()),
        }
    }
    let actor = Actor {
        account,
        interface: account.role.interface(),
        ip,
        purpose: NEW_PHONE_PURPOSE,
        initial: false,
        via_api: false,
    };
    Ok(
        match service
            .send_code(host, &settings, &actor, &stored, Channel::Sms)
            .await?
        {
            SendOutcome::Sent => format!(
                "We sent a code to your new number {}. Enter it below to start using that number.",
                change.phone.masked()
            ),
            SendOutcome::Wait { seconds, reason } => wait_message(seconds, reason),
            SendOutcome::Failed => gateway_message(true).to_string(),
            SendOutcome::Refused(why) => why.message().to_string(),
        },
    )
}

/// Shown when the new number waited too long.
pub const EXPIRED: &str = "The change of your phone number has expired, and your current number stays in use. Enter the new number again to get a new code.";

struct State {
    service: Arc<Service>,
    host: HostHandle,
}

/// "Send a new code to my new number", from the customer's account page
/// and from an admin's own user page.
pub fn configure(cfg: &mut web::ServiceConfig, service: Arc<Service>, host: HostHandle) {
    let data = web::Data::new(State { service, host });
    for (path, interface) in [
        (NEW_PHONE_SEND_PATH, Interface::Customer),
        (ADMIN_NEW_PHONE_SEND_PATH, Interface::Admin),
    ] {
        cfg.service(
            web::resource(path)
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(resend)),
        );
    }
}

/// A `formaction` button inside the profile form (the host checks its CSRF
/// token): sends a code to the new number and goes back to the profile,
/// which shows what happened. POST, redirect, GET: a reload never re-sends.
async fn resend(st: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let interface = interface_of(&req);
    let Some(account) = st.host.current_account(&req).await else {
        return Err(PageError::SeeOther(st.host.login_path(interface).into()));
    };
    let back = match interface {
        Interface::Customer => "/account".to_string(),
        Interface::Admin => format!("/admin/users/{}", account.id),
    };
    let ip = st.host.client_ip(&req);
    let text = send(&st.service, &st.host, &account, &ip).await?;
    let id = account.id;
    st.host
        .db()
        .transaction(move |conn| crate::two_factor::state::set_notice(conn, id, &text))
        .await?;
    Ok(see_other(&back))
}
