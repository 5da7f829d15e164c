//! The sign-in step that asks for a passkey or security key:
//! `/two-factor/passkey` (customer skin) and `/admin/two-factor/passkey`
//! (admin skin). A user with a key is sent here first after the password;
//! the page offers their other factors too (authenticator app, "Send me an
//! SMS instead", a recovery code), and the app and SMS pages link here.
//!
//! Opening the page starts the ceremony (its state is kept in the database,
//! bound to this pending sign-in); the browser's answer is posted back as a
//! form, counted like a code, checked, and taken once.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential, WebauthnError};

use crate::plugin::{HostHandle, Interface, LoginAttempt, LoginDecision, PendingLogin};
use crate::two_factor::app::sign_in::app_path;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::factors;
use crate::two_factor::limits;
use crate::two_factor::pages::{interface_of, skin, Form, PageError};
use crate::two_factor::sign_in::flash::{self, Flash};
use crate::two_factor::sign_in::held::{attempts_left, held_here};
use crate::two_factor::sign_in::verify;
use crate::two_factor::sign_in::wrong_code::{self, WrongCode};
use crate::two_factor::sms::pages::{base_path, ended_path, redirect_with};
use crate::two_factor::sms::service::Service;
use crate::two_factor::store;
use crate::two_factor::trusted_device::remember::{self, RememberDevice, RememberOffer};

use super::ceremony::{self, Binding};
use super::keys::{self, Use};
use super::RelyingParty;

pub const CUSTOMER_PATH: &str = "/two-factor/passkey";
pub const ADMIN_PATH: &str = "/admin/two-factor/passkey";

pub fn passkey_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => ADMIN_PATH,
        Interface::Customer => CUSTOMER_PATH,
    }
}

struct State {
    service: Arc<Service>,
    host: HostHandle,
    passkeys: Arc<RelyingParty>,
}

type Data = web::Data<State>;

/// Must be registered before the addon's `/two-factor` scopes.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    service: Arc<Service>,
    host: HostHandle,
    passkeys: Arc<RelyingParty>,
) {
    let data = web::Data::new(State {
        service,
        host,
        passkeys,
    });
    for interface in [Interface::Customer, Interface::Admin] {
        cfg.service(
            web::resource(passkey_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::get().to(page))
                .route(web::post().to(submit)),
        );
    }
}

#[derive(Serialize, Default)]
struct View {
    base: &'static str,
    path: &'static str,
    app_path: &'static str,
    has_app: bool,
    has_phone: bool,
    resend_wait: i64,
    /// The browser's request options (JSON), for static/passkey.js.
    options: String,
    notice: Option<String>,
    error: Option<String>,
    /// "Don't ask again on this device" (`_remember_device.html`).
    remember: RememberOffer,
}

/// The browser's answer: the `PublicKeyCredential` as JSON.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AnswerForm {
    credential: String,
    remember_device: RememberDevice,
}

async fn pending_for(st: &State, req: &HttpRequest) -> Result<PendingLogin, PageError> {
    held_here(&st.host, req, passkey_path).await
}

/// The page: starts (or restarts) the ceremony for this sign-in.
async fn page(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let id = pending.account.id;
    let f = factors::of(st.host.db(), id).await?;
    if f.passkeys == 0 {
        // The keys were removed meanwhile: the other factors' page.
        return Err(PageError::SeeOther(app_path(pending.interface).into()));
    }
    let credentials = st
        .host
        .db()
        .run(move |conn| keys::credentials(conn, id))
        .await?;
    let (options, state) = st
        .passkeys
        .start_sign_in(&credentials)
        .map_err(|e| PageError::internal(&e))?;
    let pending_id = pending.id.clone();
    st.host
        .db()
        .transaction(move |conn| {
            ceremony::put(
                conn,
                Binding::SignIn {
                    pending_id: &pending_id,
                },
                id,
                &state,
            )
        })
        .await?;
    let sms_on = st
        .service
        .settings(&st.host)
        .await?
        .active_for(pending.account.role);
    let mut view = View {
        base: base_path(pending.interface),
        path: passkey_path(pending.interface),
        app_path: app_path(pending.interface),
        has_app: f.app,
        has_phone: sms_on && f.phone_last_two.is_some(),
        options: serde_json::to_string(&options).map_err(|e| PageError::internal(&e))?,
        ..View::default()
    };
    if let Some(flash) = flash::take(&st.host, &req).await? {
        flash.show(&mut view.notice, &mut view.error);
    }
    if view.has_phone {
        view.resend_wait = limits::cooldown_left(st.host.db(), id).await?;
    }
    view.remember = remember::offer(&st.host, pending.account.role).await?;
    let template = format!(
        "two_factor/passkey_verify_{}.html",
        interface_of(&req).as_str()
    );
    let ctx = tera::Context::from_serialize(&view)?;
    let mut page = st.host.render(&req, StatusCode::OK, &template, ctx).await;
    remember::forget_refused_cookie(&st.host, &req, id, &mut page);
    Ok(page)
}

/// Why an answer did not sign in, for the audit log.
pub(crate) fn refusal(e: &WebauthnError) -> String {
    match e {
        WebauthnError::CredentialPossibleCompromise => {
            "signature counter went backwards (a cloned key, or a replayed answer)".into()
        }
        other => other.to_string(),
    }
}

async fn submit(
    st: Data,
    req: HttpRequest,
    Form(form): Form<AnswerForm>,
) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let interface = pending.interface;
    let login = || PageError::SeeOther(st.host.login_path(interface).into());
    let ended = ended_path(interface);
    let here = passkey_path(interface);
    // The sign-in's and the account's attempt counters, in one write,
    // before the answer is checked.
    let (counted, gate) = verify::count_attempts(&st.host, &pending, &ip).await?;
    let left = attempts_left(&st.host, &req, &pending, &ip, counted).await?;
    let id = pending.account.id;
    if gate != limits::CodeGate::Allowed {
        let why = wrong_code::cancelled(&st.host, &pending, &ip, false).await?;
        return redirect_with(&st.host, &req, &ended, Flash::error(why.message())).await;
    }
    let pending_id = pending.id.clone();
    let state: Option<PasskeyAuthentication> = st
        .host
        .db()
        .run(move |conn| {
            ceremony::take(
                conn,
                Binding::SignIn {
                    pending_id: &pending_id,
                },
                id,
            )
        })
        .await?;
    let failed = |detail: String| {
        AuditEvent::new("passkey", "failure")
            .account(&pending.account)
            .interface(interface)
            .ip(&ip)
            .detail(detail)
    };
    let outcome = match (
        state,
        serde_json::from_str::<PublicKeyCredential>(&form.credential),
    ) {
        (None, _) => Err("no sign-in request under way (expired, used, or never opened)".into()),
        (_, Err(_)) => Err("the browser sent no readable answer".to_string()),
        (Some(state), Ok(answer)) => st
            .passkeys
            .finish_sign_in(&answer, &state)
            .map_err(|e| refusal(&e)),
    };
    let result = match outcome {
        Ok(r) => r,
        Err(why) => {
            audit::record(st.host.db(), failed(why)).await;
            return wrong_answer(&st, &req, &pending, &ip, left, here).await;
        }
    };
    let used = st
        .host
        .db()
        .transaction(move |conn| keys::record_use(conn, id, &result))
        .await?;
    let name = match used {
        Use::Recorded { name } => name,
        Use::CounterWentBack { name, stored, got } => {
            let detail = format!("“{name}”: signature counter went backwards ({got} after {stored}); a cloned key, or a replayed answer");
            audit::record(st.host.db(), failed(detail)).await;
            return wrong_answer(&st, &req, &pending, &ip, left, here).await;
        }
        Use::Unknown => {
            audit::record(
                st.host.db(),
                failed("a key that is not on the account".into()),
            )
            .await;
            return wrong_answer(&st, &req, &pending, &ip, left, here).await;
        }
    };
    // The completion's claim, the attempt given back and the audit entry
    // land with the new session, in one write (as the app and SMS steps).
    let used = AuditEvent::new("passkey", "used")
        .account(&pending.account)
        .interface(interface)
        .ip(&ip)
        .detail(name);
    let pending_id = pending.id.clone();
    let host_does = st.host.completion_takes_pending_login();
    let claim: crate::plugin::CompletionClaim = Box::new(move |conn| {
        let won = store::claim_completion_unless_host_does(conn, host_does, &pending_id, id)?;
        if won {
            limits::give_back_attempt(conn, id)?;
            audit::insert(conn, &used)?;
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
    Ok(remember::after_code(&st.host, &req, &pending, form.remember_device, done).await)
}

/// An answer that did not sign in: counted like a wrong code; back to the
/// page (a new challenge) with how many tries are left, or to the ended
/// page when the sign-in was cancelled.
async fn wrong_answer(
    st: &State,
    req: &HttpRequest,
    pending: &PendingLogin,
    ip: &str,
    left: i32,
    here: &str,
) -> Result<HttpResponse, PageError> {
    let wrong = wrong_code::after_wrong_code(&st.host, pending, ip, left).await?;
    let (to, message) = match wrong {
        WrongCode::TryAgain { left } => (
            here.to_string(),
            format!(
                "Your key's answer was not accepted. Try again, or use another way below. {left} attempt{} left.",
                if left == 1 { "" } else { "s" }
            ),
        ),
        WrongCode::Cancelled { .. } => (ended_path(pending.interface), wrong.message()),
    };
    redirect_with(&st.host, req, &to, Flash::error(message)).await
}

/// The login decision for an account with a passkey: a challenge on the
/// key page.
pub async fn challenge(
    host: &HostHandle,
    attempt: &LoginAttempt,
) -> Result<LoginDecision, crate::plugin::AddonError> {
    let redirect = passkey_path(attempt.interface).to_string();
    let ev = AuditEvent::new("challenge", "started")
        .account(&attempt.account)
        .interface(attempt.interface)
        .ip(&attempt.ip)
        .detail(format!("passkey; {redirect}"));
    store::start_challenge(host, attempt.pending_id.clone(), ev).await?;
    Ok(LoginDecision::Challenge { redirect })
}
