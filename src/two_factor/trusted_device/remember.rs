//! What every code page (SMS, app, recovery code; a passkey page too)
//! shares about "Don't ask again on this device for N days": the offer
//! its template shows (`_remember_device.html`, given `remember`), the
//! choice its form reads (`RememberDevice`), and `after_code`, which turns
//! a ticked box into a trusted device on the completed sign-in's response.
//! And the sign-in's side: `skips_code`.

use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::db::{now, DbError};
use crate::plugin::{HostHandle, LoginAttempt, PendingLogin, Role};
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::ADDON_ID;

use super::period::{self, TrustDays};
use super::{cookie, device_name, store};

/// The form field of the checkbox.
pub const FIELD: &str = "remember_device";

/// Whether the box was ticked, as a code form reads it (a field
/// `remember_device` of the form's struct; absent means not ticked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RememberDevice(pub bool);

impl<'de> Deserialize<'de> for RememberDevice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = String::deserialize(d)?;
        Ok(RememberDevice(matches!(
            value.as_str(),
            "on" | "1" | "true" | "yes"
        )))
    }
}

/// What `_remember_device.html` shows: the box, for `days` days, when the
/// store lets the role trust devices (0: no box).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct RememberOffer {
    pub days: i64,
}

/// The offer for an account of `role`.
pub async fn offer(host: &HostHandle, role: Role) -> Result<RememberOffer, DbError> {
    let settings = host.addon_settings(ADDON_ID).await?;
    Ok(RememberOffer {
        days: TrustDays::for_role(&settings, role).days(),
    })
}

/// On a code page shown for `account_id`: a token cookie of that account
/// was refused at sign-in (else there would be no code page), so the page
/// tells the browser to forget it.
pub fn forget_refused_cookie(
    host: &HostHandle,
    req: &HttpRequest,
    account_id: i64,
    page: &mut HttpResponse,
) {
    let name = cookie::name_for(host.secret_key(), account_id);
    if cookie::sent_by(req, &name).is_some() {
        let _ = page.add_cookie(&cookie::removal(name, host.secure_cookies()));
    }
}

/// After the right code, on the host's completion response `done`: when
/// the box was ticked and the store lets the role trust devices, trusts
/// this device (stored hashed, audited) and sets its cookie; otherwise
/// removes a refused token cookie. A failure to trust is logged and the
/// sign-in stands: the next sign-in asks for the code.
pub async fn after_code(
    host: &HostHandle,
    req: &HttpRequest,
    pending: &PendingLogin,
    choice: RememberDevice,
    mut done: HttpResponse,
) -> HttpResponse {
    let account = &pending.account;
    let days = match host.addon_settings(ADDON_ID).await {
        Ok(settings) => TrustDays::for_role(&settings, account.role),
        Err(e) => {
            tracing::error!(error = %e, "could not read the trusted-device setting");
            TrustDays::default()
        }
    };
    if !choice.0 || days.is_off() {
        forget_refused_cookie(host, req, account.id, &mut done);
        return done;
    }
    let token = cookie::new_token();
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = device_name::from_user_agent(user_agent);
    let ip = host.client_ip(req);
    let t = now();
    let ev = AuditEvent::new("trusted_device", "trusted")
        .account(account)
        .interface(pending.interface)
        .ip(&ip)
        .detail(format!("{name}, for {} days", days.days()));
    let (account_id, generation, hash) = (
        account.id,
        account.credential_generation,
        token.hash.clone(),
    );
    let saved = host
        .db()
        .transaction(move |conn| {
            store::trust(
                conn,
                &store::NewDevice {
                    account_id,
                    token_hash: &hash,
                    device_name: &name,
                    ip: &ip,
                    now: t,
                    expires_at: t + days.secs(),
                    credential_generation: generation,
                },
            )?;
            audit::insert(conn, &ev)
        })
        .await;
    match saved {
        Ok(()) => {
            let c = cookie::build(
                cookie::name_for(host.secret_key(), account.id),
                token.clear,
                days.secs(),
                host.secure_cookies(),
            );
            let _ = done.add_cookie(&c);
        }
        Err(e) => tracing::error!(error = %e, "could not trust the device"),
    }
    done
}

/// At sign-in, after the right password, before a code is asked for:
/// whether this browser holds a token that this same account trusted and
/// that still counts (`period::check`). A device that no longer counts is
/// forgotten (and its cookie removed by the code page that follows).
/// Reads nothing when the browser sends no token for the account.
pub async fn skips_code(host: &HostHandle, attempt: &LoginAttempt) -> Result<bool, DbError> {
    let account = &attempt.account;
    let name = cookie::name_for(host.secret_key(), account.id);
    let Some(hash) = attempt.cookies.get(&name).and_then(cookie::hash_of_sent) else {
        return Ok(false);
    };
    let days = TrustDays::for_role(&host.addon_settings(ADDON_ID).await?, account.role);
    let (id, generation) = (account.id, account.credential_generation);
    let base = AuditEvent::new("trusted_device", "used")
        .account(account)
        .interface(attempt.interface)
        .ip(&attempt.ip);
    host.db()
        .transaction(move |conn| {
            let Some(found) = store::find(conn, id, &hash)? else {
                return Ok(false);
            };
            let t = now();
            match period::check(&found.trusted, t, days, generation) {
                Ok(()) => {
                    store::mark_used(conn, found.id, t)?;
                    audit::insert(conn, &base.clone().detail(found.device_name))?;
                    Ok(true)
                }
                Err(why) => {
                    store::delete(conn, found.id)?;
                    let mut ev =
                        base.clone()
                            .detail(format!("{}: {}", found.device_name, why.reason()));
                    ev.outcome = "forgotten";
                    audit::insert(conn, &ev)?;
                    Ok(false)
                }
            }
        })
        .await
}
