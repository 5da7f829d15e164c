//! A typed view of the addon's settings (manifest `[[settings]]`), and the
//! shape checks the settings form runs before anything is saved.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use crate::plugin::{AddonSettings, FieldErrors, Role};

use crate::two_factor::config::TwoFactorConfig;
use crate::two_factor::gateways::verify::is_sid;
use crate::two_factor::gateways::VerifyEndpoint;
use crate::two_factor::otp_code;

pub const GATEWAY: &str = "gateway";
pub const API_KEY: &str = "api_key";
pub const TWILIO_ACCOUNT_SID: &str = "twilio_account_sid";
pub const TWILIO_AUTH_TOKEN: &str = "twilio_auth_token";
pub const TWILIO_API_KEY_SID: &str = "twilio_api_key_sid";
pub const TWILIO_API_KEY_SECRET: &str = "twilio_api_key_secret";
pub const TWILIO_SERVICE_SID: &str = "twilio_service_sid";
pub const PRODUCTION_MODE: &str = "production_mode";
pub const CUSTOMER_ENABLED: &str = "customer_enabled";
pub const ADMIN_ENABLED: &str = "admin_enabled";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Test,
    Production,
}

/// Which gateway delivers and checks codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gateway {
    /// Twilio Verify v2: the default, and the one open to new customers.
    TwilioVerify,
    /// The Authy-compatible API, for stores that already have a key.
    AuthyLegacy,
}

impl Gateway {
    pub fn label(self) -> &'static str {
        match self {
            Gateway::TwilioVerify => "Twilio Verify",
            Gateway::AuthyLegacy => "Authy-compatible API (legacy)",
        }
    }
}

/// Twilio Verify credentials. Debug shows no secret.
#[derive(Clone, Default)]
pub struct VerifyCredentials {
    pub account_sid: String,
    pub auth_token: String,
    pub api_key_sid: String,
    pub api_key_secret: String,
    pub service_sid: String,
    /// A secret is stored but cannot be decrypted.
    pub unreadable: bool,
}

impl VerifyCredentials {
    /// Who to authenticate as: the API key when one is given, else the
    /// account and its Auth Token. `None` while incomplete.
    pub fn login(&self) -> Option<(&str, &str)> {
        if !self.service_sid.is_empty() {
            if !self.api_key_sid.is_empty() && !self.api_key_secret.is_empty() {
                return Some((&self.api_key_sid, &self.api_key_secret));
            }
            if !self.account_sid.is_empty() && !self.auth_token.is_empty() {
                return Some((&self.account_sid, &self.auth_token));
            }
        }
        None
    }
}

/// Settings as the addon uses them. Debug never shows a secret.
#[derive(Clone)]
pub struct StoreSettings {
    pub gateway: Gateway,
    /// The Authy-compatible API key (legacy gateway).
    pub api_key: String,
    pub verify: VerifyCredentials,
    /// The chosen gateway's secret is stored but cannot be decrypted (the
    /// server's secret key changed): logins that need 2FA are refused
    /// until it is fixed.
    pub api_key_unreadable: bool,
    pub mode: Mode,
    pub customer_enabled: bool,
    pub admin_enabled: bool,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("gateway", &self.gateway)
            .field("configured", &self.has_api_key())
            .field("mode", &self.mode)
            .field("customer_enabled", &self.customer_enabled)
            .field("admin_enabled", &self.admin_enabled)
            .finish()
    }
}

impl StoreSettings {
    pub fn from_addon(settings: &AddonSettings) -> StoreSettings {
        let text = |key: &str| settings.text(key).trim().to_string();
        let verify = VerifyCredentials {
            account_sid: text(TWILIO_ACCOUNT_SID),
            auth_token: text(TWILIO_AUTH_TOKEN),
            api_key_sid: text(TWILIO_API_KEY_SID),
            api_key_secret: text(TWILIO_API_KEY_SECRET),
            service_sid: text(TWILIO_SERVICE_SID),
            unreadable: settings.is_unreadable(TWILIO_AUTH_TOKEN)
                || settings.is_unreadable(TWILIO_API_KEY_SECRET),
        };
        let api_key = text(API_KEY);
        let authy_unreadable = settings.is_unreadable(API_KEY);
        // A store that chose Authy keeps it. So does one that has an Authy
        // key and no Verify credentials yet: it set up 2FA before Verify
        // was offered, and the new default must not switch it off.
        let gateway = match settings.text(GATEWAY) {
            "authy" => Gateway::AuthyLegacy,
            _ if verify.login().is_none()
                && !verify.unreadable
                && (!api_key.is_empty() || authy_unreadable) =>
            {
                Gateway::AuthyLegacy
            }
            _ => Gateway::TwilioVerify,
        };
        let api_key_unreadable = match gateway {
            Gateway::AuthyLegacy => authy_unreadable,
            Gateway::TwilioVerify => verify.unreadable,
        };
        StoreSettings {
            gateway,
            api_key,
            verify,
            api_key_unreadable,
            mode: if settings.bool(PRODUCTION_MODE) {
                Mode::Production
            } else {
                Mode::Test
            },
            customer_enabled: settings.bool(CUSTOMER_ENABLED),
            admin_enabled: settings.bool(ADMIN_ENABLED),
        }
    }

    /// The chosen gateway has its credentials.
    pub fn has_api_key(&self) -> bool {
        match self.gateway {
            Gateway::AuthyLegacy => !self.api_key.is_empty(),
            Gateway::TwilioVerify => self.verify.login().is_some(),
        }
    }

    /// Whether accounts of `role` are asked for a code (the role decides,
    /// never the form used).
    pub fn enabled_for(&self, role: Role) -> bool {
        match role {
            Role::Admin | Role::Vendor => self.admin_enabled,
            Role::Customer => self.customer_enabled,
        }
    }

    /// The gateway is configured and the role's toggle is on.
    pub fn active_for(&self, role: Role) -> bool {
        self.has_api_key() && self.enabled_for(role)
    }

    /// Base URL of the Authy-compatible gateway for the current mode.
    pub fn base_url<'a>(&self, config: &'a TwoFactorConfig) -> &'a str {
        match self.mode {
            Mode::Production => &config.gateway_url,
            Mode::Test => &config.sandbox_url,
        }
    }

    /// Where and as whom Verify requests go, for the current mode.
    pub fn verify_endpoint<'a>(&'a self, config: &'a TwoFactorConfig) -> VerifyEndpoint<'a> {
        let (username, secret) = self.verify.login().unwrap_or(("", ""));
        VerifyEndpoint {
            base_url: match self.mode {
                Mode::Production => &config.verify_url,
                Mode::Test => &config.verify_sandbox_url,
            },
            username,
            secret,
            service_sid: &self.verify.service_sid,
        }
    }

    /// The lengths a code from the gateway can have.
    pub fn code_lengths(&self) -> RangeInclusive<usize> {
        match self.gateway {
            Gateway::AuthyLegacy => otp_code::MIN_LEN..=otp_code::MAX_LEN,
            Gateway::TwilioVerify => otp_code::VERIFY_LENGTHS,
        }
    }
}

/// The shape checks of the settings form, on the values about to be saved
/// (`values`, where an empty secret means "keep the stored one") and the
/// stored settings: each SID has its prefix and 32 hex digits, and Twilio
/// Verify, once any of its fields is given, has all it needs.
pub fn check_form(values: &BTreeMap<String, String>, stored: &AddonSettings) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let given = |key: &str| values.get(key).map(|v| v.trim()).unwrap_or("");
    // A secret left empty keeps the stored one (and is absent from `values`
    // unless it is being cleared).
    let secret_after = |key: &str| match values.get(key) {
        Some(v) => !v.trim().is_empty(),
        None => stored.is_set(key) || stored.is_unreadable(key),
    };
    for (key, prefix, what) in [
        (TWILIO_ACCOUNT_SID, "AC", "An Account SID"),
        (TWILIO_SERVICE_SID, "VA", "A Verify Service SID"),
        (TWILIO_API_KEY_SID, "SK", "An API key SID"),
    ] {
        let v = given(key);
        if !v.is_empty() && !is_sid(v, prefix) {
            errors.add(
                key,
                format!("{what} is “{prefix}” followed by 32 characters 0-9 and a-f, as Twilio's console shows it."),
            );
        }
    }
    let verify_chosen = given(GATEWAY) == "twilio_verify";
    let any_verify = [TWILIO_ACCOUNT_SID, TWILIO_SERVICE_SID, TWILIO_API_KEY_SID]
        .iter()
        .any(|k| !given(k).is_empty())
        || values.get(TWILIO_AUTH_TOKEN).is_some_and(|v| !v.is_empty())
        || values
            .get(TWILIO_API_KEY_SECRET)
            .is_some_and(|v| !v.is_empty());
    if verify_chosen && any_verify {
        if given(TWILIO_SERVICE_SID).is_empty() {
            errors.add(
                TWILIO_SERVICE_SID,
                "Enter the Verify Service SID (Twilio console → Verify → Services).",
            );
        }
        let key_pair = !given(TWILIO_API_KEY_SID).is_empty();
        if key_pair {
            if !secret_after(TWILIO_API_KEY_SECRET) {
                errors.add(
                    TWILIO_API_KEY_SECRET,
                    "Enter the API key's secret, or remove the API key SID to use the Auth Token.",
                );
            }
        } else {
            if given(TWILIO_ACCOUNT_SID).is_empty() {
                errors.add(
                    TWILIO_ACCOUNT_SID,
                    "Enter the Account SID (Twilio console → Account info).",
                );
            }
            if !secret_after(TWILIO_AUTH_TOKEN) {
                errors.add(
                    TWILIO_AUTH_TOKEN,
                    "Enter the Auth Token (Twilio console → Account info), or an API key SID and secret.",
                );
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "AC0123456789abcdef0123456789abcdef";
    const VA: &str = "VA0123456789abcdef0123456789abcdef";

    fn stored(pairs: &[(&str, &str)]) -> AddonSettings {
        AddonSettings::from_values(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_store_with_an_authy_key_and_no_verify_keeps_authy() {
        let s = StoreSettings::from_addon(&stored(&[(GATEWAY, "twilio_verify"), (API_KEY, "k")]));
        assert_eq!(s.gateway, Gateway::AuthyLegacy);
        assert!(s.has_api_key());
        let s = StoreSettings::from_addon(&stored(&[
            (GATEWAY, "twilio_verify"),
            (API_KEY, "k"),
            (TWILIO_ACCOUNT_SID, AC),
            (TWILIO_AUTH_TOKEN, "t"),
            (TWILIO_SERVICE_SID, VA),
        ]));
        assert_eq!(s.gateway, Gateway::TwilioVerify);
        assert_eq!(s.verify.login(), Some((AC, "t")));
        let s = StoreSettings::from_addon(&stored(&[(GATEWAY, "twilio_verify")]));
        assert_eq!(s.gateway, Gateway::TwilioVerify);
        assert!(!s.has_api_key(), "a new install has nothing configured");
        let s = StoreSettings::from_addon(&stored(&[(GATEWAY, "authy")]));
        assert_eq!(s.gateway, Gateway::AuthyLegacy);
        assert!(!s.has_api_key());
    }

    #[test]
    fn the_form_checks_sid_shapes_and_completeness() {
        let form = |pairs: &[(&str, &str)]| {
            let values: BTreeMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            check_form(&values, &stored(&[]))
        };
        let e = form(&[
            (GATEWAY, "twilio_verify"),
            (TWILIO_ACCOUNT_SID, "AC123"),
            (TWILIO_SERVICE_SID, VA),
            (TWILIO_AUTH_TOKEN, "t"),
        ]);
        assert!(e.get(TWILIO_ACCOUNT_SID).unwrap().contains("“AC”"));
        let e = form(&[(GATEWAY, "twilio_verify"), (TWILIO_ACCOUNT_SID, AC)]);
        assert!(e.get(TWILIO_SERVICE_SID).is_some() && e.get(TWILIO_AUTH_TOKEN).is_some());
        let e = form(&[
            (GATEWAY, "twilio_verify"),
            (TWILIO_ACCOUNT_SID, AC),
            (TWILIO_SERVICE_SID, VA),
            (TWILIO_AUTH_TOKEN, "t"),
        ]);
        assert!(e.is_empty());
        // Nothing of Verify given: nothing to complete (test mode, or Authy).
        assert!(form(&[(GATEWAY, "twilio_verify")]).is_empty());
        // The stored token counts when the field is left empty.
        let values: BTreeMap<String, String> = [
            (GATEWAY, "twilio_verify"),
            (TWILIO_ACCOUNT_SID, AC),
            (TWILIO_SERVICE_SID, VA),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(check_form(&values, &stored(&[(TWILIO_AUTH_TOKEN, "t")])).is_empty());
    }
}
