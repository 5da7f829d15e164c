//! What a sign-in says after a wrong code. The user has already given the
//! right password, so the code pages say what happened and how many tries
//! are left, instead of the password step's generic message: "That code is
//! not right. 3 attempts left." When none are left the sign-in is
//! cancelled, and the message says when a new one can succeed, from the
//! limits really in force (the account's lock or its window of failures).

use crate::db::DbError;
use crate::plugin::{HostHandle, PendingLogin};

use crate::two_factor::limits;
use crate::two_factor::sign_in::verify;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrongCode {
    /// The sign-in goes on; this many more wrong codes are taken.
    TryAgain { left: i32 },
    /// The sign-in was cancelled; a new one can succeed after this many
    /// seconds (0: now).
    Cancelled { wait_secs: i64 },
}

impl WrongCode {
    pub fn message(self) -> String {
        match self {
            WrongCode::TryAgain { left } => format!(
                "That code is not right. {left} attempt{} left.",
                if left == 1 { "" } else { "s" }
            ),
            WrongCode::Cancelled { wait_secs: 0 } => {
                "Too many wrong codes: this sign-in was cancelled; you can sign in again now."
                    .to_string()
            }
            WrongCode::Cancelled { wait_secs } => {
                let minutes = (wait_secs + 59) / 60;
                format!(
                    "Too many wrong codes: this sign-in was cancelled; you can sign in again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                )
            }
        }
    }
}

/// After a wrong code that left the sign-in `pending_left` more tries:
/// the fewer of those and of the account's own before its lock. At none,
/// the sign-in is cancelled now rather than waiting for a last refusal.
pub async fn after_wrong_code(
    host: &HostHandle,
    pending: &PendingLogin,
    ip: &str,
    pending_left: i32,
) -> Result<WrongCode, DbError> {
    let standing = limits::standing(host.db(), pending.account.id).await?;
    let left = pending_left.min(standing.fails_left);
    if left > 0 {
        return Ok(WrongCode::TryAgain { left });
    }
    verify::void(
        host,
        pending,
        ip,
        "no attempts left; sign-in cancelled".into(),
    )
    .await?;
    Ok(WrongCode::Cancelled {
        wait_secs: standing.wait_secs,
    })
}

/// The sign-in was voided by its attempt count, or the account is locked:
/// cancel it (if still there) and say when a new one can succeed.
pub async fn cancelled(
    host: &HostHandle,
    pending: &PendingLogin,
    ip: &str,
    already_voided: bool,
) -> Result<WrongCode, DbError> {
    if !already_voided {
        verify::void(
            host,
            pending,
            ip,
            "account locked; sign-in cancelled".into(),
        )
        .await?;
    }
    let standing = limits::standing(host.db(), pending.account.id).await?;
    Ok(WrongCode::Cancelled {
        wait_secs: standing.wait_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::WrongCode;

    #[test]
    fn messages_say_what_happened_and_when() {
        assert_eq!(
            WrongCode::TryAgain { left: 3 }.message(),
            "That code is not right. 3 attempts left."
        );
        assert_eq!(
            WrongCode::TryAgain { left: 1 }.message(),
            "That code is not right. 1 attempt left."
        );
        assert!(WrongCode::Cancelled { wait_secs: 0 }
            .message()
            .ends_with("you can sign in again now."));
        assert!(WrongCode::Cancelled {
            wait_secs: 14 * 60 + 1
        }
        .message()
        .ends_with("you can sign in again in 15 minutes."));
    }
}
