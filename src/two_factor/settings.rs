//! A typed view of the addon's settings (manifest `[[settings]]`).

use crate::plugin::{AddonSettings, Role};

use crate::two_factor::config::TwoFactorConfig;

pub const API_KEY: &str = "api_key";
pub const PRODUCTION_MODE: &str = "production_mode";
pub const CUSTOMER_ENABLED: &str = "customer_enabled";
pub const ADMIN_ENABLED: &str = "admin_enabled";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Test,
    Production,
}

/// Settings as the addon uses them. Debug never shows the API key.
#[derive(Clone)]
pub struct StoreSettings {
    pub api_key: String,
    /// An API key is stored but cannot be decrypted (the server's secret key
    /// changed): logins that need 2FA are refused until it is fixed.
    pub api_key_unreadable: bool,
    pub mode: Mode,
    pub customer_enabled: bool,
    pub admin_enabled: bool,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("api_key_set", &!self.api_key.is_empty())
            .field("mode", &self.mode)
            .field("customer_enabled", &self.customer_enabled)
            .field("admin_enabled", &self.admin_enabled)
            .finish()
    }
}

impl StoreSettings {
    pub fn from_addon(settings: &AddonSettings) -> StoreSettings {
        StoreSettings {
            api_key: settings.text(API_KEY).trim().to_string(),
            api_key_unreadable: settings.is_unreadable(API_KEY),
            mode: if settings.bool(PRODUCTION_MODE) {
                Mode::Production
            } else {
                Mode::Test
            },
            customer_enabled: settings.bool(CUSTOMER_ENABLED),
            admin_enabled: settings.bool(ADMIN_ENABLED),
        }
    }

    pub fn has_api_key(&self) -> bool {
        !self.api_key.is_empty()
    }

    /// Whether accounts of `role` are asked for a code (the role decides,
    /// never the form used).
    pub fn enabled_for(&self, role: Role) -> bool {
        match role {
            Role::Admin | Role::Vendor => self.admin_enabled,
            Role::Customer => self.customer_enabled,
        }
    }

    /// The API key is set and the role's toggle is on.
    pub fn active_for(&self, role: Role) -> bool {
        self.has_api_key() && self.enabled_for(role)
    }

    /// Base URL of the gateway for the current mode.
    pub fn base_url<'a>(&self, config: &'a TwoFactorConfig) -> &'a str {
        match self.mode {
            Mode::Production => &config.gateway_url,
            Mode::Test => &config.sandbox_url,
        }
    }
}
