//! The binary runs from any folder: templates, static files, the addon's
//! manifest and every migration are built into it. A skin override that
//! is missing or empty stops the start with a clear message.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use storefront_2fa::startup::{default_addons, Application};

use crate::helpers::{extract_csrf, location, post_from, test_settings, Browser, TestDb};

const ADMIN_PASSWORD: &str = "a-long-admin-password";
const KEY: &str = "anywhere-key-1";

/// The built binary, copied into an empty folder, run from there.
struct Installed {
    dir: tempfile::TempDir,
    /// PostgreSQL when the suite runs on it; else the default SQLite file
    /// under the folder's `data/`.
    db: Option<TestDb>,
}

impl Installed {
    fn new() -> Installed {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            env!("CARGO_BIN_EXE_storefront-2fa"),
            dir.path().join("storefront-2fa"),
        )
        .unwrap();
        let db = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|_| TestDb::fresh());
        Installed { dir, db }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.dir.path().join("storefront-2fa"));
        cmd.args(args)
            .current_dir(self.dir.path())
            // As a user would run it: not through cargo.
            .env_remove("CARGO")
            .env_remove("CARGO_MANIFEST_DIR")
            .env("RUST_LOG", "warn")
            .env("STOREFRONT__SERVER__BIND", "127.0.0.1:0");
        if let Some(db) = &self.db {
            cmd.env("STOREFRONT__DATABASE__URL", &db.url);
        }
        cmd
    }

    fn create_admin(&self) {
        let mut child = self
            .command(&[
                "user",
                "create",
                "--email",
                "owner@example.com",
                "--role",
                "admin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{ADMIN_PASSWORD}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    /// Starts the store; returns the process and its address, read from
    /// what it prints.
    fn serve(&self) -> (KillOnDrop, String, Vec<String>) {
        let mut child = self
            .command(&[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        let address = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("the store stopped: {seen:?}"))
                .unwrap();
            seen.push(line.clone());
            if let Some(rest) = line.strip_prefix("Storefront is running at ") {
                break rest.split('/').take(3).collect::<Vec<_>>().join("/");
            }
        };
        // With no admin yet, two lines say how to make one.
        for _ in 0..2 {
            if let Some(Ok(line)) = lines.next() {
                seen.push(line);
            }
        }
        // Keep reading so the pipe never fills.
        std::thread::spawn(move || for _ in lines {});
        (KillOnDrop(child), address, seen)
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn ok(b: &Browser, path: &str) -> String {
    let (status, page) = b.get_text(path).await;
    assert_eq!(status, 200, "{path}: {page}");
    page
}

#[tokio::test]
async fn the_installed_binary_serves_every_page_from_an_empty_folder() {
    let installed = Installed::new();
    // Blocking calls are fine here: the store runs in its own process.
    let (_store, address, said) = installed.serve();
    assert!(
        said.iter()
            .any(|l| l.contains("storefront-2fa user create --email")),
        "says how to make an admin with the installed binary: {said:?}"
    );
    installed.create_admin();

    let b = Browser::new(&address);
    // The store, its static files and the customer pages.
    let home = ok(&b, "/").await;
    assert!(home.contains("/static/style.css"), "{home}");
    let res = b.get("/static/style.css").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(res.text().await.unwrap().len() > 100);
    assert_eq!(b.get("/static/forms.js").await.status(), 200);
    assert_eq!(b.get("/static/..%2FCargo.toml").await.status(), 404);
    for path in ["/login", "/register", "/cart", "/admin/login"] {
        ok(&b, path).await;
    }

    // The admin and the addon's pages.
    let res = b
        .login("/admin/login", "owner@example.com", ADMIN_PASSWORD)
        .await;
    assert_eq!(location(&res), "/admin");
    for path in ["/admin", "/admin/users", "/admin/addons"] {
        ok(&b, path).await;
    }
    let res = b.post_form("/admin/addons/two_factor/enable", &[]).await;
    assert_eq!(res.status(), 303);
    let res = b
        .post_form(
            "/admin/addons/two_factor/settings",
            &[("api_key", KEY), ("customer_enabled", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let settings = ok(&b, "/admin/addons/two_factor/settings").await;
    assert!(settings.contains("Gateway status"), "{settings}");
    for path in [
        "/admin/two-factor/audit",
        "/admin/two-factor/sandbox",
        "/admin/account/security",
        "/admin/two-factor/confirm-access",
    ] {
        ok(&b, path).await;
    }

    // A shopper registers with a phone, gets the code from the sandbox and
    // ends on the recovery codes.
    let shopper = Browser::new(&address);
    let (status, loc, page) = post_from(
        &shopper,
        "/register",
        "/register",
        &[
            ("email", "shopper@example.com"),
            ("name", "Shopper"),
            ("password", "a-good-password-1"),
            ("confirm_password", "a-good-password-1"),
            ("tfa_country", "US"),
            ("tfa_phone", "2015550123"),
        ],
    )
    .await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/two-factor/verify"),
        "{page}"
    );
    ok(&shopper, "/two-factor/verify").await;
    let code = crate::helpers::sandbox_code(
        &shopper.client,
        &shopper.url("/sandbox/authy"),
        "2015550123",
        KEY,
    )
    .await;
    let (status, loc, _) = post_from(
        &shopper,
        "/two-factor/verify",
        "/two-factor/verify",
        &[("code", &code)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/two-factor/recovery-codes"));
    let ready = ok(&shopper, "/two-factor/recovery-codes").await;
    let token = extract_csrf(&ready);
    let res = shopper
        .client
        .post(shopper.url("/two-factor/recovery-codes"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("<li><code>"));
    ok(&shopper, "/account").await;
    ok(&shopper, "/account/security").await;
}

async fn build_with(tweak: impl FnOnce(&mut storefront_2fa::config::Settings)) -> String {
    let db = TestDb::fresh();
    let data = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&db, data.path());
    tweak(&mut settings);
    match Application::build_with(settings, default_addons).await {
        Ok(_) => String::new(),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn a_missing_or_empty_skin_override_stops_the_start_with_a_clear_message() {
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("nope");
    let m = missing.clone();
    let err = build_with(move |s| s.server.templates_dir = Some(m)).await;
    assert!(
        err.contains("server.templates_dir") && err.contains("does not exist"),
        "{err}"
    );
    let e = empty.path().to_path_buf();
    let err = build_with(move |s| s.server.templates_dir = Some(e)).await;
    assert!(err.contains("holds no .html templates"), "{err}");
    let e = empty.path().to_path_buf();
    let err = build_with(move |s| s.server.static_dir = Some(e)).await;
    assert!(
        err.contains("server.static_dir") && err.contains("holds no files"),
        "{err}"
    );
    // A template that does not parse stops the start too.
    let broken = tempfile::tempdir().unwrap();
    std::fs::create_dir(broken.path().join("host")).unwrap();
    std::fs::write(broken.path().join("host/home.html"), "{% if %}").unwrap();
    let b = broken.path().to_path_buf();
    let err = build_with(move |s| s.server.templates_dir = Some(b)).await;
    assert!(err.contains("does not parse"), "{err}");
}

#[tokio::test]
async fn a_skin_override_replaces_only_the_templates_it_holds() {
    let skin = tempfile::tempdir().unwrap();
    std::fs::create_dir(skin.path().join("host")).unwrap();
    std::fs::write(
        skin.path().join("host/home.html"),
        r#"{% extends "skins/customer.html" %}{% block content %}<h1>Our own shop front</h1>{% endblock content %}"#,
    )
    .unwrap();
    let css = tempfile::tempdir().unwrap();
    std::fs::write(css.path().join("style.css"), "body { color: teal }").unwrap();
    let (s, c) = (skin.path().to_path_buf(), css.path().to_path_buf());
    let app = crate::helpers::spawn_app_with(default_addons, move |settings| {
        settings.server.templates_dir = Some(s);
        settings.server.static_dir = Some(c);
    })
    .await;
    let home = ok(&app.browser, "/").await;
    assert!(home.contains("Our own shop front"), "{home}");
    ok(&app.browser, "/login").await;
    let (_, css) = app.browser.get_text("/static/style.css").await;
    assert_eq!(css, "body { color: teal }");
    assert_eq!(app.browser.get("/static/forms.js").await.status(), 200);
}
