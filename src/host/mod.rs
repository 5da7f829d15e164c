//! The reference storefront (the host): accounts, sessions, login
//! pipelines, catalog, cart, checkout and the admin. It knows addons only
//! through `crate::plugin`.

pub mod account_pages;
pub mod accounts;
pub mod admin;
pub mod admin_hooks;
pub mod basket;
pub mod cart;
pub mod cart_summary;
pub mod catalog;
pub mod csrf;
pub mod email;
pub mod errors;
pub mod login;
pub mod login_page_hooks;
pub mod password;
pub mod pending;
pub mod profile_hooks;
pub mod register;
pub mod security_headers;
pub mod services;
pub mod session;
pub mod static_files;
pub mod templates;
pub mod throttle;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::Settings;
use crate::crypto::SecretKey;
use crate::db::Db;
use crate::plugin::AddonRegistry;
use password::PasswordHasher;

/// Everything the host's handlers share. Also the host's implementation of
/// the addon API (`plugin::HostServices`).
pub struct HostState {
    pub db: Db,
    pub key: SecretKey,
    pub tera: tera::Tera,
    pub registry: AddonRegistry,
    pub hasher: PasswordHasher,
    pub settings: Settings,
    /// Path prefixes of routes that authenticate with a token or an API key
    /// and never read the session cookie (declared by the addons' manifests
    /// and by whoever mounts other services): no CSRF token is asked there,
    /// and their JSON errors are left as they are.
    pub token_routes: Vec<String>,
    /// Each installed addon's own key, derived once at start-up.
    pub addon_keys: std::collections::BTreeMap<String, crate::crypto::SecretKey>,
}

impl HostState {
    /// Whether `path` belongs to a token-authenticated route (see `token_routes`).
    pub fn is_token_route(&self, path: &str) -> bool {
        self.token_routes
            .iter()
            .any(|p| crate::plugin::manifest::path_is_under(path, p))
    }
}

impl HostState {
    pub async fn render_page(
        &self,
        req: &HttpRequest,
        status: StatusCode,
        template: &str,
        ctx: tera::Context,
    ) -> HttpResponse {
        templates::render(self, req, status, template, ctx).await
    }

    /// The key addons bind per-session state to: the session id's hash,
    /// for a session the browser already had (not one issued just now).
    pub fn session_key_of(&self, req: &HttpRequest) -> Option<String> {
        let cookie = session::cookie_of(req);
        (!cookie.value.is_empty() && !cookie.issued_now).then(|| cookie.id_hash())
    }

    /// The client's address: the first `X-Forwarded-For` hop when the
    /// operator trusts a load balancer, else the peer address.
    pub fn client_ip_of(&self, req: &HttpRequest) -> String {
        if self.settings.server.trust_forwarded_for {
            if let Some(first) = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
            {
                return first.to_string();
            }
        }
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    }
}

/// `?next=` on login and registration pages: where to go afterwards.
#[derive(serde::Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

/// `?saved=` after a form was saved: the page shows a confirmation.
#[derive(serde::Deserialize)]
pub struct SavedQuery {
    pub saved: Option<String>,
}

/// 303 See Other to a local path.
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// 400 with a page saying what could not be read.
pub async fn bad_form(state: &HostState, req: &HttpRequest, message: &str) -> HttpResponse {
    let mut ctx = tera::Context::new();
    ctx.insert("title", "Bad request");
    ctx.insert("message", message);
    state
        .render_page(req, StatusCode::BAD_REQUEST, "host/error.html", ctx)
        .await
}

/// The host's routes. Addon routes are added by the app next to these.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(catalog::home))
        .route("/healthz", web::get().to(catalog::healthz))
        // Browsers and feed readers ask for /favicon.ico whatever the page says.
        .route(
            "/favicon.ico",
            web::get().to(|| async { redirect("/static/favicon.svg") }),
        )
        .route("/products/{slug}", web::get().to(catalog::product))
        .route("/cart", web::get().to(cart::view))
        .route("/cart/add", web::post().to(cart::add))
        .route("/cart/update", web::post().to(cart::update))
        .route("/checkout", web::get().to(cart::checkout))
        .route("/checkout/login", web::post().to(login::checkout_login))
        .route("/checkout/place", web::post().to(cart::place_order))
        .route("/orders/{id}", web::get().to(cart::order_confirmation))
        .route("/login", web::get().to(login::customer_login_page))
        .route("/login", web::post().to(login::customer_login))
        .route(
            "/login/change-password",
            web::get().to(login::change_password_page),
        )
        .route(
            "/login/change-password",
            web::post().to(login::change_password_submit),
        )
        .route("/logout", web::post().to(login::logout))
        .route("/register", web::get().to(register::page))
        .route("/register", web::post().to(register::submit))
        .route("/account", web::get().to(account_pages::profile_page))
        .route("/account", web::post().to(account_pages::profile_submit))
        .route(
            "/account/sign-out-everywhere",
            web::post().to(account_pages::sign_out_everywhere),
        )
        .route(
            "/admin/sign-out-everywhere",
            web::post().to(account_pages::sign_out_everywhere),
        )
        .route(
            "/account/password",
            web::get().to(account_pages::password_page),
        )
        .route(
            "/account/password",
            web::post().to(account_pages::password_submit),
        )
        .route("/admin/login", web::get().to(login::admin_login_page))
        .route("/admin/login", web::post().to(login::admin_login))
        .route(
            "/admin/login/change-password",
            web::get().to(login::change_password_page),
        )
        .route(
            "/admin/login/change-password",
            web::post().to(login::change_password_submit),
        )
        .route("/admin/logout", web::post().to(login::logout))
        .route("/admin", web::get().to(admin::dashboard))
        .route("/admin/users", web::get().to(admin::users))
        .route("/admin/users/{id}", web::get().to(admin::user_page))
        .route("/admin/users/{id}", web::post().to(admin::user_submit))
        .route("/admin/addons", web::get().to(admin::addons))
        .route(
            "/admin/addons/{id}/enable",
            web::post().to(admin::addon_enable),
        )
        .route(
            "/admin/addons/{id}/disable",
            web::post().to(admin::addon_disable),
        )
        .route(
            "/admin/addons/{id}/settings",
            web::get().to(admin::addon_settings_page),
        )
        .route(
            "/admin/addons/{id}/settings",
            web::post().to(admin::addon_settings_submit),
        );
}
