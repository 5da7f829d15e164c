//! Operations shared by the login pages, the profile hooks and the status
//! box: sending a code and checking it through the store's gateway (Twilio
//! Verify, or the legacy Authy-compatible API, which also needs the user
//! registered), and cancelling a code. Each applies the limits, writes the
//! audit trail and records gateway errors.

use crate::db::{Db, DbError};
use crate::plugin::{Account, HostHandle, Interface};

use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::config::TwoFactorConfig;
use crate::two_factor::gateways::authy::Endpoint;
use crate::two_factor::gateways::{
    AuthyClient, AuthyId, Channel, GatewayError, TokenCheck, VerificationSid, VerifyClient,
};
use crate::two_factor::limits::{self, CodeGate, SendGate, WaitReason};
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::settings::{Gateway, StoreSettings};
use crate::two_factor::sign_in::verify::{Checked, Method, SuccessWrite};
use crate::two_factor::state;
use crate::two_factor::store::{self, StoredPhone};
use crate::two_factor::ADDON_ID;

/// The addon's shared state: configuration and the gateway clients.
pub struct Service {
    pub config: TwoFactorConfig,
    pub client: AuthyClient,
    pub verify: VerifyClient,
}

/// Who is asking, for limits and the audit trail.
#[derive(Clone, Debug)]
pub struct Actor<'a> {
    pub account: &'a Account,
    pub interface: Interface,
    pub ip: &'a str,
    /// What the code is for: the pending login's id, or the account page.
    /// A code is accepted only for the purpose whose request sent it last.
    pub purpose: &'a str,
    /// The first code of a sign-in: exempt from the per-IP quota, which is
    /// for resends (shoppers behind one NAT must still be able to log in).
    pub initial: bool,
    /// Asked through the JSON API: audited with the interface `api`.
    pub via_api: bool,
}

/// The purpose of codes sent from the account page (phone change).
pub const ACCOUNT_PAGE_PURPOSE: &str = "account-page";

impl Actor<'_> {
    pub fn event(&self, event: &'static str, outcome: &'static str) -> AuditEvent {
        let mut ev = AuditEvent::new(event, outcome)
            .account(self.account)
            .interface(self.interface)
            .ip(self.ip);
        if self.via_api {
            ev.interface = "api".into();
        }
        ev
    }
}

#[derive(Debug)]
pub enum SendOutcome {
    Sent,
    Wait {
        seconds: i64,
        reason: WaitReason,
    },
    /// The gateway refused or failed; recorded in the audit log and as the
    /// store's last gateway error.
    Failed,
    /// The gateway will not send to this number, for a reason the user can
    /// act on (Twilio Verify's answers about the number).
    Refused(Refusal),
}

/// Why the gateway will not send a code to this number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 60200: the number is not valid.
    InvalidNumber,
    /// 60205: a landline cannot get an SMS; a call works.
    Landline,
    /// 60410: blocked for fraud.
    Blocked,
    /// 60203: the gateway's own cap on codes to one number.
    TooManySends,
}

impl Refusal {
    fn of(e: &GatewayError) -> Option<Refusal> {
        match e {
            GatewayError::InvalidNumber => Some(Refusal::InvalidNumber),
            GatewayError::Landline => Some(Refusal::Landline),
            GatewayError::Blocked => Some(Refusal::Blocked),
            GatewayError::TooManySends => Some(Refusal::TooManySends),
            _ => None,
        }
    }

    /// The API's error code for it.
    pub fn api_code(self) -> &'static str {
        match self {
            Refusal::InvalidNumber => "phone_invalid",
            Refusal::Landline => "sms_not_supported",
            Refusal::Blocked => "phone_blocked",
            Refusal::TooManySends => "too_many_codes",
        }
    }

    /// What the user is told, and what to do.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::InvalidNumber => "This phone number is not valid, so no code can be sent to it. Update your phone number on your account page, or ask the store to update it.",
            Refusal::Landline => "This phone number cannot receive text messages (it looks like a landline). Use “Call me instead” to hear the code.",
            Refusal::Blocked => "This phone number is blocked by our text message service. Please contact the store to sign in.",
            Refusal::TooManySends => "Too many codes were sent to this phone number recently. Please wait 10 minutes, then ask for a new one.",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Db(#[from] DbError),
}

impl Service {
    pub fn new(config: TwoFactorConfig) -> Service {
        let client = AuthyClient::new(config.timeout);
        let verify = VerifyClient::new(config.timeout);
        Service {
            config,
            client,
            verify,
        }
    }

    pub async fn settings(&self, host: &HostHandle) -> Result<StoreSettings, DbError> {
        Ok(StoreSettings::from_addon(
            &host.addon_settings(ADDON_ID).await?,
        ))
    }

    pub fn endpoint<'a>(&'a self, settings: &'a StoreSettings) -> Endpoint<'a> {
        Endpoint {
            base_url: settings.base_url(&self.config),
            api_key: &settings.api_key,
        }
    }

    /// Keeps the last gateway error for the settings page and logs it
    /// (the error text holds no key, token or number).
    pub async fn gateway_failed(&self, db: &Db, what: &str, err: &GatewayError) {
        tracing::warn!(call = what, error = %err, "two-factor gateway call failed");
        let text = format!("{what}: {err}");
        if let Err(e) = db
            .transaction(move |conn| state::record_gateway_error(conn, &text))
            .await
        {
            tracing::error!(error = %e, "could not store the gateway error");
        }
    }

    /// The stored gateway id, or a fresh registration of the phone.
    pub async fn authy_id(
        &self,
        host: &HostHandle,
        settings: &StoreSettings,
        account: &Account,
        stored: &StoredPhone,
    ) -> Result<AuthyId, GatewayError> {
        if let Some(id) = stored.authy_id {
            return Ok(id);
        }
        let id = match self
            .client
            .register_user(self.endpoint(settings), &account.email, &stored.phone)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                self.gateway_failed(host.db(), "register user", &e).await;
                return Err(e);
            }
        };
        if let Err(e) =
            store::set_authy_id(host.db(), account.id, stored.phone.e164().to_string(), id).await
        {
            tracing::error!(error = %e, "could not store the gateway user id");
        }
        Ok(id)
    }

    /// Counts the send against the limits, then registers if needed and asks
    /// the gateway for an SMS or a call. Over a limit nothing is requested.
    pub async fn send_code(
        &self,
        host: &HostHandle,
        settings: &StoreSettings,
        actor: &Actor<'_>,
        stored: &StoredPhone,
        channel: Channel,
    ) -> Result<SendOutcome, ServiceError> {
        let sent = self
            .send_claimed(host, settings, actor, stored, channel, None)
            .await?;
        Ok(sent.unwrap_or(SendOutcome::Sent))
    }

    /// `send_code` for the first code of a sign-in, by the code page's
    /// view that claims it (`limits::send_attempt_claimed`, with the
    /// limits' counters in one statement); None when the claim was lost
    /// (the code was sent by an earlier view), and then nothing is counted
    /// or sent.
    pub async fn send_first_code(
        &self,
        host: &HostHandle,
        settings: &StoreSettings,
        actor: &Actor<'_>,
        stored: &StoredPhone,
    ) -> Result<Option<SendOutcome>, ServiceError> {
        let first_code = Some(actor.purpose.to_string());
        self.send_claimed(host, settings, actor, stored, Channel::Sms, first_code)
            .await
    }

    async fn send_claimed(
        &self,
        host: &HostHandle,
        settings: &StoreSettings,
        actor: &Actor<'_>,
        stored: &StoredPhone,
        channel: Channel,
        first_code: Option<String>,
    ) -> Result<Option<SendOutcome>, ServiceError> {
        let quota = self.quota(stored);
        let Some(gate) = limits::send_attempt_claimed(
            host.db(),
            actor.account.id,
            actor.ip,
            actor.initial,
            &quota,
            first_code,
        )
        .await?
        else {
            return Ok(None);
        };
        self.send_counted(host, settings, actor, stored, channel, gate)
            .await
            .map(Some)
    }

    /// What the limits count a code to `stored` against.
    pub fn quota(&self, stored: &StoredPhone) -> limits::SendQuota {
        limits::SendQuota {
            destination: stored.phone.e164().to_string(),
            store_hourly_ceiling: self.config.sms_hourly_ceiling.min(i32::MAX as u32) as i32,
        }
    }

    /// Sends a code that `gate` (the limits, counted) allowed, or says why
    /// not: the send after `limits::send_attempt_claimed`, or after the
    /// password step counted the first code with its pending login
    /// (`sms::first_code`).
    pub async fn send_counted(
        &self,
        host: &HostHandle,
        settings: &StoreSettings,
        actor: &Actor<'_>,
        stored: &StoredPhone,
        channel: Channel,
        gate: SendGate,
    ) -> Result<SendOutcome, ServiceError> {
        let event = match channel {
            Channel::Sms => "code_sent",
            Channel::Call => "call",
        };
        let db = host.db();
        if let SendGate::Wait { seconds, reason } = gate {
            if reason == WaitReason::StoreHourly {
                tracing::warn!("two-factor: the store's hourly SMS ceiling was reached; codes by SMS are paused");
            }
            audit::record(
                db,
                actor.event(event, "rate_limited").detail(reason.as_str()),
            )
            .await;
            return Ok(SendOutcome::Wait { seconds, reason });
        }
        let result = match settings.gateway {
            Gateway::AuthyLegacy => {
                let mut result = self
                    .deliver(host, settings, actor.account, stored, channel)
                    .await;
                if result == Err(GatewayError::UnknownUser) {
                    // The gateway forgot the user (new key, reset sandbox): register again once.
                    store::forget_authy_id(db, actor.account.id).await?;
                    let fresh = StoredPhone {
                        authy_id: None,
                        ..stored.clone()
                    };
                    result = self
                        .deliver(host, settings, actor.account, &fresh, channel)
                        .await;
                }
                result.map(|()| None)
            }
            Gateway::TwilioVerify => {
                let ep = settings.verify_endpoint(&self.config);
                let started = self.verify.start(ep, &stored.phone, channel).await;
                if let Err(e) = &started {
                    if !e.is_about_the_user() {
                        self.gateway_failed(db, channel.as_str(), e).await;
                    }
                }
                started.map(Some)
            }
        };
        match result {
            Ok(verification) => {
                let (account_id, purpose) = (actor.account.id, actor.purpose.to_string());
                let detail = format!("to phone ending {}", stored.phone.last_two());
                let ev = actor.event(event, "success").detail(detail);
                // Who holds the code, and the audit entry, in one write.
                db.transaction(move |conn| {
                    let sid = verification.as_ref().map(VerificationSid::as_str);
                    state::set_code_holder(conn, account_id, &purpose, sid)?;
                    audit::insert(conn, &ev)
                })
                .await?;
                Ok(SendOutcome::Sent)
            }
            Err(e) => {
                limits::release_cooldown(db, actor.account.id).await?;
                // An answer about this number, or a failure of the gateway.
                let refusal = Refusal::of(&e);
                if refusal == Some(Refusal::InvalidNumber) {
                    let e164 = stored.phone.e164().to_string();
                    store::mark_refused(db, actor.account.id, e164).await?;
                }
                let outcome = if refusal.is_some() {
                    "refused"
                } else {
                    "gateway_error"
                };
                audit::record(db, actor.event(event, outcome).detail(e.to_string())).await;
                Ok(refusal.map_or(SendOutcome::Failed, SendOutcome::Refused))
            }
        }
    }

    async fn deliver(
        &self,
        host: &HostHandle,
        settings: &StoreSettings,
        account: &Account,
        stored: &StoredPhone,
        channel: Channel,
    ) -> Result<(), GatewayError> {
        let id = self.authy_id(host, settings, account, stored).await?;
        let result = self
            .client
            .send_code(self.endpoint(settings), id, channel)
            .await;
        if let Err(e) = &result {
            if *e != GatewayError::UnknownUser {
                self.gateway_failed(host.db(), channel.as_str(), e).await;
            }
        }
        result
    }

    /// Counts the attempt against the account's limit, then asks the gateway.
    /// A locked account is refused even with a correct code.
    pub async fn check_code(
        &self,
        host: &HostHandle,
        settings: &StoreSettings,
        actor: &Actor<'_>,
        stored: &StoredPhone,
        code: Option<&OtpCode>,
    ) -> Result<Checked, ServiceError> {
        let gate = limits::code_attempt(host.db(), actor.account.id).await?;
        let (checked, on_success) = self
            .check_code_gated(
                host,
                settings,
                actor,
                stored,
                code,
                gate,
                state::KnownHolder::Unread,
            )
            .await?;
        if let Some(write) = on_success {
            host.db().transaction(write).await?;
        }
        Ok(checked)
    }

    /// `check_code` for an attempt already counted (`gate`, from
    /// `limits::code_attempt_in` in the caller's transaction). A valid code
    /// comes with its writes (the attempt given back, the resend cooldown
    /// ended, the number confirmed) for the caller to run in the
    /// transaction that completes the sign-in. `holder`: who holds the
    /// account's code, as far as the caller read it.
    #[allow(clippy::too_many_arguments)]
    pub async fn check_code_gated(
        &self,
        host: &HostHandle,
        settings: &StoreSettings,
        actor: &Actor<'_>,
        stored: &StoredPhone,
        code: Option<&OtpCode>,
        gate: CodeGate,
        holder: state::KnownHolder,
    ) -> Result<(Checked, Option<SuccessWrite>), ServiceError> {
        let db = host.db();
        if gate_locked(db, actor, gate).await {
            return Ok((Checked::Locked, None));
        }
        // A malformed code never reaches the gateway; it still counted above.
        let Some(code) = code else {
            audit::record(
                db,
                actor.event("verify", "failure").detail("malformed code"),
            )
            .await;
            return Ok((Checked::Wrong, None));
        };
        // The gateway keeps one code per user: accept it only for the sign-in
        // (or page) that asked for it last, so a code is bound to one pending login.
        let holder = match holder {
            state::KnownHolder::Read(known) => known,
            state::KnownHolder::Unread => {
                let account_id = actor.account.id;
                db.run(move |conn| state::code_holder(conn, account_id))
                    .await?
            }
        };
        let Some(holder) = holder.filter(|h| h.purpose == actor.purpose) else {
            audit::record(
                db,
                actor
                    .event("verify", "failure")
                    .detail("code was sent for another sign-in"),
            )
            .await;
            return Ok((Checked::NoCodeSent, None));
        };
        let answer = match settings.gateway {
            Gateway::AuthyLegacy => {
                let Some(id) = stored.authy_id else {
                    return Ok((self.no_code_sent(db, actor).await?, None));
                };
                self.client.verify(self.endpoint(settings), id, code).await
            }
            Gateway::TwilioVerify => {
                // The code is checked against the verification this
                // sign-in started, never by phone number alone.
                let Some(sid) = holder
                    .verification_sid
                    .as_deref()
                    .and_then(VerificationSid::parse)
                else {
                    return Ok((self.no_code_sent(db, actor).await?, None));
                };
                let ep = settings.verify_endpoint(&self.config);
                self.verify.check(ep, &sid, code).await
            }
        };
        match answer {
            Ok(TokenCheck::Valid) => {
                let account_id = actor.account.id;
                // The code reached this number: a number set at
                // registration or by an admin is now confirmed.
                let confirm = (!stored.confirmed).then(|| stored.phone.e164().to_string());
                let on_success: SuccessWrite = Box::new(move |conn| {
                    limits::code_used_in(conn, account_id)?;
                    if let Some(e164) = confirm {
                        store::mark_confirmed_in(conn, account_id, &e164)?;
                    }
                    Ok(())
                });
                Ok((
                    Checked::Valid {
                        method: Method::Sms,
                        remaining: None,
                    },
                    Some(on_success),
                ))
            }
            Ok(TokenCheck::Rejected) => {
                audit::record(db, actor.event("verify", "failure").detail("wrong code")).await;
                Ok((Checked::Wrong, None))
            }
            // A used code ends no sign-in: of concurrent submissions of the
            // right code one wins, and the others must not cancel the sign-in
            // (as a fifth wrong code would) before the winner completes it.
            Ok(TokenCheck::Used) => {
                audit::record(
                    db,
                    actor.event("verify", "failure").detail("code already used"),
                )
                .await;
                Ok((Checked::CodeEnded, None))
            }
            Err(e @ (GatewayError::NotFound | GatewayError::TooManyChecks)) => {
                audit::record(db, actor.event("verify", "failure").detail(e.to_string())).await;
                Ok((
                    if e == GatewayError::NotFound {
                        Checked::CodeEnded
                    } else {
                        Checked::TooManyTriesAtGateway
                    },
                    None,
                ))
            }
            Err(e) => {
                if e == GatewayError::UnknownUser {
                    store::forget_authy_id(db, actor.account.id).await?;
                }
                self.gateway_failed(db, "verify", &e).await;
                audit::record(
                    db,
                    actor.event("verify", "gateway_error").detail(e.to_string()),
                )
                .await;
                Ok((Checked::GatewayFailed, None))
            }
        }
    }

    async fn no_code_sent(&self, db: &Db, actor: &Actor<'_>) -> Result<Checked, ServiceError> {
        audit::record(
            db,
            actor.event("verify", "failure").detail("no code was sent"),
        )
        .await;
        Ok(Checked::NoCodeSent)
    }

    /// A sign-in was cancelled: its code is no longer held, and a Twilio
    /// Verify verification is cancelled at the gateway too (best effort:
    /// the code is already refused here).
    pub async fn cancel_code(&self, host: &HostHandle, account_id: i64, purpose: &str) {
        let db = host.db();
        let purpose = purpose.to_string();
        let taken = db
            .transaction(move |conn| state::take_code_holder(conn, account_id, &purpose))
            .await;
        let Ok(Some(sid)) = taken else { return };
        let Some(sid) = VerificationSid::parse(&sid) else {
            return;
        };
        let Ok(settings) = self.settings(host).await else {
            return;
        };
        if settings.gateway == Gateway::TwilioVerify {
            let ep = settings.verify_endpoint(&self.config);
            if let Err(e) = self.verify.cancel(ep, &sid).await {
                if e != GatewayError::NotFound {
                    tracing::warn!(error = %e, "two-factor: cancelling the verification failed");
                }
            }
        }
    }
}

/// Counts one code attempt against the account's limit, for every kind of
/// code; true (and audited) when the account is locked, now or already.
pub async fn count_code_attempt(db: &Db, actor: &Actor<'_>) -> Result<bool, DbError> {
    let gate = limits::code_attempt(db, actor.account.id).await?;
    Ok(gate_locked(db, actor, gate).await)
}

/// What a counted attempt found: true (and audited) when the account is
/// locked, now or already.
pub async fn gate_locked(db: &Db, actor: &Actor<'_>, gate: CodeGate) -> bool {
    match gate {
        CodeGate::Allowed => false,
        CodeGate::Locked => {
            audit::record(db, actor.event("verify", "locked")).await;
            true
        }
        CodeGate::LockedNow => {
            let detail = format!(
                "{} wrong codes; locked for {} minutes",
                limits::MAX_FAILS,
                limits::LOCK_SECS / 60
            );
            audit::record(db, actor.event("lock", "locked").detail(detail)).await;
            true
        }
    }
}

/// The text shown when a send is refused by a limit.
pub fn wait_message(seconds: i64, reason: WaitReason) -> String {
    let when = limits::human_wait(seconds);
    match reason {
        WaitReason::Cooldown => {
            format!("A code was sent moments ago. You can ask for another one {when}.")
        }
        WaitReason::AccountHourly | WaitReason::IpHourly => {
            format!("Too many codes were requested in the last hour. You can ask for another one {when}.")
        }
        WaitReason::NumberHourly | WaitReason::NumberDaily => {
            format!("Too many codes were sent to this phone number recently. You can ask for another one {when}.")
        }
        WaitReason::StoreHourly => format!(
            "Text messages from this store are paused for a while. Please try again {when}, or use your authenticator app or a recovery code."
        ),
    }
}

/// The text shown when a limit held back the first code of a sign-in: a
/// page view, so it says how to get the code once the wait is over.
pub fn first_code_wait_message(seconds: i64, reason: WaitReason) -> String {
    format!(
        "{} Then use “Resend SMS with code”.",
        wait_message(seconds, reason)
    )
}

/// The text shown when the gateway failed; the login is refused.
pub fn gateway_message(sending: bool) -> &'static str {
    if sending {
        "We could not send your code: the verification service is not answering right now. Please try again in a moment."
    } else {
        "We could not check your code: the verification service is not answering right now. Please try again in a moment."
    }
}
