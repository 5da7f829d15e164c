//! The store owner's admin pages with the addon on: the user page's
//! two-factor section after the form (its reset in a danger zone), the
//! Users list's factor badges and "without 2FA" filter, the dashboard's
//! warning, and an audit log that says who changed the settings.

use diesel::prelude::*;
use storefront_2fa::plugin::Role;
use storefront_2fa::two_factor::schema::tfa_audit;

use crate::helpers::{location, post_from, SmsSetUp, TestApp};
use crate::two_factor_app::{app_with_addon, enrol, PASSWORD};

/// (event, outcome, account email, ip) of every audit row, oldest first.
fn audit_rows(app: &TestApp) -> Vec<(String, String, String, String)> {
    tfa_audit::table
        .order(tfa_audit::id.asc())
        .select((
            tfa_audit::event,
            tfa_audit::outcome,
            tfa_audit::account_email,
            tfa_audit::ip,
        ))
        .load(&mut app.db.get().unwrap())
        .unwrap()
}

/// The user form of `/admin/users/{id}`: from its tag to its `</form>`,
/// and where it ends in the page.
fn user_form(page: &str, id: i64) -> (&str, usize) {
    let start = page
        .find(&format!(r#"action="/admin/users/{id}""#))
        .expect("the user form");
    let end = start + page[start..].find("</form>").unwrap();
    (&page[start..end], end)
}

/// The reset is no part of the profile form: Enter in any field presses
/// Save (the form's only button), and the reset sits after the form, in a
/// danger zone of the two-factor section.
#[tokio::test]
async fn the_reset_lives_after_the_user_form_in_a_danger_zone() {
    let app = app_with_addon().await;
    let e = enrol(&app, "vend@example.com", Role::Vendor).await;
    let (status, page) = app
        .browser
        .get_text(&format!("/admin/users/{}", e.id))
        .await;
    assert_eq!(status, 200);
    let (form, form_end) = user_form(&page, e.id);
    assert_eq!(form.matches("<button").count(), 1, "{form}");
    assert!(form.contains(">Save user</button>"));
    assert!(
        !form.contains("tfa-reset-link"),
        "the reset is outside: {form}"
    );
    assert!(
        !form.contains("Authenticator app:"),
        "status is outside too"
    );
    let section = page.find(r#"id="tfa-admin""#).expect("the 2FA section");
    let danger = page.find(r#"class="danger-zone""#).expect("a danger zone");
    let link = page.find(r#"id="tfa-reset-link""#).unwrap();
    assert!(form_end < section && section < danger && danger < link);
    assert!(page[link - 100..link].contains(r#"class="button danger""#));
    // Enter in a field submits the form as it is: the profile is saved and
    // the factors are untouched.
    let (status, loc, _) = post_from(
        &app.browser,
        &format!("/admin/users/{}", e.id),
        &format!("/admin/users/{}", e.id),
        &[
            ("email", "vend@example.com"),
            ("name", "Vendor Jr"),
            ("role", "vendor"),
            ("tfa_country", "US"),
            ("tfa_phone", ""),
        ],
    )
    .await;
    assert_eq!((status, loc.contains("saved=1")), (303, true));
    let (_, page) = app.browser.get_text(&loc).await;
    assert!(page.contains("The user was saved."));
    assert!(page.contains("Authenticator app: on"), "nothing was reset");
}

/// One section shows every factor of the user; a reset comes back to the
/// user page with a notice that names the user.
#[tokio::test]
async fn one_section_shows_each_factor_and_a_reset_ends_with_a_notice() {
    let app = app_with_addon().await;
    let e = enrol(&app, "vend@example.com", Role::Vendor).await;
    app.add_phone(e.id, "2015550123", SmsSetUp::Complete);
    let user_path = format!("/admin/users/{}", e.id);
    let (_, page) = app.browser.get_text(&user_path).await;
    let section = &page[page.find(r#"id="tfa-admin""#).expect("section")..];
    assert_eq!(
        page.matches(r#"<h2 id="tfa-admin-title">Two-factor authentication</h2>"#)
            .count(),
        1
    );
    // One section of that name on the page: the phone fields in the form
    // are titled for what they are.
    assert_eq!(
        page.matches(">Two-factor authentication<").count(),
        1,
        "{page}"
    );
    assert!(
        page.contains("<legend>Phone for sign-in codes</legend>"),
        "{page}"
    );
    // The phone as everywhere else: international, masked to its last four.
    assert!(
        section.contains(r#"SMS: <span class="nowrap">+1 •••-•••-0123</span></li>"#),
        "{section}"
    );
    assert!(section.contains("Authenticator app: on"), "{section}");
    assert!(
        section.contains("Recovery codes: 10 of 10 unused"),
        "{section}"
    );
    assert!(!page.contains("was reset for"), "no notice before a reset");

    let reset = format!("/admin/two-factor/users/{}/reset", e.id);
    let (status, loc, _) = post_from(&app.browser, &reset, &reset, &[]).await;
    assert_eq!(status, 303);
    assert!(loc.starts_with(&user_path), "{loc}");
    let (_, page) = app.browser.get_text(&loc).await;
    let notice = page
        .find("Two-factor authentication was reset for vend@example.com.")
        .expect("the reset notice");
    assert!(
        notice < page.find(r#"action="/admin/users/"#).unwrap(),
        "at the top"
    );
    assert!(page[notice - 40..notice].contains(r#"role="status""#));
    assert!(page.contains("SMS: no phone") && page.contains("Authenticator app: off"));
    // The plain page (a reload later) does not repeat it.
    let (_, page) = app.browser.get_text(&user_path).await;
    assert!(!page.contains("was reset for"));
}

/// Saving the addon's settings and switching it on or off are recorded
/// with the admin who did it and their IP; key names only.
#[tokio::test]
async fn settings_saves_and_the_switch_are_audited_with_the_admin_and_ip() {
    let app = app_with_addon().await;
    let res = app
        .browser
        .post_form(
            "/admin/addons/two_factor/settings",
            &[
                ("api_key", crate::two_factor_gateway::API_KEY),
                ("customer_enabled", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.browser
        .post_form("/admin/addons/two_factor/disable", &[])
        .await;
    app.browser
        .post_form("/admin/addons/two_factor/enable", &[])
        .await;
    let rows = audit_rows(&app);
    let find = |event: &str, outcome: &str| {
        rows.iter()
            .find(|r| r.0 == event && r.1 == outcome)
            .unwrap_or_else(|| panic!("no {event}/{outcome} in {rows:?}"))
            .clone()
    };
    let owner = ("owner@example.com".to_string(), "127.0.0.1".to_string());
    for (event, outcome) in [
        ("settings_change", "saved"),
        ("addon", "enabled"),
        ("addon", "disabled"),
    ] {
        let row = find(event, outcome);
        assert_eq!((row.2, row.3), owner.clone(), "{event}/{outcome}");
    }
    // The first enable (by `app_with_addon`) is there too, and the order holds.
    let switches: Vec<&str> = rows
        .iter()
        .filter(|r| r.0 == "addon")
        .map(|r| r.1.as_str())
        .collect();
    assert_eq!(switches, ["enabled", "disabled", "enabled"]);
    let detail: String = tfa_audit::table
        .filter(tfa_audit::event.eq("settings_change"))
        .select(tfa_audit::detail)
        .first(&mut app.db.get().unwrap())
        .unwrap();
    assert!(detail.contains("api_key"), "{detail}");
    assert!(
        !detail.contains(crate::two_factor_gateway::API_KEY),
        "no values"
    );
}

/// The audit page names events in words, and a time fits on one line.
#[tokio::test]
async fn the_audit_log_reads_in_words_with_times_on_one_line() {
    let app = app_with_addon().await;
    diesel::insert_into(tfa_audit::table)
        .values((
            tfa_audit::created_at.eq(1_796_047_500_i64), // 2026-11-30 14:05 UTC
            tfa_audit::account_email.eq("cust@example.com"),
            tfa_audit::interface.eq("customer"),
            tfa_audit::ip.eq("203.0.113.9"),
            tfa_audit::event.eq("code_sent"),
            tfa_audit::outcome.eq("rate_limited"),
            tfa_audit::detail.eq("cooldown"),
        ))
        .execute(&mut app.db.get().unwrap())
        .unwrap();
    let (status, page) = app.browser.get_text("/admin/two-factor/audit").await;
    assert_eq!(status, 200);
    assert!(page.contains("<td>Code sent</td>"), "{page}");
    assert!(page.contains("<td>Held back (limit)</td>"), "{page}");
    assert!(page.contains("<td>Addon enabled</td>"), "{page}");
    assert!(!page.contains("<td>code_sent</td>") && !page.contains("<td>addon</td>"));
    assert!(
        page.contains(
            r#"<td class="nowrap"><time datetime="2026-11-30T14:05:00Z" title="2026-11-30 14:05:00 UTC">2026-11-30 14:05 UTC</time></td>"#
        ),
        "{page}"
    );
    let css = app
        .browser
        .get("/static/style.css")
        .await
        .text()
        .await
        .unwrap();
    assert!(css.contains(".nowrap { white-space: nowrap; }"));
}

/// The Users list shows each account's second factors, and filters the
/// admins and vendors who have none.
#[tokio::test]
async fn the_users_list_shows_factors_and_filters_staff_without_2fa() {
    let app = app_with_addon().await;
    let with_app = enrol(&app, "appvendor@example.com", Role::Vendor).await.id;
    let with_sms = app.create_account("smsadmin@example.com", PASSWORD, Role::Admin);
    app.add_phone(with_sms, "2015550123", SmsSetUp::Complete);
    let bare_vendor = app.create_account("barevendor@example.com", PASSWORD, Role::Vendor);
    let bare_customer = app.create_account("shopper@example.com", PASSWORD, Role::Customer);
    let (status, page) = app.browser.get_text("/admin/users").await;
    assert_eq!(status, 200);
    let row = |id: i64| {
        let start = page.find(&format!(r#"<tr id="user-{id}">"#)).unwrap();
        page[start..start + page[start..].find("</tr>").unwrap()].to_string()
    };
    assert!(row(with_app).contains(r#"<span class="badge on">App</span>"#));
    assert!(row(with_sms).contains(r#"<span class="badge on">SMS</span>"#));
    assert!(!row(with_sms).contains(">App<"));
    for id in [bare_vendor, bare_customer] {
        assert!(row(id).contains(r#"<span class="badge off">No 2FA</span>"#));
    }
    let filter = "/admin/users?filter=two_factor.staff_without_2fa";
    assert!(page.contains(&format!(
        r#"href="{filter}">Admins and vendors without 2FA</a>"#
    )));

    let (status, page) = app.browser.get_text(filter).await;
    assert_eq!(status, 200);
    // (The header names the signed-in owner: look at the list's links.)
    // The address is bidi-isolated in the list (issue 20).
    let listed = |page: &str, email: &str| page.contains(&format!("><bdi>{email}</bdi></a></td>"));
    assert!(listed(&page, "barevendor@example.com"));
    assert!(
        listed(&page, "owner@example.com"),
        "the signed-in admin has none"
    );
    for listed_elsewhere in [
        "appvendor@example.com",
        "smsadmin@example.com",
        "shopper@example.com",
    ] {
        assert!(!listed(&page, listed_elsewhere), "{listed_elsewhere}");
    }
    assert!(
        page.contains("2 account(s) in “Admins and vendors without 2FA”"),
        "{page}"
    );
    // A search keeps the filter.
    let (_, page) = app.browser.get_text(&format!("{filter}&q=bare")).await;
    assert!(listed(&page, "barevendor@example.com") && !listed(&page, "owner@example.com"));
    // A filter nobody offers says so and lists everyone.
    let (status, page) = app.browser.get_text("/admin/users?filter=nope.x").await;
    assert_eq!(status, 200);
    assert!(page.contains("That filter is not available"));
    assert!(listed(&page, "shopper@example.com"));
}

/// The dashboard warns while an admin or vendor has no second factor,
/// links to them, and stops once every one has one.
#[tokio::test]
async fn the_dashboard_warns_while_staff_lack_a_second_factor() {
    let app = app_with_addon().await;
    let owner: i64 = {
        use storefront_2fa::db::schema::accounts;
        accounts::table
            .filter(accounts::email.eq("owner@example.com"))
            .select(accounts::id)
            .first(&mut app.db.get().unwrap())
            .unwrap()
    };
    let vendor = app.create_account("vendor@example.com", PASSWORD, Role::Vendor);
    app.create_account("shopper@example.com", PASSWORD, Role::Customer);
    let (_, page) = app.browser.get_text("/admin").await;
    assert!(
        page.contains("2 admin or vendor accounts have no second factor"),
        "{page}"
    );
    assert!(
        page.contains(r#"staff_without_2fa">Show them</a>"#),
        "{page}"
    );
    app.add_phone(owner, "2015550123", SmsSetUp::Complete);
    let (_, page) = app.browser.get_text("/admin").await;
    assert!(page.contains("1 admin or vendor account has no second factor"));
    app.add_phone(vendor, "2015550124", SmsSetUp::Complete);
    let (_, page) = app.browser.get_text("/admin").await;
    assert!(!page.contains("no second factor"), "customers do not count");
    // With the addon off, no warning at all.
    app.browser
        .post_form("/admin/addons/two_factor/disable", &[])
        .await;
    let third = app.create_account("v3@example.com", PASSWORD, Role::Vendor);
    let (_, page) = app.browser.get_text("/admin").await;
    assert!(!page.contains("no second factor"), "{third}");
    let res = app
        .browser
        .get("/admin/users?filter=two_factor.staff_without_2fa")
        .await;
    assert_eq!(location(&res), "");
}
