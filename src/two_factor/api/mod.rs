//! The JSON API under `/api/v1`: sign-in (with the second factor when the
//! account has one), Verify2FACode, the SMS for an API challenge, the
//! signed-in account, sign-out, the account's two-factor status and
//! disabling it, and the OpenAPI document. Requests are authenticated with
//! `Authorization: Bearer` session tokens or personal access tokens.
//! Errors are JSON: `{"error": "<stable code>", "message": "..."}`.

pub mod challenges;
pub mod tokens;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::plugin::{Account, HostHandle, GENERIC_AUTH_ERROR};

use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::factors;
use crate::two_factor::gateways::Channel;
use crate::two_factor::limits::MAX_PENDING_ATTEMPTS;
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::recovery::codes as recovery;
use crate::two_factor::sign_in::policy::{self, Requirement};
use crate::two_factor::sign_in::verify::{self, Checked};
use crate::two_factor::sms::service::{gateway_message, wait_message, Actor, SendOutcome, Service};
use crate::two_factor::store;
use tokens::{Grant, Kind, Scope};

pub const OPENAPI: &str = include_str!("openapi.json");

struct State {
    service: Arc<Service>,
    host: HostHandle,
}

type Data = web::Data<State>;

pub fn configure(cfg: &mut web::ServiceConfig, service: Arc<Service>, host: HostHandle) {
    let data = web::Data::new(State { service, host });
    cfg.service(
        web::scope("/api/v1")
            .app_data(data)
            .app_data(web::PayloadConfig::new(64 * 1024))
            .route("/signin", web::post().to(signin))
            .route("/verify-2fa", web::post().to(verify))
            .route("/two-factor/sms", web::post().to(send_sms))
            .route("/me", web::get().to(me))
            .route("/signout", web::post().to(signout))
            .route("/two-factor", web::get().to(two_factor_status))
            .route("/two-factor/disable", web::post().to(two_factor_disable))
            .route("/openapi.json", web::get().to(openapi))
            .default_service(web::to(not_found)),
    );
}

pub fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header(("Cache-Control", "no-store"));
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header(("WWW-Authenticate", "Bearer"));
    }
    res.json(json!({ "error": code, "message": message }))
}

fn ok(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

fn internal(e: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "two-factor API failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Something went wrong on our side. Please try again.",
    )
}

async fn not_found() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is no API endpoint at this address.",
    )
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

/// The body as a JSON object (None for anything else).
fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn not_an_object() -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "The request body must be a JSON object.",
    )
}

/// The purpose an API challenge's SMS codes are bound to (never the id
/// itself, which is a bearer secret).
fn challenge_purpose(challenge_id: &str) -> String {
    format!("api:{}", crate::crypto::sha256_hex(challenge_id))
}

/// A string field (no other JSON type is taken for it).
fn string_field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    match m.get(name) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A code as the API takes it: a JSON string holding 6 to 8 digits or a
/// recovery code. `true`, numbers, `null`, arrays and objects are refused.
pub fn code_field(m: &Map<String, Value>) -> Option<String> {
    let s = string_field(m, "code")?;
    if OtpCode::parse(s).is_some() || recovery::looks_like_code(s) {
        Some(s.trim().to_string())
    } else {
        None
    }
}

fn account_json(a: &Account) -> Value {
    json!({ "id": a.id, "email": a.email, "name": a.name, "role": a.role.as_str() })
}

/// The methods a sign-in challenge of this account can be met with.
async fn methods(st: &State, account: &Account) -> Result<Vec<&'static str>, crate::db::DbError> {
    let f = factors::of(st.host.db(), account.id).await?;
    let settings = st.service.settings(&st.host).await?;
    let mut m = Vec::new();
    if f.app {
        m.push("app");
    }
    if f.phone_last_two.is_some() && settings.active_for(account.role) {
        m.push("sms");
    }
    if f.recovery.remaining > 0 {
        m.push("recovery");
    }
    Ok(m)
}

/// What a sign-in of this account needs: the same rule as the login forms
/// (`policy::requirement`).
async fn requirement(st: &State, account: &Account) -> Result<Requirement, crate::db::DbError> {
    let (has_app, has_phone) = factors::app_and_phone(st.host.db(), account.id).await?;
    let settings = st.service.settings(&st.host).await?;
    Ok(policy::requirement(
        &settings,
        account.role,
        has_app,
        has_phone,
    ))
}

/// A new API session token (full scope, `SESSION_TTL_SECS`) and the JSON
/// that hands it out; the caller may add to the JSON.
async fn issue_session_token(
    st: &State,
    account_id: i64,
) -> Result<serde_json::Value, HttpResponse> {
    let expires = crate::db::now() + tokens::SESSION_TTL_SECS;
    let token = st
        .host
        .db()
        .transaction(move |conn| {
            tokens::create(
                conn,
                account_id,
                Kind::Session,
                "API sign-in",
                Scope::Full,
                Some(expires),
            )
        })
        .await
        .map_err(|e| internal(&e))?;
    Ok(json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": tokens::SESSION_TTL_SECS,
    }))
}

fn api_event(
    account: &Account,
    ip: &str,
    event: &'static str,
    outcome: &'static str,
) -> AuditEvent {
    let mut ev = AuditEvent::new(event, outcome).account(account).ip(ip);
    ev.interface = "api".into();
    ev
}

async fn signin(st: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(m) = object(&body) else {
        return not_an_object();
    };
    let (Some(email), Some(password)) = (string_field(&m, "email"), string_field(&m, "password"))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send {\"email\": string, \"password\": string}.",
        );
    };
    let ip = st.host.client_ip(&req);
    let Some(account) = st.host.authenticate(email, password).await else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            GENERIC_AUTH_ERROR,
        );
    };
    match requirement(&st, &account).await {
        Ok(Requirement::Unavailable) => {
            tracing::error!(
                "two-factor: API sign-in refused: the stored gateway key cannot be decrypted"
            );
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "two_factor_unavailable",
                policy::UNAVAILABLE_MESSAGE,
            )
        }
        Ok(Requirement::Nothing) => {
            audit::record(
                st.host.db(),
                api_event(&account, &ip, "api_signin", "success"),
            )
            .await;
            match issue_session_token(&st, account.id).await {
                Ok(body) => ok(body),
                Err(r) => r,
            }
        }
        Ok(Requirement::App | Requirement::Sms) => {
            let acct = account.clone();
            let challenge = match st
                .host
                .db()
                .transaction(move |conn| challenges::create(conn, &acct))
                .await
            {
                Ok(c) => c,
                Err(e) => return internal(&e),
            };
            let methods = match methods(&st, &account).await {
                Ok(m) => m,
                Err(e) => return internal(&e),
            };
            audit::record(
                st.host.db(),
                api_event(&account, &ip, "challenge", "started").detail("API sign-in"),
            )
            .await;
            ok(json!({
                "two_factor_required": true,
                "challenge_id": challenge,
                "methods": methods,
                "expires_in": challenges::TTL_SECS,
            }))
        }
        Err(e) => internal(&e),
    }
}

/// The challenge named in the body and its account, or the error.
async fn challenge_of(
    st: &State,
    m: &Map<String, Value>,
) -> Result<(String, challenges::Challenge, Account), HttpResponse> {
    let gone = || {
        error(
            StatusCode::UNAUTHORIZED,
            "invalid_challenge",
            "This sign-in has expired or is unknown. Sign in again.",
        )
    };
    let Some(id) = string_field(m, "challenge_id").map(str::to_string) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send {\"challenge_id\": string, ...}.",
        ));
    };
    let lookup = id.clone();
    let ch = st
        .host
        .db()
        .run(move |conn| challenges::load(conn, &lookup))
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(gone)?;
    let account = st
        .host
        .find_account(ch.account_id)
        .await
        .map_err(|e| internal(&e))?
        .filter(|a| a.credential_generation == ch.credential_generation)
        .ok_or_else(gone)?;
    Ok((id, ch, account))
}

async fn verify(st: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(m) = object(&body) else {
        return not_an_object();
    };
    let (id, _ch, account) = match challenge_of(&st, &m).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ip = st.host.client_ip(&req);
    // Count the attempt on the challenge before anything is checked.
    let counted = {
        let id = id.clone();
        st.host
            .db()
            .transaction(move |conn| challenges::count_attempt(conn, &id))
            .await
    };
    match counted {
        Ok(Some(n)) if n <= MAX_PENDING_ATTEMPTS => {}
        Ok(Some(_)) => {
            let id2 = id.clone();
            let _ = st
                .host
                .db()
                .transaction(move |conn| challenges::delete(conn, &id2))
                .await;
            audit::record(
                st.host.db(),
                api_event(&account, &ip, "verify", "voided").detail(format!(
                    "more than {MAX_PENDING_ATTEMPTS} wrong codes; sign-in cancelled"
                )),
            )
            .await;
            return error(
                StatusCode::UNAUTHORIZED,
                "challenge_voided",
                GENERIC_AUTH_ERROR,
            );
        }
        Ok(None) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_challenge",
                "This sign-in has expired or is unknown. Sign in again.",
            )
        }
        Err(e) => return internal(&e),
    }
    let purpose = challenge_purpose(&id);
    let actor = Actor {
        account: &account,
        interface: account.role.interface(),
        ip: &ip,
        purpose: &purpose,
        initial: false,
        via_api: true,
    };
    let Some(code) = code_field(&m) else {
        if let Err(e) = verify::count_malformed(&st.host, &actor).await {
            return internal(&e);
        }
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "\"code\" must be a JSON string: the 6-digit code of your authenticator app or text message, or a recovery code.",
        );
    };
    let checked = match verify::check_code(&st.service, &st.host, &actor, &code, true).await {
        Ok(c) => c,
        Err(e) => return internal(&e),
    };
    match checked {
        Checked::Valid { method, remaining } => {
            let done = match st
                .host
                .db()
                .transaction(move |conn| challenges::complete(conn, &id))
                .await
            {
                Ok(d) => d,
                Err(e) => return internal(&e),
            };
            if !done {
                return error(
                    StatusCode::CONFLICT,
                    "challenge_completed",
                    "This sign-in was already completed.",
                );
            }
            audit::record(
                st.host.db(),
                api_event(&account, &ip, "api_signin", "success").detail(method.as_str()),
            )
            .await;
            let mut body = match issue_session_token(&st, account.id).await {
                Ok(body) => body,
                Err(r) => return r,
            };
            body["method"] = json!(method.as_str());
            if let Some(r) = remaining {
                body["recovery_codes_remaining"] = json!(r);
                body["warning"] = json!(verify::remaining_message(r));
            }
            ok(body)
        }
        Checked::GatewayFailed => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            gateway_message(false),
        ),
        Checked::Wrong | Checked::Locked | Checked::NoCodeSent => {
            error(StatusCode::UNAUTHORIZED, "invalid_code", GENERIC_AUTH_ERROR)
        }
    }
}

async fn send_sms(st: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(m) = object(&body) else {
        return not_an_object();
    };
    let (id, ch, account) = match challenge_of(&st, &m).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let settings = match st.service.settings(&st.host).await {
        Ok(s) => s,
        Err(e) => return internal(&e),
    };
    let stored = match store::phone_of(st.host.db(), account.id).await {
        Ok(Some(s)) if settings.active_for(account.role) => s,
        Ok(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "sms_unavailable",
                "Text-message codes are not available for this account.",
            )
        }
        Err(e) => return internal(&e),
    };
    let ip = st.host.client_ip(&req);
    let purpose = challenge_purpose(&id);
    let actor = Actor {
        account: &account,
        interface: account.role.interface(),
        ip: &ip,
        purpose: &purpose,
        initial: ch.sms_sent_at.is_none(),
        via_api: true,
    };
    match st
        .service
        .send_code(&st.host, &settings, &actor, &stored, Channel::Sms)
        .await
    {
        Ok(SendOutcome::Sent) => {
            let _ = st
                .host
                .db()
                .transaction(move |conn| challenges::mark_sms_sent(conn, &id))
                .await;
            ok(json!({ "sent": true, "phone_last_two": stored.phone.last_two() }))
        }
        Ok(SendOutcome::Wait { seconds, reason }) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                &wait_message(seconds, reason),
            );
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&seconds.to_string()) {
                r.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, v);
            }
            r
        }
        Ok(SendOutcome::Failed(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            gateway_message(true),
        ),
        Err(e) => internal(&e),
    }
}

/// What a request may do with its token.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Read,
    Write,
    /// Two-factor settings and passwords: never with a personal access token.
    Security,
}

async fn bearer(
    st: &State,
    req: &HttpRequest,
    need: Need,
) -> Result<(Grant, Account), HttpResponse> {
    let unauthorized = || {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send a valid token as `Authorization: Bearer <token>`.",
        )
    };
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .ok_or_else(unauthorized)?;
    let grant = st
        .host
        .db()
        .transaction(move |conn| tokens::authenticate(conn, &token))
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(unauthorized)?;
    let account = st
        .host
        .find_account(grant.account_id)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(unauthorized)?;
    match need {
        Need::Security if grant.kind == Kind::Pat => Err(error(
            StatusCode::FORBIDDEN,
            "pat_not_allowed",
            "Personal access tokens cannot change two-factor settings or passwords. Sign in instead.",
        )),
        Need::Write | Need::Security if grant.scope == Scope::Read => Err(error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "This token is read-only.",
        )),
        _ => Ok((grant, account)),
    }
}

async fn me(st: Data, req: HttpRequest) -> HttpResponse {
    let (grant, account) = match bearer(&st, &req, Need::Read).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut body = account_json(&account);
    body["token"] = json!({ "kind": grant.kind, "scope": grant.scope });
    ok(body)
}

async fn signout(st: Data, req: HttpRequest) -> HttpResponse {
    let (grant, account) = match bearer(&st, &req, Need::Write).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (account_id, token_id) = (account.id, grant.token_id);
    match st
        .host
        .db()
        .transaction(move |conn| tokens::revoke(conn, account_id, token_id))
        .await
    {
        Ok(_) => ok(json!({ "signed_out": true })),
        Err(e) => internal(&e),
    }
}

async fn two_factor_status(st: Data, req: HttpRequest) -> HttpResponse {
    let (_, account) = match bearer(&st, &req, Need::Security).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match factors::of(st.host.db(), account.id).await {
        Ok(f) => ok(json!({
            "app": f.app,
            "sms": f.phone_last_two.is_some(),
            "recovery_codes_remaining": f.recovery.remaining,
        })),
        Err(e) => internal(&e),
    }
}

/// Disables two-factor authentication: needs the password and a current
/// code or recovery code, like the Security page.
async fn two_factor_disable(st: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (_, account) = match bearer(&st, &req, Need::Security).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(m) = object(&body) else {
        return not_an_object();
    };
    let ip = st.host.client_ip(&req);
    let password = string_field(&m, "password").unwrap_or("");
    if password.is_empty() || !st.host.verify_password(account.id, password).await {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            GENERIC_AUTH_ERROR,
        );
    }
    let actor = Actor {
        account: &account,
        interface: account.role.interface(),
        ip: &ip,
        purpose: "api-disable",
        initial: false,
        via_api: true,
    };
    let Some(code) = code_field(&m) else {
        if let Err(e) = verify::count_malformed(&st.host, &actor).await {
            return internal(&e);
        }
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "\"code\" must be a JSON string holding a current code or a recovery code.",
        );
    };
    match verify::check_code(&st.service, &st.host, &actor, &code, true).await {
        Ok(Checked::Valid { .. }) => {}
        Ok(_) => return error(StatusCode::UNAUTHORIZED, "invalid_code", GENERIC_AUTH_ERROR),
        Err(e) => return internal(&e),
    }
    let id = account.id;
    let host = st.host.clone();
    if let Err(e) = st
        .host
        .db()
        .transaction(move |conn| {
            factors::remove_all(conn, id, &|c, a| host.void_pending_sign_ins(c, a))
        })
        .await
    {
        return internal(&e);
    }
    let ended = st.host.end_other_sessions(id, None).await.unwrap_or(0);
    audit::record(
        st.host.db(),
        api_event(&account, &ip, "disable", "success").detail(format!(
            "factors removed over the API; {ended} session(s) ended"
        )),
    )
    .await;
    ok(json!({ "two_factor": false }))
}

/// After a password change: API session tokens and open API sign-in
/// challenges of the account end.
pub async fn password_changed(host: &HostHandle, account: &Account) {
    use crate::two_factor::schema::{tfa_api_challenges, tfa_api_tokens};
    use diesel::prelude::*;
    let id = account.id;
    let result = host
        .db()
        .transaction(move |conn| {
            diesel::delete(
                tfa_api_tokens::table
                    .filter(tfa_api_tokens::account_id.eq(id))
                    .filter(tfa_api_tokens::kind.eq(Kind::Session.as_str())),
            )
            .execute(conn)?;
            diesel::delete(tfa_api_challenges::table.filter(tfa_api_challenges::account_id.eq(id)))
                .execute(conn)?;
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not end API sessions after a password change");
    }
}
