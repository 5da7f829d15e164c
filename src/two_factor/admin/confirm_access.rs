//! "Confirm it is you" (sudo mode, as GitHub has it): before a change to
//! an admin account's two-factor authentication or phone, whether the
//! admin's own or another's, the acting admin enters the password and a
//! code of their own second factor again. A stolen admin session (a cookie
//! and a CSRF token) is then not enough to strip an admin's second factor.
//! The confirmation is kept in the database, bound to that one session, and
//! lasts `CONFIRM_SECS`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::{now, Db, DbError};
use crate::plugin::{Account, HostHandle};
use crate::two_factor::schema::tfa_confirmed_access;

use crate::two_factor::audit;
use crate::two_factor::factors;
use crate::two_factor::gateways::Channel;
use crate::two_factor::pages::{see_other, Form, PageError};
use crate::two_factor::sign_in::verify::{self, Checked};
use crate::two_factor::sms::service::{gateway_message, wait_message, Actor, SendOutcome, Service};
use crate::two_factor::store;

pub const PATH: &str = "/admin/two-factor/confirm-access";
const SEND_SMS_PATH: &str = "/admin/two-factor/confirm-access/send-sms";
/// How long a confirmation lasts.
pub const CONFIRM_SECS: i64 = 5 * 60;
/// SMS codes sent from this page are good only here.
const PURPOSE: &str = "confirm-access";

/// The confirmation page, coming back to `next` (a local admin path).
pub fn path_to(next: &str) -> String {
    format!(
        "{PATH}?next={}",
        percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// Whether the session `session_key` of `account_id` confirmed within the
/// last `CONFIRM_SECS`.
pub async fn is_confirmed(
    db: &Db,
    session_key: Option<&str>,
    account_id: i64,
) -> Result<bool, DbError> {
    let Some(key) = session_key.map(str::to_string) else {
        return Ok(false);
    };
    db.run(move |conn| {
        Ok(diesel::select(diesel::dsl::exists(
            tfa_confirmed_access::table
                .find(&key)
                .filter(tfa_confirmed_access::account_id.eq(account_id))
                .filter(tfa_confirmed_access::expires_at.gt(now())),
        ))
        .get_result(conn)?)
    })
    .await
}

async fn remember(db: &Db, session_key: String, account_id: i64) -> Result<(), DbError> {
    db.transaction(move |conn| {
        let t = now();
        diesel::delete(
            tfa_confirmed_access::table.filter(
                tfa_confirmed_access::expires_at
                    .lt(t)
                    .or(tfa_confirmed_access::session_key.eq(&session_key)),
            ),
        )
        .execute(conn)?;
        diesel::insert_into(tfa_confirmed_access::table)
            .values((
                tfa_confirmed_access::session_key.eq(&session_key),
                tfa_confirmed_access::account_id.eq(account_id),
                tfa_confirmed_access::expires_at.eq(t + CONFIRM_SECS),
            ))
            .execute(conn)?;
        Ok(())
    })
    .await
}

struct State {
    service: Arc<Service>,
    host: HostHandle,
}

type Data = web::Data<State>;

pub fn configure(cfg: &mut web::ServiceConfig, service: Arc<Service>, host: HostHandle) {
    let data = web::Data::new(State { service, host });
    cfg.service(
        web::resource(PATH)
            .app_data(data.clone())
            .route(web::get().to(page))
            .route(web::post().to(submit)),
    )
    .service(
        web::resource(SEND_SMS_PATH)
            .app_data(data)
            .route(web::post().to(send_sms)),
    );
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

impl Next {
    /// Where to go after confirming: a local admin page, else the users list.
    fn target(query: &Option<web::Query<Next>>) -> String {
        let next = query.as_ref().and_then(|q| q.next.as_deref());
        let local = crate::plugin::safe_target(next, "");
        if local.starts_with("/admin/") && local.len() <= 200 {
            local
        } else {
            "/admin/users".to_string()
        }
    }
}

#[derive(Serialize, Default)]
struct View {
    action: String,
    sms_action: String,
    next: String,
    minutes: i64,
    has_factor: bool,
    has_app: bool,
    can_sms: bool,
    notice: Option<String>,
    error: Option<String>,
    /// The password or code was wrong (the fields are marked).
    bad_input: bool,
}

/// What the acting admin can confirm with.
async fn view(st: &State, account: &Account, next: String) -> Result<View, DbError> {
    let f = factors::of(st.host.db(), account.id).await?;
    let settings = st.service.settings(&st.host).await?;
    let query = format!(
        "?next={}",
        percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
    );
    Ok(View {
        action: format!("{PATH}{query}"),
        sms_action: format!("{SEND_SMS_PATH}{query}"),
        next,
        minutes: CONFIRM_SECS / 60,
        has_factor: f.any() || f.recovery.remaining > 0,
        has_app: f.app,
        can_sms: f.phone_last_two.is_some() && settings.active_for(account.role),
        ..View::default()
    })
}

async fn render(
    st: &State,
    req: &HttpRequest,
    status: StatusCode,
    view: &View,
) -> Result<HttpResponse, PageError> {
    match tera::Context::from_serialize(view) {
        Ok(ctx) => Ok(st
            .host
            .render(req, status, "two_factor/confirm_access.html", ctx)
            .await),
        Err(e) => Err(PageError::internal(&e)),
    }
}

async fn page(
    st: Data,
    req: HttpRequest,
    query: Option<web::Query<Next>>,
) -> Result<HttpResponse, PageError> {
    let account = st.host.require_admin(&req).await?;
    match view(&st, &account, Next::target(&query)).await {
        Ok(v) => render(&st, &req, StatusCode::OK, &v).await,
        Err(e) => Err(PageError::internal(&e)),
    }
}

fn actor<'a>(account: &'a Account, ip: &'a str) -> Actor<'a> {
    Actor {
        account,
        interface: account.role.interface(),
        ip,
        purpose: PURPOSE,
        initial: false,
        via_api: false,
    }
}

/// The confirmation: the password, and a code when the admin has a factor.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfirmForm {
    password: String,
    code: String,
}

async fn submit(
    st: Data,
    req: HttpRequest,
    query: Option<web::Query<Next>>,
    Form(form): Form<ConfirmForm>,
) -> Result<HttpResponse, PageError> {
    let account = st.host.require_admin(&req).await?;
    let Some(session_key) = st.host.session_key(&req) else {
        return Ok(see_other(st.host.login_path(account.role.interface())));
    };
    let mut v = view(&st, &account, Next::target(&query)).await?;
    let ip = st.host.client_ip(&req);
    let actor = actor(&account, &ip);
    let password_ok = verify::password(&st.host, account.id, &form.password).await?;
    let code_ok = if !password_ok {
        false
    } else if v.has_factor {
        match verify::check_code(&st.service, &st.host, &actor, form.code.trim(), v.can_sms).await?
        {
            Checked::Valid { .. } => true,
            Checked::GatewayFailed => {
                v.error = Some(gateway_message(false).to_string());
                return render(&st, &req, StatusCode::SERVICE_UNAVAILABLE, &v).await;
            }
            _ => false,
        }
    } else {
        true
    };
    if !code_ok {
        let why = if password_ok {
            "wrong code"
        } else {
            "wrong password"
        };
        audit::record(
            st.host.db(),
            actor.event("confirm_access", "failure").detail(why),
        )
        .await;
        v.bad_input = true;
        v.error = Some(if v.has_factor {
            "That password or code is not right. Check both and try again.".into()
        } else {
            "That password is not right. Please try again.".into()
        });
        return render(&st, &req, StatusCode::UNAUTHORIZED, &v).await;
    }
    if let Err(e) = remember(st.host.db(), session_key, account.id).await {
        return Err(PageError::internal(&e));
    }
    audit::record(
        st.host.db(),
        actor
            .event("confirm_access", "success")
            .detail(format!("for {} minutes", CONFIRM_SECS / 60)),
    )
    .await;
    Ok(see_other(&v.next))
}

async fn send_sms(
    st: Data,
    req: HttpRequest,
    query: Option<web::Query<Next>>,
) -> Result<HttpResponse, PageError> {
    let account = st.host.require_admin(&req).await?;
    let mut v = view(&st, &account, Next::target(&query)).await?;
    let stored = match store::phone_of(st.host.db(), account.id).await? {
        Some(s) if v.can_sms => s,
        _ => {
            v.error = Some("Text-message codes are off for your account. Use your authenticator app or a recovery code.".into());
            return render(&st, &req, StatusCode::UNPROCESSABLE_ENTITY, &v).await;
        }
    };
    let settings = st.service.settings(&st.host).await?;
    let ip = st.host.client_ip(&req);
    let status = match st
        .service
        .send_code(
            &st.host,
            &settings,
            &actor(&account, &ip),
            &stored,
            Channel::Sms,
        )
        .await?
    {
        SendOutcome::Sent => {
            v.notice = Some(format!(
                "We sent a code by text message to your phone number ending in {}.",
                stored.phone.last_two()
            ));
            StatusCode::OK
        }
        SendOutcome::Wait { seconds, reason } => {
            v.error = Some(wait_message(seconds, reason));
            StatusCode::TOO_MANY_REQUESTS
        }
        SendOutcome::Failed => {
            v.error = Some(gateway_message(true).to_string());
            StatusCode::SERVICE_UNAVAILABLE
        }
        SendOutcome::Refused(why) => {
            v.error = Some(why.message().to_string());
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    render(&st, &req, status, &v).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(next: &str) -> String {
        Next::target(&Some(web::Query(Next {
            next: Some(next.to_string()),
        })))
    }

    #[test]
    fn only_local_admin_pages_are_where_confirming_leads() {
        assert_eq!(target("/admin/users/7"), "/admin/users/7");
        for away in [
            "//evil.example/admin/",
            "https://evil.example/admin/",
            "/admin/\\evil",
            "/admin/a b",
            "/account",
            "",
        ] {
            assert_eq!(target(away), "/admin/users", "{away:?}");
        }
        assert_eq!(
            target(&format!("/admin/{}", "x".repeat(200))),
            "/admin/users"
        );
        assert_eq!(Next::target(&None), "/admin/users");
    }
}
