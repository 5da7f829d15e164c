//! What the application tells the addon at construction.

use std::time::Duration;

/// Built by the app from `config::TwoFactorSettings`.
#[derive(Clone, Debug)]
pub struct TwoFactorConfig {
    /// Gateway base URL used in production mode (default `https://api.authy.com`).
    pub gateway_url: String,
    /// Absolute base URL of the sandbox used in test mode (resolved by the app).
    pub sandbox_url: String,
    /// Timeout of every gateway request (connect and whole response).
    pub timeout: Duration,
}

impl TwoFactorConfig {
    /// From the layered settings; `sandbox_url` when the setting is empty is
    /// the app's own mounted sandbox, which only the app knows.
    pub fn from_settings(
        settings: &crate::config::TwoFactorSettings,
        own_sandbox_url: &str,
    ) -> TwoFactorConfig {
        let sandbox_url = if settings.sandbox_url.is_empty() {
            own_sandbox_url.to_string()
        } else {
            settings.sandbox_url.clone()
        };
        TwoFactorConfig {
            gateway_url: settings.gateway_url.clone(),
            sandbox_url,
            timeout: Duration::from_millis(settings.gateway_timeout_ms.max(1)),
        }
    }
}
