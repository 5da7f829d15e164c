//! The audit log's retention sweep and its CSV export (issue 20).

use diesel::prelude::*;
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::tfa_audit;

use crate::helpers::{location, TestApp};
use crate::two_factor_app::{app_with_addon, now, PASSWORD};

fn insert_event(app: &TestApp, created_at: i64, email: &str, detail: &str) {
    diesel::insert_into(tfa_audit::table)
        .values((
            tfa_audit::created_at.eq(created_at),
            tfa_audit::account_id.eq(None::<i64>),
            tfa_audit::account_email.eq(email),
            tfa_audit::interface.eq("customer"),
            tfa_audit::ip.eq("127.0.0.1"),
            tfa_audit::event.eq("code_checked"),
            tfa_audit::outcome.eq("wrong"),
            tfa_audit::detail.eq(detail),
        ))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
}

fn audit_emails(app: &TestApp) -> Vec<String> {
    tfa_audit::table
        .order(tfa_audit::id.asc())
        .select(tfa_audit::account_email)
        .load(&mut app.db.get().unwrap())
        .unwrap()
}

#[tokio::test]
async fn events_past_the_retention_are_swept_and_the_rest_kept() {
    let app = app_with_addon().await;
    let day = 86_400;
    insert_event(&app, now() - 401 * day, "old@example.com", "");
    insert_event(&app, now() - 399 * day, "kept@example.com", "");
    // A store starting on this database sweeps at once (400 days by default).
    let _second = app.spawn_sibling().await;
    let mut swept = false;
    for _ in 0..100 {
        if !audit_emails(&app).contains(&"old@example.com".to_string()) {
            swept = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(swept, "the 401-day-old event is gone");
    assert!(audit_emails(&app).contains(&"kept@example.com".to_string()));
    // The addon's own events of today (the enable) are kept too.
    assert!(audit_emails(&app).contains(&"owner@example.com".to_string()));
}

#[tokio::test]
async fn the_owner_downloads_the_log_as_csv_with_formulas_defused() {
    let app = app_with_addon().await;
    insert_event(
        &app,
        now(),
        "=HYPERLINK(\"http://evil\")@example.com",
        "+cmd|' /C calc'!A0",
    );
    insert_event(&app, now(), "plain@example.com", "said \"hi\", twice");
    let res = app.browser.get("/admin/two-factor/audit.csv").await;
    assert_eq!(res.status(), 200);
    let header = |n: &str| res.headers().get(n).unwrap().to_str().unwrap().to_string();
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert!(header("content-disposition").starts_with("attachment"));
    assert_eq!(header("cache-control"), "no-store");
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("\"Time (UTC)\",\"Account ID\",\"Account email\""));
    // Oldest first: the enable event, then the two above.
    assert!(lines.len() >= 3, "{csv}");
    let evil = lines
        .iter()
        .find(|l| l.contains("HYPERLINK"))
        .expect("the row is exported");
    assert!(
        evil.contains(r#","'=HYPERLINK(""http://evil"")@example.com","#),
        "{evil}"
    );
    assert!(evil.contains(r#""'+cmd|' /C calc'!A0""#), "{evil}");
    assert!(
        !csv.contains(",\"=") && !csv.contains(",\"+"),
        "no cell starts a formula"
    );
    assert!(csv.contains(r#""said ""hi"", twice""#));
    // The page's filter applies to the export, and the page links to it.
    let (_, page) = app
        .browser
        .get_text("/admin/two-factor/audit?email=plain")
        .await;
    assert!(
        page.contains(r#"href="/admin/two-factor/audit.csv?email=plain""#),
        "{page}"
    );
    let (_, filtered) = app
        .browser
        .get_text("/admin/two-factor/audit.csv?email=plain")
        .await;
    assert_eq!(
        filtered.matches("\r\n").count(),
        2,
        "header and one row: {filtered}"
    );
}

#[tokio::test]
async fn only_the_store_owner_may_export() {
    let app = app_with_addon().await;
    insert_event(&app, now(), "secret@example.com", "");
    let anonymous = app.new_browser();
    let res = anonymous.get("/admin/two-factor/audit.csv").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/admin/login"));
    for role in [Role::Customer, Role::Vendor] {
        let email = format!("{}@example.com", role.as_str());
        app.create_account(&email, PASSWORD, role);
        let b = app.new_browser();
        let form = if role == Role::Customer {
            "/login"
        } else {
            "/admin/login"
        };
        assert_eq!(b.login(form, &email, PASSWORD).await.status(), 303);
        let res = b.get("/admin/two-factor/audit.csv").await;
        assert_ne!(res.status(), 200, "{role:?}");
        assert!(!res.text().await.unwrap().contains("secret@example.com"));
    }
}
