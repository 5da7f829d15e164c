//! The "Two-factor authentication" section of the admin user page, after
//! the profile form: each factor's status, and the reset in a danger zone
//! of its own (a link to the page that names the user and resets).

use actix_web::HttpRequest;

use crate::plugin::{Account, AddonError, HostHandle, UserSection};
use crate::two_factor::admin::status::format_time;
use crate::two_factor::admin::tools::reset_path;
use crate::two_factor::factors;
use crate::two_factor::security::ADMIN_BASE;
use crate::two_factor::store;
use crate::two_factor::trusted_device;

/// The query the reset redirects back with (see `tools::admin_reset`).
pub const RESET_DONE: &str = "tfa_reset=1";
/// The query "Forget all trusted devices" redirects back with.
pub const DEVICES_FORGOTTEN: &str = "tfa_devices_forgotten=1";

pub async fn render(
    host: &HostHandle,
    req: &HttpRequest,
    account: &Account,
) -> Result<UserSection, AddonError> {
    let id = account.id;
    let whose = account.clone();
    let (f, phone, tokens, devices) = host
        .db()
        .run(move |conn| {
            Ok((
                factors::load(conn, id)?,
                store::load_phone(conn, id)?,
                factors::active_access_tokens(conn, id)?,
                trusted_device::pages::count(conn, &whose)?,
            ))
        })
        .await?;
    let own = host
        .current_account(req)
        .await
        .is_some_and(|me| me.id == id);
    let mut ctx = tera::Context::new();
    ctx.insert("factors", &f);
    ctx.insert("app_since", &f.app_since.map(format_time));
    ctx.insert("phone_refused", &phone.as_ref().is_some_and(|p| p.refused));
    ctx.insert("phone_confirmed", &phone.is_some_and(|p| p.confirmed));
    ctx.insert("access_tokens", &tokens);
    ctx.insert("own", &own);
    ctx.insert("security_path", ADMIN_BASE);
    ctx.insert("reset_path", &reset_path(id));
    ctx.insert("trusted_devices", &devices);
    ctx.insert(
        "forget_devices_path",
        &trusted_device::pages::admin_forget_path(id),
    );
    ctx.insert("csrf_token", &host.csrf_token(req));
    let html = host.render_fragment("two_factor/admin_user_reset.html", &ctx)?;
    let said = |done: &str| req.query_string().split('&').any(|p| p == done);
    let notice = if said(RESET_DONE) {
        Some(format!(
            "Two-factor authentication was reset for {}.",
            account.email
        ))
    } else if said(DEVICES_FORGOTTEN) {
        Some(format!(
            "Every trusted device of {} is forgotten.",
            account.email
        ))
    } else {
        None
    };
    Ok(UserSection { html, notice })
}
