//! Turning two-factor authentication off: the password and a current
//! code or recovery code; and the SMS that can give such a code.

use super::*;

pub(super) async fn disable(
    st: Data,
    req: HttpRequest,
    Form(form): Form<PasswordAndCodeForm>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let id = account.id;
    let f = factors::of(st.host.db(), id).await?;
    if !f.any() && f.recovery.total == 0 {
        return page(
            &st,
            &req,
            &account,
            StatusCode::OK,
            with_notice("Two-factor authentication is not set up."),
        )
        .await;
    }
    if required_by_store(&st, &account).await? {
        let view = with_error(DISABLE_REQUIRED);
        return page(&st, &req, &account, StatusCode::CONFLICT, view).await;
    }
    let wrong = event(&account, &req, &ip, "disable", "failure").detail("wrong password");
    if let Some(r) = require_password(&st, &req, &account, &form.password, Some(wrong)).await? {
        return Ok(r);
    }
    let actor = security_page_actor(&account, &req, &ip);
    let code = form.code.trim();
    let checked = verify::check_code(&st.service, &st.host, &actor, code, true).await?;
    match checked {
        Checked::Valid { .. } => {}
        Checked::GatewayFailed => {
            return page(
                &st,
                &req,
                &account,
                StatusCode::SERVICE_UNAVAILABLE,
                with_error(gateway_message(false)),
            )
            .await;
        }
        _ => {
            audit::record(
                st.host.db(),
                event(&account, &req, &ip, "disable", "failure").detail("wrong code"),
            )
            .await;
            let view = with_error("That code is not right. Enter a current code from your authenticator app or text message, or one of your recovery codes.");
            return page(&st, &req, &account, StatusCode::UNAUTHORIZED, view).await;
        }
    }
    let host = st.host.clone();
    if let Err(e) = st
        .host
        .db()
        .transaction(move |conn| {
            factors::remove_all(conn, id, &|c, a| host.void_pending_sign_ins(c, a))
        })
        .await
    {
        return Err(PageError::internal(&e));
    }
    let ended = st
        .host
        .end_other_sessions(id, Some(&req))
        .await
        .unwrap_or(0);
    audit::record(
        st.host.db(),
        event(&account, &req, &ip, "disable", "success")
            .detail(format!("factors removed; {ended} other session(s) ended")),
    )
    .await;
    let view = with_notice("Two-factor authentication is off. Your authenticator app, phone number, passkeys and recovery codes were removed, and you were signed out everywhere else.");
    page(&st, &req, &account, StatusCode::OK, view).await
}

/// Sends an SMS code for the disable form (users without an app).
pub(super) async fn disable_send_sms(
    st: Data,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let stored = match store::phone_of(st.host.db(), account.id).await? {
        Some(s) => s,
        None => {
            return page(
                &st,
                &req,
                &account,
                StatusCode::OK,
                with_error("There is no phone number on file."),
            )
            .await
        }
    };
    let settings = st.service.settings(&st.host).await?;
    if !settings.active_for(account.role) {
        let view = with_error("Text-message codes are off for your account, so none can be sent. Use a code from your authenticator app or one of your recovery codes.");
        return page(&st, &req, &account, StatusCode::UNPROCESSABLE_ENTITY, view).await;
    }
    let actor = security_page_actor(&account, &req, &ip);
    let (status, view) = match st
        .service
        .send_code(&st.host, &settings, &actor, &stored, Channel::Sms)
        .await?
    {
        SendOutcome::Sent => (
            StatusCode::OK,
            with_notice(format!(
                "We sent a code by text message to your phone {}.",
                stored.phone.masked()
            )),
        ),
        SendOutcome::Wait { seconds, reason } => (
            StatusCode::TOO_MANY_REQUESTS,
            with_error(wait_message(seconds, reason)),
        ),
        SendOutcome::Failed => (
            StatusCode::SERVICE_UNAVAILABLE,
            with_error(gateway_message(true)),
        ),
        SendOutcome::Refused(why) => (StatusCode::UNPROCESSABLE_ENTITY, with_error(why.message())),
    };
    page(&st, &req, &account, status, view).await
}
