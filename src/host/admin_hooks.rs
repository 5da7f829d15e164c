//! Runs the addons' `admin_pages` hooks (the user page's sections, the
//! Users list's badges and filters, dashboard notices) and tells addons
//! who changed their switch or settings.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::HttpRequest;
use serde::Serialize;

use super::accounts::AccountRow;
use super::HostState;
use crate::plugin::manifest::Hook;
use crate::plugin::{AdminActor, DashboardNotice, InstalledAddon, UserBadge, UserSection};

/// The enabled addons that take part in the admin pages, in run order.
async fn taking_part(state: &Arc<HostState>) -> Vec<&InstalledAddon> {
    match state.registry.enabled(&state.db).await {
        Ok(enabled) => enabled
            .into_iter()
            .filter(|a| a.manifest.has_hook(Hook::AdminPages))
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "enabled addons unreadable");
            Vec::new()
        }
    }
}

/// The addons' sections for the admin user page, shown after the form.
pub async fn user_sections(
    state: &Arc<HostState>,
    req: &HttpRequest,
    target: &AccountRow,
) -> Vec<UserSection> {
    let account = target.to_account();
    let mut sections = Vec::new();
    for installed in taking_part(state).await {
        let host = state.handle_for(installed.addon.id());
        match installed
            .addon
            .admin_user_section(&host, req, &account)
            .await
        {
            Ok(Some(section)) => sections.push(section),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(addon = installed.addon.id(), error = %e, "admin user section failed")
            }
        }
    }
    sections
}

/// Every addon's badges for the accounts `ids`, one call per addon.
pub async fn badges(state: &Arc<HostState>, ids: &[i64]) -> HashMap<i64, Vec<UserBadge>> {
    let mut all: HashMap<i64, Vec<UserBadge>> = HashMap::new();
    for installed in taking_part(state).await {
        let host = state.handle_for(installed.addon.id());
        match installed.addon.user_badges(&host, ids).await {
            Ok(badges) => {
                for (id, mut list) in badges {
                    all.entry(id).or_default().append(&mut list);
                }
            }
            Err(e) => {
                tracing::error!(addon = installed.addon.id(), error = %e, "user badges failed")
            }
        }
    }
    all
}

/// A filter link on the Users list: `/admin/users?filter={param}`.
#[derive(Serialize)]
pub struct FilterLink {
    pub param: String,
    pub label: String,
}

pub async fn filters(state: &Arc<HostState>) -> Vec<FilterLink> {
    taking_part(state)
        .await
        .into_iter()
        .flat_map(|installed| {
            let id = installed.addon.id();
            installed
                .addon
                .user_filters()
                .into_iter()
                .map(move |f| FilterLink {
                    param: format!("{id}.{}", f.key),
                    label: f.label,
                })
        })
        .collect()
}

/// What a `filter` parameter of the Users list selects.
pub enum Filtered {
    /// The accounts the addon's filter keeps.
    Only(Vec<i64>),
    /// No enabled addon offers this filter.
    Unknown,
    /// The addon could not answer: show nothing rather than everyone.
    Failed,
}

pub async fn filter(state: &Arc<HostState>, param: &str) -> Filtered {
    let Some((addon_id, key)) = param.split_once('.') else {
        return Filtered::Unknown;
    };
    for installed in taking_part(state).await {
        if installed.addon.id() != addon_id {
            continue;
        }
        let host = state.handle_for(addon_id);
        return match installed.addon.filter_users(&host, key).await {
            Ok(Some(ids)) => Filtered::Only(ids),
            Ok(None) => Filtered::Unknown,
            Err(e) => {
                tracing::error!(addon = addon_id, error = %e, "user filter failed");
                Filtered::Failed
            }
        };
    }
    Filtered::Unknown
}

pub async fn dashboard_notices(state: &Arc<HostState>) -> Vec<DashboardNotice> {
    let mut notices = Vec::new();
    for installed in taking_part(state).await {
        let host = state.handle_for(installed.addon.id());
        match installed.addon.dashboard_notices(&host).await {
            Ok(mut list) => notices.append(&mut list),
            Err(e) => {
                tracing::error!(addon = installed.addon.id(), error = %e, "dashboard notices failed")
            }
        }
    }
    notices
}

/// The signed-in admin of `req`, as addons are told who acted.
pub fn actor(state: &HostState, req: &HttpRequest, admin: &AccountRow) -> AdminActor {
    AdminActor {
        account: admin.to_account(),
        ip: state.client_ip_of(req),
    }
}
