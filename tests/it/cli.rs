//! The `storefront-2fa` command line, run as a newcomer would.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::TestDb;

fn cli(db: &TestDb, data: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_storefront-2fa"))
        .args(args)
        .current_dir(data)
        .env("STOREFRONT__DATABASE__URL", &db.url)
        .env("STOREFRONT__DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn user_create_and_list_from_the_shell() {
    let db = TestDb::fresh();
    let data = tempfile::tempdir().unwrap();
    let (ok, out) = cli(&db, data.path(), &["migrate"], "");
    assert!(ok, "{out}");
    assert!(out.contains("migration"), "{out}");
    let (ok, out) = cli(
        &db,
        data.path(),
        &[
            "user",
            "create",
            "--email",
            "Owner@Example.com",
            "--role",
            "admin",
            "--name",
            "Olga",
        ],
        "a-long-admin-password\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("Created admin account"), "{out}");
    let (ok, out) = cli(&db, data.path(), &["user", "list"], "");
    assert!(ok);
    assert!(
        out.contains("owner@example.com") && out.contains("admin") && out.contains("Olga"),
        "{out}"
    );
    // The password was hashed with the agreed argon2id parameters.
    let mut conn = storefront_2fa::db::Db::connect(&db.url, 1)
        .unwrap()
        .get()
        .unwrap();
    let account = storefront_2fa::host::accounts::by_email(&mut conn, "owner@example.com")
        .unwrap()
        .unwrap();
    assert!(account
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    // Bad input is refused and creates nothing.
    let (ok, out) = cli(
        &db,
        data.path(),
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "admin",
        ],
        "short\n",
    );
    assert!(!ok && out.contains("at least 8"), "{out}");
    let (ok, _) = cli(
        &db,
        data.path(),
        &[
            "user",
            "create",
            "--email",
            "owner@example.com",
            "--role",
            "admin",
        ],
        "another-password-1\n",
    );
    assert!(!ok, "duplicate email refused");
    let (ok, out) = cli(
        &db,
        data.path(),
        &[
            "user",
            "create",
            "--email",
            "y@example.com",
            "--role",
            "root",
        ],
        "another-password-1\n",
    );
    assert!(!ok && out.contains("root"), "{out}");
}
