//! Checking a second-factor code of any kind (authenticator app, recovery
//! code, SMS/voice code) for the web verification page, the Security page
//! and the API. Every check is counted against the account's limit before
//! anything is compared, with the same counters and lockout as the SMS flow.

use serde::Serialize;

use std::sync::{Arc, OnceLock};

use crate::db::{DbConn, DbError};
use crate::plugin::{HostHandle, PendingLogin};

use crate::two_factor::app::totp;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::limits::CodeGate;
use crate::two_factor::limits::{self, MAX_PENDING_ATTEMPTS};
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::recovery::codes as recovery;
use crate::two_factor::settings::Gateway;
use crate::two_factor::sms::service::{count_code_attempt, gate_locked, Actor, Service};
use crate::two_factor::store;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    App,
    Sms,
    Recovery,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::App => "app",
            Method::Sms => "sms",
            Method::Recovery => "recovery",
        }
    }
}

/// The one outcome of checking a code of any kind (app, recovery, SMS;
/// the SMS service's own check returns it too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked {
    /// `remaining` recovery codes when one was used.
    Valid {
        method: Method,
        remaining: Option<i64>,
    },
    Wrong,
    Locked,
    /// An SMS code was given but none was ever sent.
    NoCodeSent,
    /// The SMS gateway failed: refuse, never fail open.
    GatewayFailed,
    /// Twilio Verify: the code's verification is gone (expired, used or
    /// cancelled); Authy: the code was used already. A new code is needed.
    CodeEnded,
    /// Twilio Verify: too many tries on this code at the gateway.
    TooManyTriesAtGateway,
}

/// What counting a code attempt on a pending sign-in found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingAttempt {
    /// Counted; go on and check the code. `left`: wrong codes this
    /// sign-in may still take after this one.
    Counted { left: i32 },
    /// Past `MAX_PENDING_ATTEMPTS`: the sign-in was cancelled and audited.
    Voided,
    /// The pending sign-in is gone (expired, completed or cancelled).
    Gone,
}

/// Writes that go with a valid code (the attempt given back, its audit
/// entry, the resend cooldown ended), for the caller to run in the
/// transaction that completes the sign-in: one write, not several.
pub type SuccessWrite = Box<dyn FnOnce(&mut DbConn) -> Result<(), DbError> + Send>;

/// Counts one attempt on the pending sign-in before anything is checked,
/// for the SMS and the app verification pages alike (past the limit the
/// sign-in is cancelled, so a new password step is needed), and the
/// account's code attempt in the same write transaction (when the sign-in
/// takes the attempt): both counters, before the check, in one write. The gate is what
/// `limits::code_attempt` found (Allowed when it was not counted).
pub async fn count_attempts(
    host: &HostHandle,
    pending: &PendingLogin,
    ip: &str,
) -> Result<(PendingAttempt, CodeGate), DbError> {
    let gate = Arc::new(OnceLock::new());
    let found = gate.clone();
    let account_id = pending.account.id;
    let n = host
        .count_pending_attempt_then(
            &pending.id,
            Box::new(move |conn, n| {
                if n.is_some_and(|n| n <= MAX_PENDING_ATTEMPTS) {
                    let _ = found.set(limits::code_attempt_in(conn, account_id)?);
                }
                Ok(())
            }),
        )
        .await?;
    let attempt = pending_attempt_of(host, pending, ip, n).await?;
    Ok((attempt, gate.get().copied().unwrap_or(CodeGate::Allowed)))
}

/// Counts one attempt on the pending sign-in alone (a set-up code inside
/// a held sign-in: the account's code attempts are for second-factor
/// codes); past the limit the sign-in is cancelled, as `count_attempts`.
pub async fn count_pending_attempt(
    host: &HostHandle,
    pending: &PendingLogin,
    ip: &str,
) -> Result<PendingAttempt, DbError> {
    let n = host.count_pending_attempt(&pending.id).await?;
    pending_attempt_of(host, pending, ip, n).await
}

async fn pending_attempt_of(
    host: &HostHandle,
    pending: &PendingLogin,
    ip: &str,
    n: Option<i32>,
) -> Result<PendingAttempt, DbError> {
    match n {
        Some(n) if n <= MAX_PENDING_ATTEMPTS => Ok(PendingAttempt::Counted {
            left: MAX_PENDING_ATTEMPTS - n,
        }),
        Some(_) => {
            void(
                host,
                pending,
                ip,
                format!("more than {MAX_PENDING_ATTEMPTS} wrong codes; sign-in cancelled"),
            )
            .await?;
            Ok(PendingAttempt::Voided)
        }
        None => Ok(PendingAttempt::Gone),
    }
}

/// Cancels the pending sign-in after too many wrong codes, and audits why.
pub async fn void(
    host: &HostHandle,
    pending: &PendingLogin,
    ip: &str,
    why: String,
) -> Result<(), DbError> {
    host.cancel_pending_login(&pending.id).await?;
    let ev = AuditEvent::new("verify", "voided")
        .account(&pending.account)
        .interface(pending.interface)
        .ip(ip)
        .detail(why);
    audit::record(host.db(), ev).await;
    Ok(())
}

fn event(actor: &Actor<'_>, outcome: &'static str) -> AuditEvent {
    actor.event("verify", outcome)
}

/// Checks the account's current password (re-authentication on the
/// Security page and for "confirm it is you"), counted against the
/// account's attempt limit like a code, so it cannot be guessed faster.
pub async fn password(host: &HostHandle, account_id: i64, password: &str) -> Result<bool, DbError> {
    if password.is_empty() {
        return Ok(false);
    }
    if limits::code_attempt(host.db(), account_id).await? != limits::CodeGate::Allowed {
        return Ok(false);
    }
    let ok = host.verify_password(account_id, password).await;
    if ok {
        limits::code_succeeded(host.db(), account_id).await?;
    }
    Ok(ok)
}

/// Counts one attempt; Some(Locked) when the account is locked.
async fn gate(host: &HostHandle, actor: &Actor<'_>) -> Result<Option<Checked>, DbError> {
    Ok(count_code_attempt(host.db(), actor)
        .await?
        .then_some(Checked::Locked))
}

/// Counts a malformed submission as a failed attempt (API type juggling,
/// empty fields) and records it.
pub async fn count_malformed(host: &HostHandle, actor: &Actor<'_>) -> Result<Checked, DbError> {
    if let Some(locked) = gate(host, actor).await? {
        return Ok(locked);
    }
    audit::record(host.db(), event(actor, "failure").detail("malformed code")).await;
    Ok(Checked::Wrong)
}

/// Checks `input` as a recovery code when it has that shape, else as an app
/// code when the account has an app, else (when `sms` allows it and a phone
/// is on file) as an SMS code through the gateway.
pub async fn check_code(
    service: &Service,
    host: &HostHandle,
    actor: &Actor<'_>,
    input: &str,
    sms: bool,
) -> Result<Checked, DbError> {
    let (checked, on_success) = check_code_gated(service, host, actor, input, sms, None).await?;
    if let Some(write) = on_success {
        host.db().transaction(write).await?;
    }
    Ok(checked)
}

/// Counts the attempt, unless the caller did (`counted`: what
/// `limits::code_attempt_in` found in its transaction); true when the
/// account is locked.
async fn locked(
    host: &HostHandle,
    actor: &Actor<'_>,
    counted: &mut Option<CodeGate>,
) -> Result<bool, DbError> {
    Ok(match counted.take() {
        Some(gate) => gate_locked(host.db(), actor, gate).await,
        None => count_code_attempt(host.db(), actor).await?,
    })
}

/// `check_code` for the sign-in pages: the attempt may be counted already
/// (`counted`), and a valid code comes with its writes (`SuccessWrite`) for
/// the transaction that completes the sign-in.
pub async fn check_code_gated(
    service: &Service,
    host: &HostHandle,
    actor: &Actor<'_>,
    input: &str,
    sms: bool,
    mut counted: Option<CodeGate>,
) -> Result<(Checked, Option<SuccessWrite>), DbError> {
    let typed = crate::two_factor::otp_code::without_separators(input);
    let input = typed.trim();
    let db = host.db().clone();
    let account_id = actor.account.id;
    if recovery::looks_like_code(input) {
        if locked(host, actor, &mut counted).await? {
            return Ok((Checked::Locked, None));
        }
        let key = host.secret_key().clone();
        let code = input.to_string();
        let used = db
            .transaction(move |conn| {
                if recovery::consume(conn, &key, account_id, &code)? {
                    Ok(Some(recovery::remaining(conn, account_id)?))
                } else {
                    Ok(None)
                }
            })
            .await?;
        return Ok(match used {
            Some(remaining) => {
                let detail = format!("recovery code used; {remaining} left");
                let ev = event(actor, "success").detail(detail);
                (
                    Checked::Valid {
                        method: Method::Recovery,
                        remaining: Some(remaining),
                    },
                    Some(succeeded(account_id, ev)),
                )
            }
            None => {
                audit::record(&db, event(actor, "failure").detail("wrong recovery code")).await;
                (Checked::Wrong, None)
            }
        });
    }
    let has_app = crate::two_factor::factors::app_confirmed(&db, account_id).await?;
    let phone = if sms {
        store::phone_of(&db, account_id).await?
    } else {
        None
    };
    if has_app && totp::looks_like_code(input) {
        if locked(host, actor, &mut counted).await? {
            return Ok((Checked::Locked, None));
        }
        let key = host.secret_key().clone();
        let code = input.to_string();
        let ok = db
            .transaction(move |conn| totp::verify(conn, &key, account_id, &code, crate::db::now()))
            .await?;
        if ok {
            let ev = event(actor, "success").detail("authenticator app");
            return Ok((
                Checked::Valid {
                    method: Method::App,
                    remaining: None,
                },
                Some(succeeded(account_id, ev)),
            ));
        }
        audit::record(
            &db,
            event(actor, "failure").detail("wrong or reused app code"),
        )
        .await;
        // An SMS code of the same shape may have been meant: try it only
        // when one was sent (the gateway check counts its own attempt).
        let verify = service.settings(host).await?.gateway == Gateway::TwilioVerify;
        match &phone {
            Some(p) if p.authy_id.is_some() || verify => {}
            _ => return Ok((Checked::Wrong, None)),
        }
    }
    let Some(stored) = phone else {
        if locked(host, actor, &mut counted).await? {
            return Ok((Checked::Locked, None));
        }
        audit::record(host.db(), event(actor, "failure").detail("malformed code")).await;
        return Ok((Checked::Wrong, None));
    };
    let settings = service.settings(host).await?;
    let code = OtpCode::parse_within(input, settings.code_lengths());
    let gate = match counted {
        Some(gate) => gate,
        None => limits::code_attempt(host.db(), account_id).await?,
    };
    service
        .check_code_gated(
            host,
            &settings,
            actor,
            &stored,
            code.as_ref(),
            gate,
            crate::two_factor::state::KnownHolder::Unread,
        )
        .await
        .map_err(|e| match e {
            crate::two_factor::sms::service::ServiceError::Db(d) => d,
        })
}

/// A valid app or recovery code: the attempt is given back and the
/// success audited, in the caller's transaction.
fn succeeded(account_id: i64, ev: AuditEvent) -> SuccessWrite {
    Box::new(move |conn| {
        limits::give_back_attempt(conn, account_id)?;
        audit::insert(conn, &ev)
    })
}

/// What to say when Twilio Verify ended the code's verification.
pub fn ended_message(checked: &Checked) -> &'static str {
    match checked {
        Checked::TooManyTriesAtGateway => {
            "Too many wrong tries for this code. Use “Resend SMS with code” to get a new one."
        }
        _ => "That code has expired or was already used. Use “Resend SMS with code” to get a new one.",
    }
}

/// The message after a recovery code was used.
pub fn remaining_message(remaining: i64) -> String {
    let base = format!(
        "You used a recovery code. {remaining} recovery code{} left.",
        if remaining == 1 { " is" } else { "s are" }
    );
    if remaining <= recovery::LOW {
        format!("{base} Generate new codes on your Security page soon, or you may be locked out.")
    } else {
        base
    }
}
