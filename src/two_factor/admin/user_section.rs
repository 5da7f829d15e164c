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

/// The query the reset redirects back with (see `tools::admin_reset`).
pub const RESET_DONE: &str = "tfa_reset=1";

pub async fn render(
    host: &HostHandle,
    req: &HttpRequest,
    account: &Account,
) -> Result<UserSection, AddonError> {
    let id = account.id;
    let (f, phone, tokens) = host
        .db()
        .run(move |conn| {
            Ok((
                factors::load(conn, id)?,
                store::load_phone(conn, id)?,
                factors::active_access_tokens(conn, id)?,
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
    let html = host.render_fragment("two_factor/admin_user_reset.html", &ctx)?;
    let reset_done = req.query_string().split('&').any(|p| p == RESET_DONE);
    Ok(UserSection {
        html,
        notice: reset_done
            .then(|| format!("Two-factor authentication was reset for {}.", account.email)),
    })
}
