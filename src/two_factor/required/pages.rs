//! The "Set up two-factor authentication" page a sign-in is held at when
//! the store requires a second factor the account does not have: the set-up
//! options (`options`), the days left and "Remind me later" during the
//! grace period, and after it nothing but set-up or sign out ("Cancel"
//! ends the sign-in). Setting up an authenticator app happens here, inside
//! the held sign-in; text messages use the sign-in's phone step.
//! Every change is a POST (the host checks CSRF), then a redirect or a page.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::plugin::{Completion, HostError, HostHandle, Interface, PendingLogin};
use crate::two_factor::app::{qr, totp};
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::pages::{interface_of, see_other, skin, Form, PageError};
use crate::two_factor::sign_in::after;
use crate::two_factor::sign_in::flash::{self, Flash};
use crate::two_factor::sign_in::held::{attempts_left, held_here};
use crate::two_factor::sign_in::verify;
use crate::two_factor::sms::pages::{base_path, redirect_with};
use crate::two_factor::sms::service::Service;
use crate::two_factor::store;

use super::options::{self, SetupOption};
use super::rule::Standing;
use super::sign_in::standing;

pub fn page_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => "/admin/two-factor/setup-required",
        Interface::Customer => "/two-factor/setup-required",
    }
}

fn later_path(interface: Interface) -> String {
    format!("{}/later", page_path(interface))
}

pub fn app_start_path(interface: Interface) -> String {
    format!("{}/app/start", page_path(interface))
}

fn app_confirm_path(interface: Interface) -> String {
    format!("{}/app", page_path(interface))
}

struct State {
    service: Arc<Service>,
    host: HostHandle,
}

type Data = web::Data<State>;

pub fn configure(cfg: &mut web::ServiceConfig, service: Arc<Service>, host: HostHandle) {
    let data = web::Data::new(State { service, host });
    for interface in [Interface::Customer, Interface::Admin] {
        cfg.service(
            web::resource(page_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::get().to(page)),
        )
        .service(
            web::resource(later_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(later)),
        )
        .service(
            web::resource(app_start_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(app_start)),
        )
        .service(
            web::resource(app_confirm_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(app_confirm)),
        );
    }
}

#[derive(Serialize, Default)]
struct View {
    base: &'static str,
    page_path: &'static str,
    /// overview | app
    mode: &'static str,
    /// Days of grace left; None once it is over.
    days_left: Option<i64>,
    later_path: String,
    options: Vec<SetupOption>,
    notice: Option<String>,
    error: Option<String>,
    /// App set-up.
    qr_svg: Option<String>,
    secret: Option<String>,
    app_confirm_path: String,
}

/// The sign-in held at this page: this session's, the addon's, for this
/// skin, and for an account that still has no second factor (one that set
/// one up meanwhile signs in again with it).
async fn pending_for(st: &State, req: &HttpRequest) -> Result<PendingLogin, PageError> {
    held_here(&st.host, req, page_path).await
}

async fn view_for(st: &State, pending: &PendingLogin, grace: Standing) -> Result<View, PageError> {
    let settings = st.service.settings(&st.host).await?;
    let interface = pending.interface;
    Ok(View {
        base: base_path(interface),
        page_path: page_path(interface),
        mode: "overview",
        days_left: match grace {
            Standing::InGrace { days_left } => Some(days_left),
            // The store stopped requiring it meanwhile: later is fine.
            Standing::NotRequired => Some(0),
            Standing::Ended => None,
        },
        later_path: later_path(interface),
        options: options::available(&settings, pending.account.role, interface),
        app_confirm_path: app_confirm_path(interface),
        ..View::default()
    })
}

async fn render(
    st: &State,
    req: &HttpRequest,
    status: StatusCode,
    view: &View,
) -> Result<HttpResponse, PageError> {
    let template = format!(
        "two_factor/setup_required_{}.html",
        interface_of(req).as_str()
    );
    let ctx = tera::Context::from_serialize(view)?;
    let mut page = st.host.render(req, status, &template, ctx).await;
    page.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(page)
}

async fn page(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let grace = standing(&st.host, &pending.account).await?;
    let mut view = view_for(&st, &pending, grace).await?;
    if let Some(flash) = flash::take(&st.host, &req).await? {
        flash.show(&mut view.notice, &mut view.error);
    }
    render(&st, &req, StatusCode::OK, &view).await
}

/// Completes the held sign-in (once, whichever request claims it first).
async fn complete(
    st: &State,
    req: &HttpRequest,
    pending: &PendingLogin,
) -> Result<Completion, PageError> {
    let login = || PageError::SeeOther(st.host.login_path(pending.interface).into());
    // The addon's claim lands with the session, in one write.
    let (id, account_id) = (pending.id.clone(), pending.account.id);
    let host_does = st.host.completion_takes_pending_login();
    let claim: crate::plugin::CompletionClaim = Box::new(move |conn| {
        store::claim_completion_unless_host_does(conn, host_does, &id, account_id)
    });
    match st
        .host
        .complete_pending_login_claimed(req, &pending.id, claim)
        .await
    {
        Ok(Some(done)) => Ok(done),
        Ok(None) | Err(HostError::PendingLoginGone | HostError::Refused) => Err(login()),
        Err(HostError::Db(e)) => Err(e.into()),
    }
}

/// "Remind me later": signs in during the grace period, never after it.
async fn later(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let here = page_path(pending.interface);
    let left = match standing(&st.host, &pending.account).await? {
        Standing::Ended => {
            let no = Flash::error("The time to set up two-factor authentication is over: set it up now to sign in, or cancel.");
            return redirect_with(&st.host, &req, here, no).await;
        }
        Standing::InGrace { days_left } => days_left,
        Standing::NotRequired => 0,
    };
    let ip = st.host.client_ip(&req);
    let done = complete(&st, &req, &pending).await?;
    audit::record(
        st.host.db(),
        AuditEvent::new("setup_required", "postponed")
            .account(&pending.account)
            .interface(pending.interface)
            .ip(&ip)
            .detail(format!("{left} day(s) of grace left")),
    )
    .await;
    Ok(done.into_response())
}

/// The app set-up view for the secret being set up.
fn app_view(mut view: View, email: &str, secret: &[u8]) -> View {
    let encoded = totp::encode_secret(secret);
    let uri = totp::otpauth_uri(email, &encoded);
    view.mode = "app";
    view.qr_svg = qr::svg(&uri);
    view.secret = Some(totp::display_secret(&encoded));
    view
}

/// "Set up an authenticator app": a new secret for the held sign-in's
/// account, its QR code and key.
async fn app_start(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let grace = standing(&st.host, &pending.account).await?;
    let secret = totp::generate_secret();
    let enc = st.host.secret_key().encrypt(&totp::encode_secret(&secret));
    let id = pending.account.id;
    if !st
        .host
        .db()
        .transaction(move |conn| totp::begin_setup(conn, id, &enc))
        .await?
    {
        // An app was set up meanwhile: sign in with it.
        st.host.cancel_pending_login(&pending.id).await?;
        return Ok(see_other(st.host.login_path(pending.interface)));
    }
    let view = app_view(
        view_for(&st, &pending, grace).await?,
        &pending.account.email,
        &secret,
    );
    render(&st, &req, StatusCode::OK, &view).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
}

/// The app's first code: turns the app on, signs in, and shows the new
/// recovery codes (the end of every set-up).
async fn app_confirm(
    st: Data,
    req: HttpRequest,
    Form(form): Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let counted = verify::count_pending_attempt(&st.host, &pending, &ip).await?;
    attempts_left(&st.host, &req, &pending, &ip, counted).await?;
    let id = pending.account.id;
    let row = match st.host.db().run(move |conn| totp::load(conn, id)).await? {
        Some(r) if !r.confirmed => r,
        _ => {
            let again =
                Flash::error("Start the authenticator app set-up again: it was not under way.");
            return redirect_with(&st.host, &req, page_path(pending.interface), again).await;
        }
    };
    let Some(secret) = totp::secret_of(st.host.secret_key(), &row) else {
        return Err(PageError::internal(
            &"authenticator secret could not be decrypted",
        ));
    };
    let code = form.code.trim().replace(' ', "");
    let step = totp::looks_like_code(&code)
        .then(|| totp::matching_step(&secret, &code, crate::db::now()))
        .flatten();
    let Some(step) = step else {
        let grace = standing(&st.host, &pending.account).await?;
        let mut view = app_view(
            view_for(&st, &pending, grace).await?,
            &pending.account.email,
            &secret,
        );
        view.error = Some("That code is not right. Check the time on your phone and enter the 6-digit code your app shows now.".into());
        return render(&st, &req, StatusCode::UNPROCESSABLE_ENTITY, &view).await;
    };
    if !st
        .host
        .db()
        .transaction(move |conn| totp::confirm(conn, id, step))
        .await?
    {
        let again = Flash::error("This set-up was already confirmed or replaced.");
        return redirect_with(&st.host, &req, page_path(pending.interface), again).await;
    }
    audit::record(
        st.host.db(),
        AuditEvent::new("app_setup", "success")
            .account(&pending.account)
            .interface(pending.interface)
            .ip(&ip)
            .detail("at sign-in: the store requires two-factor authentication"),
    )
    .await;
    let done = match complete(&st, &req, &pending).await? {
        Completion::SignedIn(resp) => resp,
        next => return Ok(next.into_response()),
    };
    // Ten recovery codes, shown once on the page after (unless the
    // account has codes already).
    let (resp, _) =
        after::to_first_codes_or(&st.host, &pending.account, pending.interface, done).await;
    Ok(resp)
}
