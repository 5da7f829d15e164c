//! Real-browser end-to-end tests: headless Chromium driven through
//! chromedriver (WebDriver) against the real server on port 0, clicking and
//! typing as the store owner, a shopper, an admin and a customer would.
//! Each journey saves full-page screenshots under `target/e2e-screenshots/`.
//!
//! Own `main` (the test target has `harness = false`) so that the journeys
//! share one chromedriver, run one after another, and print what ran. A
//! machine without Chromium or chromedriver prints a notice and skips,
//! unless `CI` or `E2E_REQUIRED=1` is set: then that is a failure.
//!
//! Arguments: words that are not flags select journeys by name
//! (`cargo test --test e2e -- shopper`); `--list` lists them.

#[path = "../it/helpers.rs"]
mod helpers;

mod admin_pages;
mod code_step;
mod driver;
mod journeys;
mod passkeys;
mod phones;
mod polish;
mod required_setup;
mod trusted_device;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Instant;

use futures_util::FutureExt;

use driver::{Driver, Page};
use helpers::TestApp;

/// A journey: one fresh store (its own database) and one fresh browser.
type JourneyFn = for<'a> fn(&'a Page, &'a TestApp) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

const JOURNEYS: &[(&str, JourneyFn)] = &[
    ("store_owner", |p, a| Box::pin(journeys::store_owner(p, a))),
    ("shopper", |p, a| Box::pin(journeys::shopper(p, a))),
    ("admin_2fa", |p, a| Box::pin(journeys::admin_2fa(p, a))),
    ("authenticator_app", |p, a| {
        Box::pin(journeys::authenticator_app(p, a))
    }),
    ("forced_password_change", |p, a| {
        Box::pin(journeys::forced_password_change(p, a))
    }),
    ("twilio_verify", |p, a| {
        Box::pin(journeys::twilio_verify(p, a))
    }),
    ("admin_user_reset", |p, a| {
        Box::pin(journeys::admin_user_reset(p, a))
    }),
    ("phone_change", |p, a| Box::pin(phones::phone_change(p, a))),
    ("phone_register", |p, a| {
        Box::pin(phones::phone_register(p, a))
    }),
    ("phone_admin", |p, a| Box::pin(phones::phone_admin(p, a))),
    ("code_step", |p, a| Box::pin(code_step::code_step(p, a))),
    ("admin_pages", |p, a| {
        Box::pin(admin_pages::admin_pages(p, a))
    }),
    ("polish", |p, a| Box::pin(polish::polish(p, a))),
    ("trusted_device", |p, a| {
        Box::pin(trusted_device::trusted_device(p, a))
    }),
    ("required_setup", |p, a| {
        Box::pin(required_setup::required_setup(p, a))
    }),
    ("passkey_checkout", |p, a| {
        Box::pin(passkeys::passkey_checkout(p, a))
    }),
    ("passkey_admin", |p, a| {
        Box::pin(passkeys::passkey_admin(p, a))
    }),
    ("passkey_sign_in", |p, a| {
        Box::pin(passkeys::passkey_sign_in(p, a))
    }),
];

/// Removes this journey's screenshots from an earlier run.
fn forget_old_screenshots(name: &str) {
    let prefix = format!("{name}-");
    if let Ok(entries) = std::fs::read_dir(driver::screenshot_dir()) {
        for entry in entries.flatten() {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            if file.starts_with(&prefix) && file.ends_with(".png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Runs one journey against a new store in a new browser window; on
/// failure saves `<journey>-failure.png`. Always closes the window.
async fn run(driver: &Driver, name: &'static str, journey: JourneyFn) -> bool {
    forget_old_screenshots(name);
    let app = helpers::spawn_app().await;
    let page = driver.session(name, &app.address).await;
    let outcome = AssertUnwindSafe(journey(&page, &app)).catch_unwind().await;
    if outcome.is_err() {
        let _ = AssertUnwindSafe(page.shot("failure")).catch_unwind().await;
    }
    page.close().await;
    outcome.is_ok()
}

fn required() -> bool {
    let set = |var: &str| {
        std::env::var(var)
            .map(|v| !v.is_empty() && v != "0" && v != "false")
            .unwrap_or(false)
    };
    set("CI") || set("E2E_REQUIRED")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<_> = JOURNEYS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return;
    }
    if selected.is_empty() {
        println!("e2e: 0 journeys ran (none matches {filters:?})");
        return;
    }

    let (chromium, chromedriver) = match driver::find_programs() {
        Ok(found) => found,
        Err(missing) => {
            let notice = format!("e2e: browser tests NOT run: {missing}");
            if required() {
                eprintln!(
                    "{notice}\ne2e: CI or E2E_REQUIRED is set, so a missing browser is a failure."
                );
                std::process::exit(1);
            }
            println!("{notice}");
            println!("e2e: 0 journeys ran");
            return;
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let failed = runtime.block_on(async {
        let driver = Driver::start(&chromium, &chromedriver).await;
        println!(
            "e2e: {} journeys in {} (screenshots in {})",
            selected.len(),
            chromium.display(),
            driver::screenshot_dir().display()
        );
        let mut failed = Vec::new();
        for (name, journey) in &selected {
            let started = Instant::now();
            let ok = run(&driver, name, *journey).await;
            let secs = started.elapsed().as_secs_f32();
            match ok {
                true => println!("e2e: journey {name} ... ok ({secs:.1} s)"),
                false => {
                    println!("e2e: journey {name} ... FAILED ({secs:.1} s)");
                    failed.push(*name);
                }
            }
        }
        println!(
            "e2e: {} journeys ran, {} failed",
            selected.len(),
            failed.len()
        );
        failed
    });
    runtime.shutdown_background();
    if !failed.is_empty() {
        eprintln!("e2e: failed journeys: {}", failed.join(", "));
        std::process::exit(101);
    }
}
