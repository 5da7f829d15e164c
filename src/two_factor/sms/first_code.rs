//! The first code of an SMS sign-in, sent by the password step. Its limits
//! and its claim (`limits::send_attempt_claimed_in`) land in the host's
//! transaction that keeps the pending login; the send runs once that has
//! committed (`HostServices::write_with_pending_login_then`), and who holds
//! the code is written after it, with its audit entry. So the password step
//! is the only write before the code, and the code page's view only reads:
//! one write transaction less a sign-in, and the phone buzzes as the code
//! page opens. The code page still sends the first code itself where the
//! host cannot do this, or where a limit stopped it here (its view says
//! why, and the next one may send it).

use std::sync::{Arc, Mutex, PoisonError};

use actix_web::HttpRequest;

use crate::db::DbError;
use crate::plugin::{AfterKept, HostHandle, LoginAttempt, PendingWrite};
use crate::two_factor::gateways::Channel;
use crate::two_factor::limits::{self, SendGate};
use crate::two_factor::settings::StoreSettings;
use crate::two_factor::sign_in::flash::{self, Flash};
use crate::two_factor::sms::service::{
    first_code_wait_message, gateway_message, Actor, SendOutcome, Service, ServiceError,
};
use crate::two_factor::store::StoredPhone;

/// Counts the first code of `attempt`'s sign-in with its pending login and
/// sends it once that is kept. A host that cannot run work after keeping
/// it runs neither: nothing is counted, and the code page's first view
/// sends the code (it goes by who holds the code, so it need not be told).
pub async fn send_with_pending_login(
    service: &Arc<Service>,
    host: &HostHandle,
    settings: StoreSettings,
    attempt: &LoginAttempt,
    stored: StoredPhone,
) -> Result<(), DbError> {
    // What the count in the host's transaction found, for the send after it.
    let counted: Arc<Mutex<Option<SendGate>>> = Arc::default();
    let write: PendingWrite = {
        let counted = counted.clone();
        let (account_id, ip) = (attempt.account.id, attempt.ip.clone());
        let (quota, pending_id) = (service.quota(&stored), attempt.pending_id.clone());
        Box::new(move |conn| {
            let gate = limits::send_attempt_claimed_in(
                conn,
                account_id,
                &ip,
                true,
                &quota,
                Some(pending_id),
            )?;
            *counted.lock().unwrap_or_else(PoisonError::into_inner) = gate;
            Ok(())
        })
    };
    let then: AfterKept = {
        let (service, host) = (service.clone(), host.clone());
        let (account, interface) = (attempt.account.clone(), attempt.interface);
        let (ip, pending_id) = (attempt.ip.clone(), attempt.pending_id.clone());
        Box::new(move |req: HttpRequest| {
            Box::pin(async move {
                let gate = counted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                // No gate: the claim was lost, which a new pending login's
                // never is; nothing was counted, so nothing is sent.
                let Some(gate) = gate else { return };
                let actor = Actor {
                    account: &account,
                    interface,
                    ip: &ip,
                    purpose: &pending_id,
                    initial: true,
                    via_api: false,
                };
                let sent = service
                    .send_counted(&host, &settings, &actor, &stored, Channel::Sms, gate)
                    .await;
                if let Err(e) = after_send(&host, &req, &pending_id, sent).await {
                    tracing::error!(error = %e, "two-factor: could not record the first code's send");
                }
            })
        })
    };
    host.write_with_pending_login_then(&attempt.pending_id, write, then)
        .await?;
    Ok(())
}

/// What the code page must know of a first code that was not sent. A sent
/// one needs nothing more: who holds the code says so (`store::phone_and_codes`).
async fn after_send(
    host: &HostHandle,
    req: &HttpRequest,
    pending_id: &str,
    sent: Result<SendOutcome, ServiceError>,
) -> Result<(), DbError> {
    match sent {
        Ok(SendOutcome::Sent) => Ok(()),
        // A limit: the code page says how long to wait, and its first view
        // after the wait sends the code (or "Resend" does). Not at once:
        // the counters before the limit that refused stay counted, so a
        // view's retry now would be refused by the resend cooldown, and
        // say that instead of why.
        Ok(SendOutcome::Wait { seconds, reason }) => {
            let id = pending_id.to_string();
            host.db()
                .transaction(move |conn| limits::defer_first_code(conn, &id, seconds))
                .await?;
            let wait = first_code_wait_message(seconds, reason);
            flash::leave(host, req, Flash::error(wait)).await
        }
        // The gateway failed or will not text this number: the code page
        // says so once, and "Resend" (or another factor) is the way on.
        Ok(SendOutcome::Failed) => {
            flash::leave(host, req, Flash::unavailable(gateway_message(true))).await
        }
        Ok(SendOutcome::Refused(why)) => flash::leave(host, req, Flash::error(why.message())).await,
        Err(ServiceError::Db(e)) => Err(e),
    }
}
