//! The three login pipelines (customer `/login`, admin `/admin/login`, and
//! the login step of `/checkout`), the forced password change, and logout.
//! Policy follows the account's role, never the form that was used.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::accounts::{self, AccountRow};
use super::email::Email;
use super::password::NewPassword;
use super::pending::{self, safe_target, PendingRow};
use super::session::{self, build_cookie, cookie_of, removal_cookie};
use super::throttle;
use super::{bad_form, redirect, HostState, NextQuery};
use crate::crypto::random_token;
use crate::db::DbError;
use crate::plugin::manifest::Hook;
use crate::plugin::{
    AddonError, AfterKept, FormValues, Interface, LoginAttempt, LoginDecision, PendingWrite, Role,
    GENERIC_AUTH_ERROR,
};

pub const UNAVAILABLE: &str =
    "Signing in is not possible right now because a security check could not run. Please try again in a few minutes.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginForm {
    Customer,
    Admin,
    Checkout,
}

impl LoginForm {
    fn interface(self) -> Interface {
        match self {
            LoginForm::Admin => Interface::Admin,
            LoginForm::Customer | LoginForm::Checkout => Interface::Customer,
        }
    }
    fn template(self) -> &'static str {
        match self {
            LoginForm::Customer => "host/login.html",
            LoginForm::Admin => "host/admin/login.html",
            LoginForm::Checkout => "host/checkout_login.html",
        }
    }
    fn fallback_target(self) -> &'static str {
        match self {
            LoginForm::Customer => "/",
            LoginForm::Admin => "/admin",
            LoginForm::Checkout => "/checkout",
        }
    }
}

pub fn login_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Customer => "/login",
        Interface::Admin => "/admin/login",
    }
}

pub fn change_password_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Customer => "/login/change-password",
        Interface::Admin => "/admin/login/change-password",
    }
}

pub async fn customer_login_page(
    state: web::Data<HostState>,
    req: HttpRequest,
    q: web::Query<NextQuery>,
) -> HttpResponse {
    login_page(
        &state,
        &req,
        LoginForm::Customer,
        q.next.as_deref(),
        None,
        "",
        StatusCode::OK,
    )
    .await
}

pub async fn admin_login_page(
    state: web::Data<HostState>,
    req: HttpRequest,
    q: web::Query<NextQuery>,
) -> HttpResponse {
    login_page(
        &state,
        &req,
        LoginForm::Admin,
        q.next.as_deref(),
        None,
        "",
        StatusCode::OK,
    )
    .await
}

pub async fn login_page(
    state: &Arc<HostState>,
    req: &HttpRequest,
    form: LoginForm,
    next: Option<&str>,
    error: Option<&str>,
    email: &str,
    status: StatusCode,
) -> HttpResponse {
    let target = safe_target(next, form.fallback_target());
    let page = crate::plugin::LoginPage {
        interface: form.interface(),
        at_checkout: form == LoginForm::Checkout,
        target: target.clone(),
    };
    // While the database is away (a 503) the addons' options would each
    // wait for it too, and could not work: only the password form shows.
    let options = if status == StatusCode::SERVICE_UNAVAILABLE {
        Vec::new()
    } else {
        super::login_page_hooks::extras(state, req, &page).await
    };
    let mut ctx = tera::Context::new();
    ctx.insert("login_options", &options);
    ctx.insert("next", &target);
    ctx.insert("error", &error);
    ctx.insert("email", email);
    if form == LoginForm::Checkout {
        super::cart_summary::insert_cart_summary(state, req, &mut ctx).await;
    }
    state.render_page(req, status, form.template(), ctx).await
}

pub async fn customer_login(
    state: web::Data<HostState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    password_login(state.into_inner(), &req, &body, LoginForm::Customer).await
}

pub async fn admin_login(
    state: web::Data<HostState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    password_login(state.into_inner(), &req, &body, LoginForm::Admin).await
}

pub async fn checkout_login(
    state: web::Data<HostState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    password_login(state.into_inner(), &req, &body, LoginForm::Checkout).await
}

/// Counts a wrong password, or clears the account's failures after the
/// right one; says whether the account is locked. The right password for
/// an account with no failures on record (nearly every sign-in) only reads.
async fn throttle_after_password(
    state: &HostState,
    id: i64,
    verified: bool,
) -> Result<bool, DbError> {
    if verified && !state.db.run(move |c| throttle::has_record(c, id)).await? {
        return Ok(false);
    }
    state
        .db
        .transaction(move |conn| {
            let locked = throttle::is_locked(conn, id)?;
            if !verified {
                throttle::record_failure(conn, id)?;
            } else if !locked {
                throttle::clear(conn, id)?;
            }
            Ok(locked)
        })
        .await
}

async fn password_login(
    state: Arc<HostState>,
    req: &HttpRequest,
    body: &[u8],
    form: LoginForm,
) -> HttpResponse {
    let Ok(values) = FormValues::parse(body) else {
        return bad_form(&state, req, "The login form could not be read.").await;
    };
    let email_input = values.text("email").to_string();
    let password = values.get("password").unwrap_or("").to_string();
    let target = safe_target(values.get("next"), form.fallback_target());
    let refuse = |state: Arc<HostState>, message: String| {
        let email_input = email_input.clone();
        let target = target.clone();
        // The database or a check being away is the store's trouble, not
        // the person's: 503, like the error pages during an outage.
        let status = if message == UNAVAILABLE {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNAUTHORIZED
        };
        async move {
            login_page(
                &state,
                req,
                form,
                Some(&target),
                Some(&message),
                &email_input,
                status,
            )
            .await
        }
    };

    let account: Option<AccountRow> = match Email::parse(&email_input) {
        Ok(email) => {
            let email = email.as_str().to_string();
            match state
                .db
                .run(move |conn| accounts::by_email(conn, &email))
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %e, "login lookup failed");
                    return refuse(state, UNAVAILABLE.into()).await;
                }
            }
        }
        Err(_) => None,
    };
    // The dummy hash runs when there is no account, so timing does not tell.
    let verified = state
        .hasher
        .verify(account.as_ref().map(|a| a.password_hash.clone()), &password)
        .await;
    // A wrong password is counted now. For the right one, the failures on
    // record are checked later, after the addons decided, in the write that
    // keeps the pending login (`keep_pending`) or before the session
    // starts (`continue_login`): either way after the hash.
    let locked = match &account {
        Some(a) if !verified => match throttle_after_password(&state, a.id, false).await {
            Ok(locked) => locked,
            Err(e) => {
                tracing::error!(error = %e, "login throttle failed");
                return refuse(state, UNAVAILABLE.into()).await;
            }
        },
        _ => false,
    };
    let Some(account) = account.filter(|_| verified && !locked) else {
        return refuse(state, GENERIC_AUTH_ERROR.into()).await;
    };
    if form == LoginForm::Admin && account.role() == Role::Customer {
        return refuse(state, GENERIC_AUTH_ERROR.into()).await;
    }

    let attempt = LoginAttempt {
        pending_id: random_token(32),
        account: account.to_account(),
        interface: form.interface(),
        target: target.clone(),
        ip: state.client_ip_of(req),
        password_just_changed: false,
        cookies: crate::plugin::RequestCookies::of(req),
    };
    if account.must_change_password {
        // An admin asked for a new password, perhaps because the old one
        // leaked: an account with a second factor meets it first, so that
        // the password alone cannot choose the new one (the host moves on
        // to the change when the addon completes the sign-in).
        let held = match decide(&state, &attempt).await {
            Ok(Some((addon_id, url))) => {
                hold_for_challenge(&state, req, &attempt, addon_id, url).await
            }
            Ok(None) => hold_for_password_change(&state, req, &attempt).await,
            Err(message) => Err(message),
        };
        return match held {
            Ok(res) => res,
            Err(message) => refuse(state, message).await,
        };
    }
    match continue_login(&state, req, &attempt).await {
        Ok(res) => res,
        Err(message) => refuse(state, message).await,
    }
}

/// After a verified password: sign in, or keep a pending login and go to
/// the addon's challenge. Err is the message for the login page.
pub async fn continue_login(
    state: &Arc<HostState>,
    req: &HttpRequest,
    attempt: &LoginAttempt,
) -> Result<HttpResponse, String> {
    match decide(state, attempt).await? {
        None => {
            // The failed passwords on record: a locked account is refused
            // even with the right one.
            match throttle_after_password(state, attempt.account.id, true).await {
                Ok(false) => {}
                Ok(true) => return Err(GENERIC_AUTH_ERROR.into()),
                Err(e) => {
                    tracing::error!(error = %e, "login throttle failed");
                    return Err(UNAVAILABLE.into());
                }
            }
            Ok(sign_in(state, req, attempt.account.id, &attempt.target).await)
        }
        Some((addon_id, url)) => hold_for_challenge(state, req, attempt, addon_id, url).await,
    }
}

/// Keeps a pending login at the addon's challenge and redirects there.
async fn hold_for_challenge(
    state: &HostState,
    req: &HttpRequest,
    attempt: &LoginAttempt,
    addon_id: String,
    url: String,
) -> Result<HttpResponse, String> {
    let mut row = pending_row_of(attempt);
    row.stage = pending::STAGE_CHALLENGE.into();
    row.addon_id = Some(addon_id);
    row.challenge_url = url;
    hold(state, req, row).await
}

/// Keeps a pending login at the password change an admin required (for an
/// account with no second factor) and redirects there.
async fn hold_for_password_change(
    state: &HostState,
    req: &HttpRequest,
    attempt: &LoginAttempt,
) -> Result<HttpResponse, String> {
    let mut row = pending_row_of(attempt);
    row.stage = pending::STAGE_PASSWORD_CHANGE.into();
    row.challenge_url = change_password_path(attempt.interface).into();
    hold(state, req, row).await
}

fn pending_row_of(attempt: &LoginAttempt) -> PendingRow {
    PendingRow::new(
        attempt.pending_id.clone(),
        &attempt.account,
        attempt.interface,
        attempt.target.clone(),
        attempt.ip.clone(),
    )
}

async fn hold(
    state: &HostState,
    req: &HttpRequest,
    row: PendingRow,
) -> Result<HttpResponse, String> {
    let url = row.challenge_url.clone();
    let pending_id = row.id.clone();
    let kept = keep_pending(state, req, row).await;
    // Work meant for after the commit runs only when the pending login was
    // kept; it is taken out either way.
    let then = take_with_pending(&pending_id).then;
    let kept = kept.map_err(|e| {
        tracing::error!(error = %e, "could not keep pending login");
        UNAVAILABLE.to_string()
    })?;
    if !kept {
        // Locked after too many wrong passwords: the right one is refused too.
        return Err(GENERIC_AUTH_ERROR.into());
    }
    for run in then {
        run(req.clone()).await;
    }
    Ok(redirect(&url))
}

/// What addons asked to go with the pending login of a password step
/// under way, by pending login id: writes to land in its transaction
/// (`HostServices::write_with_pending_login`), and work to run once it is
/// kept (`HostServices::write_with_pending_login_then`). `keep_pending`
/// takes the writes into its transaction, `hold` runs the work after it
/// commits; `decide` drops both when no pending login will be kept. Each
/// lives for one request.
#[derive(Default)]
struct WithPending {
    writes: Vec<PendingWrite>,
    then: Vec<AfterKept>,
}

static WITH_PENDING: Mutex<BTreeMap<String, WithPending>> = Mutex::new(BTreeMap::new());

fn with_pending<T>(f: impl FnOnce(&mut BTreeMap<String, WithPending>) -> T) -> T {
    f(&mut WITH_PENDING.lock().unwrap_or_else(PoisonError::into_inner))
}

pub(crate) fn write_with_pending(pending_id: &str, write: PendingWrite) {
    with_pending(|m| {
        m.entry(pending_id.to_string())
            .or_default()
            .writes
            .push(write)
    });
}

pub(crate) fn after_kept(pending_id: &str, then: AfterKept) {
    with_pending(|m| m.entry(pending_id.to_string()).or_default().then.push(then));
}

fn take_writes_with_pending(pending_id: &str) -> Vec<PendingWrite> {
    with_pending(|m| {
        m.get_mut(pending_id)
            .map(|w| std::mem::take(&mut w.writes))
            .unwrap_or_default()
    })
}

/// Everything still staged for `pending_id` (after `keep_pending`: the work
/// to run once it is kept).
fn take_with_pending(pending_id: &str) -> WithPending {
    with_pending(|m| m.remove(pending_id)).unwrap_or_default()
}

/// Runs the enabled addons' `after_password_verified` hooks in order. The
/// first challenge wins. Any error refuses the login: nothing fails open.
pub async fn decide(
    state: &Arc<HostState>,
    attempt: &LoginAttempt,
) -> Result<Option<(String, String)>, String> {
    let decided = run_login_hooks(state, attempt).await;
    if !matches!(decided, Ok(Some(_))) {
        // No pending login will be kept: what was meant to go with it goes.
        drop(take_with_pending(&attempt.pending_id));
    }
    decided
}

async fn run_login_hooks(
    state: &Arc<HostState>,
    attempt: &LoginAttempt,
) -> Result<Option<(String, String)>, String> {
    let enabled = state.registry.enabled(&state.db).await.map_err(|e| {
        tracing::error!(error = %e, "could not read addon state");
        UNAVAILABLE.to_string()
    })?;
    for installed in enabled {
        let host = state.handle_for(installed.addon.id());
        if !installed.manifest.has_hook(Hook::AfterPasswordVerified) {
            continue;
        }
        match installed
            .addon
            .after_password_verified(&host, attempt)
            .await
        {
            Ok(LoginDecision::Continue) => {}
            Ok(LoginDecision::Challenge { redirect }) => {
                let url = safe_target(Some(&redirect), "");
                if url.is_empty() {
                    tracing::error!(
                        addon = installed.addon.id(),
                        "challenge redirect is not a local path"
                    );
                    return Err(UNAVAILABLE.to_string());
                }
                return Ok(Some((installed.addon.id().to_string(), url)));
            }
            Err(AddonError::Refused(message)) => return Err(message),
            Err(e) => {
                tracing::error!(addon = installed.addon.id(), error = %e, "login hook failed");
                return Err(UNAVAILABLE.to_string());
            }
        }
    }
    Ok(None)
}

/// Keeps the pending login, with the addons' writes for it, in one
/// transaction; false (nothing kept) when the account is locked after too
/// many wrong passwords. The failures on record are checked here, by the
/// insert itself (`pending::insert_unless_failures`): an account with none
/// costs no read of its own; one with some is looked at, and its failures
/// cleared when it is not locked, as at any right password.
async fn keep_pending(
    state: &HostState,
    req: &HttpRequest,
    row: PendingRow,
) -> Result<bool, crate::db::DbError> {
    let id_hash = cookie_of(req).id_hash();
    let addon_writes = take_writes_with_pending(&row.id);
    state
        .db
        .transaction(move |conn| {
            if !pending::insert_unless_failures(conn, &row)? {
                if throttle::is_locked(conn, row.account_id)? {
                    return Ok(false);
                }
                throttle::clear(conn, row.account_id)?;
                pending::insert(conn, &row)?;
            }
            session::attach_pending(conn, &id_hash, &row.id)?;
            for write in addon_writes {
                write(conn)?;
            }
            Ok(true)
        })
        .await
}

/// Signs the account in under a new session id and redirects to `target`.
pub async fn sign_in(
    state: &HostState,
    req: &HttpRequest,
    account_id: i64,
    target: &str,
) -> HttpResponse {
    let old_hash = cookie_of(req).id_hash();
    match state
        .db
        .transaction(move |conn| session::start_signed_in(conn, &old_hash, account_id, None))
        .await
    {
        Ok(new_id) => signed_in(state, new_id, target),
        Err(e) => {
            tracing::error!(error = %e, "could not start session");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The redirect to `target` that sets the new session's cookie.
pub fn signed_in(state: &HostState, new_id: String, target: &str) -> HttpResponse {
    let mut res = redirect(target);
    let _ = res.add_cookie(&build_cookie(new_id, state.settings.server.secure_cookies));
    res
}

/// The pending login of this request at the password-change stage, with
/// its account (see `HostState::pending_with_account`).
async fn pending_password_change(
    state: &HostState,
    req: &HttpRequest,
) -> Option<(PendingRow, AccountRow)> {
    state
        .pending_with_account(req)
        .await
        .filter(|(row, _)| row.changes_password())
}

fn change_template(interface: Interface) -> &'static str {
    match interface {
        Interface::Customer => "host/change_password_required.html",
        Interface::Admin => "host/admin/change_password_required.html",
    }
}

pub async fn change_password_page(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    let Some((row, _)) = pending_password_change(&state, &req).await else {
        return redirect(login_path(interface_of_path(&req)));
    };
    let ctx = tera::Context::new();
    state
        .render_page(&req, StatusCode::OK, change_template(row.interface()), ctx)
        .await
}

fn interface_of_path(req: &HttpRequest) -> Interface {
    if req.path().starts_with("/admin") {
        Interface::Admin
    } else {
        Interface::Customer
    }
}

pub async fn change_password_submit(
    state: web::Data<HostState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let state = state.into_inner();
    let Some((row, account)) = pending_password_change(&state, &req).await else {
        return redirect(login_path(interface_of_path(&req)));
    };
    let Ok(values) = FormValues::parse(&body) else {
        return bad_form(&state, &req, "The form could not be read.").await;
    };
    let account_id = account.id;
    let new = values.get("new_password").unwrap_or("");
    let confirm = values.get("confirm_password").unwrap_or("");
    let mut errors = crate::plugin::FieldErrors::default();
    let parsed = NewPassword::parse(new, &account.email);
    if let Err(e) = &parsed {
        errors.add("new_password", *e);
    }
    if new != confirm {
        errors.add("confirm_password", "The two passwords differ.");
    }
    if state
        .hasher
        .verify(Some(account.password_hash.clone()), new)
        .await
    {
        errors.add(
            "new_password",
            "Choose a password different from the current one.",
        );
    }
    let Ok(new_password) =
        parsed
            .map_err(|_| ())
            .and_then(|p| if errors.is_empty() { Ok(p) } else { Err(()) })
    else {
        let mut ctx = tera::Context::new();
        ctx.insert("errors", &errors);
        return state
            .render_page(
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                change_template(row.interface()),
                ctx,
            )
            .await;
    };
    let hash = state.hasher.hash(&new_password).await;
    let keep = cookie_of(&req).id_hash();
    // The new password voids every sign-in under way, this one included.
    let changed = state
        .db
        .transaction(move |conn| {
            accounts::set_password(conn, account_id, &hash)?;
            session::end_other_sessions(conn, account_id, &keep)?;
            accounts::by_id(conn, account_id)
        })
        .await;
    let account = match changed {
        Ok(Some(a)) => a,
        Ok(None) => return redirect(login_path(row.interface())),
        Err(e) => {
            tracing::error!(error = %e, "password change failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    run_after_password_change(&state, &account.to_account()).await;
    if row.stage == pending::STAGE_PASSWORD_CHANGE_VERIFIED {
        // The second factor was met before the password step.
        return sign_in(&state, &req, account_id, &row.target).await;
    }
    // No second factor yet: an addon may insist on enrolment now.
    let attempt = LoginAttempt {
        pending_id: random_token(32),
        account: account.to_account(),
        interface: row.interface(),
        target: row.target.clone(),
        ip: state.client_ip_of(&req),
        password_just_changed: true,
        cookies: crate::plugin::RequestCookies::of(&req),
    };
    match continue_login(&state, &req, &attempt).await {
        Ok(res) => res,
        Err(message) => {
            let form = if row.interface() == Interface::Admin {
                LoginForm::Admin
            } else {
                LoginForm::Customer
            };
            login_page(
                &state,
                &req,
                form,
                Some(&row.target),
                Some(&message),
                &account.email,
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
    }
}

pub async fn run_after_password_change(state: &Arc<HostState>, account: &crate::plugin::Account) {
    if let Ok(enabled) = state.registry.enabled(&state.db).await {
        for installed in enabled {
            let host = state.handle_for(installed.addon.id());
            if installed.manifest.has_hook(Hook::AfterPasswordChange) {
                installed.addon.after_password_change(&host, account).await;
            }
        }
    }
}

/// `POST /logout` and `/admin/logout`: runs the addons' logout hooks, deletes
/// the session server-side and tells the browser to forget the cookie.
pub async fn logout(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    let state = state.into_inner();
    let current = session::current(&state, &req).await.unwrap_or_default();
    if let Some(account) = &current.account {
        if let Ok(enabled) = state.registry.enabled(&state.db).await {
            for installed in enabled {
                let host = state.handle_for(installed.addon.id());
                if installed.manifest.has_hook(Hook::OnLogout) {
                    installed
                        .addon
                        .on_logout(&host, &account.to_account())
                        .await;
                }
            }
        }
    }
    let hash = current.id_hash.clone();
    if let Err(e) = state
        .db
        .transaction(move |conn| session::delete_session(conn, &hash))
        .await
    {
        tracing::error!(error = %e, "logout failed");
        return HttpResponse::InternalServerError().finish();
    }
    let to = if req.path().starts_with("/admin") {
        "/admin/login"
    } else {
        "/"
    };
    let mut res = redirect(to);
    let _ = res.add_cookie(&removal_cookie(state.settings.server.secure_cookies));
    res
}
