//! Resetting a user's two-factor authentication from outside the user's own
//! session: the admin user page and the `storefront-2fa tfa` command (for a
//! locked-out sole admin). Blocking functions on a connection, so the CLI
//! can call them without a runtime.

use crate::db::{DbConn, DbError};

use super::audit::{self, AuditEvent};
use super::factors::{self, Factors};
use super::status::format_time;

/// Removes every factor of `account_id` and records who did it. Returns
/// false when there was nothing to remove.
pub fn reset(
    conn: &mut DbConn,
    account_id: i64,
    account_email: &str,
    by: &str,
    ip: &str,
) -> Result<bool, DbError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let removed = factors::remove_all(conn, account_id)?;
        let mut ev = AuditEvent::new("reset", if removed { "success" } else { "nothing" })
            .ip(ip)
            .detail(format!("two-factor reset by {by}"));
        ev.account_id = Some(account_id);
        ev.account_email = account_email.to_lowercase();
        audit::insert(conn, &ev)?;
        Ok(removed)
    })
}

pub fn status(conn: &mut DbConn, account_id: i64) -> Result<Factors, DbError> {
    factors::load(conn, account_id)
}

/// `tfa status` output, one factor a line.
pub fn describe(email: &str, f: &Factors) -> String {
    let mut out = format!("Two-factor authentication for {email}:\n");
    out.push_str(&match (f.app, f.app_since) {
        (true, Some(t)) => format!("  authenticator app: on (since {})\n", format_time(t)),
        (true, None) => "  authenticator app: on\n".to_string(),
        _ => "  authenticator app: off\n".to_string(),
    });
    out.push_str(&match &f.phone_last_two {
        Some(d) => format!("  SMS / voice: phone ending in {d}\n"),
        None => "  SMS / voice: no phone\n".to_string(),
    });
    out.push_str(&format!(
        "  recovery codes: {} of {} unused\n",
        f.recovery.remaining, f.recovery.total
    ));
    out
}
