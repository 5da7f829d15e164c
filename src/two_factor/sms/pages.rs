//! The SMS pages of a sign-in: code verification, resend/call, cancel,
//! phone entry during login, and the profile's "send a code" button.
//! Customer pages live under `/two-factor`, admin-skin pages under
//! `/admin/two-factor`; every state change is a POST (the host checks CSRF).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::plugin::{HostHandle, Interface, PendingLogin};
use crate::two_factor::pages::{interface_of, see_other, skin, Form, PageError};
use crate::two_factor::sign_in::held::attempts_left;

use crate::two_factor::admin::status::format_time;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::gateways::Channel;
use crate::two_factor::limits;
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::settings::Mode;
use crate::two_factor::sign_in::after;
use crate::two_factor::sign_in::flash::{self, Flash};
use crate::two_factor::sign_in::policy;
use crate::two_factor::sign_in::verify::{self, Checked};
use crate::two_factor::sign_in::wrong_code::{self, WrongCode};
use crate::two_factor::sms::countries;
use crate::two_factor::sms::phone::{PhoneError, PhoneNumber};
use crate::two_factor::sms::profile::SEND_CODE_PATH;
use crate::two_factor::sms::service::{
    first_code_wait_message, gateway_message, wait_message, Actor, SendOutcome, Service,
    ACCOUNT_PAGE_PURPOSE,
};
use crate::two_factor::store::{self, StoredPhone};
use crate::two_factor::trusted_device::remember::{self, RememberDevice, RememberOffer};
use crate::two_factor::ADDON_ID;

struct State {
    service: Arc<Service>,
    host: HostHandle,
}

type Data = web::Data<State>;

pub fn configure(cfg: &mut web::ServiceConfig, service: Arc<Service>, host: HostHandle) {
    let data = web::Data::new(State { service, host });
    // Single resources, not scopes: a scope on `/admin/two-factor` would
    // swallow other pages under that prefix (the sandbox outbox page).
    for (base, interface) in [
        ("/two-factor", Interface::Customer),
        ("/admin/two-factor", Interface::Admin),
    ] {
        cfg.service(
            web::resource(format!("{base}/verify"))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::get().to(verify_page))
                .route(web::post().to(verify_submit)),
        )
        .service(
            web::resource(format!("{base}/send"))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(send)),
        )
        .service(
            web::resource(format!("{base}/ended"))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::get().to(ended_page)),
        )
        .service(
            web::resource(format!("{base}/cancel"))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::post().to(cancel)),
        )
        .service(
            web::resource(format!("{base}/phone"))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::get().to(phone_page))
                .route(web::post().to(phone_submit)),
        );
    }
    cfg.service(
        web::resource(SEND_CODE_PATH)
            .app_data(data)
            .route(web::post().to(account_send_code)),
    );
}

/// The prefix of the sign-in pages of an interface's skin.
pub(crate) fn base_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => "/admin/two-factor",
        Interface::Customer => "/two-factor",
    }
}

/// Where a sign-in that ended without a session says why.
pub(crate) fn ended_path(interface: Interface) -> String {
    format!("{}/ended", base_path(interface))
}

/// Keeps `flash` for the page `to` and redirects there (POST, redirect,
/// GET: a reload of that page sends and submits nothing).
pub(crate) async fn redirect_with(
    host: &HostHandle,
    req: &HttpRequest,
    to: &str,
    flash: Flash,
) -> Result<HttpResponse, PageError> {
    flash::leave(host, req, flash).await?;
    Ok(see_other(to))
}

#[derive(Serialize, Default)]
struct PageView {
    base: &'static str,
    login_path: &'static str,
    /// The phone the code goes to, international and masked to its last
    /// four digits ("+44 •••• ••3456"), as every page shows it.
    phone_masked: String,
    /// This code confirms the phone (SMS set-up), not an ordinary sign-in.
    confirm_phone: bool,
    /// Seconds until "Resend" and "Call me" may be used (the countdown).
    resend_wait: i64,
    /// The account has a passkey: "Use your passkey or security key".
    has_passkey: bool,
    notice: Option<String>,
    error: Option<String>,
    /// Phone entry form.
    /// Pre-rendered, escaped `<option>`s (see `countries::options_html`).
    country_options: String,
    phone: String,
    country_error: Option<String>,
    phone_error: Option<String>,
    /// On the "ended" page: this browser is still signed in (from before,
    /// or by the sign-in that just completed elsewhere), so the page must
    /// not say it is not.
    signed_in: bool,
    /// Where a signed-in user goes on from the "ended" page.
    home_path: &'static str,
    /// "Don't ask again on this device" (`_remember_device.html`).
    remember: RememberOffer,
}

impl PageView {
    fn new(st: &State, interface: Interface) -> PageView {
        PageView {
            base: base_path(interface),
            login_path: st.host.login_path(interface),
            ..PageView::default()
        }
    }
}

async fn render(
    st: &State,
    req: &HttpRequest,
    status: StatusCode,
    page: &str,
    view: &PageView,
) -> Result<HttpResponse, PageError> {
    let interface = interface_of(req);
    let template = format!("two_factor/{page}_{}.html", interface.as_str());
    let mut ctx = tera::Context::from_serialize(view)?;
    // In test mode no text leaves the machine: the page says where the code
    // is (never the code itself), so a sole admin is not locked out.
    let test_mode = st.service.settings(&st.host).await?.mode == Mode::Test;
    ctx.insert("test_mode", &test_mode);
    Ok(st.host.render(req, status, &template, ctx).await)
}

/// The pending login of this session, if it is ours and matches the skin;
/// else where to go instead. A database that cannot be read is an error
/// (the 503 page during an outage), never "sign in again".
async fn pending_for(st: &State, req: &HttpRequest) -> Result<PendingLogin, PageError> {
    let interface = interface_of(req);
    let login = || PageError::SeeOther(st.host.login_path(interface).into());
    let pending = st.host.try_pending_login(req).await?.ok_or_else(login)?;
    if pending.addon_id.as_deref().is_some_and(|id| id != ADDON_ID) {
        return Err(login());
    }
    if pending.interface != interface {
        return Err(PageError::SeeOther(
            policy::verify_path(pending.interface).into(),
        ));
    }
    Ok(pending)
}

fn actor<'a>(pending: &'a PendingLogin, ip: &'a str) -> Actor<'a> {
    Actor {
        account: &pending.account,
        interface: pending.interface,
        ip,
        purpose: &pending.id,
        initial: false,
        via_api: false,
    }
}

fn sent_notice(channel: Channel, masked: &str) -> String {
    match channel {
        Channel::Sms => format!("We sent a new code by text message to your phone {masked}."),
        Channel::Call => format!("We are calling your phone {masked} to read you a new code."),
    }
}

/// What the code page says of the first code of its sign-in, once sent.
fn first_code_notice(masked: &str) -> String {
    format!("We sent a code by text message to your phone {masked}.")
}

/// Sends a code and describes the result on `view`; returns the page status.
async fn send_and_describe(
    st: &State,
    pending: &PendingLogin,
    ip: &str,
    stored: &StoredPhone,
    channel: Channel,
    view: &mut PageView,
) -> Result<StatusCode, PageError> {
    let settings = st.service.settings(&st.host).await?;
    let outcome = st
        .service
        .send_code(&st.host, &settings, &actor(pending, ip), stored, channel)
        .await?;
    describe(st, pending, stored, channel, false, outcome, view).await
}

/// Describes what sending a code did on `view`; returns the page status.
/// `initial`: the first code of the sign-in, sent by the code page's view.
async fn describe(
    st: &State,
    pending: &PendingLogin,
    stored: &StoredPhone,
    channel: Channel,
    initial: bool,
    outcome: SendOutcome,
    view: &mut PageView,
) -> Result<StatusCode, PageError> {
    Ok(match outcome {
        SendOutcome::Sent => {
            // The first code's claim already says it was sent.
            if !initial {
                let id = pending.id.clone();
                st.host
                    .db()
                    .transaction(move |conn| limits::mark_first_code_sent(conn, &id))
                    .await?;
            }
            view.notice = Some(sent_notice(channel, &stored.phone.masked()));
            StatusCode::OK
        }
        SendOutcome::Wait { seconds, reason } if initial => {
            // A page view is never a 429: the page says why no code came
            // and how to get one, and the next view may send it.
            let id = pending.id.clone();
            st.host
                .db()
                .transaction(move |conn| limits::unclaim_first_code(conn, &id))
                .await?;
            view.error = Some(first_code_wait_message(seconds, reason));
            StatusCode::OK
        }
        SendOutcome::Wait { seconds, reason } => {
            view.error = Some(wait_message(seconds, reason));
            StatusCode::TOO_MANY_REQUESTS
        }
        SendOutcome::Failed => {
            view.error = Some(gateway_message(true).to_string());
            StatusCode::SERVICE_UNAVAILABLE
        }
        SendOutcome::Refused(why) => {
            view.error = Some(why.message().to_string());
            // A page view is never an error status: the page says what to do.
            if initial {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        }
    })
}

/// The account's phone, and whether it has recovery codes (SMS set-up is
/// finished), or the phone step.
async fn stored_phone(
    st: &State,
    req: &HttpRequest,
    pending: &PendingLogin,
) -> Result<store::PhoneAndFactors, PageError> {
    store::phone_and_codes(st.host.db(), pending.account.id, st.host.session_key(req))
        .await?
        .ok_or_else(|| PageError::SeeOther(policy::phone_path(pending.interface).into()))
}

async fn verify_page(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let store::PhoneAndFactors {
        stored,
        has_codes,
        has_passkey,
        holder,
        has_flash,
        resend_wait,
    } = stored_phone(&st, &req, &pending).await?;
    let account_id = pending.account.id;
    let mut view = PageView::new(&st, pending.interface);
    view.has_passkey = has_passkey;
    view.phone_masked = stored.phone.masked();
    view.confirm_phone = after::confirms_phone_with(&stored, has_codes);
    let mut status = StatusCode::OK;
    // A code was sent for this sign-in (by its password step, as a rule:
    // `sms::first_code`): the page says where, unless a flash says what
    // the last step did (a wrong code, a resend), and writes nothing.
    let sent_here = holder.is_some_and(|h| h.purpose == pending.id);
    if sent_here && !has_flash {
        view.notice = Some(first_code_notice(&view.phone_masked));
    }
    // Otherwise the first view sends the first code (a host that cannot
    // send it after the password step, or a limit stopped it there): its
    // claim lands with the limits' counters, in one write.
    let first_sent = if sent_here {
        None
    } else {
        let ip = st.host.client_ip(&req);
        let settings = st.service.settings(&st.host).await?;
        let first_actor = Actor {
            initial: true,
            ..actor(&pending, &ip)
        };
        st.service
            .send_first_code(&st.host, &settings, &first_actor, &stored)
            .await?
    };
    let first = first_sent.is_some();
    if let Some(outcome) = first_sent {
        status = describe(
            &st,
            &pending,
            &stored,
            Channel::Sms,
            true,
            outcome,
            &mut view,
        )
        .await?;
        if status == StatusCode::OK && view.error.is_none() {
            view.notice = Some(first_code_notice(&view.phone_masked));
        }
    }
    let just_sent = first && status == StatusCode::OK && view.error.is_none();
    // Whether a flash waits was read with the phone: most views have none.
    if has_flash && show_flash(&st, &req, &mut view).await? {
        status = StatusCode::SERVICE_UNAVAILABLE;
    }
    // A code this view sent started the resend cooldown: its length is
    // known without reading it back; otherwise it was read with the phone.
    view.resend_wait = if just_sent {
        limits::SEND_COOLDOWN_SECS
    } else {
        resend_wait
    };
    view.remember = remember::offer(&st.host, pending.account.role).await?;
    let mut page = render(&st, &req, status, "verify", &view).await?;
    remember::forget_refused_cookie(&st.host, &req, account_id, &mut page);
    Ok(page)
}

/// Puts what the last POST said (kept across its redirect) on the page;
/// true when it says the gateway could not be reached (the code page then
/// answers 503).
async fn show_flash(st: &State, req: &HttpRequest, view: &mut PageView) -> Result<bool, PageError> {
    let Some(flash) = flash::take(&st.host, req).await? else {
        return Ok(false);
    };
    let unavailable = flash.kind == flash::Kind::Unavailable;
    flash.show(&mut view.notice, &mut view.error);
    Ok(unavailable)
}

/// Where a sign-in that ended without a session (cancelled, too many
/// wrong codes, already completed) says so and what happens next.
async fn ended_page(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let interface = interface_of(&req);
    let mut view = PageView::new(&st, interface);
    show_flash(&st, &req, &mut view).await?;
    if view.notice.is_none() && view.error.is_none() {
        view.notice = Some("This sign-in has ended.".to_string());
    }
    view.signed_in = st
        .host
        .current_account(&req)
        .await
        .is_some_and(|account| account.role.interface() == interface);
    view.home_path = match interface {
        Interface::Admin => "/admin",
        Interface::Customer => "/account",
    };
    render(&st, &req, StatusCode::OK, "ended", &view).await
}

/// Ends the page's POST on the "you are not signed in" page, saying why.
async fn to_ended(st: &State, req: &HttpRequest, flash: Flash) -> Result<HttpResponse, PageError> {
    redirect_with(&st.host, req, &ended_path(interface_of(req)), flash).await
}

/// The code page's form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeForm {
    code: String,
    remember_device: RememberDevice,
}

async fn verify_submit(
    st: Data,
    req: HttpRequest,
    Form(form): Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let actor = actor(&pending, &ip);
    let store::PhoneAndFactors {
        stored,
        has_codes,
        holder,
        ..
    } = stored_phone(&st, &req, &pending).await?;
    // Count the attempt on the pending login and on the account before
    // anything is checked, in one write.
    let (counted, gate) = verify::count_attempts(&st.host, &pending, &ip).await?;
    let left = attempts_left(&st.host, &req, &pending, &ip, counted).await?;
    let settings = st.service.settings(&st.host).await?;
    let code = OtpCode::parse_typed(&form.code, settings.code_lengths());
    let (outcome, on_success) = st
        .service
        .check_code_gated(
            &st.host,
            &settings,
            &actor,
            &stored,
            code.as_ref(),
            gate,
            crate::two_factor::state::KnownHolder::Read(holder),
        )
        .await?;
    let here = policy::verify_path(pending.interface);
    let flash = match outcome {
        Checked::Valid { .. } => {
            let ev = AuditEvent::new("verify", "success")
                .account(&pending.account)
                .interface(pending.interface)
                .ip(&ip);
            let (id, account_id) = (pending.id.clone(), pending.account.id);
            let host_does = st.host.completion_takes_pending_login();
            // Exactly one of concurrent correct submissions wins; its claim,
            // the code's own writes and the audit entry land with the new
            // session, in one write.
            let claim: crate::plugin::CompletionClaim = Box::new(move |conn| {
                let won =
                    store::claim_completion_unless_host_does(conn, host_does, &id, account_id)?;
                if won {
                    if let Some(write) = on_success {
                        write(conn)?;
                    }
                    audit::insert(conn, &ev)?;
                }
                Ok(won)
            });
            let done = match st
                .host
                .complete_pending_login_claimed(&req, &pending.id, claim)
                .await
            {
                Ok(Some(crate::plugin::Completion::SignedIn(resp))) => resp,
                // The password step the admin required comes next: nothing in between.
                Ok(Some(next)) => return Ok(next.into_response()),
                Ok(None) => {
                    let done = Flash::error("This sign-in was already completed.");
                    return to_ended(&st, &req, done).await;
                }
                Err(
                    crate::plugin::HostError::PendingLoginGone | crate::plugin::HostError::Refused,
                ) => {
                    return Err(PageError::SeeOther(
                        st.host.login_path(pending.interface).into(),
                    ))
                }
                Err(e) => return Err(PageError::internal(&e)),
            };
            let done =
                remember::after_code(&st.host, &req, &pending, form.remember_device, done).await;
            // An account with recovery codes (read with the phone) has
            // finished SMS set-up: straight on.
            if has_codes {
                return Ok(done);
            }
            return Ok(first_codes_or(&st, &pending, &ip, done).await);
        }
        Checked::Wrong => {
            let wrong = wrong_code::after_wrong_code(&st.host, &pending, &ip, left).await?;
            if let WrongCode::Cancelled { .. } = wrong {
                return to_ended(&st, &req, Flash::error(wrong.message())).await;
            }
            Flash::error(wrong.message())
        }
        Checked::Locked => {
            let why = wrong_code::cancelled(&st.host, &pending, &ip, false).await?;
            return to_ended(&st, &req, Flash::error(why.message())).await;
        }
        Checked::CodeEnded | Checked::TooManyTriesAtGateway => {
            Flash::error(verify::ended_message(&outcome))
        }
        Checked::NoCodeSent => Flash::error(
            "No code has been sent yet for this sign-in. Use “Resend SMS with code” to get one.",
        ),
        Checked::GatewayFailed => Flash::error(gateway_message(false)),
    };
    redirect_with(&st.host, &req, here, flash).await
}

/// The end of SMS set-up: the first sign-in with a texted code goes on to
/// ten new recovery codes (when the account has none yet).
async fn first_codes_or(
    st: &State,
    pending: &PendingLogin,
    ip: &str,
    done: HttpResponse,
) -> HttpResponse {
    let (resp, made) =
        after::to_first_codes_or(&st.host, &pending.account, pending.interface, done).await;
    if made {
        audit::record(
            st.host.db(),
            AuditEvent::new("recovery_codes", "generated")
                .account(&pending.account)
                .interface(pending.interface)
                .ip(ip)
                .detail("first sign-in with a text message code"),
        )
        .await;
    }
    resp
}

/// Which page a send button was on: the SMS code page ("Resend", "Call
/// me") or the app page ("Send me an SMS instead").
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum SentFrom {
    #[default]
    Sms,
    App,
}

/// "Resend SMS with code", "Call me instead" and "Send me an SMS instead":
/// which button was pressed, on which page.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SendForm {
    via: Option<Channel>,
    from: SentFrom,
}

/// Sends a code, then redirects: to the SMS code page when one went out
/// (or from it), back to the app page when "Send me an SMS instead" could
/// not send one, with what happened kept for that page.
async fn send(
    st: Data,
    req: HttpRequest,
    Form(form): Form<SendForm>,
) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    let channel = form.via.unwrap_or(Channel::Sms);
    let sms_page = policy::verify_path(pending.interface);
    let back = match form.from {
        SentFrom::Sms => sms_page,
        SentFrom::App => crate::two_factor::app::sign_in::app_path(pending.interface),
    };
    let Some(stored) = store::phone_of(st.host.db(), pending.account.id).await? else {
        let none = "There is no phone number on this account, so no code can be sent. Use your authenticator app or a recovery code.";
        return redirect_with(&st.host, &req, back, Flash::error(none)).await;
    };
    let ip = st.host.client_ip(&req);
    let mut view = PageView::new(&st, pending.interface);
    send_and_describe(&st, &pending, &ip, &stored, channel, &mut view).await?;
    let (to, flash) = match (view.error, view.notice) {
        (Some(error), _) => (back, Flash::error(error)),
        (None, notice) => (sms_page, Flash::notice(notice.unwrap_or_default())),
    };
    redirect_with(&st.host, &req, to, flash).await
}

/// Cancels the sign-in and says what that means for the account.
async fn cancel(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let mut said = "You are not signed in. Your account has not changed; sign in again whenever you are ready.";
    if let Some(pending) = st.host.try_pending_login(&req).await? {
        let id = pending.account.id;
        // A phone waiting to be confirmed (registration, or entered by an
        // admin) stays on the account, and the next sign-in texts a code
        // to confirm it.
        let stored = store::phone_of(st.host.db(), id).await?;
        if let Some(stored) = &stored {
            if after::confirms_phone(&st.host, stored).await? {
                said = "You are not signed in. Your account is kept, with its phone number not yet confirmed: the next time you sign in, we will text a code to confirm it.";
            }
        }
        st.host.cancel_pending_login(&pending.id).await?;
        // Its code is refused from now on, at the gateway too.
        st.service
            .cancel_code(&st.host, pending.account.id, &pending.id)
            .await;
        let ip = st.host.client_ip(&req);
        let ev = AuditEvent::new("challenge", "cancelled")
            .account(&pending.account)
            .interface(pending.interface)
            .ip(&ip);
        audit::record(st.host.db(), ev).await;
    }
    to_ended(&st, &req, Flash::notice(said)).await
}

async fn phone_page(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    // A sign-in held for an authenticator app cannot add a phone here (that
    // would let a password alone choose where a code goes).
    if let Some(r) = crate::two_factor::app::sign_in::refuse_phone_entry(&st.host, &pending).await {
        return Ok(r);
    }
    if store::phone_of(st.host.db(), pending.account.id)
        .await?
        .is_some()
    {
        return Err(PageError::SeeOther(
            policy::verify_path(pending.interface).into(),
        ));
    }
    let mut view = PageView::new(&st, pending.interface);
    // The store's country comes chosen; a number typed with its own
    // country code wins anyway.
    let addon = st.host.addon_settings(ADDON_ID).await?;
    let store_country = addon.text(crate::two_factor::sms::profile::STORE_COUNTRY);
    view.country_options = countries::options_html(countries::store_country(store_country));
    render(&st, &req, StatusCode::OK, "phone", &view).await
}

/// The phone step of a first sign-in: country code and number.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PhoneForm {
    tfa_country: String,
    tfa_phone: String,
}

async fn phone_submit(
    st: Data,
    req: HttpRequest,
    Form(form): Form<PhoneForm>,
) -> Result<HttpResponse, PageError> {
    let pending = pending_for(&st, &req).await?;
    // A sign-in held for an authenticator app cannot add a phone here (that
    // would let a password alone choose where a code goes).
    if let Some(r) = crate::two_factor::app::sign_in::refuse_phone_entry(&st.host, &pending).await {
        return Ok(r);
    }
    // Only a first phone can be set here; changing one needs the profile page.
    if store::phone_of(st.host.db(), pending.account.id)
        .await?
        .is_some()
    {
        return Err(PageError::SeeOther(
            policy::verify_path(pending.interface).into(),
        ));
    }
    let (country, number) = (form.tfa_country.trim(), form.tfa_phone.trim());
    match PhoneNumber::parse(country, number) {
        Ok(phone) => {
            let ip = st.host.client_ip(&req);
            let account_id = pending.account.id;
            let ev = AuditEvent::new("phone_change", "saved")
                .account(&pending.account)
                .interface(pending.interface)
                .ip(&ip)
                .detail(format!(
                    "phone ending {} entered at sign-in",
                    phone.last_two()
                ));
            let saved = st
                .host
                .db()
                .transaction(move |conn| {
                    if store::load_phone(conn, account_id)?.is_none() {
                        store::save_phone(conn, account_id, &phone)?;
                        audit::insert(conn, &ev)?;
                    }
                    Ok(())
                })
                .await;
            match saved {
                Ok(()) => Ok(see_other(policy::verify_path(pending.interface))),
                Err(e) => Err(PageError::internal(&e)),
            }
        }
        Err(e) => {
            let mut view = PageView::new(&st, pending.interface);
            view.country_options = countries::options_html(country);
            view.phone = number.chars().take(40).collect();
            match e {
                PhoneError::UnknownCountry => view.country_error = Some(e.to_string()),
                _ => view.phone_error = Some(e.to_string()),
            }
            render(&st, &req, StatusCode::UNPROCESSABLE_ENTITY, "phone", &view).await
        }
    }
}

/// "Send a code to my current phone" on `/account` (a `formaction` button
/// inside the profile form). The outcome is shown by the profile fields.
async fn account_send_code(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let Some(account) = st.host.current_account(&req).await else {
        return Err(PageError::SeeOther(
            st.host.login_path(Interface::Customer).into(),
        ));
    };
    let back = "/account";
    let settings = st.service.settings(&st.host).await?;
    let stored = match store::phone_of(st.host.db(), account.id).await? {
        Some(s) if settings.active_for(account.role) => s,
        _ => return Err(PageError::SeeOther(back.into())),
    };
    let ip = st.host.client_ip(&req);
    let actor = Actor {
        account: &account,
        interface: Interface::Customer,
        ip: &ip,
        purpose: ACCOUNT_PAGE_PURPOSE,
        initial: false,
        via_api: false,
    };
    let notice = match st
        .service
        .send_code(&st.host, &settings, &actor, &stored, Channel::Sms)
        .await?
    {
        SendOutcome::Sent => format!(
            "A code was sent to your current phone ({}) at {}.",
            stored.phone.masked(),
            format_time(crate::db::now())
        ),
        SendOutcome::Wait { seconds, reason } => wait_message(seconds, reason),
        SendOutcome::Failed => gateway_message(true).to_string(),
        SendOutcome::Refused(why) => why.message().to_string(),
    };
    let account_id = account.id;
    if let Err(e) = st
        .host
        .db()
        .transaction(move |conn| crate::two_factor::state::set_notice(conn, account_id, &notice))
        .await
    {
        return Err(e.into());
    }
    Ok(see_other(back))
}
