//! The sandbox as its own server (`storefront-2fa sandbox --bind ADDR
//! --api-key KEY`), for other apps, load tests and the integration tests.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpServer};
use async_trait::async_trait;

use super::{configure, responses, SandboxPolicy, SandboxState};
use crate::config::SandboxSettings;
use crate::db::Db;

/// A fixed set of accepted keys; always available.
pub struct StaticKeys(pub Vec<String>);

#[async_trait(?Send)]
impl SandboxPolicy for StaticKeys {
    async fn accepted_keys(&self) -> Vec<String> {
        self.0.clone()
    }

    async fn is_available(&self) -> bool {
        true
    }
}

/// Runs the migrations, then serves the sandbox API at the root of
/// `listener`. Accepts `api_key` (and `settings.api_key` when set). The
/// returned server must be awaited (or spawned).
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
        let state = state.clone();
        App::new()
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
    tracing::info!(target: "authy_sandbox", %address, "Authy-compatible sandbox listening");
    server.await?;
    Ok(())
}
