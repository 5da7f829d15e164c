//! The Authy-compatible sandbox used in test mode (see shared authy-api.md).
//! Mounted by the app under `/sandbox/authy`, or served standalone.
//!
//! One file per job: `params` (merging query/JSON/form parameters), `auth`
//! (API key and availability), `responses` (compact, ordered JSON), `phone`
//! (validation and masking), `users`, `tokens` (SMS/call codes), `outbox`,
//! `approvals` (push), `verifications` (phone verification), `ratelimit`,
//! `stats`, `routes` (the HTTP handlers), `admin` (the store admin's outbox
//! page) and `standalone` (the sandbox as its own server). `twilio` serves
//! the same sandbox over the Twilio Verify v2 wire protocol (its own tables,
//! the same outbox), mounted beside it under `/sandbox/twilio`.
//!
//! Mounting in the app (the policy answers 404 for every route in
//! production mode unless `sandbox.mount_in_production` is set):
//!
//! ```text
//! let state = SandboxState::new(db.clone(), policy, settings.sandbox.clone());
//! app.service(web::scope("/sandbox/authy").configure(move |c| authy_sandbox::configure(c, state)));
//! ```
//!
//! The admin page: `admin::configure_admin(cfg, host, db)` from the addon's
//! routes. Standalone: `build_standalone(listener, db, key, settings)` or
//! `run_standalone(bind, db, key, settings)`.

pub mod admin;
pub mod approvals;
pub mod auth;
pub mod outbox;
pub mod params;
pub mod phone;
pub mod ratelimit;
pub mod responses;
pub mod routes;
pub mod schema;
pub mod standalone;
pub mod stats;
pub mod tokens;
pub mod twilio;
pub mod users;
pub mod verifications;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::SandboxSettings;
use crate::db::Db;

pub use routes::configure;
pub use standalone::{build_standalone, run_standalone, StaticKeys};

/// Decides, per request, which API keys the mounted sandbox accepts and
/// whether it is reachable at all (it is not in production mode unless the
/// operator says so). The app supplies it; the sandbox knows no addon.
#[async_trait(?Send)]
pub trait SandboxPolicy: Send + Sync + 'static {
    async fn accepted_keys(&self) -> Vec<String>;
    async fn is_available(&self) -> bool;
    /// True to take the key from the `X-Authy-API-Key` header only, not
    /// from the query string or the body (the wire reference allows those
    /// for old clients, but a key in a URL ends up in access logs).
    fn key_in_header_only(&self) -> bool {
        false
    }
    /// Whether the Twilio Verify API (`twilio`) takes these HTTP Basic
    /// credentials: an Account SID and Auth Token, or an API key SID and
    /// secret. Compare in constant time. None by default.
    async fn accepts_twilio(&self, _user: &str, _secret: &str) -> bool {
        false
    }
}

/// The sandbox's tables (`src/authy_sandbox/migrations/`).
pub const MIGRATIONS: crate::db::migrations::MigrationSet = crate::db::migrations::MigrationSet {
    owner: "authy_sandbox",
    sqlite: diesel_migrations::embed_migrations!("src/authy_sandbox/migrations/sqlite"),
    postgres: diesel_migrations::embed_migrations!("src/authy_sandbox/migrations/postgres"),
};

/// The application id and name the sandbox reports.
pub const APP_ID: i64 = 1;
pub const APP_NAME: &str = "Storefront 2FA Sandbox";

/// Everything the sandbox's handlers need. Cheap to clone.
#[derive(Clone)]
pub struct SandboxState {
    pub db: Db,
    pub policy: Arc<dyn SandboxPolicy>,
    pub settings: SandboxSettings,
    /// The monthly API call count, written down in batches.
    pub api_calls: Arc<stats::ApiCalls>,
}

impl SandboxState {
    pub fn new(db: Db, policy: Arc<dyn SandboxPolicy>, settings: SandboxSettings) -> SandboxState {
        SandboxState {
            api_calls: stats::ApiCalls::start(db.clone()),
            db,
            policy,
            settings,
        }
    }
}

/// True for a unique-constraint violation (a concurrent insert won the race).
pub(crate) fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// `n` decimal digits from the OS CSPRNG.
pub(crate) fn random_digits(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// A random RFC 4122 version-4 UUID.
pub(crate) fn random_uuid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
