//! A passkey or security key for an API sign-in challenge, for native
//! apps: `GET /two-factor/webauthn` (header `X-Challenge-Id`) gives the
//! request options for the platform's WebAuthn call; `POST
//! /two-factor/webauthn` takes `{"challenge_id", "credential"}` (the
//! assertion as JSON, base64url fields) and answers like `/verify-2fa`.
//! The ceremony is kept in the database, bound to the challenge, single
//! use, 5 minutes; the challenge id never travels in a URL.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential};

use crate::two_factor::audit;
use crate::two_factor::limits;
use crate::two_factor::passkey::ceremony::{self, Binding};
use crate::two_factor::passkey::keys::{self, Use};

use super::error::ApiError;
use super::signin::{challenge_by_id, challenge_purpose, count_attempt, issue_session_token};
use super::{api_event, challenges, ok, Data};

pub const CHALLENGE_HEADER: &str = "x-challenge-id";

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "webauthn_unavailable",
        "This account has no passkey or security key.",
    )
}

pub(super) async fn options(st: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let id = req
        .headers()
        .get(CHALLENGE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if id.is_none() {
        return Err(ApiError::invalid_request(
            "Send the sign-in's challenge_id in the X-Challenge-Id header.",
        ));
    }
    let (id, _, account) = challenge_by_id(&st, id).await?;
    let account_id = account.id;
    let credentials = st
        .host
        .db()
        .run(move |conn| keys::credentials(conn, account_id))
        .await?;
    if credentials.is_empty() {
        return Err(unavailable());
    }
    let (options, state) = st
        .passkeys
        .start_sign_in(&credentials)
        .map_err(|e| ApiError::internal(&e))?;
    let binding = challenge_purpose(&id);
    st.host
        .db()
        .transaction(move |conn| {
            ceremony::put(
                conn,
                Binding::Api {
                    challenge_id: &binding,
                },
                account_id,
                &state,
            )
        })
        .await?;
    Ok(ok(json!({
        "options": options,
        "origin": st.passkeys.origin(),
        "expires_in": ceremony::TTL_SECS,
    })))
}

/// `POST /two-factor/webauthn`.
#[derive(Deserialize)]
pub(super) struct Answer {
    #[serde(default)]
    challenge_id: Option<Value>,
    #[serde(default)]
    credential: Option<Value>,
}

pub(super) async fn answer(
    st: Data,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: Answer = super::body::read(&body)?;
    let challenge_id = body
        .challenge_id
        .and_then(|v| v.as_str().map(str::to_string));
    let (id, _, account) = challenge_by_id(&st, challenge_id).await?;
    let ip = st.host.client_ip(&req);
    // Counted on the challenge and the account in one write, before the
    // answer is checked.
    let gate = count_attempt(&st, &id, &account, &ip, true).await?;
    let account_id = account.id;
    if gate != Some(limits::CodeGate::Allowed) {
        return Err(ApiError::wrong_code());
    }
    let binding = challenge_purpose(&id);
    let state: Option<PasskeyAuthentication> = st
        .host
        .db()
        .run(move |conn| {
            ceremony::take(
                conn,
                Binding::Api {
                    challenge_id: &binding,
                },
                account_id,
            )
        })
        .await?;
    let credential = body
        .credential
        .and_then(|v| serde_json::from_value::<PublicKeyCredential>(v).ok());
    let failed = |detail: String| api_event(&account, &ip, "passkey", "failure").detail(detail);
    let result = match (state, credential) {
        (None, _) => Err(
            "no WebAuthn request under way for this challenge (expired, used, or never fetched)"
                .to_string(),
        ),
        (_, None) => Err("the credential is not a PublicKeyCredential".to_string()),
        (Some(state), Some(c)) => st
            .passkeys
            .finish_sign_in(&c, &state)
            .map_err(|e| crate::two_factor::passkey::sign_in::refusal(&e)),
    };
    let result = match result {
        Ok(r) => r,
        Err(why) => {
            audit::record(st.host.db(), failed(why)).await;
            return Err(ApiError::wrong_code());
        }
    };
    let name = match st
        .host
        .db()
        .transaction(move |conn| keys::record_use(conn, account_id, &result))
        .await?
    {
        Use::Recorded { name } => name,
        Use::CounterWentBack { name, stored, got } => {
            audit::record(st.host.db(), failed(format!("“{name}”: signature counter went backwards ({got} after {stored}); a cloned key, or a replayed answer"))).await;
            return Err(ApiError::wrong_code());
        }
        Use::Unknown => {
            audit::record(
                st.host.db(),
                failed("a key that is not on the account".into()),
            )
            .await;
            return Err(ApiError::wrong_code());
        }
    };
    limits::code_succeeded(st.host.db(), account_id).await?;
    let done_id = id.clone();
    if !st
        .host
        .db()
        .transaction(move |conn| challenges::complete(conn, &done_id))
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "challenge_completed",
            "This sign-in was already completed.",
        ));
    }
    audit::record(
        st.host.db(),
        api_event(&account, &ip, "passkey", "used").detail(name),
    )
    .await;
    audit::record(
        st.host.db(),
        api_event(&account, &ip, "api_signin", "success").detail("webauthn"),
    )
    .await;
    let mut body = issue_session_token(&st, account_id).await?;
    body["method"] = json!("webauthn");
    Ok(ok(body))
}
