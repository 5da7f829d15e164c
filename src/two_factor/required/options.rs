//! The ways to set up a second factor that the "Set up two-factor
//! authentication" page offers, listed in this one place (a passkey
//! joins them here).

use serde::Serialize;

use crate::plugin::{Interface, Role};
use crate::two_factor::settings::StoreSettings;
use crate::two_factor::sign_in::policy;

use super::pages;

/// How the option's button leads on: a POST form (it starts something
/// server-side) or a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Post,
    Link,
}

#[derive(Clone, Debug, Serialize)]
pub struct SetupOption {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub path: String,
    pub via: Via,
}

/// The options for an account of `role` signing in through `interface`'s
/// pages: an authenticator app always; text messages where the store
/// sends them to the role.
pub fn available(settings: &StoreSettings, role: Role, interface: Interface) -> Vec<SetupOption> {
    let mut out = vec![SetupOption {
        key: "app",
        label: "Set up an authenticator app",
        description: "Google Authenticator, Microsoft Authenticator, 1Password, Aegis… Works without phone signal.",
        path: pages::app_start_path(interface),
        via: Via::Post,
    }];
    if settings.active_for(role) {
        out.push(SetupOption {
            key: "sms",
            label: "Use text messages (SMS)",
            description: "We text a code to your phone each time you sign in.",
            path: policy::phone_path(interface).to_string(),
            via: Via::Link,
        });
    }
    out
}
