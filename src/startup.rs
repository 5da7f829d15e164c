//! `Application::build`: everything from settings to a bound, ready server.
//! This is the composition root: the one place that knows the host, the
//! bundled addon and the sandbox together.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::authy_sandbox::{self, SandboxPolicy, SandboxState};
use crate::config::Settings;
use crate::crypto::SecretKey;
use crate::db::migrations::{self, MigrationSet};
use crate::db::{Db, DbConn};
use crate::host::{self, catalog, password::PasswordHasher, HostState};
use crate::plugin::{gate::addon_gate, Addon, AddonRegistry, Manifest};
use crate::two_factor::{TwoFactorAddon, TwoFactorConfig, ADDON_ID as TWO_FACTOR_ID};

/// Where the test-mode sandbox is mounted.
const SANDBOX_MOUNT: &str = "/sandbox/authy";
/// Where the sandbox's Twilio Verify API is mounted.
const VERIFY_SANDBOX_MOUNT: &str = "/sandbox/twilio";

/// What an addon factory may use to construct addons.
pub struct AddonContext<'a> {
    pub settings: &'a Settings,
    /// `http://127.0.0.1:PORT` (or the bound address) of this server.
    pub base_url: String,
    /// The address shoppers open (`server.public_url`, checked to be a
    /// WebAuthn origin; default `http://localhost:PORT`).
    pub public_url: String,
}

pub type AddonList = Vec<(Manifest, Arc<dyn Addon>)>;

/// The addons this binary ships with, in hook order.
pub fn default_addons(ctx: &AddonContext<'_>) -> AddonList {
    let manifest =
        Manifest::parse(crate::two_factor::MANIFEST).expect("the addon's plugin.toml is valid");
    let tf = &ctx.settings.two_factor;
    let sandbox_url = if tf.sandbox_url.is_empty() {
        format!("{}{SANDBOX_MOUNT}", ctx.base_url)
    } else {
        tf.sandbox_url.trim_end_matches('/').to_string()
    };
    let verify_sandbox_url = if tf.verify_sandbox_url.is_empty() {
        format!("{}{VERIFY_SANDBOX_MOUNT}", ctx.base_url)
    } else {
        tf.verify_sandbox_url.trim_end_matches('/').to_string()
    };
    let addon = TwoFactorAddon::new(TwoFactorConfig {
        gateway_url: tf.gateway_url.trim_end_matches('/').to_string(),
        sandbox_url,
        verify_url: tf.verify_url.trim_end_matches('/').to_string(),
        verify_sandbox_url,
        timeout: std::time::Duration::from_millis(tf.gateway_timeout_ms),
        sms_hourly_ceiling: tf.sms_hourly_ceiling,
        public_url: ctx.public_url.clone(),
    })
    .with_audit_retention_days(tf.audit_retention_days);
    vec![(manifest, Arc::new(addon))]
}

/// Applies the host's migrations, then each of `addons`' sets in order,
/// then the sandbox's (it is mounted by this composition root); returns how
/// many ran.
fn run_migrations_of(conn: &mut DbConn, addons: &[&'static MigrationSet]) -> anyhow::Result<usize> {
    let mut ran = migrations::run_set(conn, &migrations::HOST)?;
    // Addresses stored before emails were normalised (see `host::email`).
    host::accounts::normalise_stored_emails(conn)?;
    for set in addons {
        ran += migrations::run_set(conn, set)?;
    }
    ran += migrations::run_set(conn, &authy_sandbox::MIGRATIONS)?;
    Ok(ran)
}

/// Every migration this binary ships (the host's, the bundled addon's and
/// the sandbox's), for the command line and tools that open the database
/// without serving: the same order as the server's start-up.
pub fn run_migrations(conn: &mut DbConn) -> anyhow::Result<usize> {
    run_migrations_of(conn, &[&crate::two_factor::MIGRATIONS])
}

/// `server.public_url`, or `http://localhost:PORT` when it is empty; an
/// address that cannot be a WebAuthn origin stops the start, saying why.
fn public_url_of(settings: &Settings, port: u16) -> anyhow::Result<String> {
    let configured = settings.server.public_url.trim();
    let url = if configured.is_empty() {
        format!("http://localhost:{port}")
    } else {
        configured.trim_end_matches('/').to_string()
    };
    crate::two_factor::passkey::relying_party::parse_origin(&url)?;
    Ok(url)
}

pub struct Application {
    port: u16,
    /// The address to open the store at (`public_url_of`).
    public_url: String,
    server: Server,
    state: Arc<HostState>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with(settings, default_addons).await
    }

    /// Builds with the addons `factory` returns (tests install their own).
    pub async fn build_with(
        settings: Settings,
        factory: impl FnOnce(&AddonContext<'_>) -> AddonList,
    ) -> anyhow::Result<Application> {
        let key = if settings.security.secret_key.is_empty() {
            SecretKey::load_or_create(&settings.data_dir)?
        } else {
            SecretKey::parse(&settings.security.secret_key)?
        };
        let db = Db::connect(&settings.database_url(), settings.database.pool_size)?;
        let listener = TcpListener::bind(&settings.server.bind)?;
        let addr = listener.local_addr()?;
        let host_ip = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let base_url = format!("http://{host_ip}:{}", addr.port());
        let public_url = public_url_of(&settings, addr.port())?;
        let addons = factory(&AddonContext {
            settings: &settings,
            base_url,
            public_url: public_url.clone(),
        });
        // The host's tables, then each addon's, then the mounted sandbox's.
        let sets: Vec<&'static MigrationSet> = addons
            .iter()
            .filter_map(|(_, addon)| addon.migrations())
            .collect();
        let demo = settings.demo_data;
        let setup_db = db.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let mut conn = setup_db.get()?;
            run_migrations_of(&mut conn, &sets)?;
            if demo {
                catalog::seed_demo_products(&mut conn)?;
            }
            Ok(())
        })
        .await??;

        let registry = AddonRegistry::new(addons);
        let extra_templates = registry
            .all()
            .iter()
            .flat_map(|a| a.addon.templates())
            .collect();
        let tera =
            host::templates::load(settings.server.templates_dir.as_deref(), extra_templates)?;
        let static_files =
            host::static_files::StaticFiles::new(settings.server.static_dir.clone())?;
        let hash_limit = settings.security.max_concurrent_hashes.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        let addon_keys = registry
            .all()
            .iter()
            .map(|a| {
                let id = a.manifest.addon.id.clone();
                let derived = key.for_addon(&id);
                (id, derived)
            })
            .collect();
        // The sandbox takes an API key (Authy) or HTTP Basic (Verify); each
        // addon declares its own.
        let mut token_routes = vec![SANDBOX_MOUNT.to_string(), VERIFY_SANDBOX_MOUNT.to_string()];
        for installed in registry.all() {
            token_routes.extend(installed.manifest.addon.token_prefixes.iter().cloned());
        }
        let state = Arc::new(HostState {
            db: db.clone(),
            key,
            tera,
            registry: registry.clone(),
            hasher: PasswordHasher::new(hash_limit),
            settings: settings.clone(),
            token_routes,
            addon_keys,
        });
        let server = build_server(listener, state.clone(), static_files, &settings)?;
        Ok(Application {
            port: addr.port(),
            public_url,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Where shoppers open the store: `server.public_url`, or
    /// `http://localhost:PORT` (passkeys work there, never at an IP).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn state(&self) -> Arc<HostState> {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The mounted sandbox accepts the API key the store owner entered for the
/// addon (test mode sends it there) and the operator's `sandbox.api_key`. It
/// answers only in test mode, unless the operator mounts it in production.
struct MountedSandboxPolicy {
    state: Arc<HostState>,
}

impl MountedSandboxPolicy {
    async fn addon_settings(&self) -> Option<crate::plugin::AddonSettings> {
        self.state
            .registry
            .settings(&self.state.db, &self.state.key, TWO_FACTOR_ID)
            .await
            .ok()
    }
}

#[async_trait::async_trait(?Send)]
impl SandboxPolicy for MountedSandboxPolicy {
    async fn accepted_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(settings) = self.addon_settings().await {
            if settings.is_set("api_key") {
                keys.push(settings.text("api_key").to_string());
            }
        }
        if !self.state.settings.sandbox.api_key.is_empty() {
            keys.push(self.state.settings.sandbox.api_key.clone());
        }
        keys
    }

    /// In test mode while the addon is enabled; in production mode only
    /// when the operator mounts it there. A disabled addon's sandbox
    /// answers nothing, like the addon's own routes.
    async fn is_available(&self) -> bool {
        if self.state.settings.sandbox.mount_in_production {
            return true;
        }
        let enabled = self
            .state
            .registry
            .is_enabled(&self.state.db, TWO_FACTOR_ID)
            .await
            .unwrap_or(false);
        match self.addon_settings().await {
            Some(settings) => enabled && !settings.bool("production_mode"),
            None => false,
        }
    }

    fn key_in_header_only(&self) -> bool {
        true
    }

    /// The addon's Verify credentials (Account SID and Auth Token, or API
    /// key SID and secret), and any Account SID with the operator's
    /// `sandbox.api_key`. Every pair is compared, in constant time.
    async fn accepts_twilio(&self, user: &str, secret: &str) -> bool {
        use crate::crypto::constant_time_eq;
        if user.is_empty() || secret.is_empty() {
            return false;
        }
        let mut accepted = false;
        if let Some(settings) = self.addon_settings().await {
            for (user_key, secret_key) in [
                ("twilio_account_sid", "twilio_auth_token"),
                ("twilio_api_key_sid", "twilio_api_key_secret"),
            ] {
                if settings.is_set(user_key) && settings.is_set(secret_key) {
                    let user_ok =
                        constant_time_eq(settings.text(user_key).as_bytes(), user.as_bytes());
                    let secret_ok =
                        constant_time_eq(settings.text(secret_key).as_bytes(), secret.as_bytes());
                    accepted |= user_ok & secret_ok;
                }
            }
        }
        let operator = &self.state.settings.sandbox.api_key;
        if !operator.is_empty() && authy_sandbox::twilio::is_sid(user, "AC") {
            accepted |= constant_time_eq(operator.as_bytes(), secret.as_bytes());
        }
        accepted
    }
}

fn build_server(
    listener: TcpListener,
    state: Arc<HostState>,
    static_files: host::static_files::StaticFiles,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let static_files = web::Data::new(static_files);
    let data = web::Data::from(state.clone());
    let db = web::Data::new(state.db.clone());
    let registry = web::Data::new(state.registry.clone());
    let routes_state = state.clone();
    let limit = host::csrf::MAX_BODY_BYTES;
    // The sandbox stands in for the SMS gateway: what it runs is counted
    // apart from the store's own statements (`db::counts`).
    let sandbox = SandboxState::new(
        state.db.for_gateway_sandbox(),
        Arc::new(MountedSandboxPolicy {
            state: state.clone(),
        }),
        settings.sandbox.clone(),
    );
    let mut server = HttpServer::new(move || {
        let registry_for_routes = registry.clone();
        let routes_state = routes_state.clone();
        let sandbox = sandbox.clone();
        let verify_sandbox = sandbox.clone();
        App::new()
            .app_data(data.clone())
            .app_data(db.clone())
            .app_data(registry.clone())
            .app_data(web::PayloadConfig::new(limit))
            .app_data(web::FormConfig::default().limit(limit))
            .app_data(web::JsonConfig::default().limit(limit))
            .wrap(from_fn(addon_gate))
            .wrap(from_fn(host::csrf::session_and_csrf))
            .wrap(from_fn(host::errors::error_pages))
            // Outermost, so error pages and refusals get the headers too.
            .wrap(from_fn(host::security_headers::security_headers))
            .service(
                web::resource("/static/{file}")
                    .app_data(static_files.clone())
                    .route(web::get().to(host::static_files::serve)),
            )
            .service(
                web::scope(SANDBOX_MOUNT).configure(move |c| authy_sandbox::configure(c, sandbox)),
            )
            .service(
                web::scope(VERIFY_SANDBOX_MOUNT)
                    .configure(move |c| authy_sandbox::twilio::configure(c, verify_sandbox)),
            )
            .configure(host::configure)
            .configure(move |cfg| {
                for installed in registry_for_routes.all() {
                    let handle = routes_state.handle_for(&installed.manifest.addon.id);
                    installed.addon.configure_routes(cfg, handle);
                }
            })
            .default_service(web::to(host::errors::not_found))
    })
    .listen(listener)?;
    if let Some(workers) = settings.server.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}
