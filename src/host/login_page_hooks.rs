//! Runs the addons' `login_page` hooks: other ways to sign in (a passkey,
//! say), shown under the password form of each login page.

use std::sync::Arc;

use actix_web::HttpRequest;

use super::HostState;
use crate::plugin::manifest::Hook;
use crate::plugin::LoginPage;

/// The enabled addons' fragments for this login page, in run order. An
/// addon that fails shows nothing (the password form still works).
pub async fn extras(state: &Arc<HostState>, req: &HttpRequest, page: &LoginPage) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(enabled) = state.registry.enabled(&state.db).await else {
        return out;
    };
    for installed in enabled {
        if !installed.manifest.has_hook(Hook::LoginPage) {
            continue;
        }
        let host = state.handle_for(installed.addon.id());
        match installed.addon.login_page(&host, req, page).await {
            Ok(Some(html)) => out.push(html),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(addon = installed.addon.id(), error = %e, "login page hook failed")
            }
        }
    }
    out
}
