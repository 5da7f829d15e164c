//! Signing in over the API: `POST /signin` (the password; a token, or a
//! challenge when the account has a second factor), `POST /verify-2fa`
//! (the code of any factor for a challenge) and `POST /two-factor/sms`
//! (a texted code for a challenge).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::plugin::{Account, GENERIC_AUTH_ERROR};
use crate::two_factor::audit;
use crate::two_factor::factors;
use crate::two_factor::gateways::Channel;
use crate::two_factor::limits::MAX_PENDING_ATTEMPTS;
use crate::two_factor::required::{self, rule::Standing};
use crate::two_factor::sign_in::policy::{self, Requirement};
use crate::two_factor::sign_in::verify::{self, Checked};
use crate::two_factor::sms::service::{gateway_message, wait_message, Actor, SendOutcome};
use crate::two_factor::store;

use super::challenges;
use super::error::ApiError;
use super::tokens::{self, Kind, Scope};
use super::{api_event, body, ok, Data, State};

/// The methods a sign-in challenge of this account can be met with.
async fn methods(st: &State, account: &Account) -> Result<Vec<&'static str>, ApiError> {
    let f = factors::of(st.host.db(), account.id).await?;
    let settings = st.service.settings(&st.host).await?;
    let mut m = Vec::new();
    if f.app {
        m.push("app");
    }
    if f.phone_last_two.is_some() && settings.active_for(account.role) {
        m.push("sms");
    }
    if f.passkeys > 0 {
        m.push("webauthn");
    }
    if f.recovery.remaining > 0 {
        m.push("recovery");
    }
    Ok(m)
}

/// What a sign-in of this account needs: the same rule as the login forms
/// (`policy::requirement`), and whether the account has any second factor.
async fn requirement(st: &State, account: &Account) -> Result<(Requirement, bool), ApiError> {
    // A passkey is asked for like an app: the user's own choice.
    let factors::SecondFactors {
        app: has_app,
        phone,
        passkey: has_passkey,
    } = factors::second_factors(st.host.db(), account.id).await?;
    let has_phone = phone.is_some();
    if has_passkey {
        return Ok((Requirement::App, true));
    }
    let settings = st.service.settings(&st.host).await?;
    Ok((
        policy::requirement(&settings, account.role, has_app, has_phone),
        has_app || has_phone,
    ))
}

/// A new API session token (full scope, `SESSION_TTL_SECS`) and the JSON
/// that hands it out; the caller may add to the JSON.
pub(super) async fn issue_session_token(st: &State, account_id: i64) -> Result<Value, ApiError> {
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
        .await?;
    Ok(json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": tokens::SESSION_TTL_SECS,
    }))
}

/// The purpose an API challenge's SMS codes are bound to (never the id
/// itself, which is a bearer secret).
pub(super) fn challenge_purpose(challenge_id: &str) -> String {
    format!("api:{}", crate::crypto::sha256_hex(challenge_id))
}

pub(super) async fn signin(
    st: Data,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: body::SignIn = body::read(&body)?;
    let (Some(email), Some(password)) = (body.email.as_deref(), body.password.as_deref()) else {
        return Err(ApiError::invalid_request(
            "Send {\"email\": string, \"password\": string}.",
        ));
    };
    let ip = st.host.client_ip(&req);
    let account = st
        .host
        .authenticate(email, password)
        .await
        .ok_or_else(ApiError::invalid_credentials)?;
    let (needs, has_factor) = requirement(&st, &account).await?;
    match needs {
        Requirement::Unavailable => {
            tracing::error!(
                "two-factor: API sign-in refused: the stored gateway key cannot be decrypted"
            );
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "two_factor_unavailable",
                policy::UNAVAILABLE_MESSAGE,
            ))
        }
        Requirement::Nothing => {
            // The store may require a second factor the account lacks:
            // after the grace period no token, during it a token and the
            // days left (the same rule as the login forms).
            let grace = if has_factor {
                Standing::NotRequired
            } else {
                required::sign_in::standing(&st.host, &account).await?
            };
            if grace == Standing::Ended {
                audit::record(
                    st.host.db(),
                    api_event(&account, &ip, "api_signin", "failure")
                        .detail("two-factor set-up required: grace period over"),
                )
                .await;
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "two_factor_setup_required",
                    "This store requires two-factor authentication for this account and the grace period is over. Sign in on the website to set it up.",
                ));
            }
            audit::record(
                st.host.db(),
                api_event(&account, &ip, "api_signin", "success"),
            )
            .await;
            let mut answer = issue_session_token(&st, account.id).await?;
            if let Standing::InGrace { days_left } = grace {
                answer["two_factor_setup_required"] = json!({
                    "required": true,
                    "days_left": days_left,
                });
            }
            Ok(ok(answer))
        }
        Requirement::App | Requirement::Sms => {
            let acct = account.clone();
            let ev = api_event(&account, &ip, "challenge", "started").detail("API sign-in");
            // The challenge and its audit entry, in one write.
            let challenge = st
                .host
                .db()
                .transaction(move |conn| {
                    let challenge = challenges::create(conn, &acct)?;
                    audit::insert(conn, &ev)?;
                    Ok(challenge)
                })
                .await?;
            let methods = methods(&st, &account).await?;
            Ok(ok(json!({
                "two_factor_required": true,
                "challenge_id": challenge,
                "methods": methods,
                "expires_in": challenges::TTL_SECS,
            })))
        }
    }
}

/// The challenge named in the body and its account, while the account's
/// credentials are those it started under.
async fn challenge_of(
    st: &State,
    body: &body::Challenge,
) -> Result<(String, challenges::Challenge, Account), ApiError> {
    challenge_by_id(st, body.challenge_id.clone()).await
}

/// The challenge `id` (from a body or a header) and its account, while the
/// account's credentials are those it started under.
pub(super) async fn challenge_by_id(
    st: &State,
    id: Option<String>,
) -> Result<(String, challenges::Challenge, Account), ApiError> {
    let Some(id) = id else {
        return Err(ApiError::invalid_request(
            "Send {\"challenge_id\": string, ...}.",
        ));
    };
    let lookup = id.clone();
    let ch = st
        .host
        .db()
        .run(move |conn| challenges::load(conn, &lookup))
        .await?
        .ok_or_else(ApiError::invalid_challenge)?;
    let account = st
        .host
        .find_account(ch.account_id)
        .await?
        .filter(|a| a.credential_generation == ch.credential_generation)
        .ok_or_else(ApiError::invalid_challenge)?;
    Ok((id, ch, account))
}

pub(super) async fn verify_2fa(
    st: Data,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: body::Challenge = body::read(&body)?;
    let (id, _ch, account) = challenge_of(&st, &body).await?;
    let ip = st.host.client_ip(&req);
    // Count the attempt on the challenge, and on the account (for a code
    // to check), before anything is checked, in one write.
    let gate = count_attempt(&st, &id, &account, &ip, body.code().is_some()).await?;
    let purpose = challenge_purpose(&id);
    let actor = Actor {
        account: &account,
        interface: account.role.interface(),
        ip: &ip,
        purpose: &purpose,
        initial: false,
        via_api: true,
    };
    let Some(code) = body.code() else {
        verify::count_malformed(&st.host, &actor).await?;
        return Err(ApiError::malformed_code(
            "\"code\" must be a JSON string: the 6-digit code of your authenticator app or text message, or a recovery code.",
        ));
    };
    let (checked, on_success) =
        verify::check_code_gated(&st.service, &st.host, &actor, &code, true, gate).await?;
    match checked {
        Checked::Valid { method, remaining } => {
            // The challenge's completion (one of concurrent correct codes
            // wins), the code's own writes, the audit entry and the new
            // token: one write.
            let ev = api_event(&account, &ip, "api_signin", "success").detail(method.as_str());
            let account_id = account.id;
            let expires = crate::db::now() + tokens::SESSION_TTL_SECS;
            let token = st
                .host
                .db()
                .transaction(move |conn| {
                    if !challenges::complete(conn, &id)? {
                        return Ok(None);
                    }
                    if let Some(write) = on_success {
                        write(conn)?;
                    }
                    audit::insert(conn, &ev)?;
                    tokens::create(
                        conn,
                        account_id,
                        Kind::Session,
                        "API sign-in",
                        Scope::Full,
                        Some(expires),
                    )
                    .map(Some)
                })
                .await?;
            let Some(token) = token else {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "challenge_completed",
                    "This sign-in was already completed.",
                ));
            };
            let mut body = json!({
                "token": token,
                "token_type": "Bearer",
                "expires_in": tokens::SESSION_TTL_SECS,
            });
            body["method"] = json!(method.as_str());
            if let Some(r) = remaining {
                body["recovery_codes_remaining"] = json!(r);
                body["warning"] = json!(verify::remaining_message(r));
            }
            Ok(ok(body))
        }
        Checked::GatewayFailed => Err(ApiError::provider_unavailable(gateway_message(false))),
        Checked::CodeEnded | Checked::TooManyTriesAtGateway => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "code_expired",
            verify::ended_message(&checked),
        )),
        Checked::Wrong | Checked::Locked | Checked::NoCodeSent => Err(ApiError::wrong_code()),
    }
}

/// Counts one attempt on the challenge before anything is checked; past
/// the limit the challenge is deleted and the sign-in must start again.
/// Counts an attempt on the API challenge `id`, and (`with_account`) on the
/// account's code attempts, in one write before anything is checked; the
/// account's gate when it was counted. Too many attempts void the challenge.
pub(super) async fn count_attempt(
    st: &State,
    id: &str,
    account: &Account,
    ip: &str,
    with_account: bool,
) -> Result<Option<crate::two_factor::limits::CodeGate>, ApiError> {
    let counted = {
        let id = id.to_string();
        let account_id = account.id;
        st.host
            .db()
            .transaction(move |conn| {
                let n = challenges::count_attempt(conn, &id)?;
                let gate = match n {
                    Some(n) if n <= MAX_PENDING_ATTEMPTS && with_account => Some(
                        crate::two_factor::limits::code_attempt_in(conn, account_id)?,
                    ),
                    _ => None,
                };
                Ok((n, gate))
            })
            .await?
    };
    match counted {
        (Some(n), gate) if n <= MAX_PENDING_ATTEMPTS => Ok(gate),
        (Some(_), _) => {
            let id2 = id.to_string();
            let _ = st
                .host
                .db()
                .transaction(move |conn| challenges::delete(conn, &id2))
                .await;
            audit::record(
                st.host.db(),
                api_event(account, ip, "verify", "voided").detail(format!(
                    "more than {MAX_PENDING_ATTEMPTS} wrong codes; sign-in cancelled"
                )),
            )
            .await;
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "challenge_voided",
                GENERIC_AUTH_ERROR,
            ))
        }
        (None, _) => Err(ApiError::invalid_challenge()),
    }
}

pub(super) async fn send_sms(
    st: Data,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: body::Challenge = body::read(&body)?;
    let (id, ch, account) = challenge_of(&st, &body).await?;
    let settings = st.service.settings(&st.host).await?;
    let stored = match store::phone_of(st.host.db(), account.id).await? {
        Some(s) if settings.active_for(account.role) => s,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "sms_unavailable",
                "Text-message codes are not available for this account.",
            ))
        }
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
    let sent = st
        .service
        .send_code(&st.host, &settings, &actor, &stored, Channel::Sms)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    match sent {
        SendOutcome::Sent => {
            let _ = st
                .host
                .db()
                .transaction(move |conn| challenges::mark_sms_sent(conn, &id))
                .await;
            Ok(ok(
                json!({ "sent": true, "phone_last_two": stored.phone.last_two() }),
            ))
        }
        SendOutcome::Wait { seconds, reason } => Err(ApiError::rate_limited(
            wait_message(seconds, reason),
            seconds,
        )),
        SendOutcome::Failed => Err(ApiError::provider_unavailable(gateway_message(true))),
        SendOutcome::Refused(why) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            why.api_code(),
            why.message(),
        )),
    }
}
