//! Unicode identities (issue 20): an email is one account whatever form it
//! is typed in (full-width letters, upper case, a composed or decomposed
//! `é`), and an address made to look like another (a zero-width space, a
//! right-to-left override, a Cyrillic `а`) is refused with a message, in
//! registration, login, the admin's user form and the command line. Rows
//! stored before normalisation are brought to it at start-up. The admin
//! shows names and addresses bidi-isolated.

use diesel::prelude::*;
use storefront_2fa::db::schema::accounts;
use storefront_2fa::host::email::{INVISIBLE, MIXED_SCRIPTS};
use storefront_2fa::plugin::Role;

use crate::helpers::{location, post_from, spawn_app, Browser, TestApp};

const PASSWORD: &str = "a-good-password-1";

fn emails(app: &TestApp) -> Vec<String> {
    accounts::table
        .order(accounts::id.asc())
        .select(accounts::email)
        .load(&mut app.db.get().unwrap())
        .unwrap()
}

/// Registers through the form; the status and the page (or Location).
async fn register(app: &TestApp, email: &str) -> (u16, String) {
    let b = app.new_browser();
    let (status, loc, page) = post_from(
        &b,
        "/register",
        "/register",
        &[
            ("email", email),
            ("name", "Test"),
            ("password", PASSWORD),
            ("confirm_password", PASSWORD),
        ],
    )
    .await;
    (status, if status == 303 { loc } else { page })
}

async fn logs_in(app: &TestApp, email: &str) -> bool {
    let b = Browser::new(&app.address);
    let res = b.login("/login", email, PASSWORD).await;
    res.status() == 303 && location(&res) != "/login"
}

/// The text of a page with HTML entities decoded, to find a message in it.
fn text_of(page: &str) -> String {
    scraper::Html::parse_document(page)
        .root_element()
        .text()
        .collect::<String>()
}

#[tokio::test]
async fn one_account_whatever_form_the_address_is_typed_in() {
    let app = spawn_app().await;
    // ＡＮＮ＠ＥＸＡＭＰＬＥ．ＣＯＭ in full-width letters.
    let wide = "\u{FF21}\u{FF2E}\u{FF2E}\u{FF20}\u{FF25}\u{FF38}\u{FF21}\u{FF2D}\u{FF30}\u{FF2C}\u{FF25}\u{FF0E}\u{FF23}\u{FF2F}\u{FF2D}";
    let (status, _) = register(&app, wide).await;
    assert_eq!(status, 303, "full-width registration accepted");
    assert_eq!(emails(&app), ["ann@example.com"]);
    for same in ["ann@example.com", "ANN@Example.COM", wide] {
        let (status, page) = register(&app, same).await;
        assert_eq!(status, 422, "{same:?} is the same account");
        assert!(page.contains("An account with this email already exists"));
        assert!(logs_in(&app, same).await, "{same:?} signs in to it");
    }
    // é composed (U+00E9) and decomposed (e + U+0301) are one address.
    let (status, _) = register(&app, "rene\u{0301}@example.com").await;
    assert_eq!(status, 303);
    assert!(emails(&app).contains(&"ren\u{00E9}@example.com".to_string()));
    let (status, _) = register(&app, "REN\u{00C9}@example.com").await;
    assert_eq!(status, 422, "composed upper-case É is the same account");
    assert!(logs_in(&app, "ren\u{00E9}@example.com").await);
    assert!(logs_in(&app, "rene\u{0301}@example.com").await);
    assert_eq!(emails(&app).len(), 2, "nothing else was created");
}

#[tokio::test]
async fn look_alike_addresses_are_refused_with_a_message_and_create_nothing() {
    let app = spawn_app().await;
    app.create_account("admin@example.com", PASSWORD, Role::Admin);
    for (spoof, message) in [
        ("admin\u{200B}@example.com", INVISIBLE),
        ("\u{202E}moc.elpmaxe@nimda", INVISIBLE),
        ("ad\u{202E}nim@example.com", INVISIBLE),
        ("\u{0430}dmin@example.com", MIXED_SCRIPTS),
    ] {
        let (status, page) = register(&app, spoof).await;
        assert_eq!(status, 422, "{spoof:?}");
        assert!(text_of(&page).contains(message), "{spoof:?}: {page}");
        // Nor does it sign in as anybody.
        assert!(!logs_in(&app, spoof).await, "{spoof:?}");
    }
    assert_eq!(emails(&app), ["admin@example.com"]);
}

#[tokio::test]
async fn the_admin_user_form_refuses_another_accounts_address_in_any_form() {
    let app = spawn_app().await;
    app.login_admin().await;
    let other = app.create_account("vend@example.com", PASSWORD, Role::Vendor);
    let path = format!("/admin/users/{other}");
    for (email, message) in [
        // OWNER@example.com with a full-width O: the owner's address.
        (
            "\u{FF2F}WNER@example.com",
            "Another account uses this email.",
        ),
        ("vend\u{200B}or@example.com", INVISIBLE),
        ("v\u{0435}nd@example.com", MIXED_SCRIPTS),
    ] {
        let (status, _, page) = post_from(
            &app.browser,
            &path,
            &path,
            &[("email", email), ("name", "V"), ("role", "vendor")],
        )
        .await;
        assert_eq!(status, 422, "{email:?}");
        assert!(text_of(&page).contains(message), "{email:?}");
    }
    assert_eq!(emails(&app), ["owner@example.com", "vend@example.com"]);
}

#[tokio::test]
async fn the_admin_shows_names_and_addresses_bidi_isolated() {
    let app = spawn_app().await;
    app.login_admin().await;
    let id = app.create_account("rtl@example.com", PASSWORD, Role::Customer);
    diesel::update(accounts::table.find(id))
        .set(accounts::name.eq("\u{202E}nimda"))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    let (status, page) = app.browser.get_text("/admin/users").await;
    assert_eq!(status, 200);
    assert!(page.contains("<td><bdi>\u{202E}nimda</bdi></td>"), "{page}");
    assert!(page.contains("><bdi>rtl@example.com</bdi></a>"));
    assert!(page.contains(r#"<span class="who"><bdi>owner@example.com</bdi> (admin)</span>"#));
}

#[tokio::test]
async fn addresses_stored_before_normalisation_are_normalised_at_start_up() {
    let app = spawn_app().await;
    let raw_insert = |email: &str| {
        diesel::insert_into(accounts::table)
            .values((
                accounts::email.eq(email),
                accounts::password_hash.eq("x"),
                accounts::role.eq("customer"),
                accounts::name.eq(""),
                accounts::must_change_password.eq(false),
                accounts::created_at.eq(0i64),
                accounts::updated_at.eq(0i64),
            ))
            .execute(&mut app.db.get().unwrap())
            .unwrap();
    };
    // As an older version stored them: lower-cased, not NFKC.
    raw_insert("zoe\u{0308}@example.com"); // decomposed ë: rewritten
    raw_insert("bob@example.com");
    raw_insert("\u{FF42}ob@example.com"); // full-width b: would be bob's, kept
    raw_insert("eve\u{200B}@example.com"); // refused now: kept for the owner
                                           // A second instance starting on the same database runs the pass.
    let _restarted = app.spawn_sibling().await;
    assert_eq!(
        emails(&app),
        [
            "zo\u{00EB}@example.com",
            "bob@example.com",
            "\u{FF42}ob@example.com",
            "eve\u{200B}@example.com",
        ]
    );
    // And the pass reports what it left, by id.
    let report =
        storefront_2fa::host::accounts::normalise_stored_emails(&mut app.db.get().unwrap())
            .unwrap();
    assert_eq!(report.rewritten, 0, "nothing left to rewrite");
    assert_eq!(report.left.len(), 2);
}

#[test]
fn the_command_line_refuses_an_existing_address_in_another_form() {
    use std::process::{Command, Stdio};
    let db = crate::helpers::TestDb::fresh();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_storefront-2fa"))
            .args(args)
            .current_dir(data.path())
            .env("STOREFRONT__DATABASE__URL", &db.url)
            .env("STOREFRONT__DATA_DIR", data.path())
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
            .write_all(b"a-long-admin-password\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let create = |email: &str| run(&["user", "create", "--email", email, "--role", "admin"]);
    assert!(run(&["migrate"]).0);
    let (ok, out) = create("re\u{0301}ka@example.com");
    assert!(ok, "{out}");
    let (ok, out) = create("R\u{00C9}KA@EXAMPLE.COM");
    assert!(!ok, "the same address composed: {out}");
    let (ok, out) = create("r\u{00E9}ka\u{200B}@example.com");
    assert!(!ok && out.contains("invisible character"), "{out}");
    let (ok, out) = run(&["user", "list"]);
    assert!(ok);
    assert_eq!(out.matches("@example.com").count(), 1, "{out}");
    assert!(out.contains("r\u{00E9}ka@example.com"), "{out}");
}
