//! Layered settings: built-in defaults, then an optional TOML file, then
//! `STOREFRONT__SECTION__KEY` environment variables.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub security: SecuritySettings,
    pub session: SessionSettings,
    pub sandbox: SandboxSettings,
    pub two_factor: TwoFactorSettings,
    /// Folder for the SQLite database and the generated secret key.
    pub data_dir: PathBuf,
    /// Seed demo products into an empty catalog.
    pub demo_data: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// `host:port`; port 0 picks a free port (tests).
    pub bind: String,
    /// The store's address as shoppers open it (`https://shop.example.com`):
    /// passkeys are bound to its host name. Empty: `http://localhost:PORT`
    /// with the bound port (browsers offer passkeys to localhost over plain
    /// HTTP, but never to an IP address such as 127.0.0.1).
    pub public_url: String,
    /// Mark cookies `Secure` (set when the store is served over TLS).
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` from a load balancer for the client IP.
    pub trust_forwarded_for: bool,
    pub workers: Option<usize>,
    pub templates_dir: Option<PathBuf>,
    pub static_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://...`. Empty means `sqlite://{data_dir}/storefront.db`.
    pub url: String,
    pub pool_size: u32,
}

#[derive(Clone, Deserialize)]
pub struct SecuritySettings {
    /// Base64 of 32 random bytes. Empty: generated once and kept in `{data_dir}/secret.key`.
    pub secret_key: String,
    /// Threads that hash passwords, i.e. how many argon2 runs at once (each
    /// takes 19 MiB). Default: one per core.
    pub max_concurrent_hashes: Option<usize>,
}

impl std::fmt::Debug for SecuritySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecuritySettings")
            .field("secret_key", &"<redacted>")
            .field("max_concurrent_hashes", &self.max_concurrent_hashes)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    pub idle_timeout_minutes: i64,
    pub absolute_timeout_minutes: i64,
}

#[derive(Clone, Deserialize)]
pub struct SandboxSettings {
    /// API key the sandbox accepts in addition to the addon's configured key.
    pub api_key: String,
    /// Serve `/sandbox/authy` even when the addon is in production mode.
    pub mount_in_production: bool,
    /// Requests per user per minute before the sandbox answers 429.
    pub rate_limit_per_minute: u32,
    /// Digits in the codes of the sandbox's Twilio Verify API (its services'
    /// `code_length`): 4 to 10, default 6. Anything else stops the start.
    #[serde(
        default = "SandboxSettings::default_verify_code_length",
        deserialize_with = "SandboxSettings::deserialize_verify_code_length"
    )]
    pub verify_code_length: u8,
}

impl SandboxSettings {
    pub const VERIFY_CODE_LENGTHS: std::ops::RangeInclusive<u8> = 4..=10;

    fn default_verify_code_length() -> u8 {
        6
    }

    fn deserialize_verify_code_length<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<u8, D::Error> {
        let n = i64::deserialize(deserializer)?;
        u8::try_from(n)
            .ok()
            .filter(|n| Self::VERIFY_CODE_LENGTHS.contains(n))
            .ok_or_else(|| serde::de::Error::custom(Self::code_length_message(n)))
    }

    fn code_length_message(n: impl std::fmt::Display) -> String {
        format!("sandbox.verify_code_length must be a number of digits from 4 to 10 (Twilio Verify's range), not {n}")
    }

    /// Checks values set in code rather than read by [`Settings::load`].
    pub fn validate(&self) -> Result<(), String> {
        if Self::VERIFY_CODE_LENGTHS.contains(&self.verify_code_length) {
            Ok(())
        } else {
            Err(Self::code_length_message(self.verify_code_length))
        }
    }
}

impl std::fmt::Debug for SandboxSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxSettings")
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("mount_in_production", &self.mount_in_production)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("verify_code_length", &self.verify_code_length)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TwoFactorSettings {
    /// Gateway used in production mode.
    pub gateway_url: String,
    /// Base URL of the sandbox in test mode; empty means this server's own `/sandbox/authy`.
    pub sandbox_url: String,
    /// Twilio Verify in production mode.
    pub verify_url: String,
    /// Verify in test mode; empty means this server's own `/sandbox/twilio`.
    pub verify_sandbox_url: String,
    pub gateway_timeout_ms: u64,
    /// Texts and calls the whole store may ask the gateway for in an hour.
    /// Past it, codes by SMS pause and the settings page says why: a cap on
    /// what an SMS-pumping wave can cost the store.
    pub sms_hourly_ceiling: u32,
    /// Days the two-factor audit log keeps an event (0: for ever); older
    /// ones are swept at start-up and hourly.
    pub audit_retention_days: u32,
}

impl Settings {
    /// Defaults, then `config_file` (or `storefront.toml` when present), then the environment.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, config::ConfigError> {
        let mut builder = config::Config::builder()
            .set_default("server.bind", "127.0.0.1:8080")?
            .set_default("server.public_url", "")?
            .set_default("server.secure_cookies", false)?
            .set_default("server.trust_forwarded_for", false)?
            .set_default("database.url", "")?
            .set_default("database.pool_size", 8)?
            .set_default("security.secret_key", "")?
            .set_default("session.idle_timeout_minutes", 30)?
            .set_default("session.absolute_timeout_minutes", 12 * 60)?
            .set_default("sandbox.api_key", "")?
            .set_default("sandbox.mount_in_production", false)?
            .set_default("sandbox.rate_limit_per_minute", 30)?
            .set_default("two_factor.gateway_url", "https://api.authy.com")?
            .set_default("two_factor.sandbox_url", "")?
            .set_default("two_factor.verify_url", "https://verify.twilio.com")?
            .set_default("two_factor.verify_sandbox_url", "")?
            .set_default("two_factor.gateway_timeout_ms", 5000)?
            .set_default("two_factor.sms_hourly_ceiling", 300)?
            .set_default("two_factor.audit_retention_days", 400)?
            .set_default("data_dir", "data")?
            .set_default("demo_data", true)?;
        match config_file {
            Some(path) => builder = builder.add_source(config::File::from(path).required(true)),
            None => {
                builder =
                    builder.add_source(config::File::with_name("storefront.toml").required(false))
            }
        }
        builder = builder.add_source(
            config::Environment::with_prefix("STOREFRONT")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        builder.build()?.try_deserialize()
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}/storefront.db", self.data_dir.display())
        } else {
            self.database.url.clone()
        }
    }
}
