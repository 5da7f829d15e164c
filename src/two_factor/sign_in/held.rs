//! The sign-in a step page works on (the one this session holds, held by
//! this addon, for the page's skin), and where the step goes when its
//! counted attempt may not be checked.

use actix_web::HttpRequest;

use crate::plugin::{HostHandle, Interface, PendingLogin};
use crate::two_factor::pages::{interface_of, PageError};
use crate::two_factor::sign_in::flash::{self, Flash};
use crate::two_factor::sign_in::verify::PendingAttempt;
use crate::two_factor::sign_in::wrong_code;
use crate::two_factor::sms::pages::ended_path;
use crate::two_factor::ADDON_ID;

/// The pending login of this session at this addon's step; else where to
/// go instead: the login form when there is none (or another addon's), the
/// same step in the other skin (`step`) when it belongs to the other
/// interface. A database that cannot be read is an error (the 503 page
/// during an outage), never "sign in again".
pub async fn held_here(
    host: &HostHandle,
    req: &HttpRequest,
    step: fn(Interface) -> &'static str,
) -> Result<PendingLogin, PageError> {
    let interface = interface_of(req);
    let login = || PageError::SeeOther(host.login_path(interface).into());
    let pending = host.try_pending_login(req).await?.ok_or_else(login)?;
    if pending.addon_id.as_deref() != Some(ADDON_ID) {
        return Err(login());
    }
    if pending.interface != interface {
        return Err(PageError::SeeOther(step(pending.interface).into()));
    }
    Ok(pending)
}

/// A step's attempt, counted before its answer is checked: the wrong
/// answers the sign-in may still take; else where the step goes instead:
/// the ended page saying why when this attempt voided the sign-in, the
/// login form when the sign-in is gone.
pub async fn attempts_left(
    host: &HostHandle,
    req: &HttpRequest,
    pending: &PendingLogin,
    ip: &str,
    counted: PendingAttempt,
) -> Result<i32, PageError> {
    match counted {
        PendingAttempt::Counted { left } => Ok(left),
        PendingAttempt::Voided => {
            let why = wrong_code::cancelled(host, pending, ip, true).await?;
            flash::leave(host, req, Flash::error(why.message())).await?;
            Err(PageError::SeeOther(ended_path(pending.interface)))
        }
        PendingAttempt::Gone => Err(PageError::SeeOther(
            host.login_path(pending.interface).into(),
        )),
    }
}
