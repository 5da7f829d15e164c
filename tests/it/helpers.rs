//! Test harness: a fresh database per test (SQLite in a temp folder, or a new
//! PostgreSQL database when `TEST_DATABASE_URL` is set).

#![allow(dead_code)]

use storefront_2fa::db::scratch::ScratchDatabase;

pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<ScratchDatabase>,
}

impl TestDb {
    pub fn fresh() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let pg = ScratchDatabase::create(&base, "sf_test").expect("create a test database");
                TestDb {
                    url: pg.url().to_string(),
                    _dir: None,
                    _pg: Some(pg),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    _pg: None,
                }
            }
        }
    }

    pub fn dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.path())
    }
}

use std::sync::Arc;

use storefront_2fa::config::Settings;
use storefront_2fa::db::Db;
use storefront_2fa::host::{accounts, email::Email, password::hash_blocking};
use storefront_2fa::plugin::Role;
use storefront_2fa::startup::{default_addons, AddonContext, AddonList, Application};

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db: Db,
    pub settings: Settings,
    pub browser: Browser,
    _db: Option<TestDb>,
    _data: Option<tempfile::TempDir>,
}

/// Settings for a test server: port 0, a fresh database, a temp data dir.
pub fn test_settings(db: &TestDb, data: &std::path::Path) -> Settings {
    let mut s = Settings::load(Some(&write_empty_config(data))).expect("default settings");
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = Some(2);
    s.database.url = db.url.clone();
    s.database.pool_size = 4;
    s.data_dir = data.to_path_buf();
    s.security.secret_key = String::new();
    s
}

fn write_empty_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("empty.toml");
    std::fs::write(&path, "").unwrap();
    path
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(default_addons, |_| {}).await
}

/// Starts the real server on 127.0.0.1:0 with the given addons, after
/// `tweak` adjusted the settings.
pub async fn spawn_app_with(
    factory: impl FnOnce(&AddonContext<'_>) -> AddonList,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let db = TestDb::fresh();
    let data = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&db, data.path());
    tweak(&mut settings);
    start(Some(db), Some(data), settings, factory).await
}

async fn start(
    db: Option<TestDb>,
    data: Option<tempfile::TempDir>,
    settings: Settings,
    factory: impl FnOnce(&AddonContext<'_>) -> AddonList,
) -> TestApp {
    let app = Application::build_with(settings.clone(), factory)
        .await
        .expect("build app");
    let port = app.port();
    let pool = app.db().clone();
    tokio::spawn(app.run_until_stopped());
    let address = format!("http://127.0.0.1:{port}");
    TestApp {
        browser: Browser::new(&address),
        address,
        port,
        db: pool,
        settings,
        _db: db,
        _data: data,
    }
}

impl TestApp {
    /// Another instance of the store on its own port, sharing this one's
    /// database and secret key, as behind a load balancer.
    pub async fn spawn_sibling(&self) -> TestApp {
        start(None, None, self.settings.clone(), default_addons).await
    }

    /// The store's secret key (for rows the addon would have written).
    pub fn secret_key(&self) -> storefront_2fa::crypto::SecretKey {
        storefront_2fa::crypto::SecretKey::load_or_create(&self.settings.data_dir).unwrap()
    }

    /// A second, independent browser (own cookie jar).
    pub fn new_browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    /// Creates an account directly (same hashing as the CLI); returns its id.
    pub fn create_account(&self, email: &str, password: &str, role: Role) -> i64 {
        let email = Email::parse(email).unwrap();
        let hash = hash_blocking(password);
        accounts::insert(
            &mut self.db.get().unwrap(),
            &email,
            &hash,
            role,
            "Test User",
        )
        .unwrap()
    }

    /// Gives an account a US phone (`national` digits) and, unless
    /// `first_sign_in` is wanted, recovery codes: SMS set-up complete, so
    /// its sign-ins go straight on after the code.
    pub fn add_phone(&self, id: i64, national: &str, set_up: SmsSetUp) {
        use storefront_2fa::two_factor::recovery::codes as recovery;
        use storefront_2fa::two_factor::sms::phone::PhoneNumber;
        use storefront_2fa::two_factor::store;
        let phone = PhoneNumber::parse("US", national).unwrap();
        let mut conn = self.db.get().unwrap();
        store::save_phone(&mut conn, id, &phone).unwrap();
        if set_up == SmsSetUp::Complete {
            recovery::regenerate(&mut conn, &self.secret_key(), id).unwrap();
        }
    }

    /// Signs in as a fresh admin in `self.browser`.
    pub async fn login_admin(&self) -> i64 {
        let id = self.create_account("owner@example.com", "owner-password-1", Role::Admin);
        let res = self
            .browser
            .login("/admin/login", "owner@example.com", "owner-password-1")
            .await;
        assert_eq!(res.status(), 303, "admin login failed");
        assert_eq!(location(&res), "/admin");
        id
    }

    /// Saves the two-factor addon's settings form with `fields` (the
    /// signed-in admin of `self.browser`; a checkbox not named is off).
    pub async fn save_addon_settings(&self, fields: &[(&str, &str)]) {
        let res = self
            .browser
            .post_form("/admin/addons/two_factor/settings", fields)
            .await;
        assert_eq!(res.status(), 303, "settings saved: {fields:?}");
    }
}

/// Whether an account given a phone has finished SMS set-up (has recovery
/// codes) or will see them at its first sign-in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SmsSetUp {
    Complete,
    FirstSignInPending,
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.cookies()
        .find(|c| c.name() == "sf_session")
        .map(|c| c.value().to_string())
}

/// A cookie-keeping HTTP client that does not follow redirects, so tests
/// see each step.
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            base: base.to_string(),
            client,
            jar,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    /// The session cookie value the browser holds now.
    pub fn cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let header = self.jar.cookies(&self.base.parse().unwrap())?;
        header
            .to_str()
            .ok()?
            .split(';')
            .map(str::trim)
            .find_map(|kv| kv.strip_prefix("sf_session=").map(str::to_string))
    }

    /// Sets the session cookie by hand (to replay an old one).
    pub fn set_cookie(&self, value: &str) {
        self.jar.add_cookie_str(
            &format!("sf_session={value}; Path=/"),
            &self.base.parse().unwrap(),
        );
    }

    /// A CSRF token valid for this browser's session (read from a page).
    pub async fn csrf(&self) -> String {
        let (_, body) = self.get_text("/login").await;
        extract_csrf(&body)
    }

    /// POSTs a form with this browser's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(&fields.to_vec())
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, form_path: &str, email: &str, password: &str) -> reqwest::Response {
        self.post_form(form_path, &[("email", email), ("password", password)])
            .await
    }
}

/// POSTs a form with the CSRF token read from `page`; the status, the
/// Location and the body.
pub async fn post_from(
    b: &Browser,
    page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let (_, body) = b.get_text(page).await;
    let token = extract_csrf(&body);
    let mut all = fields.to_vec();
    all.push(("csrf_token", &token));
    let res = b.client.post(b.url(path)).form(&all).send().await.unwrap();
    let status = res.status().as_u16();
    let loc = location(&res);
    (status, loc, res.text().await.unwrap())
}

/// The sign-in code pages answer every POST with a redirect (POST,
/// redirect, GET). Posts like `post_from`; when the answer leads back to a
/// code page or to the "not signed in" page, that page is read (its one-time
/// message shows there) and returned with the POST's status and location.
pub async fn post_and_read_back(
    b: &Browser,
    page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let (status, loc, body) = post_from(b, page, path, fields).await;
    if status == 303 && refused_to(&loc) {
        let (_, page) = b.get_text(&loc).await;
        return (status, loc, page);
    }
    (status, loc, body)
}

/// Whether a code page's redirect leads back to a code page or to the "not
/// signed in" page, rather than on to where the sign-in was going.
pub fn refused_to(loc: &str) -> bool {
    let path = loc.split('?').next().unwrap_or(loc);
    ["/verify", "/app", "/ended"]
        .iter()
        .any(|end| path.contains("/two-factor") && path.ends_with(end))
}

/// The messages a standalone sandbox at `sandbox` holds for `phone`,
/// newest first.
pub async fn sandbox_outbox(
    client: &reqwest::Client,
    sandbox: &str,
    phone: &str,
    key: &str,
) -> serde_json::Value {
    let res = client
        .get(format!("{sandbox}/outbox?phone={phone}"))
        .header("X-Authy-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The code in the newest outbox message to `phone` of the sandbox at
/// `sandbox` (its base URL: `{store}/sandbox/authy` when the store mounts it).
pub async fn sandbox_code(
    client: &reqwest::Client,
    sandbox: &str,
    phone: &str,
    key: &str,
) -> String {
    let messages = sandbox_outbox(client, sandbox, phone, key).await;
    let text = messages[0]["text"].as_str().expect("a message");
    code_in(text).expect("a code in the message")
}

/// The code in a sandbox message: its last run of digits (a Verify
/// message also names "2FA" before it).
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .rfind(|run| !run.is_empty())
        .map(str::to_string)
}

/// The texts the sandbox sent to `national`, newest first, read from its
/// outbox table (any gateway, any mode).
pub fn outbox_texts(app: &TestApp, national: &str) -> Vec<String> {
    use diesel::prelude::*;
    use storefront_2fa::authy_sandbox::schema::sandbox_outbox as ob;
    ob::table
        .filter(ob::phone.eq(national))
        .order(ob::id.desc())
        .select(ob::text)
        .load(&mut app.db.get().unwrap())
        .unwrap()
}

/// The recovery codes a page lists (`<li><code>…</code>`).
pub fn listed_codes(page: &str) -> Vec<String> {
    page.split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find("</code>").unwrap()].to_string())
        .collect()
}

pub fn extract_csrf(body: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker).expect("page has a CSRF field") + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_string()
}
