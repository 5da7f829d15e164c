//! The Security page's "Trusted devices" list (its view, and Forget and
//! Forget all), and the admin's Forget all for a user. Forgetting takes
//! no password: it only takes trust away.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::db::{now, DbConn, DbError};
use crate::plugin::{Account, HostHandle, Interface, Role};
use crate::two_factor::admin::status::format_time;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::pages::{interface_of, see_other, skin, PageError};
use crate::two_factor::security;
use crate::two_factor::ADDON_ID;

use super::period::TrustDays;
use super::store;

/// The list as the Security page shows it (`_trusted_devices.html`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct DevicesView {
    /// The store's period for the account's role; 0: trusting is off.
    pub days: i64,
    pub devices: Vec<DeviceLine>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeviceLine {
    pub id: i64,
    pub name: String,
    pub ip: String,
    pub trusted: String,
    pub last_used: String,
    pub expires: String,
}

/// The account's devices that still count, for the Security page; rows
/// that no longer count (signed out everywhere, say, which moves the
/// credential generation on) are removed on the way, and audited.
pub async fn view(host: &HostHandle, account: &Account) -> Result<DevicesView, DbError> {
    let days = TrustDays::for_role(&host.addon_settings(ADDON_ID).await?, account.role);
    let (id, generation) = (account.id, account.credential_generation);
    let ev = forgotten(account, "credentials changed or expired");
    let listed = host
        .db()
        .transaction(move |conn| {
            let t = now();
            let swept = store::sweep(conn, id, generation, t)?;
            if swept > 0 {
                let detail = format!("{swept} device(s); {}", ev.detail);
                audit::insert(conn, &ev.clone().detail(detail))?;
            }
            store::list(conn, id, generation, t)
        })
        .await?;
    Ok(DevicesView {
        days: days.days(),
        devices: listed
            .into_iter()
            .map(|d| DeviceLine {
                id: d.id,
                name: d.device_name,
                ip: d.ip,
                trusted: format_time(d.created_at),
                last_used: d
                    .last_used_at
                    .map(format_time)
                    .unwrap_or_else(|| "never".into()),
                expires: format_time(d.expires_at),
            })
            .collect(),
    })
}

/// How many devices of the account still count (the admin user page).
pub fn count(conn: &mut DbConn, account: &Account) -> Result<i64, DbError> {
    store::count(conn, account.id, account.credential_generation, now())
}

/// Forgets every device of the account, with one audit entry saying why
/// (`reason`), in the caller's transaction. Returns how many there were.
pub fn forget_all_in(
    conn: &mut DbConn,
    account: &Account,
    ev: AuditEvent,
) -> Result<usize, DbError> {
    let n = store::forget_all(conn, account.id)?;
    if n > 0 {
        let detail = format!("{n} device(s); {}", ev.detail);
        audit::insert(conn, &ev.detail(detail))?;
    }
    Ok(n)
}

/// The audit entry for forgetting devices of `account`.
pub fn forgotten(account: &Account, why: &str) -> AuditEvent {
    AuditEvent::new("trusted_device", "forgotten")
        .account(account)
        .interface(account.role.interface())
        .detail(why.to_string())
}

/// Forgets every device of the account (a password change, say); logs a
/// failure, since the credential generation has moved on anyway.
pub async fn forget_all(host: &HostHandle, account: &Account, why: &'static str) {
    let (a, ev) = (account.clone(), forgotten(account, why));
    if let Err(e) = host
        .db()
        .transaction(move |conn| forget_all_in(conn, &a, ev))
        .await
    {
        tracing::error!(error = %e, "could not forget the trusted devices");
    }
}

/// The Security page's state: these actions end on that page.
type State = security::State;

/// `POST {security}/devices/{id}/forget` and `{security}/devices/forget-all`
/// for both skins, and the admin's `POST /admin/two-factor/users/{id}/forget-devices`.
/// Registered before the Security page's scope, whose prefix they share.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    service: std::sync::Arc<crate::two_factor::sms::service::Service>,
    host: HostHandle,
    passkeys: std::sync::Arc<crate::two_factor::passkey::relying_party::RelyingParty>,
) {
    let data = web::Data::new(State {
        service,
        host,
        passkeys,
    });
    for interface in [Interface::Customer, Interface::Admin] {
        let base = security::base_of(interface);
        cfg.service(
            web::resource(format!("{base}/devices/{{id}}/forget"))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(forget_one)),
        )
        .service(
            web::resource(format!("{base}/devices/forget-all"))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(forget_every)),
        );
    }
    cfg.service(
        web::resource(admin_forget_path_pattern())
            .app_data(data)
            .route(web::post().to(admin_forget_all)),
    );
}

fn admin_forget_path_pattern() -> &'static str {
    "/admin/two-factor/users/{id}/forget-devices"
}

/// Where the admin user page's "Forget all trusted devices" posts.
pub fn admin_forget_path(account_id: i64) -> String {
    format!("/admin/two-factor/users/{account_id}/forget-devices")
}

/// The signed-in account of a Security page action (customers use the
/// store's skin, admins and vendors the admin's).
async fn account(st: &State, req: &HttpRequest) -> Result<Account, PageError> {
    let interface = interface_of(req);
    let account = st.host.require_account(req, interface).await?;
    if interface == Interface::Customer && account.role != Role::Customer {
        return Err(PageError::SeeOther(security::ADMIN_BASE.into()));
    }
    Ok(account)
}

async fn forget_one(
    st: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let base = security::base_of(interface_of(&req));
    // Anything but a number names no device of this account.
    let Ok(device) = path.into_inner().parse::<i64>() else {
        return Ok(see_other(base));
    };
    let ip = st.host.client_ip(&req);
    let (a, ip2) = (account.clone(), ip.clone());
    let interface = interface_of(&req);
    let forgotten_name = st
        .host
        .db()
        .transaction(move |conn| {
            let name = store::forget(conn, a.id, device)?;
            if let Some(name) = &name {
                let ev = AuditEvent::new("trusted_device", "forgotten")
                    .account(&a)
                    .interface(interface)
                    .ip(&ip2)
                    .detail(format!("{name}; by its owner"));
                audit::insert(conn, &ev)?;
            }
            Ok(name)
        })
        .await?;
    let notice = match forgotten_name {
        Some(name) => {
            format!("“{name}” is forgotten: it will be asked for a code at its next sign-in.")
        }
        None => "That device was already forgotten.".to_string(),
    };
    security::show_with_notice(&st, &req, &account, notice).await
}

async fn forget_every(st: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let ev = forgotten(&account, "all, by their owner")
        .interface(interface_of(&req))
        .ip(&ip);
    let a = account.clone();
    let n = st
        .host
        .db()
        .transaction(move |conn| forget_all_in(conn, &a, ev))
        .await?;
    let notice = if n == 0 {
        "There were no trusted devices to forget.".to_string()
    } else {
        "Every trusted device is forgotten: each will be asked for a code at its next sign-in."
            .to_string()
    };
    security::show_with_notice(&st, &req, &account, notice).await
}

/// The admin user page's "Forget all trusted devices" for that user.
async fn admin_forget_all(
    st: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let admin = st.host.require_admin(&req).await?;
    let Ok(id) = path.into_inner().parse::<i64>() else {
        return Err(PageError::NotFound);
    };
    let Some(account) = st.host.find_account(id).await? else {
        return Err(PageError::NotFound);
    };
    let ip = st.host.client_ip(&req);
    let ev = forgotten(
        &account,
        &format!("all, by admin {}", admin.email.to_lowercase()),
    )
    .interface(Interface::Admin)
    .ip(&ip);
    let a = account.clone();
    st.host
        .db()
        .transaction(move |conn| forget_all_in(conn, &a, ev))
        .await?;
    Ok(see_other(&format!(
        "/admin/users/{id}?{}",
        crate::two_factor::admin::user_section::DEVICES_FORGOTTEN
    )))
}
