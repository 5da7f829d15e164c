//! The host's side of the addon API, and the access checks its own pages use.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use async_trait::async_trait;

use super::accounts::{self, AccountRow};
use super::cart_summary::checkout_progress;
use super::login::{change_password_path, login_path, signed_in};
use super::pending::{self, PendingRow};
use super::session;
use super::{redirect, HostState};
use crate::crypto::SecretKey;
use crate::db::{Db, DbError};
use crate::plugin::{
    Account, AddonError, AddonSettings, AfterKept, AttemptWrite, Completion, CompletionClaim,
    HostError, HostHandle, HostServices, Interface, PendingLogin, PendingWrite, Role,
};

impl HostState {
    /// The signed-in account, or where to send the visitor: a pending login
    /// goes back to its challenge (it grants nothing), anyone else to the
    /// login page of `interface`. Customers are refused the admin interface.
    pub async fn require(
        &self,
        req: &HttpRequest,
        interface: Interface,
    ) -> Result<AccountRow, HttpResponse> {
        let current = match session::current(self, req).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return Err(HttpResponse::InternalServerError().finish());
            }
        };
        if let Some(account) = &current.account {
            if interface == Interface::Admin && account.role() == Role::Customer {
                return Err(HttpResponse::Forbidden().finish());
            }
            return Ok(account.clone());
        }
        if let Some((row, _)) = &current.pending {
            return Err(redirect(&row.challenge_url));
        }
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let encoded: String = url_encode(next);
        Err(redirect(&format!(
            "{}?next={}",
            login_path(interface),
            encoded
        )))
    }

    pub async fn require_admin_row(&self, req: &HttpRequest) -> Result<AccountRow, HttpResponse> {
        let account = self.require(req, Interface::Admin).await?;
        if account.role() != Role::Admin {
            return Err(HttpResponse::Forbidden().finish());
        }
        Ok(account)
    }

    /// `pending_with_account` at the challenge step of `addon_id`: a sign-in
    /// held by one addon's challenge is not another addon's to see or
    /// complete. An error when the session cannot be read (the database is
    /// away), so that the addon's pages fail closed with the 503 page.
    async fn pending_row(
        &self,
        req: &HttpRequest,
        addon_id: &str,
    ) -> Result<Option<(PendingRow, AccountRow)>, DbError> {
        let current = session::current(self, req).await?;
        Ok(current.pending.clone().filter(|(row, _)| {
            row.stage == pending::STAGE_CHALLENGE && row.addon_id.as_deref() == Some(addon_id)
        }))
    }
}

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// What one addon sees of the host: the host's services, with the addon's
/// own key (derived from the store's, see `SecretKey::for_addon`) and its
/// own settings only. Every hook and route of an addon gets one.
pub struct AddonHost {
    host: Arc<HostState>,
    addon_id: String,
    key: SecretKey,
}

impl HostState {
    /// The handle `addon_id` is given (see `AddonHost`).
    pub fn handle_for(self: &Arc<Self>, addon_id: &str) -> HostHandle {
        Arc::new(AddonHost {
            host: self.clone(),
            addon_id: addon_id.to_string(),
            key: self
                .addon_keys
                .get(addon_id)
                .cloned()
                .unwrap_or_else(|| self.key.for_addon(addon_id)),
        })
    }
}

/// How a transaction gives up when the addon's claim was lost: rolled
/// back, so nothing the claim or the host wrote stays.
fn claim_lost() -> DbError {
    DbError::Query(diesel::result::Error::RollbackTransaction)
}

/// `lost` for a transaction that gave up with `claim_lost`; other errors stay.
fn lost_claim_or<T>(e: DbError, lost: T) -> Result<T, DbError> {
    match e {
        DbError::Query(diesel::result::Error::RollbackTransaction) => Ok(lost),
        other => Err(other),
    }
}

/// Runs the addon's `claim`, then `then`, in one write transaction; None,
/// with everything rolled back, when the claim was lost.
async fn claimed<T: Send + 'static>(
    db: &Db,
    claim: CompletionClaim,
    then: impl FnOnce(&mut crate::db::DbConn) -> Result<T, DbError> + Send + 'static,
) -> Result<Option<T>, DbError> {
    db.transaction(move |conn| {
        if !claim(conn)? {
            return Err(claim_lost());
        }
        then(conn).map(Some)
    })
    .await
    .or_else(|e| lost_claim_or(e, None))
}

impl AddonHost {
    /// Completes the pending login in one write transaction, with the
    /// addon's `claim` first when there is one (None: the claim was lost).
    async fn complete(
        &self,
        req: &HttpRequest,
        pending_id: &str,
        claim: Option<CompletionClaim>,
    ) -> Result<Option<Completion>, HostError> {
        let Some((row, account)) = self
            .host
            .pending_row(req, &self.addon_id)
            .await?
            .filter(|(r, _)| r.id == pending_id)
        else {
            return Err(HostError::PendingLoginGone);
        };
        /// What the transaction found.
        enum Outcome {
            ClaimLost,
            Gone,
            Done(Option<String>),
        }
        // A completion locks the pending row before the addon's claim writes
        // (its counters, its challenge row): the order in which counting an
        // attempt takes them (`count_pending_attempt_then`). In the other
        // order, concurrent correct codes deadlocked on PostgreSQL and the
        // winner could be the one aborted. A claim lost after the row was
        // taken rolls the whole transaction back, so the row stays.
        fn rolled_back_claim(e: DbError) -> Result<Outcome, DbError> {
            lost_claim_or(e, Outcome::ClaimLost)
        }
        let won = |conn: &mut crate::db::DbConn, claim: Option<CompletionClaim>| match claim {
            Some(claim) => claim(conn),
            None => Ok(true),
        };
        if account.must_change_password {
            // The factor is met; the new password comes next, then the session.
            let url = change_password_path(row.interface());
            let id = row.id.clone();
            let moved = self
                .host
                .db
                .transaction(move |conn| {
                    // The pending row first (see `claim_lost`).
                    if !pending::to_password_change(conn, &id, url)? {
                        return Ok(Outcome::Gone);
                    }
                    if !won(conn, claim)? {
                        return Err(claim_lost());
                    }
                    Ok(Outcome::Done(None))
                })
                .await
                .or_else(rolled_back_claim)?;
            return match moved {
                Outcome::ClaimLost => Ok(None),
                Outcome::Gone => Err(HostError::PendingLoginGone),
                Outcome::Done(_) => Ok(Some(Completion::PasswordChangeNext(redirect(url)))),
            };
        }
        // Taking the row is the claim: of two concurrent completions only one
        // deletes it, and only that one signs in, in the same transaction.
        let (id, account_id) = (row.id.clone(), row.account_id);
        let old_hash = session::cookie_of(req).id_hash();
        let started = self
            .host
            .db
            .transaction(move |conn| {
                // The pending row first (see `claim_lost`).
                if !pending::take(conn, &id)? {
                    return Ok(Outcome::Gone);
                }
                if !won(conn, claim)? {
                    return Err(claim_lost());
                }
                session::start_signed_in(conn, &old_hash, account_id, Some(&id))
                    .map(|new_id| Outcome::Done(Some(new_id)))
            })
            .await
            .or_else(rolled_back_claim)?;
        match started {
            Outcome::Done(Some(new_id)) => Ok(Some(Completion::SignedIn(signed_in(
                &self.host,
                new_id,
                &row.target,
            )))),
            Outcome::ClaimLost => Ok(None),
            Outcome::Gone | Outcome::Done(None) => Err(HostError::PendingLoginGone),
        }
    }
}

#[async_trait(?Send)]
impl HostServices for AddonHost {
    fn db(&self) -> &Db {
        &self.host.db
    }

    /// The addon's own key (`SecretKey::for_addon`), never the store's.
    fn secret_key(&self) -> &SecretKey {
        &self.key
    }

    fn client_ip(&self, req: &HttpRequest) -> String {
        self.host.client_ip_of(req)
    }

    async fn render(
        &self,
        req: &HttpRequest,
        status: StatusCode,
        template: &str,
        mut ctx: tera::Context,
    ) -> HttpResponse {
        // An addon's page during a sign-in that started at checkout keeps
        // the checkout's heading and cart (the skin shows `checkout`).
        if let Some(progress) = checkout_progress(&self.host, req).await {
            ctx.insert("checkout", &progress);
        }
        self.host.render_page(req, status, template, ctx).await
    }

    fn csrf_token(&self, req: &HttpRequest) -> String {
        crate::host::csrf::token_for(&self.host, &crate::host::session::cookie_of(req).value)
    }

    fn render_fragment(&self, template: &str, ctx: &tera::Context) -> Result<String, AddonError> {
        self.host
            .tera
            .render(template, ctx)
            .map_err(|e| AddonError::Internal(format!("template {template}: {e:?}")))
    }

    async fn addon_enabled(&self, addon_id: &str) -> Result<bool, DbError> {
        self.host.registry.is_enabled(&self.host.db, addon_id).await
    }

    /// The addon's own settings; another addon's are not its to read.
    async fn addon_settings(&self, addon_id: &str) -> Result<AddonSettings, DbError> {
        if addon_id != self.addon_id {
            tracing::error!(
                addon = %self.addon_id,
                asked = addon_id,
                "an addon asked for another addon's settings"
            );
            return Ok(AddonSettings::default());
        }
        self.host
            .registry
            .settings(&self.host.db, &self.host.key, addon_id)
            .await
    }

    async fn current_account(&self, req: &HttpRequest) -> Option<Account> {
        let current = session::current(&self.host, req).await.ok()?;
        current.account.as_ref().map(AccountRow::to_account)
    }

    async fn require_account(
        &self,
        req: &HttpRequest,
        interface: Interface,
    ) -> Result<Account, HttpResponse> {
        self.host
            .require(req, interface)
            .await
            .map(|a| a.to_account())
    }

    async fn require_admin(&self, req: &HttpRequest) -> Result<Account, HttpResponse> {
        self.host
            .require_admin_row(req)
            .await
            .map(|a| a.to_account())
    }

    async fn find_account(&self, account_id: i64) -> Result<Option<Account>, DbError> {
        let row = self
            .host
            .db
            .run(move |conn| accounts::by_id(conn, account_id))
            .await?;
        Ok(row.map(|r| r.to_account()))
    }

    async fn accounts_with_roles(&self, roles: &[Role]) -> Result<Vec<Account>, DbError> {
        let roles = roles.to_vec();
        let rows = self
            .host
            .db
            .run(move |conn| accounts::with_roles(conn, &roles))
            .await?;
        Ok(rows.iter().map(AccountRow::to_account).collect())
    }

    async fn verify_password(&self, account_id: i64, password: &str) -> bool {
        let row = self
            .host
            .db
            .run(move |conn| accounts::by_id(conn, account_id))
            .await
            .ok()
            .flatten();
        self.host
            .hasher
            .verify(row.map(|r| r.password_hash), password)
            .await
    }

    async fn authenticate(&self, email: &str, password: &str) -> Option<Account> {
        let row = match super::email::Email::parse(email) {
            Ok(email) => {
                let email = email.as_str().to_string();
                self.host
                    .db
                    .run(move |conn| accounts::by_email(conn, &email))
                    .await
                    .ok()
                    .flatten()
            }
            Err(_) => None,
        };
        // The dummy hash runs when there is no account, so timing does not tell.
        let verified = self
            .host
            .hasher
            .verify(row.as_ref().map(|r| r.password_hash.clone()), password)
            .await;
        // The same per-account password lock as the login forms. The right
        // password for an account with no failures on record (read after
        // the hash, as the forms do) writes nothing.
        let row = row?;
        let (id, failed) = (row.id, !verified);
        let locked = match self
            .host
            .db
            .run(move |conn| super::throttle::has_record(conn, id))
            .await
        {
            Ok(false) if verified => Ok(false),
            Ok(_) => {
                self.host
                    .db
                    .transaction(move |conn| {
                        let locked = super::throttle::is_locked(conn, id)?;
                        if failed {
                            super::throttle::record_failure(conn, id)?;
                        } else if !locked {
                            super::throttle::clear(conn, id)?;
                        }
                        Ok(locked)
                    })
                    .await
            }
            Err(e) => Err(e),
        };
        match locked {
            Ok(false) if verified && !row.must_change_password => Some(row.to_account()),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "login throttle failed");
                None
            }
        }
    }

    async fn end_other_sessions(
        &self,
        account_id: i64,
        keep: Option<&HttpRequest>,
    ) -> Result<usize, DbError> {
        let keep_hash = keep
            .map(|r| super::session::cookie_of(r).id_hash())
            .unwrap_or_default();
        self.host
            .db
            .transaction(move |conn| session::end_other_sessions(conn, account_id, &keep_hash))
            .await
    }

    async fn pending_login(&self, req: &HttpRequest) -> Option<PendingLogin> {
        match self.try_pending_login(req).await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::error!(error = %e, "pending login lookup failed");
                None
            }
        }
    }

    async fn try_pending_login(&self, req: &HttpRequest) -> Result<Option<PendingLogin>, DbError> {
        let Some((row, account)) = self.host.pending_row(req, &self.addon_id).await? else {
            return Ok(None);
        };
        Ok(Some(PendingLogin {
            id: row.id.clone(),
            account: account.to_account(),
            interface: row.interface(),
            target: row.target.clone(),
            addon_id: row.addon_id.clone(),
            attempts: row.attempts,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }))
    }

    async fn count_pending_attempt(&self, pending_id: &str) -> Result<Option<i32>, DbError> {
        let id = pending_id.to_string();
        self.host
            .db
            .transaction(move |conn| pending::count_attempt(conn, &id))
            .await
    }

    async fn count_pending_attempt_then(
        &self,
        pending_id: &str,
        then: AttemptWrite,
    ) -> Result<Option<i32>, DbError> {
        let id = pending_id.to_string();
        self.host
            .db
            .transaction(move |conn| {
                let n = pending::count_attempt(conn, &id)?;
                then(conn, n)?;
                Ok(n)
            })
            .await
    }

    async fn complete_pending_login(
        &self,
        req: &HttpRequest,
        pending_id: &str,
    ) -> Result<Completion, HostError> {
        match self.complete(req, pending_id, None).await? {
            Some(done) => Ok(done),
            None => Err(HostError::PendingLoginGone),
        }
    }

    async fn complete_pending_login_claimed(
        &self,
        req: &HttpRequest,
        pending_id: &str,
        claim: CompletionClaim,
    ) -> Result<Option<Completion>, HostError> {
        self.complete(req, pending_id, Some(claim)).await
    }

    async fn sign_in_verified(
        &self,
        req: &HttpRequest,
        account_id: i64,
        interface: Interface,
        target: &str,
        claim: CompletionClaim,
    ) -> Result<Option<Completion>, HostError> {
        let account = self
            .host
            .db
            .run(move |conn| accounts::by_id(conn, account_id))
            .await?
            .ok_or(HostError::Refused)?;
        // The same rule as the admin login form: policy follows the role.
        if interface == Interface::Admin && account.role() == Role::Customer {
            return Err(HostError::Refused);
        }
        let fallback = match interface {
            Interface::Admin => "/admin",
            Interface::Customer => "/",
        };
        let target = pending::safe_target(Some(target), fallback);
        let old_hash = session::cookie_of(req).id_hash();
        if account.must_change_password {
            // Both factors are met; the new password comes next, then the
            // session, as after a second factor (`complete`).
            let url = change_password_path(interface);
            let mut row = PendingRow::new(
                crate::crypto::random_token(32),
                &account.to_account(),
                interface,
                target,
                self.host.client_ip_of(req),
            );
            row.stage = pending::STAGE_PASSWORD_CHANGE_VERIFIED.into();
            row.challenge_url = url.into();
            let kept = claimed(&self.host.db, claim, move |conn| {
                pending::insert(conn, &row)?;
                session::attach_pending(conn, &old_hash, &row.id)
            })
            .await?;
            return Ok(kept.map(|()| Completion::PasswordChangeNext(redirect(url))));
        }
        let started = claimed(&self.host.db, claim, move |conn| {
            session::start_signed_in(conn, &old_hash, account_id, None)
        })
        .await?;
        Ok(started.map(|new_id| Completion::SignedIn(signed_in(&self.host, new_id, &target))))
    }

    async fn write_with_pending_login(
        &self,
        pending_id: &str,
        write: PendingWrite,
    ) -> Result<(), DbError> {
        super::login::write_with_pending(pending_id, write);
        Ok(())
    }

    async fn write_with_pending_login_then(
        &self,
        pending_id: &str,
        write: PendingWrite,
        then: AfterKept,
    ) -> Result<bool, DbError> {
        super::login::write_with_pending(pending_id, write);
        super::login::after_kept(pending_id, then);
        Ok(true)
    }

    async fn cancel_pending_login(&self, pending_id: &str) -> Result<(), DbError> {
        let id = pending_id.to_string();
        self.host
            .db
            .transaction(move |conn| pending::delete(conn, &id))
            .await
    }

    fn login_path(&self, interface: Interface) -> &'static str {
        login_path(interface)
    }

    fn void_pending_sign_ins(
        &self,
        conn: &mut crate::db::DbConn,
        account_id: i64,
    ) -> Result<(), DbError> {
        accounts::void_pending_sign_ins(conn, account_id).map(|_| ())
    }

    fn session_key(&self, req: &HttpRequest) -> Option<String> {
        self.host.session_key_of(req)
    }

    fn secure_cookies(&self) -> bool {
        self.host.settings.server.secure_cookies
    }

    /// `complete` deletes the pending login (or moves it on to the password
    /// change) with a conditional statement first in its transaction.
    fn completion_takes_pending_login(&self) -> bool {
        true
    }
}
