//! The account's two-factor authentication over the API: `GET /two-factor`
//! (which factors it has) and `POST /two-factor/disable`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::two_factor::audit;
use crate::two_factor::factors;
use crate::two_factor::sign_in::verify::{self, Checked};
use crate::two_factor::sms::service::Actor;

use super::account::{bearer, Need};
use super::error::ApiError;
use super::{api_event, body, ok, Data};

pub(super) async fn status(st: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (_, account) = bearer(&st, &req, Need::Security).await?;
    let f = factors::of(st.host.db(), account.id).await?;
    Ok(ok(json!({
        "app": f.app,
        "sms": f.phone_last_two.is_some(),
        "recovery_codes_remaining": f.recovery.remaining,
    })))
}

/// Disables two-factor authentication: needs the password and a current
/// code or recovery code, like the Security page.
pub(super) async fn disable(
    st: Data,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (_, account) = bearer(&st, &req, Need::Security).await?;
    let body: body::Disable = body::read(&body)?;
    let ip = st.host.client_ip(&req);
    let password = body.password.as_deref().unwrap_or("");
    if password.is_empty() || !st.host.verify_password(account.id, password).await {
        return Err(ApiError::invalid_credentials());
    }
    let actor = Actor {
        account: &account,
        interface: account.role.interface(),
        ip: &ip,
        purpose: "api-disable",
        initial: false,
        via_api: true,
    };
    let Some(code) = body.code() else {
        verify::count_malformed(&st.host, &actor).await?;
        return Err(ApiError::malformed_code(
            "\"code\" must be a JSON string holding a current code or a recovery code.",
        ));
    };
    match verify::check_code(&st.service, &st.host, &actor, &code, true).await? {
        Checked::Valid { .. } => {}
        _ => return Err(ApiError::wrong_code()),
    }
    let id = account.id;
    let host = st.host.clone();
    st.host
        .db()
        .transaction(move |conn| {
            factors::remove_all(conn, id, &|c, a| host.void_pending_sign_ins(c, a))
        })
        .await?;
    let ended = st.host.end_other_sessions(id, None).await.unwrap_or(0);
    audit::record(
        st.host.db(),
        api_event(&account, &ip, "disable", "success").detail(format!(
            "factors removed over the API; {ended} session(s) ended"
        )),
    )
    .await;
    Ok(ok(json!({ "two_factor": false })))
}
