//! The host's addon API. The host depends on this module; addons depend on
//! this module only. Nothing here knows any particular addon or host page.

pub mod admin_pages;
pub mod gate;
pub mod manifest;
pub mod registry;
pub mod settings_form;
pub mod types;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use async_trait::async_trait;

use crate::crypto::SecretKey;
pub use crate::db::migrations::MigrationSet;
use crate::db::{Db, DbConn, DbError};

pub use admin_pages::{AdminActor, BadgeTone, DashboardNotice, UserBadge, UserFilter, UserSection};
pub use manifest::{Manifest, SettingKind, SettingSpec};
pub use registry::{AddonRegistry, AddonSettings, InstalledAddon};
pub use types::*;

/// Saves an addon's profile fields inside the host's transaction, after the
/// host's own fields, so a profile form lands whole or not at all. The
/// second argument is the account id (new on registration).
pub type ProfileSave = Box<dyn FnOnce(&mut DbConn, i64) -> Result<(), DbError> + Send>;

/// What an addon can do. Every hook has a no-op default; the registry runs
/// the hooks of enabled addons in manifest order.
#[async_trait(?Send)]
pub trait Addon: Send + Sync + 'static {
    /// Must equal `id` in the addon's manifest.
    fn id(&self) -> &'static str;

    /// Extra Tera templates (name, source) for addons that do not ship files
    /// under `templates/`.
    fn templates(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The addon's own tables: migrations for both backends, run at
    /// start-up after the host's, in the addons' run order. Their names must
    /// be unique across the store (use dated names, as the host does).
    fn migrations(&self) -> Option<&'static MigrationSet> {
        None
    }

    /// Registers the addon's routes. They must live under the manifest's
    /// `route_prefixes`; the host answers 404 there while the addon is disabled.
    fn configure_routes(&self, _cfg: &mut web::ServiceConfig, _host: HostHandle) {}

    /// HTML shown under the password form of a login page (customer,
    /// checkout or admin): another way to sign in that the addon handles
    /// on its own routes, ending in `HostServices::sign_in_verified`.
    /// Hook `login_page`.
    async fn login_page(
        &self,
        _host: &HostHandle,
        _req: &HttpRequest,
        _page: &LoginPage,
    ) -> Result<Option<String>, AddonError> {
        Ok(None)
    }

    /// Runs after a password was verified in any login pipeline.
    async fn after_password_verified(
        &self,
        _host: &HostHandle,
        _attempt: &LoginAttempt,
    ) -> Result<LoginDecision, AddonError> {
        Ok(LoginDecision::Continue)
    }

    /// HTML for the addon's extra fields on a profile form. `values` holds
    /// what was submitted when the form is shown again with errors.
    async fn profile_fields(
        &self,
        _host: &HostHandle,
        _form: &ProfileContext,
        _values: Option<&FormValues>,
        _errors: &FieldErrors,
    ) -> Result<String, AddonError> {
        Ok(String::new())
    }

    /// Checks the addon's fields; returns the save to run in the host's
    /// transaction, or field errors (then nothing at all is saved).
    async fn validate_profile(
        &self,
        _host: &HostHandle,
        _form: &ProfileContext,
        _values: &FormValues,
    ) -> Result<Option<ProfileSave>, FieldErrors> {
        Ok(None)
    }

    async fn after_password_change(&self, _host: &HostHandle, _account: &Account) {}

    async fn on_logout(&self, _host: &HostHandle, _account: &Account) {}

    /// Checks the settings form beyond the manifest's types (the shape of
    /// an id, fields that go together) before anything is saved. `values`
    /// are what would be saved (a secret left empty is absent: it keeps
    /// `stored`'s). Errors are shown beside their fields.
    fn check_settings(
        &self,
        _values: &std::collections::BTreeMap<String, String>,
        _stored: &AddonSettings,
    ) -> FieldErrors {
        FieldErrors::default()
    }

    /// Called after the admin saved the addon's settings; `changed` lists the keys.
    async fn settings_changed(&self, _host: &HostHandle, _changed: &[String], _by: &AdminActor) {}

    /// Called after an admin enabled or disabled this addon on the Addons
    /// page, whether it is now on or off (it is the switch itself).
    async fn enabled_changed(&self, _host: &HostHandle, _enabled: bool, _by: &AdminActor) {}

    /// HTML shown on the admin user page after the profile form and its
    /// Save button (status, links to actions of their own). Never inside
    /// the form: a button there would be what Enter presses. Hook
    /// `admin_pages`.
    async fn admin_user_section(
        &self,
        _host: &HostHandle,
        _req: &HttpRequest,
        _account: &Account,
    ) -> Result<Option<UserSection>, AddonError> {
        Ok(None)
    }

    /// Badges for the accounts on one page of the Users list, read for all
    /// of them at once (one query, not one per account). Hook `admin_pages`.
    async fn user_badges(
        &self,
        _host: &HostHandle,
        _account_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<UserBadge>>, AddonError> {
        Ok(Default::default())
    }

    /// Filters the addon offers on the Users list. Hook `admin_pages`.
    fn user_filters(&self) -> Vec<UserFilter> {
        Vec::new()
    }

    /// The ids of the accounts that filter `key` keeps; None for a key the
    /// addon does not offer. Hook `admin_pages`.
    async fn filter_users(
        &self,
        _host: &HostHandle,
        _key: &str,
    ) -> Result<Option<Vec<i64>>, AddonError> {
        Ok(None)
    }

    /// Warnings for the admin dashboard, shown to administrators. Hook
    /// `admin_pages`.
    async fn dashboard_notices(
        &self,
        _host: &HostHandle,
    ) -> Result<Vec<DashboardNotice>, AddonError> {
        Ok(Vec::new())
    }

    /// HTML shown above the settings form (status of an external service,
    /// say); its own forms take their CSRF token from `host.csrf_token(req)`.
    async fn settings_status(&self, _host: &HostHandle, _req: &HttpRequest) -> Option<String> {
        None
    }
}

/// Every `.html` file below `dir` of a tree built into the binary with
/// `include_dir!`, as (name, source) for `Addon::templates`: named by its
/// path below `dir`, after `prefix` (say `"my_addon/"`).
pub fn embedded_templates(dir: &include_dir::Dir<'static>, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(dir, prefix, &mut out);
    out
}

fn collect(dir: &include_dir::Dir<'static>, prefix: &str, out: &mut Vec<(String, String)>) {
    for file in dir.files() {
        let name = file.path().to_string_lossy().replace('\\', "/");
        if let (true, Some(text)) = (name.ends_with(".html"), file.contents_utf8()) {
            out.push((format!("{prefix}{name}"), text.to_string()));
        }
    }
    for sub in dir.dirs() {
        collect(sub, prefix, out);
    }
}

/// An addon's writes that claim the completion of a sign-in, run in the
/// host's completion transaction (`HostServices::complete_pending_login_claimed`);
/// true when this request won the claim.
pub type CompletionClaim = Box<dyn FnOnce(&mut DbConn) -> Result<bool, DbError> + Send>;

/// A write an addon asks to land with the pending login the host keeps
/// for its challenge (`HostServices::write_with_pending_login`).
pub type PendingWrite = Box<dyn FnOnce(&mut DbConn) -> Result<(), DbError> + Send>;

/// Work an addon asks to run once the pending login it challenges is kept
/// (`HostServices::write_with_pending_login_then`), given the password
/// step's request: talking to the outside world, which must not happen
/// inside a transaction nor before the pending login exists.
pub type AfterKept = Box<dyn FnOnce(HttpRequest) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// An addon's own counting that goes with an attempt on a pending login
/// (`HostServices::count_pending_attempt_then`); it is given the new count
/// (None: the pending login is gone).
pub type AttemptWrite = Box<dyn FnOnce(&mut DbConn, Option<i32>) -> Result<(), DbError> + Send>;

/// The host's services, as addons see them.
pub type HostHandle = Arc<dyn HostServices>;

#[async_trait(?Send)]
pub trait HostServices: Send + Sync + 'static {
    fn db(&self) -> &Db;
    fn secret_key(&self) -> &SecretKey;
    /// The client IP (the first `X-Forwarded-For` hop when configured to trust it).
    fn client_ip(&self, req: &HttpRequest) -> String;

    /// Renders a template with the skin's variables (current account,
    /// CSRF token, store name) added to `ctx`. While the request's sign-in
    /// is under way the skin offers no "Log in"; when that sign-in started
    /// at a host's checkout, the skin shows the checkout's progress and cart
    /// around the addon's page (the `checkout` variable), and completing the
    /// pending login returns to checkout.
    async fn render(
        &self,
        req: &HttpRequest,
        status: actix_web::http::StatusCode,
        template: &str,
        ctx: tera::Context,
    ) -> HttpResponse;

    /// Renders a template to a string (profile field snippets).
    fn render_fragment(&self, template: &str, ctx: &tera::Context) -> Result<String, AddonError>;

    /// The CSRF token a form in a fragment must carry (field `csrf_token`)
    /// to be accepted when posted from this request's browser. A host
    /// without such forms may leave the default.
    fn csrf_token(&self, _req: &HttpRequest) -> String {
        String::new()
    }

    async fn addon_enabled(&self, addon_id: &str) -> Result<bool, DbError>;
    /// The addon's settings, secrets decrypted, defaults filled in.
    async fn addon_settings(&self, addon_id: &str) -> Result<AddonSettings, DbError>;

    /// The signed-in account of this request, if any.
    async fn current_account(&self, req: &HttpRequest) -> Option<Account>;
    /// The signed-in account, or a redirect to the login page of `interface`.
    async fn require_account(
        &self,
        req: &HttpRequest,
        interface: Interface,
    ) -> Result<Account, HttpResponse>;
    /// An account with the admin role, or a redirect / 403 page.
    async fn require_admin(&self, req: &HttpRequest) -> Result<Account, HttpResponse>;
    async fn find_account(&self, account_id: i64) -> Result<Option<Account>, DbError>;
    /// Every account with one of `roles` (the store's staff, say). A host
    /// without it lists none.
    async fn accounts_with_roles(&self, _roles: &[Role]) -> Result<Vec<Account>, DbError> {
        Ok(Vec::new())
    }
    /// Checks a password with the same cost and timing as the login form.
    async fn verify_password(&self, account_id: i64, password: &str) -> bool;
    /// Checks an email and password with the same cost and timing as the
    /// login forms (a dummy hash for unknown emails). None for a wrong pair,
    /// and for an account that must change its password first. The default
    /// refuses everyone (a host without it offers no API sign-in).
    async fn authenticate(&self, _email: &str, _password: &str) -> Option<Account> {
        None
    }
    /// Ends every signed-in session of the account except the one `keep`
    /// carries (all of them when `keep` is None); returns how many ended.
    async fn end_other_sessions(
        &self,
        _account_id: i64,
        _keep: Option<&HttpRequest>,
    ) -> Result<usize, DbError> {
        Ok(0)
    }

    /// The unexpired pending login that this request's session holds.
    async fn pending_login(&self, req: &HttpRequest) -> Option<PendingLogin>;
    /// `pending_login`, telling "no pending sign-in" (Ok(None)) from "the
    /// database could not be read" (Err): a page at a sign-in's step then
    /// fails closed with the store's error page (a 503 during an outage),
    /// not a redirect that looks as if the sign-in had ended. A host
    /// without it reads every failure as no pending sign-in.
    async fn try_pending_login(&self, req: &HttpRequest) -> Result<Option<PendingLogin>, DbError> {
        Ok(self.pending_login(req).await)
    }
    /// Counts one attempt on a pending login before the addon checks a code;
    /// returns the new count, or None when the pending login is gone.
    async fn count_pending_attempt(&self, pending_id: &str) -> Result<Option<i32>, DbError>;
    /// `count_pending_attempt`, with the addon's own counting (`then`, given
    /// the new count) in the same write transaction: every counter of an
    /// attempt lands before the check, in one write. A host without it
    /// runs `then` in a transaction of its own, after.
    async fn count_pending_attempt_then(
        &self,
        pending_id: &str,
        then: AttemptWrite,
    ) -> Result<Option<i32>, DbError> {
        let n = self.count_pending_attempt(pending_id).await?;
        self.db().transaction(move |conn| then(conn, n)).await?;
        Ok(n)
    }
    /// Called once the addon's factor was met: turns the pending login into
    /// a signed-in session (new session id) and redirects to its target, or,
    /// when an admin required a new password, sends the user on to set it
    /// first (the session starts after that).
    async fn complete_pending_login(
        &self,
        req: &HttpRequest,
        pending_id: &str,
    ) -> Result<Completion, HostError>;
    /// `complete_pending_login`, with the addon's own writes for the
    /// completion (its claim, its audit entry) in the host's transaction:
    /// one write, not two. `claim` runs first and says whether this request
    /// won the completion (of concurrent correct codes, exactly one does);
    /// when it did not, nothing else is written and the answer is None.
    /// A host without it runs the claim in a transaction of its own first.
    async fn complete_pending_login_claimed(
        &self,
        req: &HttpRequest,
        pending_id: &str,
        claim: CompletionClaim,
    ) -> Result<Option<Completion>, HostError> {
        if !self.db().transaction(claim).await? {
            return Ok(None);
        }
        self.complete_pending_login(req, pending_id).await.map(Some)
    }
    /// Signs `account_id` in with no password step: the addon verified,
    /// on its own route, a credential that is both factors at once (a
    /// passkey with user verification). The host applies its own rules as
    /// at any sign-in: an account the interface refuses (a customer at the
    /// admin login) is refused, and one that an admin asked for a new
    /// password goes to that change first. `claim` (the addon's record of
    /// the credential's use) runs first in the host's transaction that
    /// starts the session under a new id; when it says false, nothing is
    /// written and the answer is None. `target` is where to go after
    /// (made safe by the host). A host without it refuses.
    async fn sign_in_verified(
        &self,
        _req: &HttpRequest,
        _account_id: i64,
        _interface: Interface,
        _target: &str,
        _claim: CompletionClaim,
    ) -> Result<Option<Completion>, HostError> {
        Err(HostError::Refused)
    }
    /// For `Addon::after_password_verified`: `write` (the addon's own
    /// record of the challenge it is about to ask for, its audit entry)
    /// lands in the host's transaction that keeps the pending login
    /// `pending_id`, so a challenged password step is one write. It is
    /// dropped when no pending login is kept (no challenge, a refusal, or
    /// another addon's challenge came first: then it never ran). A host
    /// without it runs the write at once.
    async fn write_with_pending_login(
        &self,
        _pending_id: &str,
        write: PendingWrite,
    ) -> Result<(), DbError> {
        self.db().transaction(write).await
    }
    /// `write_with_pending_login`, and `then` once that transaction has
    /// committed, before the browser is sent to the challenge: an addon
    /// sends its first code there, counted by `write`, so the password
    /// step is the only write before the code and the challenge page's
    /// first view writes nothing. Both are dropped when no pending login
    /// is kept. A host without it returns false and runs neither: the
    /// addon then does the work itself when its challenge page is shown.
    async fn write_with_pending_login_then(
        &self,
        _pending_id: &str,
        _write: PendingWrite,
        _then: AfterKept,
    ) -> Result<bool, DbError> {
        Ok(false)
    }
    /// Drops the pending login (the password must be entered again).
    async fn cancel_pending_login(&self, pending_id: &str) -> Result<(), DbError>;
    /// The login page for an interface (where a voided pending login sends the user).
    fn login_path(&self, interface: Interface) -> &'static str;

    /// Voids every sign-in of the account that is under way and moves its
    /// credential generation on (`Account::credential_generation`), in the
    /// caller's transaction. Addons call it when a factor is reset, removed
    /// or disabled, so that a sign-in started before cannot go on.
    fn void_pending_sign_ins(&self, conn: &mut DbConn, account_id: i64) -> Result<(), DbError>;

    /// Whether cookies must carry `Secure` (the store is served over TLS),
    /// for cookies an addon sets itself.
    fn secure_cookies(&self) -> bool {
        false
    }

    /// True when `complete_pending_login_claimed` takes the pending login
    /// exactly once, in the transaction that runs the addon's claim (of
    /// concurrent completions one takes it; the others write nothing):
    /// then the host's taking is the claim, and an addon need not keep one
    /// of its own. A host that does not say so gets the addon's own claim.
    fn completion_takes_pending_login(&self) -> bool {
        false
    }

    /// An opaque key of this request's signed-in session (stable until the
    /// session id rotates), for state an addon binds to one session. None
    /// when the request has no session.
    fn session_key(&self, _req: &HttpRequest) -> Option<String> {
        None
    }
}
