//! Headless Chromium through chromedriver: finding the programs, starting
//! chromedriver on a free port (stopped by a Drop guard), one WebDriver
//! session per journey with a fresh profile, and the page helpers the
//! journeys use (click, type, wait, full-page screenshots).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// The Debian packages that provide the browser and its driver.
pub const PACKAGES: &str = "chromium chromium-driver";

const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// How long a step may take to show up (generous: CI machines are busy).
const WAIT: Duration = Duration::from_secs(30);

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Chromium and chromedriver, from `E2E_CHROMIUM` / `E2E_CHROMEDRIVER` or
/// the PATH. Err names what is missing.
pub fn find_programs() -> Result<(PathBuf, PathBuf), String> {
    let from_env = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_file())
    };
    let chromium = from_env("E2E_CHROMIUM")
        .or_else(|| on_path(&["chromium", "chromium-browser", "google-chrome"]));
    let driver = from_env("E2E_CHROMEDRIVER").or_else(|| on_path(&["chromedriver"]));
    match (chromium, driver) {
        (Some(c), Some(d)) => Ok((c, d)),
        (c, d) => {
            let mut missing = Vec::new();
            if c.is_none() {
                missing.push("Chromium (chromium)");
            }
            if d.is_none() {
                missing.push("chromedriver (chromedriver)");
            }
            Err(format!(
                "{} not found; install the Debian/Ubuntu packages: apt-get install -y {PACKAGES}",
                missing.join(" and ")
            ))
        }
    }
}

/// A running chromedriver; killed when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
    chromium: PathBuf,
}

impl Driver {
    pub async fn start(chromium: &Path, chromedriver: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: chromium.to_path_buf(),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(res) = http.get(format!("{}/status", driver.url)).send().await {
                if let Ok(v) = res.json::<Value>().await {
                    if v["value"]["ready"].as_bool() == Some(true) {
                        break;
                    }
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on {}",
                driver.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    /// A new browser window with a fresh profile directory.
    pub async fn session(&self, journey: &'static str, base: &str) -> Page {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": self.chromium, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a WebDriver session");
        let session_id = client.session_id().await.unwrap().expect("a session id");
        Page {
            client,
            base: base.to_string(),
            journey,
            cdp_url: format!("{}/session/{session_id}/goog/cdp/execute", self.url),
            http: reqwest::Client::new(),
            _profile: profile,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// One browser window driven by a journey.
pub struct Page {
    pub client: Client,
    pub base: String,
    journey: &'static str,
    cdp_url: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Page {
    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{}", self.base, path))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// Path and query of the page shown now.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits until the page shown is `path` (query ignored) and loaded.
    pub async fn wait_path(&self, path: &str) {
        let started = Instant::now();
        loop {
            let now = self.client.current_url().await.expect("current url");
            if now.path() == path && self.ready().await {
                return;
            }
            if started.elapsed() > WAIT {
                panic!(
                    "expected to arrive at {path}, still at {}: {}",
                    now,
                    self.text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ready(&self) -> bool {
        matches!(
            self.js("return document.readyState").await,
            Value::String(s) if s == "complete"
        )
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(el) => el,
            Err(e) => panic!("no element {css} on {}: {e}", self.path_now().await),
        }
    }

    async fn path_now(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// The link or button whose visible text is exactly `text`.
    pub async fn click_text(&self, text: &str) {
        let xpath = format!("//*[self::a or self::button][normalize-space(.)='{text}']");
        let el = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no link or button {text:?}: {e}"));
        el.click()
            .await
            .unwrap_or_else(|e| panic!("click {text:?}: {e}"));
    }

    /// Clicks the field and types into it, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.click().await.unwrap();
        el.clear().await.unwrap();
        el.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Types into the element that has the focus now (no click).
    pub async fn type_here(&self, text: &str) {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .send_keys(text)
            .await
            .unwrap();
    }

    pub async fn press_enter(&self) {
        self.client
            .active_element()
            .await
            .expect("a focused element")
            .send_keys(&char::from(Key::Enter).to_string())
            .await
            .unwrap();
    }

    /// Picks the option with `value` in a select, by clicking it.
    pub async fn choose(&self, select_css: &str, value: &str) {
        self.click(&format!("{select_css} option[value='{value}']"))
            .await;
        let chosen = self.find(select_css).await.prop("value").await.unwrap();
        assert_eq!(chosen.as_deref(), Some(value), "{select_css}");
    }

    /// Ticks a checkbox (a click on its label) unless it already is.
    pub async fn tick(&self, id: &str) {
        let el = self.find(&format!("#{id}")).await;
        if !el.is_selected().await.unwrap() {
            self.click(&format!("label[for='{id}']")).await;
        }
        assert!(el.is_selected().await.unwrap(), "{id} ticked");
    }

    pub async fn is_ticked(&self, id: &str) -> bool {
        self.find(&format!("#{id}"))
            .await
            .is_selected()
            .await
            .unwrap()
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.js("return document.body ? document.body.innerText : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the page shows `needle`.
    pub async fn wait_text(&self, needle: &str) {
        let started = Instant::now();
        while !self.text().await.contains(needle) {
            if started.elapsed() > WAIT {
                self.require_text_now(needle).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Waits until the element `css` shows exactly `expected`. It reads the
    /// text by script each time: after a form posts back to its own path,
    /// an element found a moment earlier may belong to the page being
    /// replaced, and using it fails with a stale element reference.
    pub async fn wait_text_of(&self, css: &str, expected: &str) {
        let started = Instant::now();
        loop {
            let shown = self
                .client
                .execute(
                    "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                    vec![json!(css)],
                )
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_string));
            if shown.as_deref() == Some(expected) {
                return;
            }
            if started.elapsed() > WAIT {
                panic!(
                    "expected {expected:?} in {css} on {}, found {shown:?}",
                    self.path_now().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (a page may still be loading after a submit on the same path),
    /// then fails with the page text if `needle` never appears.
    pub async fn assert_text(&self, needle: &str) {
        self.wait_text(needle).await;
    }

    async fn require_text_now(&self, needle: &str) {
        let text = self.text().await;
        assert!(
            text.contains(needle),
            "expected {needle:?} on {}:\n{text}",
            self.path_now().await
        );
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> String {
        self.js("return document.activeElement ? document.activeElement.id : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let res = self
            .http
            .post(&self.cdp_url)
            .json(&json!({ "cmd": cmd, "params": params }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"));
        let body: Value = res.json().await.unwrap();
        assert!(
            body["value"].get("error").is_none(),
            "CDP {cmd} failed: {body}"
        );
        body["value"].clone()
    }

    /// Saves a full-page PNG of the page shown now as
    /// `target/e2e-screenshots/<journey>-<step>.png`.
    pub async fn shot(&self, step: &str) -> PathBuf {
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = screenshot_dir().join(format!("{}-{step}.png", self.journey));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Renders the page as a 375 px wide phone screen, checks that nothing
    /// scrolls sideways, takes a screenshot, and goes back to the desktop
    /// size.
    pub async fn assert_fits_375(&self, step: &str) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 375, "height": 740, "deviceScaleFactor": 1, "mobile": true }),
        )
        .await;
        let width = self
            .js("return document.documentElement.scrollWidth")
            .await
            .as_i64()
            .unwrap();
        let overflowing = self
            .js("return Array.from(document.querySelectorAll('body *'))\
                 .filter(e => e.getBoundingClientRect().right > 375.5)\
                 .slice(0, 5).map(e => e.outerHTML.slice(0, 120))")
            .await;
        self.shot(&format!("{step}-375px")).await;
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
        assert!(
            width <= 375,
            "{} scrolls sideways at 375 px (scrollWidth {width}): {overflowing}",
            self.path_now().await
        );
    }
}
