//! The Two Factor Authentication addon: after the password, a one-time code
//! sent by SMS or voice call through Twilio Verify (or the legacy
//! Authy-compatible API), an authenticator app, or a recovery code. Uses the host
//! only through `crate::plugin`.
//!
//! Installing it in an actix-web storefront that implements `HostServices`:
//!
//! ```text
//! let addon = TwoFactorAddon::new(TwoFactorConfig {
//!     gateway_url: "https://api.authy.com".into(),          // production mode
//!     sandbox_url: format!("{base_url}/sandbox/authy"),     // test mode (absolute)
//!     verify_url: "https://verify.twilio.com".into(),       // Twilio Verify, production
//!     verify_sandbox_url: format!("{base_url}/sandbox/twilio"),
//!     timeout: Duration::from_millis(5000),
//!     sms_hourly_ceiling: 300,
//! });
//! let registry = AddonRegistry::new(vec![(manifest_from_plugin_toml, Arc::new(addon))]);
//! // in the App factory, for each enabled-or-not installed addon:
//! app.configure(|cfg| installed.addon.configure_routes(cfg, host_handle.clone()))
//! ```
//!
//! Routes (all under the manifest's prefixes, 404 while the addon is off):
//! `GET/POST {/two-factor,/admin/two-factor}/verify`, `POST …/send`
//! (`via=sms|call`), `POST …/cancel`, `GET/POST …/phone`,
//! `POST /two-factor/account/send-code`, `GET /admin/two-factor/audit`, and
//! the sandbox outbox page `GET /admin/two-factor/sandbox`.
//!
//! The folders show the architecture, one per factor with its logic and
//! its pages:
//! - `sign_in/`: the orchestrator (which factor a sign-in needs, checking a
//!   code of any kind, the pages after a completed sign-in);
//! - `sms/`: text-message and voice codes, the code page, phone entry and
//!   the profile's phone fields;
//! - `app/`: authenticator apps (TOTP, QR code, the app step);
//! - `recovery/`: one-time recovery codes;
//! - `security/`: the account's Security page;
//! - `api/`: the JSON API;
//! - `admin/`: reset, "confirm it is you", the settings status box;
//! - `gateways/`: the Authy-compatible client.
//!
//! Shared: `settings` and `config` (typed settings), `otp_code` (the code
//! type), `limits` (counters and locks in the database), `store` (phones
//! and challenges), `state` (small typed state between requests),
//! `factors` (which factors an account has), `audit` (the audit trail),
//! `pages` (the page error type, typed form reading, shared responses),
//! `schema` and `migrations/` (the addon's tables), `templates/` (its
//! pages). Each page's form is a struct beside its handler; the API's
//! bodies are in `api/body.rs`.
//!
//! Public to integrators: `TwoFactorAddon`, `TwoFactorConfig`, the ids and
//! the manifest, and the few modules the CLI and tools name (`store`,
//! `schema`, `sms::phone`, `recovery::codes`, `gateways::authy`,
//! `admin::tools`); the rest is crate-private.

pub mod admin;
pub(crate) mod api;
pub(crate) mod app;
pub(crate) mod audit;
pub(crate) mod config;
pub(crate) mod factors;
pub mod gateways;
pub(crate) mod limits;
pub mod otp_code;
pub(crate) mod pages;
pub mod passkey;
pub mod recovery;
pub(crate) mod required;
pub mod schema;
pub(crate) mod security;
pub(crate) mod settings;
pub(crate) mod sign_in;
pub mod sms;
pub(crate) mod state;
pub mod store;
pub mod trusted_device;

#[cfg(test)]
mod db_tests;
#[cfg(test)]
mod property_tests;

use std::sync::Arc;

use actix_web::{web, HttpRequest};

use crate::plugin::{
    Account, Addon, AddonError, AdminActor, DashboardNotice, FieldErrors, FormValues, HostHandle,
    LoginAttempt, LoginDecision, ProfileContext, ProfileSave, UserBadge, UserFilter, UserSection,
};

pub use config::TwoFactorConfig;
use sms::service::Service;

pub const ADDON_ID: &str = "two_factor";

/// The addon's tables (`src/two_factor/migrations/`), run by the host
/// after its own.
pub const MIGRATIONS: crate::db::migrations::MigrationSet = crate::db::migrations::MigrationSet {
    owner: ADDON_ID,
    sqlite: diesel_migrations::embed_migrations!("src/two_factor/migrations/sqlite"),
    postgres: diesel_migrations::embed_migrations!("src/two_factor/migrations/postgres"),
};

/// The addon's manifest (`plugin.toml`), built into the binary.
pub const MANIFEST: &str = include_str!("../../plugin.toml");

/// The addon's templates as (name, source), named `two_factor/…`, with
/// the sandbox outbox page this addon mounts for the store admin.
pub fn templates() -> Vec<(String, String)> {
    let mut named = crate::plugin::embedded_templates(&TEMPLATES, "two_factor/");
    named.extend(crate::authy_sandbox::admin::templates());
    named
}

/// The addon's page templates, built into the binary and handed to the host
/// through `Addon::templates`. They extend the host skins' documented
/// blocks (`title`, `content`).
static TEMPLATES: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/src/two_factor/templates");

pub struct TwoFactorAddon {
    service: Arc<Service>,
    passkeys: Arc<passkey::RelyingParty>,
    /// Days audit events are kept (0: for ever); see `audit::sweep`.
    audit_retention_days: u32,
    sweep_started: std::sync::atomic::AtomicBool,
}

impl TwoFactorAddon {
    /// Panics when `config.public_url` is not a WebAuthn origin: the
    /// application checks it at start-up with `passkey::relying_party::
    /// parse_origin`, which says what is wrong.
    pub fn new(config: TwoFactorConfig) -> TwoFactorAddon {
        let passkeys =
            passkey::RelyingParty::new(&config.public_url).unwrap_or_else(|e| panic!("{e}"));
        TwoFactorAddon {
            service: Arc::new(Service::new(config)),
            passkeys: Arc::new(passkeys),
            audit_retention_days: audit::DEFAULT_RETENTION_DAYS,
            sweep_started: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Keeps audit events `days` days (0: for ever) instead of
    /// `audit::DEFAULT_RETENTION_DAYS`.
    pub fn with_audit_retention_days(mut self, days: u32) -> TwoFactorAddon {
        self.audit_retention_days = days;
        self
    }
}

#[async_trait::async_trait(?Send)]
impl Addon for TwoFactorAddon {
    fn id(&self) -> &'static str {
        ADDON_ID
    }

    fn templates(&self) -> Vec<(String, String)> {
        templates()
    }

    fn migrations(&self) -> Option<&'static crate::db::migrations::MigrationSet> {
        Some(&MIGRATIONS)
    }

    fn configure_routes(&self, cfg: &mut web::ServiceConfig, host: HostHandle) {
        // Before `sms::pages`: its `/two-factor` resources come last.
        passkey::sign_in::configure(
            cfg,
            self.service.clone(),
            host.clone(),
            self.passkeys.clone(),
        );
        passkey::passwordless::configure(cfg, host.clone(), self.passkeys.clone());
        app::sign_in::configure(cfg, self.service.clone(), host.clone());
        sign_in::after::configure(cfg, host.clone());
        required::pages::configure(cfg, self.service.clone(), host.clone());
        admin::tools::configure(cfg, host.clone());
        admin::confirm_access::configure(cfg, self.service.clone(), host.clone());
        admin::audit_page::configure(cfg, host.clone());
        admin::audit_csv::configure(cfg, host.clone());
        // The audit retention sweep: one per addon instance, started by the
        // first worker that configures its routes.
        if !self
            .sweep_started
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            actix_web::rt::spawn(audit::sweep_forever(
                host.db().clone(),
                self.audit_retention_days,
            ));
        }
        admin::connection_test::configure(cfg, self.service.clone(), host.clone());
        // Before `security`: its Security page scope shares their prefix.
        trusted_device::pages::configure(
            cfg,
            self.service.clone(),
            host.clone(),
            self.passkeys.clone(),
        );
        security::configure(
            cfg,
            self.service.clone(),
            host.clone(),
            self.passkeys.clone(),
        );
        api::configure(
            cfg,
            self.service.clone(),
            host.clone(),
            self.passkeys.clone(),
        );
        sms::pages::configure(cfg, self.service.clone(), host.clone());
        sms::phone_change::configure(cfg, self.service.clone(), host.clone());
        // The sandbox's outbox page for the store admin (test mode codes),
        // gone in production mode.
        let db = host.db().clone();
        let policy = Arc::new(OutboxInTestMode {
            service: self.service.clone(),
            host: host.clone(),
        });
        crate::authy_sandbox::admin::configure_admin_when(cfg, host, db, policy);
    }

    async fn login_page(
        &self,
        host: &HostHandle,
        req: &HttpRequest,
        page: &crate::plugin::LoginPage,
    ) -> Result<Option<String>, AddonError> {
        passkey::passwordless::login_option(host, req, page).await
    }

    async fn after_password_verified(
        &self,
        host: &HostHandle,
        attempt: &LoginAttempt,
    ) -> Result<LoginDecision, AddonError> {
        let settings = self.service.settings(host).await?;
        let account_id = attempt.account.id;
        // A passkey, like an app, is the user's own choice: asked for
        // first, whatever the role's SMS setting; the key page offers the
        // other factors beside it.
        let factors::SecondFactors {
            app: has_app,
            phone,
            passkey: has_passkey,
        } = factors::second_factors(host.db(), account_id).await?;
        let has_phone = phone.is_some();
        if has_passkey {
            // A device this account trusted skips the key too.
            if trusted_device::remember::skips_code(host, attempt).await? {
                return Ok(LoginDecision::Continue);
            }
            return passkey::sign_in::challenge(host, attempt).await;
        }
        match sign_in::policy::requirement(&settings, attempt.account.role, has_app, has_phone) {
            sign_in::policy::Requirement::App => {
                // A device this account trusted skips the code.
                if trusted_device::remember::skips_code(host, attempt).await? {
                    return Ok(LoginDecision::Continue);
                }
                return app::sign_in::challenge(host, attempt).await;
            }
            sign_in::policy::Requirement::Unavailable => {
                tracing::error!(
                    "two-factor: the stored API key cannot be decrypted; restore the previous \
                     security.secret_key or enter the API key again on the addon's settings page"
                );
                return Err(AddonError::Refused(
                    sign_in::policy::UNAVAILABLE_MESSAGE.into(),
                ));
            }
            sign_in::policy::Requirement::Sms | sign_in::policy::Requirement::Nothing => {}
        }

        let decision = sign_in::policy::decide(
            &settings,
            attempt.account.role,
            attempt.interface,
            has_phone,
            attempt.password_just_changed,
        );
        if let LoginDecision::Challenge { redirect } = &decision {
            if has_phone && trusted_device::remember::skips_code(host, attempt).await? {
                return Ok(LoginDecision::Continue);
            }
            let detail = if has_phone {
                "code required"
            } else {
                "phone entry required"
            };
            let ev = audit::AuditEvent::new("challenge", "started")
                .account(&attempt.account)
                .interface(attempt.interface)
                .ip(&attempt.ip)
                .detail(format!("{detail}; {redirect}"));
            store::start_challenge(host, attempt.pending_id.clone(), ev).await?;
            // The first code is counted with the pending login and sent
            // once the host has kept it (`sms::first_code`).
            if let Some(stored) = phone {
                sms::first_code::send_with_pending_login(
                    &self.service,
                    host,
                    settings.clone(),
                    attempt,
                    stored,
                )
                .await?;
            }
        }
        if decision == LoginDecision::Continue && !has_app && !has_phone {
            // No second factor: the store may require one.
            return required::sign_in::at_sign_in(host, attempt).await;
        }
        Ok(decision)
    }

    async fn profile_fields(
        &self,
        host: &HostHandle,
        form: &ProfileContext,
        values: Option<&FormValues>,
        errors: &FieldErrors,
    ) -> Result<String, AddonError> {
        // One read for both fragments (the profile's phone, a new number,
        // its notice; the Security link's factors).
        let reads = match &form.account {
            Some(account) => Some(factors::profile_of(host.db(), account.id).await?),
            None => None,
        };
        let reads = reads.as_ref();
        let mut html =
            sms::profile::fields(&self.service, host, form, reads, values, errors).await?;
        html.push_str(&security::profile_link(host, form, reads).await?);
        Ok(html)
    }

    async fn validate_profile(
        &self,
        host: &HostHandle,
        form: &ProfileContext,
        values: &FormValues,
    ) -> Result<Option<ProfileSave>, FieldErrors> {
        sms::profile::validate(&self.service, host, form, values).await
    }

    async fn after_password_change(&self, host: &HostHandle, account: &Account) {
        // API sign-ins made with the old password end; personal access
        // tokens stay (they are revoked on their own, like GitHub's).
        api::password_changed(host, account).await;
        trusted_device::pages::forget_all(host, account, "password changed").await;
    }

    async fn settings_changed(&self, host: &HostHandle, changed: &[String], by: &AdminActor) {
        admin::changes::settings_changed(host, changed, by).await;
    }

    async fn enabled_changed(&self, host: &HostHandle, enabled: bool, by: &AdminActor) {
        admin::changes::enabled_changed(host, enabled, by).await;
    }

    async fn admin_user_section(
        &self,
        host: &HostHandle,
        req: &HttpRequest,
        account: &Account,
    ) -> Result<Option<UserSection>, AddonError> {
        admin::user_section::render(host, req, account)
            .await
            .map(Some)
    }

    async fn user_badges(
        &self,
        host: &HostHandle,
        account_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<UserBadge>>, AddonError> {
        let mut badges = admin::staff::badges(host, account_ids).await?;
        for (id, badge) in required::admin::badges(host, account_ids).await? {
            badges.entry(id).or_default().push(badge);
        }
        Ok(badges)
    }

    fn user_filters(&self) -> Vec<UserFilter> {
        let mut filters = admin::staff::filters();
        filters.extend(required::admin::filters());
        filters
    }

    async fn filter_users(
        &self,
        host: &HostHandle,
        key: &str,
    ) -> Result<Option<Vec<i64>>, AddonError> {
        match admin::staff::filter(host, key).await? {
            Some(ids) => Ok(Some(ids)),
            None => required::admin::filter(host, key).await,
        }
    }

    async fn dashboard_notices(
        &self,
        host: &HostHandle,
    ) -> Result<Vec<DashboardNotice>, AddonError> {
        let mut notices = admin::staff::dashboard_notices(host).await?;
        notices.extend(required::admin::dashboard_notices(host).await?);
        Ok(notices)
    }

    fn check_settings(
        &self,
        values: &std::collections::BTreeMap<String, String>,
        stored: &crate::plugin::AddonSettings,
    ) -> FieldErrors {
        let mut errors = settings::check_form(values, stored);
        errors.merge(trusted_device::period::check_settings(values));
        errors.merge(required::rule::check_settings(values));
        errors
    }

    async fn settings_status(&self, host: &HostHandle, req: &HttpRequest) -> Option<String> {
        Some(admin::status::render(&self.service, host, req).await)
    }
}

/// The sandbox outbox page is there in test mode only.
struct OutboxInTestMode {
    service: Arc<Service>,
    host: HostHandle,
}

#[async_trait::async_trait(?Send)]
impl crate::authy_sandbox::SandboxPolicy for OutboxInTestMode {
    async fn accepted_keys(&self) -> Vec<String> {
        Vec::new()
    }
    async fn is_available(&self) -> bool {
        self.service
            .settings(&self.host)
            .await
            .is_ok_and(|s| s.mode == settings::Mode::Test)
    }
}

#[cfg(test)]
mod template_tests {
    //! The addon's templates parse and render with the variables the pages give them.

    fn tera() -> tera::Tera {
        crate::host::templates::load(None, super::templates()).expect("templates parse")
    }

    fn skin_vars(ctx: &mut tera::Context) {
        ctx.insert("csrf_token", "tok");
        ctx.insert("store_name", "Shop");
        ctx.insert("skin", "customer");
    }

    #[test]
    fn pages_render_in_both_skins() {
        let tera = tera();
        for page in ["verify", "phone", "ended"] {
            for skin in ["customer", "admin"] {
                let mut ctx = tera::Context::new();
                skin_vars(&mut ctx);
                ctx.insert("base", "/two-factor");
                ctx.insert("login_path", "/login");
                ctx.insert("phone_masked", "+44 •••• ••1234");
                ctx.insert("error", "<b>bad</b>");
                ctx.insert(
                    "country_options",
                    &super::sms::countries::options_html("GB"),
                );
                ctx.insert("phone", "");
                ctx.insert("resend_wait", &0);
                let html = tera
                    .render(&format!("two_factor/{page}_{skin}.html"), &ctx)
                    .unwrap_or_else(|e| panic!("{page} {skin}: {e:?}"));
                assert!(html.contains("&lt;b&gt;bad"), "escaped error on {page}");
                if page == "verify" {
                    // The phone as every page shows it: masked, international.
                    assert!(html
                        .contains(r#"your phone <strong class="nowrap">+44 •••• ••1234</strong>"#));
                    assert!(html.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
                    assert!(html.contains("autofocus"));
                    assert!(
                        html.contains("Resend SMS with code") && html.contains("Call me instead")
                    );
                    assert!(html.contains(r#"name="csrf_token" value="tok""#));
                }
                if page == "phone" {
                    assert!(
                        html.contains(r#"<option value="GB" selected>United Kingdom"#),
                        "{html}"
                    );
                }
            }
        }
    }

    #[test]
    fn fragments_render() {
        let tera = tera();
        let mut ctx = tera::Context::new();
        ctx.insert("form", "account");
        ctx.insert(
            "country_options",
            &super::sms::countries::options_html("US"),
        );
        ctx.insert("phone", "(201) 555-0123");
        ctx.insert("stored_masked", "+1 •••-•••-0123");
        ctx.insert("whose", "own");
        ctx.insert("current_password", "typed <pw>");
        ctx.insert("change_masked", "+44 •••• ••3456");
        ctx.insert("new_phone_send_path", "/two-factor/account/new-phone/send");
        ctx.insert("needs_code", &true);
        ctx.insert("needs_password", &true);
        ctx.insert("send_code_path", "/two-factor/account/send-code");
        let mut errors = crate::plugin::FieldErrors::default();
        errors.add(
            "tfa_phone",
            "This is not a valid phone number for United States.",
        );
        ctx.insert("errors", &errors);
        let html = tera.render("two_factor/profile_fields.html", &ctx).unwrap();
        assert!(html.contains(r#"name="tfa_current_password""#));
        assert!(html.contains(r#"formaction="/two-factor/account/send-code""#));
        assert!(html.contains("not a valid phone number"));
        assert!(html.contains(r#"value="typed &lt;pw&gt;""#), "escaped");
        assert!(html.contains(r#"name="tfa_new_phone_code""#));
        assert!(html.contains("Confirm your new number +44 •••• ••3456"));

        let mut ctx = tera::Context::new();
        ctx.insert("production", &false);
        ctx.insert("base_url", "http://127.0.0.1/sandbox/authy");
        ctx.insert("has_key", &true);
        ctx.insert("customer_enabled", &true);
        ctx.insert("admin_enabled", &false);
        ctx.insert("gateway_ok", &false);
        ctx.insert("gateway_error", "the gateway answered HTTP 500");
        ctx.insert("verify", &false);
        ctx.insert("gateway_label", "Authy-compatible API (legacy)");
        ctx.insert("csrf_token", "tok");
        ctx.insert("test_path", "/admin/two-factor/gateway/test");
        let html = tera
            .render("two_factor/settings_status.html", &ctx)
            .unwrap();
        assert!(html.contains("not answering") && html.contains("HTTP 500"));
        assert!(html.contains("closed the Authy API to new customers"));
        assert!(html.contains(r#"name="csrf_token" value="tok""#));

        let mut ctx = tera::Context::new();
        skin_vars(&mut ctx);
        ctx.insert("rows", &Vec::<String>::new());
        ctx.insert("email", "a&b");
        ctx.insert("page", &1);
        let html = tera.render("two_factor/audit.html", &ctx).unwrap();
        assert!(html.contains("a&amp;b"));
    }
}
