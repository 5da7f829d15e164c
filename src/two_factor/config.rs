//! What the application tells the addon at construction.

use std::time::Duration;

/// Built by the app from `config::TwoFactorSettings`.
#[derive(Clone, Debug)]
pub struct TwoFactorConfig {
    /// Gateway base URL used in production mode (default `https://api.authy.com`).
    pub gateway_url: String,
    /// Absolute base URL of the sandbox used in test mode (resolved by the app).
    pub sandbox_url: String,
    /// Twilio Verify base URL in production mode (`https://verify.twilio.com`).
    pub verify_url: String,
    /// Absolute base URL of the sandbox's Verify API in test mode.
    pub verify_sandbox_url: String,
    /// Timeout of every gateway request (connect and whole response).
    pub timeout: Duration,
    /// SMS and calls the store may send in an hour, all accounts together
    /// (`two_factor.sms_hourly_ceiling`).
    pub sms_hourly_ceiling: u32,
    /// The store's address as shoppers open it (`server.public_url`, e.g.
    /// `https://shop.example.com`): the WebAuthn origin, whose host name is
    /// the relying party id of passkeys.
    pub public_url: String,
}
