//! `/register`: a customer account, with the addons' extra fields, created
//! in one transaction; then signed in (from checkout, back to checkout).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::accounts::{self, CreateAccountError};
use super::email::Email;
use super::login::continue_login;
use super::password::NewPassword;
use super::pending::safe_target;
use super::profile_hooks;
use super::{bad_form, HostState, NextQuery};
use crate::db::DbError;
use crate::plugin::{
    FieldErrors, FormValues, Interface, LoginAttempt, ProfileContext, ProfileForm, Role,
};

fn context(req: &HttpRequest, state: &HostState) -> ProfileContext {
    ProfileContext {
        form: ProfileForm::Registration,
        account: None,
        actor: None,
        ip: state.client_ip_of(req),
        session_key: state.session_key_of(req),
    }
}

async fn show(
    state: &Arc<HostState>,
    req: &HttpRequest,
    values: Option<&FormValues>,
    errors: &FieldErrors,
    next: &str,
    status: StatusCode,
) -> HttpResponse {
    let pc = context(req, state);
    let mut ctx = tera::Context::new();
    ctx.insert(
        "addon_fields",
        &profile_hooks::fields_html(state, &pc, values, errors).await,
    );
    ctx.insert("errors", errors);
    ctx.insert("email", values.map(|v| v.text("email")).unwrap_or(""));
    ctx.insert("name", values.map(|v| v.text("name")).unwrap_or(""));
    // The passwords just typed stay when only another field was wrong (a
    // phone number, say), so fixing that does not mean typing them again.
    // They go back only to the browser that sent them, on a no-store page.
    let passwords_ok = errors.get("password").is_none() && errors.get("confirm_password").is_none();
    let typed = |name: &str| match values {
        Some(v) if passwords_ok => v.get(name).unwrap_or("").to_string(),
        _ => String::new(),
    };
    ctx.insert("password", &typed("password"));
    ctx.insert("confirm_password", &typed("confirm_password"));
    ctx.insert("next", next);
    state
        .render_page(req, status, "host/register.html", ctx)
        .await
}

pub async fn page(
    state: web::Data<HostState>,
    req: HttpRequest,
    q: web::Query<NextQuery>,
) -> HttpResponse {
    let next = safe_target(q.next.as_deref(), "/account");
    show(
        &state.into_inner(),
        &req,
        None,
        &FieldErrors::default(),
        &next,
        StatusCode::OK,
    )
    .await
}

pub async fn submit(
    state: web::Data<HostState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let state = state.into_inner();
    let Ok(values) = FormValues::parse(&body) else {
        return bad_form(&state, &req, "The registration form could not be read.").await;
    };
    let next = safe_target(values.get("next"), "/account");
    let mut errors = FieldErrors::default();
    let email = Email::parse(values.text("email"))
        .map_err(|e| errors.add("email", e))
        .ok();
    let name = accounts::parse_name(values.text("name"))
        .map_err(|e| errors.add("name", e))
        .unwrap_or_default();
    let password = values.get("password").unwrap_or("");
    let new_password = NewPassword::parse(password, values.text("email"))
        .map_err(|e| errors.add("password", e))
        .ok();
    if values.get("confirm_password").unwrap_or("") != password {
        errors.add("confirm_password", "The two passwords differ.");
    }
    if let Some(email) = &email {
        let e = email.as_str().to_string();
        if let Ok(true) = state
            .db
            .run(move |conn| accounts::email_taken(conn, &e, None))
            .await
        {
            errors.add(
                "email",
                "An account with this email already exists. Log in instead.",
            );
        }
    }
    let pc = context(&req, &state);
    let saves = match profile_hooks::validate(&state, &pc, &values).await {
        Ok(saves) => Some(saves),
        Err(e) => {
            errors.merge(e);
            None
        }
    };
    let (Some(email), Some(new_password), Some(saves), true) =
        (email, new_password, saves, errors.is_empty())
    else {
        return show(
            &state,
            &req,
            Some(&values),
            &errors,
            &next,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let hash = state.hasher.hash(&new_password).await;
    let created = state
        .db
        .transaction(move |conn| {
            let id =
                accounts::insert(conn, &email, &hash, Role::Customer, &name).map_err(
                    |e| match e {
                        CreateAccountError::EmailTaken => {
                            DbError::Query(diesel::result::Error::RollbackTransaction)
                        }
                        CreateAccountError::Db(e) => e,
                    },
                )?;
            for save in saves {
                save(conn, id)?;
            }
            Ok(id)
        })
        .await;
    let account_id = match created {
        Ok(id) => id,
        Err(DbError::Query(diesel::result::Error::RollbackTransaction)) => {
            errors.add(
                "email",
                "An account with this email already exists. Log in instead.",
            );
            return show(
                &state,
                &req,
                Some(&values),
                &errors,
                &next,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "registration failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    // A new account goes through the same checks as any login: an addon may
    // still want a second factor before the session starts.
    let Ok(Some(account)) = state
        .db
        .run(move |conn| accounts::by_id(conn, account_id))
        .await
    else {
        return HttpResponse::InternalServerError().finish();
    };
    let attempt = LoginAttempt {
        pending_id: crate::crypto::random_token(32),
        account: account.to_account(),
        interface: Interface::Customer,
        target: next.clone(),
        ip: state.client_ip_of(&req),
        password_just_changed: false,
        cookies: crate::plugin::RequestCookies::of(&req),
    };
    match continue_login(&state, &req, &attempt).await {
        Ok(res) => res,
        Err(message) => {
            super::login::login_page(
                &state,
                &req,
                super::login::LoginForm::Customer,
                Some(&next),
                Some(&message),
                attempt.account.email.as_str(),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
    }
}
