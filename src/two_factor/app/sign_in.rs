//! The sign-in step for authenticator-app codes and recovery codes:
//! `/two-factor/app` (customer skin) and `/admin/two-factor/app` (admin
//! skin). A user with an app is sent here first; "Send me an SMS instead"
//! leads to the SMS page when a phone is on file, and "Use a recovery code"
//! (also linked from the SMS page) shows the recovery code field.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::plugin::{HostHandle, Interface, PendingLogin};
use crate::two_factor::pages::{interface_of, internal_error, see_other, skin, Form, PageError};
use crate::two_factor::sign_in::held::{attempts_left, held_here};

use crate::two_factor::audit::AuditEvent;
use crate::two_factor::factors;
use crate::two_factor::limits;
use crate::two_factor::security;
use crate::two_factor::sign_in::after;
use crate::two_factor::sign_in::flash::{self, Flash};
use crate::two_factor::sign_in::verify::{self, Checked, Method};
use crate::two_factor::sign_in::wrong_code::{self, WrongCode};
use crate::two_factor::sms::pages::{ended_path, redirect_with};
use crate::two_factor::sms::service::{Actor, Service};
use crate::two_factor::store;
use crate::two_factor::trusted_device::remember::{self, RememberDevice, RememberOffer};

pub const CUSTOMER_PATH: &str = "/two-factor/app";
pub const ADMIN_PATH: &str = "/admin/two-factor/app";

struct State {
    service: Arc<Service>,
    host: HostHandle,
}

type Data = web::Data<State>;

/// Must be registered before the addon's `/two-factor` scopes.
pub fn configure(cfg: &mut web::ServiceConfig, service: Arc<Service>, host: HostHandle) {
    let data = web::Data::new(State { service, host });
    for (path, interface) in [
        (CUSTOMER_PATH, Interface::Customer),
        (ADMIN_PATH, Interface::Admin),
    ] {
        cfg.service(
            web::resource(path)
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::get().to(page))
                .route(web::post().to(submit)),
        )
        .service(
            web::resource(after::recovery_used_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::get().to(recovery_used_page)),
        );
    }
}

pub fn app_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => ADMIN_PATH,
        Interface::Customer => CUSTOMER_PATH,
    }
}

#[derive(Serialize, Default)]
struct View {
    base: &'static str,
    path: &'static str,
    login_path: &'static str,
    /// app | recovery
    mode: &'static str,
    has_app: bool,
    has_phone: bool,
    /// "Use your passkey or security key" leads to the key page.
    has_passkey: bool,
    passkey_path: &'static str,
    /// Seconds until "Send me an SMS instead" may be used (the countdown).
    resend_wait: i64,
    notice: Option<String>,
    error: Option<String>,
    continue_to: Option<String>,
    /// "Don't ask again on this device" (`_remember_device.html`).
    remember: RememberOffer,
}

async fn pending_for(st: &State, req: &HttpRequest) -> Result<PendingLogin, PageError> {
    held_here(&st.host, req, app_path).await
}

/// Which code the page asks for: the app's (the default) or a recovery
/// code (`?method=recovery`, and the same field in the form).
#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum CodeKind {
    #[default]
    App,
    Recovery,
}

#[derive(Deserialize)]
struct Query {
    method: Option<CodeKind>,
}

/// The code form: the code, and which kind the page asked for.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
    method: CodeKind,
    remember_device: RememberDevice,
}

async fn view_for(st: &State, pending: &PendingLogin, recovery: bool) -> Result<View, PageError> {
    let f = factors::of(st.host.db(), pending.account.id).await?;
    // "Send me an SMS instead" only where SMS is switched on for the role.
    let sms_on = st
        .service
        .settings(&st.host)
        .await?
        .active_for(pending.account.role);
    let base = crate::two_factor::sms::pages::base_path(pending.interface);
    Ok(View {
        base,
        path: app_path(pending.interface),
        login_path: st.host.login_path(pending.interface),
        mode: if recovery || !f.app {
            "recovery"
        } else {
            "app"
        },
        has_app: f.app,
        has_phone: sms_on && f.phone_last_two.is_some(),
        has_passkey: f.passkeys > 0,
        passkey_path: crate::two_factor::passkey::sign_in::passkey_path(pending.interface),
        ..View::default()
    })
}

async fn render(
    st: &State,
    req: &HttpRequest,
    status: StatusCode,
    template: &str,
    view: &View,
) -> Result<HttpResponse, PageError> {
    let template = format!("two_factor/{template}_{}.html", interface_of(req).as_str());
    let ctx = tera::Context::from_serialize(view)?;
    Ok(st.host.render(req, status, &template, ctx).await)
}

async fn page(
    st: Data,
    req: HttpRequest,
    query: Option<web::Query<Query>>,
) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let recovery = query.is_some_and(|q| q.method == Some(CodeKind::Recovery));
    let mut view = view_for(&st, &pending, recovery).await?;
    // What the last POST said, kept across its redirect.
    if let Some(flash) = flash::take(&st.host, &req).await? {
        flash.show(&mut view.notice, &mut view.error);
    }
    if view.has_phone {
        view.resend_wait = limits::cooldown_left(st.host.db(), pending.account.id).await?;
    }
    view.remember = remember::offer(&st.host, pending.account.role).await?;
    let mut page = render(&st, &req, StatusCode::OK, "app_verify", &view).await?;
    remember::forget_refused_cookie(&st.host, &req, pending.account.id, &mut page);
    Ok(page)
}

async fn submit(
    st: Data,
    req: HttpRequest,
    Form(form): Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let login = || PageError::SeeOther(st.host.login_path(pending.interface).into());
    let ended = ended_path(pending.interface);
    // Both counters (the sign-in's, the account's) before the check, in one write.
    let (counted, gate) = verify::count_attempts(&st.host, &pending, &ip).await?;
    let left = attempts_left(&st.host, &req, &pending, &ip, counted).await?;
    let actor = Actor {
        account: &pending.account,
        interface: pending.interface,
        ip: &ip,
        purpose: &pending.id,
        initial: false,
        via_api: false,
    };
    let recovery_mode = form.method == CodeKind::Recovery;
    let (checked, on_success) = verify::check_code_gated(
        &st.service,
        &st.host,
        &actor,
        form.code.trim(),
        false,
        Some(gate),
    )
    .await?;
    let remaining = match checked {
        Checked::Valid { method, remaining } => {
            debug_assert!(method != Method::Sms);
            remaining
        }
        Checked::Locked => {
            let why = wrong_code::cancelled(&st.host, &pending, &ip, false).await?;
            return redirect_with(&st.host, &req, &ended, Flash::error(why.message())).await;
        }
        // Wrong, and the SMS outcomes (an SMS code is never checked here).
        _ => {
            let wrong = wrong_code::after_wrong_code(&st.host, &pending, &ip, left).await?;
            let again = match (wrong, recovery_mode) {
                (WrongCode::Cancelled { .. }, _) => ended,
                (_, true) => format!("{}?method=recovery", app_path(pending.interface)),
                (_, false) => app_path(pending.interface).to_string(),
            };
            return redirect_with(&st.host, &req, &again, Flash::error(wrong.message())).await;
        }
    };
    // The claim (one of concurrent correct codes wins) lands with the new
    // session, in one write.
    let (id, account_id) = (pending.id.clone(), pending.account.id);
    let host_does = st.host.completion_takes_pending_login();
    let claim: crate::plugin::CompletionClaim = Box::new(move |conn| {
        let won = store::claim_completion_unless_host_does(conn, host_does, &id, account_id)?;
        if let Some(write) = on_success.filter(|_| won) {
            write(conn)?;
        }
        Ok(won)
    });
    let done = match st
        .host
        .complete_pending_login_claimed(&req, &pending.id, claim)
        .await
    {
        Ok(Some(crate::plugin::Completion::SignedIn(resp))) => resp,
        // The password step the admin required comes next: nothing in between.
        Ok(Some(next)) => return Ok(next.into_response()),
        Ok(None)
        | Err(crate::plugin::HostError::PendingLoginGone | crate::plugin::HostError::Refused) => {
            return Err(login())
        }
        Err(crate::plugin::HostError::Db(e)) => return Err(e.into()),
    };
    let done = remember::after_code(&st.host, &req, &pending, form.remember_device, done).await;
    if remaining.is_none() {
        return Ok(done);
    }
    // A recovery code was used: the next page says how many are left.
    Ok(after::to_recovery_used(&st.host, &pending.account, pending.interface, done).await)
}

/// After a sign-in with a recovery code: how many are left, then Continue
/// to where the sign-in was going. Shown once; opened again, it leads to
/// the Security page, where new codes are made.
async fn recovery_used_page(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let interface = interface_of(&req);
    let account = st.host.require_account(&req, interface).await?;
    let Some((target, remaining)) = after::take_recovery_used(&st.host, &account).await? else {
        return Err(PageError::SeeOther(
            security::base_of(account.role.interface()).into(),
        ));
    };
    let view = View {
        notice: Some(verify::remaining_message(remaining)),
        continue_to: Some(target),
        ..View::default()
    };
    render(&st, &req, StatusCode::OK, "recovery_used", &view).await
}

/// The login decision for an account with an authenticator app: a
/// challenge on the app page.
pub async fn challenge(
    host: &HostHandle,
    attempt: &crate::plugin::LoginAttempt,
) -> Result<crate::plugin::LoginDecision, crate::plugin::AddonError> {
    let redirect = app_path(attempt.interface).to_string();
    let ev = AuditEvent::new("challenge", "started")
        .account(&attempt.account)
        .interface(attempt.interface)
        .ip(&attempt.ip)
        .detail(format!("authenticator app; {redirect}"));
    store::start_challenge(host, attempt.pending_id.clone(), ev).await?;
    Ok(crate::plugin::LoginDecision::Challenge { redirect })
}

/// For the phone-entry step of a sign-in: a redirect to the app page when
/// the account has an authenticator app (a phone may then only be added
/// from the profile, after signing in).
pub async fn refuse_phone_entry(host: &HostHandle, pending: &PendingLogin) -> Option<HttpResponse> {
    match factors::app_confirmed(host.db(), pending.account.id).await {
        Ok(false) => None,
        Ok(true) => Some(see_other(app_path(pending.interface))),
        Err(e) => Some(internal_error(&e)),
    }
}
