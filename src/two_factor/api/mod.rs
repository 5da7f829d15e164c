//! The JSON API under `/api/v1`: sign-in (with the second factor when the
//! account has one), Verify2FACode, the SMS for an API challenge, the
//! WebAuthn options and assertion for a challenge (`webauthn`), the
//! signed-in account, sign-out, the account's two-factor status and
//! disabling it, and the OpenAPI document. Requests are authenticated with
//! `Authorization: Bearer` session tokens or personal access tokens.
//! Errors are one type (`error::ApiError`), rendered as JSON:
//! `{"error": "<stable code>", "message": "..."}`.
//!
//! Files by resource: `signin` (sign-in, the code, the SMS for a
//! challenge), `account` (the token's account, sign-out, the bearer
//! check), `two_factor` (status and disable); `body` reads each request
//! body into its struct; `challenges` and `tokens` hold their data.

mod account;
mod body;
pub mod challenges;
pub mod error;
mod signin;
pub mod tokens;
mod two_factor;
mod webauthn;

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::plugin::{Account, HostHandle};
use crate::two_factor::audit::AuditEvent;
use crate::two_factor::passkey::RelyingParty;
use crate::two_factor::sms::service::Service;
use error::ApiError;
use tokens::Kind;

pub const OPENAPI: &str = include_str!("openapi.json");

struct State {
    service: Arc<Service>,
    host: HostHandle,
    passkeys: Arc<RelyingParty>,
}

type Data = web::Data<State>;

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
    cfg.service(
        web::scope("/api/v1")
            .app_data(data)
            .app_data(web::PayloadConfig::new(64 * 1024))
            .route("/signin", web::post().to(signin::signin))
            .route("/verify-2fa", web::post().to(signin::verify_2fa))
            .route("/two-factor/sms", web::post().to(signin::send_sms))
            .route("/two-factor/webauthn", web::get().to(webauthn::options))
            .route("/two-factor/webauthn", web::post().to(webauthn::answer))
            .route("/me", web::get().to(account::me))
            .route("/signout", web::post().to(account::signout))
            .route("/two-factor", web::get().to(two_factor::status))
            .route("/two-factor/disable", web::post().to(two_factor::disable))
            .route("/openapi.json", web::get().to(openapi))
            .default_service(web::to(not_found)),
    );
}

fn ok(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

fn account_json(a: &Account) -> Value {
    json!({ "id": a.id, "email": a.email, "name": a.name, "role": a.role.as_str() })
}

/// An audit entry with the interface `api`.
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
