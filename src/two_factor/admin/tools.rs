//! Resetting a user's two-factor authentication from outside the user's own
//! session: the admin user page and the `storefront-2fa tfa` command (for a
//! locked-out sole admin). Blocking functions on a connection, so the CLI
//! can call them without a runtime.

use crate::db::{DbConn, DbError};

use crate::plugin::Role;

use crate::two_factor::admin::confirm_access;
use crate::two_factor::admin::status::format_time;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::factors::{self, Factors, VoidSignIns};
use crate::two_factor::pages::{see_other, PageError};

/// Removes every factor of `account_id` (see `factors::remove_all`, which
/// also voids its sign-ins under way through `void`) and records who did
/// it. Returns false when there was nothing to remove.
pub fn reset(
    conn: &mut DbConn,
    void: VoidSignIns<'_>,
    account_id: i64,
    account_email: &str,
    by: &str,
    ip: &str,
) -> Result<bool, DbError> {
    crate::db::write_transaction(conn, |conn| {
        let removed = factors::remove_all(conn, account_id, void)?;
        let mut ev = AuditEvent::new("reset", if removed { "success" } else { "nothing" })
            .ip(ip)
            .detail(format!("two-factor reset by {by}"));
        ev.account_id = Some(account_id);
        ev.account_email = account_email.to_lowercase();
        audit::insert(conn, &ev)?;
        Ok(removed)
    })
}

pub fn status(conn: &mut DbConn, account_id: i64) -> Result<Factors, DbError> {
    factors::load(conn, account_id)
}

/// `tfa status` output, one factor a line.
pub fn describe(email: &str, f: &Factors) -> String {
    let mut out = format!("Two-factor authentication for {email}:\n");
    out.push_str(&match (f.app, f.app_since) {
        (true, Some(t)) => format!("  authenticator app: on (since {})\n", format_time(t)),
        (true, None) => "  authenticator app: on\n".to_string(),
        _ => "  authenticator app: off\n".to_string(),
    });
    out.push_str(&match &f.phone_last_two {
        Some(d) => format!("  SMS / voice: phone ending in {d}\n"),
        None => "  SMS / voice: no phone\n".to_string(),
    });
    out.push_str(&format!("  passkeys and security keys: {}\n", f.passkeys));
    out.push_str(&format!(
        "  recovery codes: {} of {} unused\n",
        f.recovery.remaining, f.recovery.total
    ));
    out
}

/// The admin's "Reset two-factor authentication…" on `/admin/users/{id}`: a
/// link to a page of its own that names the user and holds the one form
/// that resets (a button inside the user form would be that form's first
/// submit button, so Enter in any field would press it).
pub fn reset_path(account_id: i64) -> String {
    format!("/admin/two-factor/users/{account_id}/reset")
}

/// Must be registered before the addon's `/admin/two-factor` scope.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig, host: crate::plugin::HostHandle) {
    use actix_web::web;
    cfg.service(
        web::resource("/admin/two-factor/users/{id}/reset")
            .app_data(web::Data::new(host))
            .route(web::get().to(confirm_page))
            .route(web::post().to(admin_reset)),
    );
}

/// The account id in `/admin/two-factor/users/{id}/reset`; 404 otherwise.
fn account_id_in(path: actix_web::web::Path<String>) -> Result<i64, PageError> {
    path.into_inner()
        .parse::<i64>()
        .map_err(|_| PageError::NotFound)
}

/// "Reset two-factor authentication for …?": what it removes, for whom,
/// and the one button that does it.
async fn confirm_page(
    host: actix_web::web::Data<crate::plugin::HostHandle>,
    req: actix_web::HttpRequest,
    path: actix_web::web::Path<String>,
) -> Result<actix_web::HttpResponse, PageError> {
    host.require_admin(&req).await?;
    let id = account_id_in(path)?;
    let target = host.find_account(id).await?.ok_or(PageError::NotFound)?;
    let f = factors::of(host.db(), id).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("email", &target.email);
    ctx.insert("user_path", &format!("/admin/users/{id}"));
    ctx.insert("reset_path", &reset_path(id));
    ctx.insert("factors", &f);
    Ok(host
        .render(
            &req,
            actix_web::http::StatusCode::OK,
            "two_factor/admin_user_reset_confirm.html",
            ctx,
        )
        .await)
}

async fn admin_reset(
    host: actix_web::web::Data<crate::plugin::HostHandle>,
    req: actix_web::HttpRequest,
    path: actix_web::web::Path<String>,
) -> Result<actix_web::HttpResponse, PageError> {
    let admin = host.require_admin(&req).await?;
    let id = account_id_in(path)?;
    if id == admin.id {
        // One's own factors go through the Security page's disable rules
        // (the password and a current code), never through this tool.
        return Ok(see_other(&format!(
            "{}?own_reset=1",
            crate::two_factor::security::ADMIN_BASE
        )));
    }
    let target = host.find_account(id).await?.ok_or(PageError::NotFound)?;
    // Changing another admin's second factor needs a fresh confirmation.
    if target.role == Role::Admin
        && !confirm_access::is_confirmed(host.db(), host.session_key(&req).as_deref(), admin.id)
            .await?
    {
        return Ok(see_other(&confirm_access::path_to(&format!(
            "/admin/users/{id}"
        ))));
    }
    let ip = host.client_ip(&req);
    let by = format!("admin {}", admin.email);
    let email = target.email.clone();
    let h = host.get_ref().clone();
    if let Err(e) = host
        .db()
        .transaction(move |conn| {
            reset(
                conn,
                &|c, a| h.void_pending_sign_ins(c, a),
                id,
                &email,
                &by,
                &ip,
            )
        })
        .await
    {
        return Err(PageError::internal(&e));
    }
    // The user's browsers are signed out too: a reset follows a lost phone,
    // and whoever holds it may hold a session.
    if let Err(e) = host.end_other_sessions(id, None).await {
        return Err(PageError::internal(&e));
    }
    Ok(see_other(&format!(
        "/admin/users/{id}?{}",
        super::user_section::RESET_DONE
    )))
}
