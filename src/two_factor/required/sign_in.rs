//! The sign-in's side of "Require two-factor authentication": the login
//! hook sends an account without a second factor to the set-up page, and
//! the API asks where it stands.

use crate::db::{now, DbError};
use crate::plugin::{Account, AddonError, HostHandle, LoginAttempt, LoginDecision};
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::store as challenges;
use crate::two_factor::ADDON_ID;

use super::rule::{grace, Rule, Standing};
use super::{pages, store};

/// Where `account` (which has no second factor) stands now; starts its
/// clock when the requirement is seen for the first time (audited).
pub async fn standing(host: &HostHandle, account: &Account) -> Result<Standing, DbError> {
    let rule = Rule::for_role(&host.addon_settings(ADDON_ID).await?, account.role);
    if !rule.required {
        return Ok(Standing::NotRequired);
    }
    let t = now();
    let id = account.id;
    let ev = AuditEvent::new("setup_required", "started")
        .account(account)
        .interface(account.role.interface())
        .detail(format!("grace period of {} day(s) starts", rule.grace_days));
    let started = challenges::retry_on_conflict(host.db(), move |conn| {
        let (started, new) = store::start_once(conn, id, t)?;
        if new {
            audit::insert(conn, &ev)?;
        }
        Ok(started)
    })
    .await?;
    Ok(grace(rule, started, t))
}

/// The login hook's decision for an account without a second factor:
/// on to the set-up page when the store requires one, else Continue.
pub async fn at_sign_in(
    host: &HostHandle,
    attempt: &LoginAttempt,
) -> Result<LoginDecision, AddonError> {
    let detail = match standing(host, &attempt.account).await? {
        Standing::NotRequired => return Ok(LoginDecision::Continue),
        Standing::InGrace { days_left } => format!("{days_left} day(s) of grace left"),
        Standing::Ended => "grace period over: set-up or sign out".to_string(),
    };
    let ev = AuditEvent::new("setup_required", "asked")
        .account(&attempt.account)
        .interface(attempt.interface)
        .ip(&attempt.ip)
        .detail(detail);
    challenges::start_challenge(host, attempt.pending_id.clone(), ev).await?;
    Ok(LoginDecision::Challenge {
        redirect: pages::page_path(attempt.interface).to_string(),
    })
}
