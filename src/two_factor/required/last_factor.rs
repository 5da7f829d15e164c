//! While the store requires two-factor authentication of an account, its
//! owner cannot turn off its last second factor: the Security page's
//! Disable, and removing the only phone on the profile, say why instead.

use crate::db::DbError;
use crate::plugin::{Account, HostHandle};
use crate::two_factor::factors;
use crate::two_factor::ADDON_ID;

use super::rule::Rule;

/// What the refused form says.
pub const KEPT: &str = "This store requires two-factor authentication for your account, so your last second factor cannot be removed. Set up an authenticator app first, or change the number instead.";

/// Whether removing the phone would leave `account` with no second factor
/// while the store requires one.
pub async fn phone_is_kept(host: &HostHandle, account: &Account) -> Result<bool, DbError> {
    let settings = host.addon_settings(ADDON_ID).await?;
    if !Rule::for_role(&settings, account.role).required {
        return Ok(false);
    }
    Ok(!factors::app_confirmed(host.db(), account.id).await?)
}
