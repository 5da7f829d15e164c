//! The token's account: `GET /me`, `POST /signout`, and the bearer-token
//! check every authenticated endpoint starts with.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::plugin::Account;

use super::error::ApiError;
use super::tokens::{self, Grant, Kind, Scope};
use super::{account_json, ok, Data, State};

/// What a request may do with its token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    Read,
    Write,
    /// Two-factor settings and passwords: never with a personal access token.
    Security,
}

/// The live token of the request and its account, if it may do `need`.
pub(super) async fn bearer(
    st: &State,
    req: &HttpRequest,
    need: Need,
) -> Result<(Grant, Account), ApiError> {
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .ok_or_else(ApiError::unauthorized)?;
    let grant = st
        .host
        .db()
        .transaction(move |conn| tokens::authenticate(conn, &token))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let account = st
        .host
        .find_account(grant.account_id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    match need {
        Need::Security if grant.kind == Kind::Pat => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "pat_not_allowed",
            "Personal access tokens cannot change two-factor settings or passwords. Sign in instead.",
        )),
        Need::Write | Need::Security if grant.scope == Scope::Read => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "This token is read-only.",
        )),
        _ => Ok((grant, account)),
    }
}

pub(super) async fn me(st: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (grant, account) = bearer(&st, &req, Need::Read).await?;
    let mut body = account_json(&account);
    body["token"] = json!({ "kind": grant.kind, "scope": grant.scope });
    Ok(ok(body))
}

pub(super) async fn signout(st: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (grant, account) = bearer(&st, &req, Need::Write).await?;
    let (account_id, token_id) = (account.id, grant.token_id);
    st.host
        .db()
        .transaction(move |conn| tokens::revoke(conn, account_id, token_id))
        .await?;
    Ok(ok(json!({ "signed_out": true })))
}
