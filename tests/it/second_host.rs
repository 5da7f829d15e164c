//! The addon mounted into another store: a minimal actix-web host written
//! here, with its own accounts table, sessions and login form, that knows
//! only the public plugin API (`storefront_2fa::plugin`, the database
//! handle and the addon's constructor), never `storefront_2fa::host`. A
//! customer there signs in with a texted code through the sandbox.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use async_trait::async_trait;
use diesel::prelude::*;
use storefront_2fa::crypto::{random_token, SecretKey};
use storefront_2fa::db::{migrations, Db, DbConn, DbError};
use storefront_2fa::plugin::{
    Account, Addon, AddonError, AddonSettings, Completion, HostError, HostHandle, HostServices,
    Interface, LoginAttempt, LoginDecision, PendingLogin, Role,
};
use storefront_2fa::two_factor::{TwoFactorAddon, TwoFactorConfig};

use crate::helpers::{location, Browser, TestDb};

const COOKIE: &str = "mini_session";
const SANDBOX_KEY: &str = "second-host-key";
const PHONE: &str = "2015550150";

diesel::table! {
    /// The other store's own accounts (the addon's tables refer to
    /// `accounts(id)`, the one thing a host's schema must offer).
    accounts (id) {
        id -> BigInt,
        email -> Text,
        password -> Text,
    }
}

#[derive(Default)]
struct Memory {
    /// Session id → signed-in account and pending sign-in.
    sessions: HashMap<String, (Option<i64>, Option<String>)>,
    /// Pending id → account, attempts, created.
    pending: HashMap<String, (i64, i32, i64)>,
}

struct MiniHost {
    db: Db,
    addon_key: SecretKey,
    tera: tera::Tera,
    settings: AddonSettings,
    memory: Mutex<Memory>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl MiniHost {
    fn session_id(req: &HttpRequest) -> Option<String> {
        req.cookie(COOKIE).map(|c| c.value().to_string())
    }

    fn account(&self, id: i64) -> Option<Account> {
        let mut conn = self.db.get().ok()?;
        let row: Option<(i64, String)> = match &mut *conn {
            DbConn::Sqlite(c) => accounts::table
                .find(id)
                .select((accounts::id, accounts::email))
                .first(c)
                .optional()
                .ok()?,
            DbConn::Pg(c) => accounts::table
                .find(id)
                .select((accounts::id, accounts::email))
                .first(c)
                .optional()
                .ok()?,
        };
        row.map(|(id, email)| Account {
            id,
            name: email.clone(),
            email,
            role: Role::Customer,
            credential_generation: 0,
        })
    }

    fn by_email(&self, email: &str) -> Option<(i64, String)> {
        let mut conn = self.db.get().ok()?;
        match &mut *conn {
            DbConn::Sqlite(c) => accounts::table
                .filter(accounts::email.eq(email))
                .select((accounts::id, accounts::password))
                .first(c)
                .optional()
                .ok()?,
            DbConn::Pg(c) => accounts::table
                .filter(accounts::email.eq(email))
                .select((accounts::id, accounts::password))
                .first(c)
                .optional()
                .ok()?,
        }
    }
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .finish()
}

#[async_trait(?Send)]
impl HostServices for MiniHost {
    fn db(&self) -> &Db {
        &self.db
    }
    fn secret_key(&self) -> &SecretKey {
        &self.addon_key
    }
    fn client_ip(&self, _req: &HttpRequest) -> String {
        "127.0.0.1".into()
    }
    async fn render(
        &self,
        req: &HttpRequest,
        status: StatusCode,
        template: &str,
        mut ctx: tera::Context,
    ) -> HttpResponse {
        // This host checks no CSRF tokens (a test host); the addon's forms
        // carry the field anyway.
        ctx.insert("csrf_token", "none");
        ctx.insert("store_name", "Mini");
        if let Some(a) = self.current_account(req).await {
            ctx.insert("current_account", &a);
        }
        match self.tera.render(template, &ctx) {
            Ok(body) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(body),
            Err(e) => HttpResponse::InternalServerError().body(format!("{e:?}")),
        }
    }
    fn render_fragment(&self, template: &str, ctx: &tera::Context) -> Result<String, AddonError> {
        self.tera
            .render(template, ctx)
            .map_err(|e| AddonError::Internal(e.to_string()))
    }
    async fn addon_enabled(&self, addon_id: &str) -> Result<bool, DbError> {
        Ok(addon_id == "two_factor")
    }
    async fn addon_settings(&self, addon_id: &str) -> Result<AddonSettings, DbError> {
        Ok(if addon_id == "two_factor" {
            self.settings.clone()
        } else {
            AddonSettings::default()
        })
    }
    async fn current_account(&self, req: &HttpRequest) -> Option<Account> {
        let sid = Self::session_id(req)?;
        let id = self.memory.lock().unwrap().sessions.get(&sid)?.0?;
        self.account(id)
    }
    async fn require_account(
        &self,
        req: &HttpRequest,
        _interface: Interface,
    ) -> Result<Account, HttpResponse> {
        self.current_account(req)
            .await
            .ok_or_else(|| redirect("/login"))
    }
    async fn require_admin(&self, _req: &HttpRequest) -> Result<Account, HttpResponse> {
        Err(HttpResponse::Forbidden().finish())
    }
    async fn find_account(&self, account_id: i64) -> Result<Option<Account>, DbError> {
        Ok(self.account(account_id))
    }
    async fn verify_password(&self, account_id: i64, password: &str) -> bool {
        self.account(account_id)
            .and_then(|a| self.by_email(&a.email))
            .is_some_and(|(_, p)| p == password)
    }
    async fn pending_login(&self, req: &HttpRequest) -> Option<PendingLogin> {
        let sid = Self::session_id(req)?;
        let (id, (account_id, attempts, created_at)) = {
            let memory = self.memory.lock().unwrap();
            let id = memory.sessions.get(&sid)?.1.clone()?;
            let p = *memory.pending.get(&id)?;
            (id, p)
        };
        Some(PendingLogin {
            id,
            account: self.account(account_id)?,
            interface: Interface::Customer,
            target: "/".into(),
            addon_id: Some("two_factor".into()),
            attempts,
            created_at,
            expires_at: created_at + 600,
        })
    }
    async fn count_pending_attempt(&self, pending_id: &str) -> Result<Option<i32>, DbError> {
        let mut memory = self.memory.lock().unwrap();
        Ok(memory.pending.get_mut(pending_id).map(|p| {
            p.1 += 1;
            p.1
        }))
    }
    async fn complete_pending_login(
        &self,
        req: &HttpRequest,
        pending_id: &str,
    ) -> Result<Completion, HostError> {
        let old = Self::session_id(req).unwrap_or_default();
        let mut memory = self.memory.lock().unwrap();
        let Some((account_id, _, _)) = memory.pending.remove(pending_id) else {
            return Err(HostError::PendingLoginGone);
        };
        // A new session id at the privilege change.
        memory.sessions.remove(&old);
        let sid = random_token(32);
        memory
            .sessions
            .insert(sid.clone(), (Some(account_id), None));
        let mut res = redirect("/");
        res.add_cookie(
            &actix_web::cookie::Cookie::build(COOKIE, sid)
                .path("/")
                .finish(),
        )
        .unwrap();
        Ok(Completion::SignedIn(res))
    }
    async fn cancel_pending_login(&self, pending_id: &str) -> Result<(), DbError> {
        self.memory.lock().unwrap().pending.remove(pending_id);
        Ok(())
    }
    fn login_path(&self, _interface: Interface) -> &'static str {
        "/login"
    }
    fn void_pending_sign_ins(&self, _conn: &mut DbConn, account_id: i64) -> Result<(), DbError> {
        self.memory
            .lock()
            .unwrap()
            .pending
            .retain(|_, p| p.0 != account_id);
        Ok(())
    }
}

struct Mini {
    host: Arc<MiniHost>,
    addon: Arc<TwoFactorAddon>,
}

async fn home(mini: web::Data<Mini>, req: HttpRequest) -> HttpResponse {
    match mini.host.current_account(&req).await {
        Some(a) => HttpResponse::Ok().body(format!("Welcome, {}", a.email)),
        None => redirect("/login"),
    }
}

async fn login(mini: web::Data<Mini>, form: web::Form<BTreeMap<String, String>>) -> HttpResponse {
    let (email, password) = (form.get("email").cloned(), form.get("password").cloned());
    let Some((id, stored)) = email.as_deref().and_then(|e| mini.host.by_email(e)) else {
        return HttpResponse::Unauthorized().body("wrong");
    };
    if password.as_deref() != Some(stored.as_str()) {
        return HttpResponse::Unauthorized().body("wrong");
    }
    let attempt = LoginAttempt {
        pending_id: random_token(32),
        account: mini.host.account(id).unwrap(),
        interface: Interface::Customer,
        target: "/".into(),
        ip: "127.0.0.1".into(),
        password_just_changed: false,
        // This little host keeps no cookies of its own for addons to read.
        cookies: Default::default(),
    };
    let handle: HostHandle = mini.host.clone();
    let sid = random_token(32);
    let mut memory_entry = (None, None);
    let to = match mini.addon.after_password_verified(&handle, &attempt).await {
        Ok(LoginDecision::Continue) => {
            memory_entry.0 = Some(id);
            "/".to_string()
        }
        Ok(LoginDecision::Challenge { redirect }) => {
            mini.host
                .memory
                .lock()
                .unwrap()
                .pending
                .insert(attempt.pending_id.clone(), (id, 0, now()));
            memory_entry.1 = Some(attempt.pending_id.clone());
            redirect
        }
        Err(e) => return HttpResponse::ServiceUnavailable().body(e.to_string()),
    };
    mini.host
        .memory
        .lock()
        .unwrap()
        .sessions
        .insert(sid.clone(), memory_entry);
    let mut res = redirect(&to);
    res.add_cookie(
        &actix_web::cookie::Cookie::build(COOKIE, sid)
            .path("/")
            .finish(),
    )
    .unwrap();
    res
}

/// Starts the other store with the addon mounted; returns its address.
async fn start_mini_host(sandbox_url: String) -> (String, Db) {
    let test_db = Box::leak(Box::new(TestDb::fresh()));
    let db = Db::connect(&test_db.url, 4).unwrap();
    {
        let mut conn = db.get().unwrap();
        let create = "CREATE TABLE accounts (id BIGINT PRIMARY KEY NOT NULL, email TEXT NOT NULL, password TEXT NOT NULL)";
        match &mut *conn {
            DbConn::Sqlite(c) => diesel::sql_query(create).execute(c).unwrap(),
            DbConn::Pg(c) => diesel::sql_query(create).execute(c).unwrap(),
        };
    }
    let addon = Arc::new(TwoFactorAddon::new(TwoFactorConfig {
        gateway_url: "http://127.0.0.1:9".into(),
        sandbox_url,
        verify_url: "http://127.0.0.1:9".into(),
        verify_sandbox_url: "http://127.0.0.1:9".into(),
        timeout: std::time::Duration::from_secs(5),
        sms_hourly_ceiling: 100,
        public_url: "http://localhost:8080".into(),
    }));
    // The addon's tables, through the plugin API.
    migrations::run_set(&mut db.get().unwrap(), addon.migrations().unwrap()).unwrap();
    let mut tera = tera::Tera::default();
    let skin = r#"<!doctype html><title>{% block title %}{% endblock title %}</title><main>{% block content %}{% endblock content %}</main>"#;
    tera.add_raw_templates(
        [
            ("skins/customer.html".to_string(), skin.to_string()),
            ("skins/admin.html".to_string(), skin.to_string()),
        ]
        .into_iter()
        .chain(addon.templates()),
    )
    .unwrap();
    tera.autoescape_on(vec![".html"]);
    let settings = AddonSettings::from_values(BTreeMap::from([
        ("api_key".to_string(), SANDBOX_KEY.to_string()),
        ("production_mode".to_string(), "false".to_string()),
        ("customer_enabled".to_string(), "true".to_string()),
        ("admin_enabled".to_string(), "false".to_string()),
    ]));
    let host = Arc::new(MiniHost {
        db: db.clone(),
        addon_key: SecretKey::generate().for_addon("two_factor"),
        tera,
        settings,
        memory: Mutex::default(),
    });
    let mini = web::Data::new(Mini {
        host: host.clone(),
        addon: addon.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let handle: HostHandle = host.clone();
        let addon = addon.clone();
        App::new()
            .app_data(mini.clone())
            .route("/", web::get().to(home))
            .route("/login", web::post().to(login))
            .configure(move |cfg| addon.configure_routes(cfg, handle))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (address, db)
}

#[tokio::test]
async fn the_addon_mounted_in_another_store_signs_a_customer_in_with_a_texted_code() {
    // The sandbox, on its own, as another store would run it.
    let sandbox_db = Box::leak(Box::new(TestDb::fresh()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sandbox_url = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = storefront_2fa::authy_sandbox::build_standalone(
        listener,
        Db::connect(&sandbox_db.url, 4).unwrap(),
        SANDBOX_KEY.to_string(),
        storefront_2fa::config::Settings::load(None)
            .unwrap()
            .sandbox,
    )
    .await
    .unwrap();
    tokio::spawn(sandbox);

    let (address, db) = start_mini_host(sandbox_url.clone()).await;
    {
        let mut conn = db.get().unwrap();
        let insert = diesel::insert_into(accounts::table).values((
            accounts::id.eq(7),
            accounts::email.eq("shopper@other.example"),
            accounts::password.eq("their-password-1"),
        ));
        match &mut *conn {
            DbConn::Sqlite(c) => insert.execute(c).unwrap(),
            DbConn::Pg(c) => insert.execute(c).unwrap(),
        };
        let phone =
            storefront_2fa::two_factor::sms::phone::PhoneNumber::parse("US", PHONE).unwrap();
        storefront_2fa::two_factor::store::save_phone(&mut conn, 7, &phone).unwrap();
    }

    let b = Browser::new(&address);
    let res = b
        .client
        .post(b.url("/login"))
        .form(&[
            ("email", "shopper@other.example"),
            ("password", "their-password-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/two-factor/verify");
    assert_eq!(location(&b.get("/").await), "/login", "nothing granted yet");
    // This host runs nothing after keeping a pending login
    // (`write_with_pending_login_then`): the password step sent no code,
    // and the code page's first view sends it.
    let outbox = crate::helpers::sandbox_outbox(&b.client, &sandbox_url, PHONE, SANDBOX_KEY).await;
    assert_eq!(outbox.as_array().map(Vec::len), Some(0), "{outbox}");
    let (status, page) = b.get_text("/two-factor/verify").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("We sent a code by text message"), "{page}");
    assert!(
        page.contains(r#"your phone <strong class="nowrap">+1 •••-•••-0150</strong>"#),
        "{page}"
    );
    let code = crate::helpers::sandbox_code(&b.client, &sandbox_url, PHONE, SANDBOX_KEY).await;
    // A wrong code first, then the right one.
    let res = b
        .client
        .post(b.url("/two-factor/verify"))
        .form(&[("code", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(crate::helpers::refused_to(&crate::helpers::location(&res)));
    let res = b
        .client
        .post(b.url("/two-factor/verify"))
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // The end of SMS set-up: the recovery codes page, then the store.
    assert_eq!(location(&res), "/two-factor/recovery-codes");
    let (status, page) = b.get_text("/two-factor/recovery-codes").await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = b.get_text("/").await;
    assert_eq!(status, 200);
    assert_eq!(page, "Welcome, shopper@other.example");
}
