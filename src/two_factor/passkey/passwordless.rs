//! Passkey sign-in: "Sign in with a passkey" under the login forms (a store
//! setting per interface, off by default). The device finds the key it
//! keeps for this store by itself (a discoverable credential) and checks
//! the person (fingerprint, face, screen lock), so the key is both factors
//! at once: no email, no password, no code.
//!
//! `POST …/passkey-sign-in/options` starts a ceremony bound to the
//! browser's session (kept in the database for 5 minutes, single use,
//! counted per address) and answers the browser's request options;
//! `POST …/passkey-sign-in` takes the browser's answer (JSON), finds the
//! key by its credential id, verifies it (challenge, origin, signature,
//! user verification, counter) and has the host start the session under a
//! new id (`HostServices::sign_in_verified`), recording the key's use in
//! the same transaction. Both answer JSON for static/passkey.js, which
//! shows any refusal beside the button and follows `redirect` on success.

use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential};

use crate::db::{now, DbError};
use crate::plugin::{
    Account, AddonError, Completion, CompletionClaim, HostError, HostHandle, Interface, LoginPage,
    Role,
};
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::limits;
use crate::two_factor::pages::{interface_of, skin};
use crate::two_factor::ADDON_ID;

use super::ceremony;
use super::keys::{self, Use};
use super::sign_in::refusal;
use super::RelyingParty;

pub const CUSTOMER_SETTING: &str = "customer_passkey_sign_in";
pub const ADMIN_SETTING: &str = "admin_passkey_sign_in";

/// Passkey sign-ins one address may start in `WINDOW_SECS`: every answer
/// needs a ceremony started (and counted) first.
pub const STARTS_PER_IP: i32 = 30;
pub const WINDOW_SECS: i64 = 15 * 60;

pub fn answer_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Customer => "/two-factor/passkey-sign-in",
        Interface::Admin => "/admin/two-factor/passkey-sign-in",
    }
}

pub fn options_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Customer => "/two-factor/passkey-sign-in/options",
        Interface::Admin => "/admin/two-factor/passkey-sign-in/options",
    }
}

fn setting(interface: Interface) -> &'static str {
    match interface {
        Interface::Customer => CUSTOMER_SETTING,
        Interface::Admin => ADMIN_SETTING,
    }
}

struct State {
    host: HostHandle,
    passkeys: Arc<RelyingParty>,
}

type Data = web::Data<State>;

/// Must be registered before the addon's `/two-factor` scopes.
pub fn configure(cfg: &mut web::ServiceConfig, host: HostHandle, passkeys: Arc<RelyingParty>) {
    let data = web::Data::new(State { host, passkeys });
    for interface in [Interface::Customer, Interface::Admin] {
        cfg.service(
            web::resource(options_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(options)),
        );
        cfg.service(
            web::resource(answer_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(answer)),
        );
    }
}

/// Why a passkey sign-in did not happen, as the login page shows it.
#[derive(Debug, thiserror::Error)]
pub enum PasskeySignInError {
    #[error("Passkey sign-in is not available here. Sign in with your email and password.")]
    Off,
    #[error("Your browser did not keep this page's session. Reload the page and try again (the store needs cookies).")]
    NoSession,
    #[error("Too many passkey sign-ins from your network. Wait 15 minutes, or sign in with your email and password.")]
    TooMany,
    #[error("Your browser's answer could not be read. Press “Sign in with a passkey” again.")]
    Unreadable,
    #[error(
        "The passkey request expired or was already used. Press “Sign in with a passkey” again."
    )]
    Expired,
    #[error("This passkey is not on any account of this store. Sign in with your email and password, then add the passkey on your Security page.")]
    UnknownKey,
    #[error("Passkey sign-in is not available for your account here. Sign in with your email and password.")]
    NotForThisAccount,
    #[error("Your passkey's answer was not accepted. Try again, or sign in with your email and password.")]
    NotAccepted,
    #[error("{}", crate::host::login::UNAVAILABLE)]
    Unavailable,
}

impl PasskeySignInError {
    fn code(&self) -> &'static str {
        match self {
            Self::Off => "passkey_sign_in_off",
            Self::NoSession => "no_session",
            Self::TooMany => "rate_limited",
            Self::Unreadable => "invalid_request",
            Self::Expired => "expired",
            Self::UnknownKey => "unknown_key",
            Self::NotForThisAccount => "not_for_this_account",
            Self::NotAccepted => "not_accepted",
            Self::Unavailable => "unavailable",
        }
    }
}

impl From<DbError> for PasskeySignInError {
    fn from(e: DbError) -> Self {
        tracing::error!(error = %e, "passkey sign-in failed");
        PasskeySignInError::Unavailable
    }
}

impl ResponseError for PasskeySignInError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Off => StatusCode::NOT_FOUND,
            Self::NoSession | Self::Unreadable | Self::Expired => StatusCode::BAD_REQUEST,
            Self::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Self::UnknownKey | Self::NotForThisAccount | Self::NotAccepted => {
                StatusCode::UNAUTHORIZED
            }
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .json(json!({ "error": self.code(), "message": self.to_string() }))
    }
}

/// Whether passkey sign-in is on for `interface`.
async fn on_for(host: &HostHandle, interface: Interface) -> Result<bool, DbError> {
    Ok(host
        .addon_settings(ADDON_ID)
        .await?
        .bool(setting(interface)))
}

#[derive(Serialize)]
struct Offer<'a> {
    options_path: &'a str,
    answer_path: &'a str,
    csrf_token: String,
    next: &'a str,
}

/// The "Sign in with a passkey" button for a login page, when the store
/// turned passkey sign-in on for its interface.
pub async fn login_option(
    host: &HostHandle,
    req: &HttpRequest,
    page: &LoginPage,
) -> Result<Option<String>, AddonError> {
    if !on_for(host, page.interface).await? {
        return Ok(None);
    }
    let offer = Offer {
        options_path: options_path(page.interface),
        answer_path: answer_path(page.interface),
        csrf_token: host.csrf_token(req),
        next: &page.target,
    };
    let ctx = tera::Context::from_serialize(&offer)
        .map_err(|e| AddonError::Internal(format!("passkey sign-in offer: {e}")))?;
    host.render_fragment("two_factor/_passkey_sign_in.html", &ctx)
        .map(Some)
}

fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}

/// The interface of this route and the browser's session key, when
/// passkey sign-in is on there and the browser keeps a session.
async fn on_here(st: &State, req: &HttpRequest) -> Result<(Interface, String), PasskeySignInError> {
    let interface = interface_of(req);
    if !on_for(&st.host, interface).await? {
        return Err(PasskeySignInError::Off);
    }
    let session = st
        .host
        .session_key(req)
        .ok_or(PasskeySignInError::NoSession)?;
    Ok((interface, session))
}

/// Starts a passkey sign-in for this browser session and answers the
/// browser's request options.
async fn options(st: Data, req: HttpRequest) -> Result<HttpResponse, PasskeySignInError> {
    let (_, session) = on_here(&st, &req).await?;
    let (options, state) = st.passkeys.start_passkey_sign_in().map_err(|e| {
        tracing::error!(error = %e, "passkey sign-in options failed");
        PasskeySignInError::Unavailable
    })?;
    let counter = format!("passkey-sign-in:ip:{}", st.host.client_ip(&req));
    let started = st
        .host
        .db()
        .transaction(move |conn| {
            if limits::hit(conn, &counter, WINDOW_SECS, now())?.count > STARTS_PER_IP {
                return Ok(false);
            }
            ceremony::put_passkey_sign_in(conn, &session, &state)?;
            Ok(true)
        })
        .await?;
    if !started {
        return Err(PasskeySignInError::TooMany);
    }
    Ok(HttpResponse::Ok().insert_header(no_store()).json(options))
}

/// The browser's answer: its `PublicKeyCredential`, and where to go after.
#[derive(Deserialize)]
struct Answer {
    credential: PublicKeyCredential,
    #[serde(default)]
    next: Option<String>,
}

async fn answer(
    st: Data,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PasskeySignInError> {
    let (interface, session) = on_here(&st, &req).await?;
    let answer: Answer =
        serde_json::from_slice(&body).map_err(|_| PasskeySignInError::Unreadable)?;
    // Taken whatever comes next: an answer is checked once.
    let state: DiscoverableAuthentication = st
        .host
        .db()
        .transaction(move |conn| ceremony::take_passkey_sign_in(conn, &session))
        .await?
        .ok_or(PasskeySignInError::Expired)?;
    let ip = st.host.client_ip(&req);
    let failed = |account: Option<&Account>, detail: String| {
        let ev = AuditEvent::new("passkey", "failure")
            .interface(interface)
            .ip(&ip)
            .detail(format!("passkey sign-in: {detail}"));
        match account {
            Some(a) => ev.account(a),
            None => ev,
        }
    };
    // Whose key the answer says it is: read, not yet trusted. The key
    // found by its credential id must carry this store's handle for its
    // account too.
    let claimed = st
        .passkeys
        .claimed_key(&answer.credential)
        .map(|(handle, cred_id)| (handle, cred_id.to_vec()));
    let Ok((handle, cred_id)) = claimed else {
        audit::record(st.host.db(), failed(None, "no user handle".into())).await;
        return Err(PasskeySignInError::NotAccepted);
    };
    let found = st
        .host
        .db()
        .run(move |conn| keys::by_credential_id(conn, &cred_id))
        .await?
        .filter(|(id, _)| keys::user_handle(st.host.secret_key(), *id) == handle);
    let Some((account_id, key)) = found else {
        audit::record(
            st.host.db(),
            failed(None, "a key that is on no account".into()),
        )
        .await;
        return Err(PasskeySignInError::UnknownKey);
    };
    let account = st
        .host
        .find_account(account_id)
        .await?
        .ok_or(PasskeySignInError::UnknownKey)?;
    // The account's role decides (never the page used): an admin's key
    // signs in only where the store turned it on for admins and vendors.
    let allowed = on_for(&st.host, account.role.interface()).await?
        && !(interface == Interface::Admin && account.role == Role::Customer);
    if !allowed {
        let why = "not turned on for this account's role, or the wrong login page";
        audit::record(st.host.db(), failed(Some(&account), why.into())).await;
        return Err(PasskeySignInError::NotForThisAccount);
    }
    let result = match st
        .passkeys
        .finish_passkey_sign_in(&answer.credential, state, &key)
    {
        Ok(r) => r,
        Err(e) => {
            audit::record(st.host.db(), failed(Some(&account), refusal(&e))).await;
            return Err(PasskeySignInError::NotAccepted);
        }
    };
    // The key's new counter, its last use and the audit entry land with
    // the session; a counter that did not move on (a replay, or a cloned
    // key) starts nothing.
    let recorded: Arc<Mutex<Option<Use>>> = Arc::default();
    let used = AuditEvent::new("passkey", "used")
        .account(&account)
        .interface(interface)
        .ip(&ip);
    let claim: CompletionClaim = {
        let recorded = recorded.clone();
        Box::new(move |conn: &mut crate::db::DbConn| {
            let found = keys::record_use(conn, account_id, &result)?;
            let ok = match &found {
                Use::Recorded { name } => {
                    let detail = format!("“{name}”, passkey sign-in without a password");
                    audit::insert(conn, &used.detail(detail))?;
                    true
                }
                _ => false,
            };
            *recorded.lock().unwrap_or_else(PoisonError::into_inner) = Some(found);
            Ok(ok)
        })
    };
    let next = answer.next.unwrap_or_default();
    match st
        .host
        .sign_in_verified(&req, account_id, interface, &next, claim)
        .await
    {
        Ok(Some(done)) => Ok(as_json(done)),
        Ok(None) => {
            let why = match recorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                Some(Use::CounterWentBack { name, stored, got }) => format!(
                    "“{name}”: signature counter went backwards ({got} after {stored}); a cloned key, or a replayed answer"
                ),
                _ => "the key was removed meanwhile".to_string(),
            };
            audit::record(st.host.db(), failed(Some(&account), why)).await;
            Err(PasskeySignInError::NotAccepted)
        }
        Err(HostError::Refused | HostError::PendingLoginGone) => {
            Err(PasskeySignInError::NotForThisAccount)
        }
        Err(HostError::Db(e)) => Err(e.into()),
    }
}

/// The host's redirect (with the new session's cookie) as JSON for the
/// page's script: `{"redirect": "/checkout"}`, cookies kept.
fn as_json(done: Completion) -> HttpResponse {
    let res = done.into_response();
    let to = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/")
        .to_string();
    let mut out = HttpResponse::Ok();
    out.insert_header(no_store());
    for cookie in res.cookies() {
        out.cookie(cookie.into_owned());
    }
    out.json(json!({ "redirect": to }))
}
