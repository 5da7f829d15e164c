//! The account's Security page: `/account/security` (customer skin) and
//! `/admin/account/security` (admin skin, admins and vendors). Authenticator
//! app set-up with a server-rendered QR code, recovery codes (view status,
//! generate new), disabling two-factor authentication, and personal access
//! tokens for the API. Every change is a POST with the CSRF token and,
//! except revoking a token, the current password.
//!
//! Files by job: this one (the page, its view and the checks every form
//! shares), `app_setup`, `recovery_codes`, `disable`, `access_tokens`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::plugin::{Account, HostHandle, Interface};
use crate::two_factor::pages::{interface_of, skin, DoneForm, Form, PageError};

use crate::two_factor::admin::status::format_time;
use crate::two_factor::api::tokens::{self, Kind, PatRow, Scope};
use crate::two_factor::app::qr;
use crate::two_factor::app::totp;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::factors::{self, Factors};
use crate::two_factor::gateways::Channel;
use crate::two_factor::recovery::codes as recovery;
use crate::two_factor::sign_in::verify::{self, Checked};
use crate::two_factor::sms::service::{gateway_message, wait_message, Actor, SendOutcome, Service};
// The passkey forms of this page live with their factor.
use crate::two_factor::passkey::setup as passkey_setup;
use crate::two_factor::passkey::RelyingParty;
use crate::two_factor::store;

pub const CUSTOMER_BASE: &str = "/account/security";
pub const ADMIN_BASE: &str = "/admin/account/security";
/// SMS codes sent from the Security page are good only there.
pub const SECURITY_PAGE_PURPOSE: &str = "security-page";

/// Who asks for or enters a code on the Security page (to disable 2FA,
/// or remove a factor): the signed-in account, from this request.
pub fn security_page_actor<'a>(account: &'a Account, req: &HttpRequest, ip: &'a str) -> Actor<'a> {
    Actor {
        account,
        interface: interface_of(req),
        ip,
        purpose: SECURITY_PAGE_PURPOSE,
        initial: false,
        via_api: false,
    }
}

pub struct State {
    pub service: Arc<Service>,
    pub host: HostHandle,
    pub passkeys: Arc<RelyingParty>,
}

pub(crate) type Data = web::Data<State>;

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
    for (base, interface) in [
        (CUSTOMER_BASE, Interface::Customer),
        (ADMIN_BASE, Interface::Admin),
    ] {
        let scope = web::scope(base)
            .app_data(data.clone())
            .app_data(skin(interface));
        cfg.service(
            passkey_setup::routes(scope)
                .route("", web::get().to(overview))
                .route("/app/start", web::post().to(app_setup::app_start))
                .route("/app/confirm", web::post().to(app_setup::app_confirm))
                .route(
                    "/recovery/view",
                    web::post().to(recovery_codes::recovery_view),
                )
                .route(
                    "/recovery/regenerate",
                    web::get().to(recovery_codes::recovery_regenerate_page),
                )
                .route(
                    "/recovery/regenerate",
                    web::post().to(recovery_codes::recovery_regenerate),
                )
                .route("/disable", web::post().to(disable::disable))
                .route(
                    "/disable/send-sms",
                    web::post().to(disable::disable_send_sms),
                )
                .route("/tokens", web::post().to(access_tokens::token_create))
                .route(
                    "/tokens/{id}/revoke",
                    web::post().to(access_tokens::token_revoke),
                ),
        );
    }
}

pub fn base_of(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => ADMIN_BASE,
        Interface::Customer => CUSTOMER_BASE,
    }
}

#[derive(Serialize, Default)]
pub(crate) struct View {
    pub(crate) base: &'static str,
    /// overview | setup | codes | recovery | regenerate | token
    pub(crate) mode: &'static str,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) factors: Factors,
    pub(crate) app_since: Option<String>,
    pub(crate) codes_generated: Option<String>,
    pub(crate) low_codes: bool,
    pub(crate) tokens: Vec<TokenLine>,
    /// Set-up.
    pub(crate) qr_svg: Option<String>,
    pub(crate) secret: Option<String>,
    pub(crate) otpauth: Option<String>,
    /// New recovery codes, with the form Done submits.
    pub(crate) codes: Vec<String>,
    pub(crate) codes_text: String,
    pub(crate) done: Option<DoneForm>,
    /// "View recovery codes": every code, used ones marked.
    pub(crate) shown_codes: Vec<recovery::ShownCode>,
    /// A new personal access token, shown once.
    pub(crate) new_token: Option<String>,
    pub(crate) new_token_name: String,
    /// The account's passkeys and security keys.
    pub(crate) passkeys: Vec<passkey_setup::KeyView>,
    /// Adding a key: the browser's creation options (JSON).
    pub(crate) passkey_options: Option<String>,
    /// Adding a key: the name it will have.
    pub(crate) passkey_name: String,
    /// The key being renamed or removed.
    pub(crate) passkey: Option<passkey_setup::KeyView>,
    /// "Trusted devices" (`_trusted_devices.html`).
    pub(crate) trusted: crate::two_factor::trusted_device::pages::DevicesView,
    /// Why two-factor authentication cannot be turned off (the store
    /// requires it of this account): the disable form says so instead.
    pub(crate) disable_blocked: Option<&'static str>,
}

#[derive(Serialize)]
pub(crate) struct TokenLine {
    id: i64,
    name: String,
    scope: String,
    created: String,
    expires: String,
    last_used: String,
    expired: bool,
}

impl From<PatRow> for TokenLine {
    fn from(r: PatRow) -> TokenLine {
        TokenLine {
            id: r.id,
            name: r.name,
            scope: r.scope,
            created: format_time(r.created_at),
            expires: r
                .expires_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
            last_used: r
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
            expired: r.expired,
        }
    }
}

pub(crate) async fn account(st: &State, req: &HttpRequest) -> Result<Account, PageError> {
    let interface = interface_of(req);
    let account = st.host.require_account(req, interface).await?;
    // Admins and vendors use the admin skin's page; customers the store's.
    if interface == Interface::Customer && account.role != crate::plugin::Role::Customer {
        return Err(PageError::SeeOther(ADMIN_BASE.into()));
    }
    Ok(account)
}

/// Fills the overview parts of a view (factors, tokens).
async fn load_view(st: &State, account: &Account, view: &mut View) -> Result<(), PageError> {
    let id = account.id;
    let (f, pats) = st
        .host
        .db()
        .run(move |conn| Ok((factors::load(conn, id)?, tokens::list_pats(conn, id)?)))
        .await?;
    view.app_since = f.app_since.map(format_time);
    view.codes_generated = f.recovery.generated_at.map(format_time);
    view.low_codes = f.any() && f.recovery.total > 0 && f.recovery.remaining <= recovery::LOW;
    view.factors = f;
    view.tokens = pats.into_iter().map(TokenLine::from).collect();
    view.trusted = crate::two_factor::trusted_device::pages::view(&st.host, account).await?;
    view.disable_blocked = required_by_store(st, account)
        .await?
        .then_some(DISABLE_REQUIRED);
    view.passkeys = passkey_setup::key_views(st, id).await?;
    Ok(())
}

/// Whether the store requires a second factor of the account's role.
async fn required_by_store(st: &State, account: &Account) -> Result<bool, PageError> {
    let settings = st.host.addon_settings(crate::two_factor::ADDON_ID).await?;
    Ok(crate::two_factor::required::rule::Rule::for_role(&settings, account.role).required)
}

/// What the disable form says while the store requires a second factor.
pub(crate) const DISABLE_REQUIRED: &str = "This store requires two-factor authentication for your account, so it cannot be turned off. You can set up an authenticator app or change your phone number instead.";

/// The Security page with a notice, for actions that live in other
/// folders and end on this page (forgetting trusted devices).
pub(crate) async fn show_with_notice(
    st: &State,
    req: &HttpRequest,
    account: &Account,
    notice: String,
) -> Result<HttpResponse, PageError> {
    page(st, req, account, StatusCode::OK, with_notice(notice)).await
}

async fn render(
    st: &State,
    req: &HttpRequest,
    status: StatusCode,
    view: &View,
) -> Result<HttpResponse, PageError> {
    let template = format!("two_factor/security_{}.html", interface_of(req).as_str());
    let ctx = tera::Context::from_serialize(view)?;
    let mut resp = st.host.render(req, status, &template, ctx).await;
    resp.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

pub(crate) async fn page(
    st: &State,
    req: &HttpRequest,
    account: &Account,
    status: StatusCode,
    mut view: View,
) -> Result<HttpResponse, PageError> {
    view.base = base_of(interface_of(req));
    if view.mode.is_empty() {
        view.mode = "overview";
    }
    if view.mode == "codes" {
        view.done = Some(DoneForm::to(view.base));
    }
    load_view(st, account, &mut view).await?;
    render(st, req, status, &view).await
}

pub(crate) fn with_error(message: impl Into<String>) -> View {
    View {
        error: Some(message.into()),
        ..View::default()
    }
}

pub(crate) fn with_notice(message: impl Into<String>) -> View {
    View {
        notice: Some(message.into()),
        ..View::default()
    }
}

pub(crate) const WRONG_PASSWORD: &str =
    "That password is not right, or too many attempts were made. Please try again.";

/// A form that needs only the current password.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    password: String,
}

/// A form that needs the current password and a code (a current app or
/// SMS code, or a recovery code).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct PasswordAndCodeForm {
    pub password: String,
    pub code: String,
}

/// Checks the current password, counted against the account's limit.
async fn password_ok(st: &State, account: &Account, password: &str) -> Result<bool, PageError> {
    Ok(verify::password(&st.host, account.id, password).await?)
}

/// Checks the current password: None when it is right, else the Security
/// page saying it is wrong (401), after auditing `on_wrong` when given.
pub(crate) async fn require_password(
    st: &State,
    req: &HttpRequest,
    account: &Account,
    password: &str,
    on_wrong: Option<AuditEvent>,
) -> Result<Option<HttpResponse>, PageError> {
    if password_ok(st, account, password).await? {
        return Ok(None);
    }
    if let Some(ev) = on_wrong {
        audit::record(st.host.db(), ev).await;
    }
    let wrong = page(
        st,
        req,
        account,
        StatusCode::UNAUTHORIZED,
        with_error(WRONG_PASSWORD),
    )
    .await?;
    Ok(Some(wrong))
}

pub(crate) fn event(
    account: &Account,
    req: &HttpRequest,
    ip: &str,
    name: &'static str,
    outcome: &'static str,
) -> AuditEvent {
    AuditEvent::new(name, outcome)
        .account(account)
        .interface(interface_of(req))
        .ip(ip)
}

#[derive(serde::Deserialize)]
struct OverviewQuery {
    own_reset: Option<String>,
}

async fn overview(
    st: Data,
    req: HttpRequest,
    q: Option<web::Query<OverviewQuery>>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    // Sent here by the admin reset tool, which does not reset one's own.
    let view = if q.is_some_and(|q| q.own_reset.is_some()) {
        with_notice("To turn off your own two-factor authentication, use “Disable two-factor authentication” below: it asks for your password and a current code. The reset on the user page is for other people's accounts.")
    } else {
        View::default()
    };
    page(&st, &req, &account, StatusCode::OK, view).await
}

/// A link to the Security page (with a recovery-code warning) on the
/// user's own profile: `/account`, or their own `/admin/users/{id}`.
/// `reads` are the account's (`factors::profile_of`).
pub async fn profile_link(
    host: &HostHandle,
    form: &crate::plugin::ProfileContext,
    reads: Option<&factors::ProfileReads>,
) -> Result<String, crate::plugin::AddonError> {
    use crate::plugin::ProfileForm;
    let (Some(account), Some(actor), Some(reads)) = (&form.account, &form.actor, reads) else {
        return Ok(String::new());
    };
    if account.id != actor.id || form.form == ProfileForm::Registration {
        return Ok(String::new());
    }
    let mut ctx = tera::Context::new();
    ctx.insert("factors", &reads.factors);
    ctx.insert("security_path", base_of(account.role.interface()));
    host.render_fragment("two_factor/security_link.html", &ctx)
}

mod access_tokens;
mod app_setup;
mod disable;
pub(crate) mod recovery_codes;

#[cfg(test)]
mod template_tests {
    //! The Security page, the app sign-in step and the fragments render in
    //! both skins with the variables the handlers give them.

    use super::app_setup::setup_view;
    use super::recovery_codes::codes_view;
    use super::*;

    fn tera() -> tera::Tera {
        crate::host::templates::load(None, crate::two_factor::templates()).expect("templates parse")
    }

    fn ctx_of(v: &impl Serialize) -> tera::Context {
        let mut ctx = tera::Context::from_serialize(v).unwrap();
        ctx.insert("csrf_token", "tok");
        ctx.insert("store_name", "Shop");
        ctx
    }

    #[test]
    fn security_page_modes_render_in_both_skins() {
        let tera = tera();
        let account = Account {
            id: 1,
            email: "a@example.com".into(),
            name: "A".into(),
            role: crate::plugin::Role::Customer,
            credential_generation: 0,
        };
        let secret = totp::generate_secret();
        for skin in ["customer", "admin"] {
            let mut views = vec![
                View {
                    error: Some("<b>bad</b>".into()),
                    tokens: vec![TokenLine {
                        id: 3,
                        name: "ci <x>".into(),
                        scope: "read".into(),
                        created: "c".into(),
                        expires: "never".into(),
                        last_used: "never".into(),
                        expired: false,
                    }],
                    ..View::default()
                },
                setup_view(&account, &secret),
                codes_view(vec!["abcd-efgh-jk01".into(); 10], "n".into()),
                View {
                    mode: "token",
                    new_token: Some("sfp_x".into()),
                    ..View::default()
                },
                View {
                    mode: "recovery",
                    ..View::default()
                },
                View {
                    mode: "recovery",
                    shown_codes: vec![
                        recovery::ShownCode {
                            code: "used-used-used".into(),
                            used: true,
                        },
                        recovery::ShownCode {
                            code: "abcd-efgh-jk01".into(),
                            used: false,
                        },
                    ],
                    ..View::default()
                },
            ];
            views[0].factors.app = true;
            views[0].factors.recovery.total = 10;
            views[0].factors.recovery.remaining = 1;
            views[0].low_codes = true;
            for mut v in views {
                v.base = CUSTOMER_BASE;
                if v.mode.is_empty() {
                    v.mode = "overview";
                }
                if v.mode == "codes" {
                    v.done = Some(DoneForm::to(CUSTOMER_BASE));
                }
                let html = tera
                    .render(&format!("two_factor/security_{skin}.html"), &ctx_of(&v))
                    .unwrap_or_else(|e| panic!("{} {skin}: {e:?}", v.mode));
                assert!(
                    html.contains(r#"name="csrf_token" value="tok""#)
                        || ["token", "codes"].contains(&v.mode)
                );
                match v.mode {
                    "overview" => {
                        assert!(html.contains("&lt;b&gt;bad"));
                        assert!(html.contains("ci &lt;x&gt;"));
                        assert!(html.contains("Disable two-factor authentication"));
                        assert!(html.contains("1 recovery code left"), "{html}");
                    }
                    "setup" => {
                        assert!(html.contains("<svg"));
                        assert!(
                            html.contains(r#"inputmode="numeric" autocomplete="one-time-code""#)
                        );
                        assert!(html.contains(r#"autocomplete="current-password""#));
                    }
                    "codes" => {
                        assert_eq!(html.matches("<li><code>").count(), 10);
                        assert!(html.contains("I have saved these codes"));
                        // Escaped like any value: the browser reads "&#x2F;" as "/".
                        assert!(html.contains(r#"action="&#x2F;account&#x2F;security""#));
                    }
                    "recovery" if !v.shown_codes.is_empty() => {
                        assert!(html.contains("<del><code>used-used-used</code></del>"));
                        assert!(html.contains("<li><code>abcd-efgh-jk01</code></li>"));
                    }
                    "recovery" => assert!(html.contains("You have no recovery codes")),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn passkey_modes_and_the_key_step_render_in_both_skins() {
        let tera = tera();
        let key = passkey_setup::KeyView {
            id: 7,
            name: "Blue <key>".into(),
            added: "a".into(),
            last_used: "never".into(),
        };
        for skin in ["customer", "admin"] {
            let mut overview = View {
                passkeys: vec![key.clone()],
                ..View::default()
            };
            overview.factors.passkeys = 1;
            let views = [
                ("overview", overview),
                (
                    "passkey_add",
                    View {
                        passkey_options: Some(r#"{"publicKey":{"challenge":"x"}}"#.into()),
                        passkey_name: "Laptop".into(),
                        ..View::default()
                    },
                ),
                (
                    "passkey_manage",
                    View {
                        passkey: Some(key.clone()),
                        ..View::default()
                    },
                ),
            ];
            for (mode, mut v) in views {
                v.mode = mode;
                v.base = CUSTOMER_BASE;
                let html = tera
                    .render(&format!("two_factor/security_{skin}.html"), &ctx_of(&v))
                    .unwrap_or_else(|e| panic!("{mode} {skin}: {e:?}"));
                assert!(!html.contains("style=\""), "no inline styles");
                match mode {
                    "overview" => {
                        assert!(html.contains("<td>Blue &lt;key&gt;</td>"), "{html}");
                        assert!(html.contains("Passkeys and security keys: <strong>1</strong>"));
                        assert!(html.contains(r#"action="/account/security/passkeys/start""#));
                        assert!(html.contains(r#"href="/account/security/passkeys/7""#));
                    }
                    "passkey_add" => {
                        // The options survive HTML escaping as a data attribute.
                        assert!(html.contains(
                            r#"data-options="{&quot;publicKey&quot;:{&quot;challenge&quot;:&quot;x&quot;}}""#
                        ));
                        assert!(html.contains(r#"<script src="/static/passkey.js" defer>"#));
                        assert!(html.contains("Add “Laptop”"));
                    }
                    _ => {
                        assert!(html.contains(r#"action="/account/security/passkeys/7/rename""#));
                        assert!(html.contains(r#"action="/account/security/passkeys/7/remove""#));
                        assert!(html.contains(r#"autocomplete="current-password""#));
                    }
                }
            }
            let mut ctx = tera::Context::new();
            ctx.insert("csrf_token", "tok");
            ctx.insert("store_name", "Shop");
            ctx.insert("base", "/two-factor");
            ctx.insert("path", "/two-factor/passkey");
            ctx.insert("app_path", "/two-factor/app");
            ctx.insert("has_app", &true);
            ctx.insert("has_phone", &true);
            ctx.insert("resend_wait", &0);
            ctx.insert("options", "{}");
            ctx.insert("error", "<i>x</i>");
            let html = tera
                .render(&format!("two_factor/passkey_verify_{skin}.html"), &ctx)
                .unwrap();
            assert!(html.contains("&lt;i&gt;x"));
            assert!(html.contains(r#"id="passkey-use""#));
            assert!(html.contains("Use my authenticator app"));
            assert!(html.contains("Use a recovery code"));
            assert!(html.contains("Send me an SMS instead"));
        }
    }

    #[test]
    fn app_step_and_fragments_render() {
        let tera = tera();
        for skin in ["customer", "admin"] {
            for mode in ["app", "recovery"] {
                let mut ctx = tera::Context::new();
                ctx.insert("csrf_token", "tok");
                ctx.insert("store_name", "Shop");
                ctx.insert("base", "/two-factor");
                ctx.insert("path", "/two-factor/app");
                ctx.insert("mode", mode);
                ctx.insert("has_app", &true);
                ctx.insert("has_phone", &true);
                ctx.insert("error", "<i>x</i>");
                ctx.insert("resend_wait", &0);
                let html = tera
                    .render(&format!("two_factor/app_verify_{skin}.html"), &ctx)
                    .unwrap();
                assert!(html.contains("&lt;i&gt;x"));
                assert!(html.contains("Send me an SMS instead"));
                if mode == "app" {
                    assert!(html.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
                    assert!(html.contains("Use a recovery code"));
                }
            }
            let mut ctx = tera::Context::new();
            ctx.insert("store_name", "Shop");
            ctx.insert("notice", "left");
            ctx.insert("continue_to", "/admin");
            tera.render(&format!("two_factor/recovery_used_{skin}.html"), &ctx)
                .unwrap();
            ctx.insert("codes", &vec!["abcd-efgh-jk01"; 10]);
            ctx.insert("codes_text", "t");
            ctx.insert("done", &DoneForm::to("/checkout?step=pay"));
            ctx.insert("security_path", "/account/security");
            let html = tera
                .render(&format!("two_factor/recovery_codes_{skin}.html"), &ctx)
                .unwrap();
            assert_eq!(html.matches("<li><code>").count(), 10);
            assert!(html.contains(r#"action="&#x2F;checkout""#));
            assert!(html.contains(r#"<input type="hidden" name="step" value="pay">"#));
        }
        let mut ctx = tera::Context::new();
        ctx.insert("factors", &Factors::default());
        ctx.insert("app_since", &None::<String>);
        ctx.insert("reset_path", "/admin/two-factor/users/1/reset");
        ctx.insert("security_path", "/account/security");
        tera.render("two_factor/admin_user_reset.html", &ctx)
            .unwrap();
        let html = tera.render("two_factor/security_link.html", &ctx).unwrap();
        assert!(html.contains("/account/security"));
    }
}
