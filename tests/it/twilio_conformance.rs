//! Conformance with the official `twilio` Python library, unchanged: the
//! standalone sandbox on port 0, and tests/conformance/twilio_verify.py
//! pointed at its `/twilio` (the script checks create, resend, wrong and
//! right codes, 20404 after approval, cancel, and the 60202 and 60203
//! limits).
//!
//! The interpreter: `CONFORMANCE_PYTHON`, else `.venv-conformance/bin/python`
//! in the repository (made by .ci/run). Without either the test fails when
//! `CI` or `E2E_REQUIRED` is set, and otherwise says so and passes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sandbox::KEY;
use crate::twilio_sandbox::{Verify, AC, SK, VA};

const INSTALL: &str = "python3 -m venv .venv-conformance && \
     .venv-conformance/bin/pip install -r tests/conformance/requirements.txt \
     (on Debian/Ubuntu first: apt-get install python3-venv), \
     or set CONFORMANCE_PYTHON to a Python that has the pinned twilio library";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The interpreter to use, if there is one.
fn python() -> Option<PathBuf> {
    if let Some(configured) = std::env::var_os("CONFORMANCE_PYTHON").filter(|p| !p.is_empty()) {
        // Named explicitly: a wrong path is an error, not a skip.
        return Some(PathBuf::from(configured));
    }
    let venv = repo().join(".venv-conformance/bin/python");
    venv.exists().then_some(venv)
}

fn required() -> bool {
    ["CI", "E2E_REQUIRED"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

#[tokio::test]
async fn twilio_python_library_conforms() {
    let Some(python) = python() else {
        assert!(
            !required(),
            "the Twilio Verify conformance test needs the official twilio Python library \
             (CI or E2E_REQUIRED is set, so it may not be skipped): {INSTALL}"
        );
        eprintln!(
            "NOTICE: twilio_python_library_conforms did NOT run: no Python with the twilio \
             library. To run it: {INSTALL}"
        );
        return;
    };
    let v = Verify::start().await;
    let script = repo().join("tests/conformance/twilio_verify.py");
    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .env("TWILIO_VERIFY_BASE_URL", &v.base)
        .env("TWILIO_ACCOUNT_SID", AC)
        .env("TWILIO_AUTH_TOKEN", KEY)
        .env("TWILIO_API_KEY_SID", SK)
        .env("TWILIO_SERVICE_SID", VA)
        .env("SANDBOX_OUTBOX_URL", format!("{}/outbox", v.root))
        .env("SANDBOX_API_KEY", KEY)
        // Loopback never goes through a proxy the environment may name.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the conformance script finished within two minutes")
        .unwrap_or_else(|e| panic!("could not run {}: {e}. {INSTALL}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the twilio library disagreed with the sandbox ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("checks passed"), "{stdout}\n{stderr}");
    println!("{stdout}");
    v.stop().await;
}
