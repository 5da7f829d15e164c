//! `/account` (profile, with the addons' fields) and `/account/password`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::accounts::{self, AccountRow};
use super::email::Email;
use super::login::run_after_password_change;
use super::password::NewPassword;
use super::profile_hooks;
use super::session::{self, cookie_of};
use super::{bad_form, redirect, HostState, SavedQuery};
use crate::plugin::{FieldErrors, FormValues, Interface, ProfileContext, ProfileForm};

fn context(state: &HostState, req: &HttpRequest, account: &AccountRow) -> ProfileContext {
    ProfileContext {
        form: ProfileForm::Account,
        account: Some(account.to_account()),
        actor: Some(account.to_account()),
        ip: state.client_ip_of(req),
        session_key: state.session_key_of(req),
    }
}

async fn show_profile(
    state: &Arc<HostState>,
    req: &HttpRequest,
    account: &AccountRow,
    values: Option<&FormValues>,
    errors: &FieldErrors,
    status: StatusCode,
    flash: Option<&str>,
) -> HttpResponse {
    let pc = context(state, req, account);
    let mut ctx = tera::Context::new();
    ctx.insert(
        "addon_fields",
        &profile_hooks::fields_html(state, &pc, values, errors).await,
    );
    ctx.insert("errors", errors);
    ctx.insert(
        "email",
        values.map(|v| v.text("email")).unwrap_or(&account.email),
    );
    ctx.insert(
        "name",
        values.map(|v| v.text("name")).unwrap_or(&account.name),
    );
    // The current password just typed stays when only another field was
    // wrong (see `register::show`).
    let current_password = match values {
        Some(v) if errors.get("current_password").is_none() => {
            v.get("current_password").unwrap_or("")
        }
        _ => "",
    };
    ctx.insert("current_password", current_password);
    ctx.insert("flash", &flash);
    state
        .render_page(req, status, "host/account.html", ctx)
        .await
}

pub async fn profile_page(
    state: web::Data<HostState>,
    req: HttpRequest,
    q: web::Query<SavedQuery>,
) -> HttpResponse {
    let state = state.into_inner();
    let account = match state.require(&req, Interface::Customer).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let flash = match q.saved.as_deref() {
        Some("profile") => Some("Your profile was saved."),
        Some("password") => Some("Your password was changed. Other sessions were signed out."),
        Some("signed_out") => Some(SIGNED_OUT),
        _ => None,
    };
    show_profile(
        &state,
        &req,
        &account,
        None,
        &FieldErrors::default(),
        StatusCode::OK,
        flash,
    )
    .await
}

pub async fn profile_submit(
    state: web::Data<HostState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let state = state.into_inner();
    let account = match state.require(&req, Interface::Customer).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let Ok(values) = FormValues::parse(&body) else {
        return bad_form(&state, &req, "The profile form could not be read.").await;
    };
    let mut errors = FieldErrors::default();
    let email = Email::parse(values.text("email"))
        .map_err(|e| errors.add("email", e))
        .ok();
    let name = accounts::parse_name(values.text("name"))
        .map_err(|e| errors.add("name", e))
        .unwrap_or_default();
    if let Some(email) = &email {
        if email.as_str() != account.email {
            // Changing the login name needs the password (ASVS V2.1.x / V3).
            let pw = values.get("current_password").unwrap_or("");
            if !state
                .hasher
                .verify(Some(account.password_hash.clone()), pw)
                .await
            {
                errors.add(
                    "current_password",
                    "Enter your current password to change your email.",
                );
            }
            let (e, id) = (email.as_str().to_string(), account.id);
            if let Ok(true) = state
                .db
                .run(move |conn| accounts::email_taken(conn, &e, Some(id)))
                .await
            {
                errors.add("email", "Another account uses this email.");
            }
        }
    }
    let pc = context(&state, &req, &account);
    let saves = match profile_hooks::validate(&state, &pc, &values).await {
        Ok(s) => Some(s),
        Err(e) => {
            errors.merge(e);
            None
        }
    };
    let (Some(email), Some(saves), true) = (email, saves, errors.is_empty()) else {
        return show_profile(
            &state,
            &req,
            &account,
            Some(&values),
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        )
        .await;
    };
    let id = account.id;
    let saved = state
        .db
        .transaction(move |conn| {
            accounts::update_profile(conn, id, &email, &name)?;
            for save in saves {
                save(conn, id)?;
            }
            Ok(())
        })
        .await;
    match saved {
        Ok(()) => redirect("/account?saved=profile"),
        Err(e) => {
            tracing::error!(error = %e, "profile save failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

pub async fn password_page(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    if let Err(res) = state.require(&req, Interface::Customer).await {
        return res;
    }
    let mut ctx = tera::Context::new();
    ctx.insert("errors", &FieldErrors::default());
    state
        .render_page(&req, StatusCode::OK, "host/account_password.html", ctx)
        .await
}

/// Changing the password needs the current one; afterwards every other
/// session of the account ends and this one gets a new id.
pub async fn password_submit(
    state: web::Data<HostState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let state = state.into_inner();
    let account = match state.require(&req, Interface::Customer).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let Ok(values) = FormValues::parse(&body) else {
        return bad_form(&state, &req, "The password form could not be read.").await;
    };
    let mut errors = FieldErrors::default();
    let current = values.get("current_password").unwrap_or("");
    if !state
        .hasher
        .verify(Some(account.password_hash.clone()), current)
        .await
    {
        errors.add("current_password", "That is not your current password.");
    }
    let new = values.get("new_password").unwrap_or("");
    let parsed = NewPassword::parse(new, &account.email)
        .map_err(|e| errors.add("new_password", e))
        .ok();
    if values.get("confirm_password").unwrap_or("") != new {
        errors.add("confirm_password", "The two passwords differ.");
    }
    let (Some(new_password), true) = (parsed, errors.is_empty()) else {
        let mut ctx = tera::Context::new();
        ctx.insert("errors", &errors);
        return state
            .render_page(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                "host/account_password.html",
                ctx,
            )
            .await;
    };
    let hash = state.hasher.hash(&new_password).await;
    let id = account.id;
    let old_hash = cookie_of(&req).id_hash();
    let rotated = state
        .db
        .transaction(move |conn| {
            accounts::set_password(conn, id, &hash)?;
            let new_id = session::start_signed_in(conn, &old_hash, id, None)?;
            session::end_other_sessions(conn, id, &crate::crypto::sha256_hex(&new_id))?;
            Ok(new_id)
        })
        .await;
    match rotated {
        Ok(new_id) => {
            run_after_password_change(&state, &account.to_account()).await;
            let mut res = redirect("/account?saved=password");
            let _ = res.add_cookie(&session::build_cookie(
                new_id,
                state.settings.server.secure_cookies,
            ));
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "password change failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The notice after "Sign out everywhere else".
pub const SIGNED_OUT: &str = "You were signed out on every other device and browser, and sign-ins started there were cancelled. This browser stays signed in.";

/// `POST /account/sign-out-everywhere` and `/admin/sign-out-everywhere`:
/// ends every other session of the account and voids its sign-ins under
/// way (a password step done elsewhere must enter the password again).
pub async fn sign_out_everywhere(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    let admin = req.path().starts_with("/admin/");
    let interface = if admin {
        Interface::Admin
    } else {
        Interface::Customer
    };
    let account = match state.require(&req, interface).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let (id, keep) = (account.id, cookie_of(&req).id_hash());
    let ended = state
        .db
        .transaction(move |conn| {
            accounts::void_pending_sign_ins(conn, id)?;
            session::end_other_sessions(conn, id, &keep)
        })
        .await;
    match ended {
        Ok(_) if admin => redirect("/admin?signed_out=1"),
        Ok(_) => redirect("/account?saved=signed_out"),
        Err(e) => {
            tracing::error!(error = %e, "sign out everywhere failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
