//! The sandbox as its own server (`storefront-2fa sandbox --bind ADDR
//! --api-key KEY`), for other apps, load tests and the integration tests:
//! the Authy API at the root, the Twilio Verify API under `/twilio`.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpServer};
use async_trait::async_trait;

use super::auth::key_matches;
use super::{configure, responses, twilio, SandboxPolicy, SandboxState};
use crate::config::SandboxSettings;
use crate::db::Db;

/// Where the standalone server serves the Twilio Verify API.
pub const TWILIO_PREFIX: &str = "/twilio";

/// A fixed set of accepted keys; always available. The Verify API takes
/// any Account SID or API key SID (`AC…`, `SK…`) with one of the keys as
/// its secret.
pub struct StaticKeys(pub Vec<String>);

#[async_trait(?Send)]
impl SandboxPolicy for StaticKeys {
    async fn accepted_keys(&self) -> Vec<String> {
        self.0.clone()
    }

    async fn is_available(&self) -> bool {
        true
    }

    async fn accepts_twilio(&self, user: &str, secret: &str) -> bool {
        (twilio::is_sid(user, "AC") || twilio::is_sid(user, "SK")) && key_matches(secret, &self.0)
    }
}

/// Runs the migrations, then serves the sandbox's Authy API at the root of
/// `listener` and its Twilio Verify API under [`TWILIO_PREFIX`]. Accepts
/// `api_key` (and `settings.api_key` when set). The returned server must
/// be awaited (or spawned).
pub async fn build_standalone(
    listener: TcpListener,
    db: Db,
    api_key: String,
    settings: SandboxSettings,
) -> anyhow::Result<Server> {
    let api_key = api_key.trim().to_string();
    if api_key.is_empty() {
        anyhow::bail!("the sandbox needs an API key (--api-key or STOREFRONT__SANDBOX__API_KEY)");
    }
    settings.validate().map_err(anyhow::Error::msg)?;
    let migrate_db = db.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn = migrate_db.get()?;
        crate::db::migrations::run_set(&mut conn, &super::MIGRATIONS)
    })
    .await??;
    let mut keys = vec![api_key];
    let configured = settings.api_key.trim();
    if !configured.is_empty() && !keys.iter().any(|k| k == configured) {
        keys.push(configured.to_string());
    }
    let state = SandboxState::new(db, Arc::new(StaticKeys(keys)), settings);
    let server = HttpServer::new(move || {
        let (state, twilio_state) = (state.clone(), state.clone());
        App::new()
            .service(
                web::scope(TWILIO_PREFIX).configure(move |c| twilio::configure(c, twilio_state)),
            )
            .configure(move |c| configure(c, state))
            .default_service(web::route().to(|| async {
                responses::error(StatusCode::NOT_FOUND, "60000", "Resource not found")
            }))
    })
    .workers(2)
    .listen(listener)?
    .run();
    Ok(server)
}

/// Binds `bind` and serves until the process is stopped.
pub async fn run_standalone(
    bind: &str,
    db: Db,
    api_key: String,
    settings: SandboxSettings,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(bind)?;
    let address = listener.local_addr()?;
    let server = build_standalone(listener, db, api_key, settings).await?;
    tracing::info!(target: "authy_sandbox", %address, "Authy-compatible sandbox listening (Twilio Verify under {TWILIO_PREFIX})");
    server.await?;
    Ok(())
}
