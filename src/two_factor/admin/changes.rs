//! What the addon does when an admin saves its settings or switches it on
//! or off: an audit entry naming the admin and their IP (key names only,
//! never values), and forgetting gateway ids that no longer apply.

use crate::plugin::{AdminActor, HostHandle, Interface};
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::settings;
use crate::two_factor::store;

fn by_admin(ev: AuditEvent, by: &AdminActor) -> AuditEvent {
    ev.account(&by.account)
        .interface(Interface::Admin)
        .ip(&by.ip)
}

pub async fn settings_changed(host: &HostHandle, changed: &[String], by: &AdminActor) {
    let db = host.db();
    audit::record(
        db,
        by_admin(AuditEvent::new("settings_change", "saved"), by).detail(changed.join(", ")),
    )
    .await;
    let gateway_changed = changed.iter().any(|k| {
        k == settings::API_KEY || k == settings::PRODUCTION_MODE || k == settings::GATEWAY
    });
    if gateway_changed {
        // Gateway ids belong to one application (key) on one gateway (mode).
        match store::forget_all_authy_ids(db).await {
            Ok(n) => {
                audit::record(
                    db,
                    by_admin(
                        AuditEvent::new("settings_change", "gateway_ids_forgotten"),
                        by,
                    )
                    .detail(format!("{n} phones")),
                )
                .await
            }
            Err(e) => tracing::error!(error = %e, "could not forget gateway ids"),
        }
    }
}

pub async fn enabled_changed(host: &HostHandle, enabled: bool, by: &AdminActor) {
    let outcome = if enabled { "enabled" } else { "disabled" };
    audit::record(host.db(), by_admin(AuditEvent::new("addon", outcome), by)).await;
}
