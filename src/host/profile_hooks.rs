//! Runs the addons' profile-field hooks for the three profile forms.

use std::sync::Arc;

use super::HostState;
use crate::plugin::manifest::Hook;
use crate::plugin::{FieldErrors, FormValues, ProfileContext, ProfileSave};

/// The enabled addons' extra fields, in run order, as one HTML string.
pub async fn fields_html(
    state: &Arc<HostState>,
    form: &ProfileContext,
    values: Option<&FormValues>,
    errors: &FieldErrors,
) -> String {
    let mut html = String::new();
    let Ok(enabled) = state.registry.enabled(&state.db).await else {
        return html;
    };
    for installed in enabled {
        let host = state.handle_for(installed.addon.id());
        if !installed.manifest.has_hook(Hook::ProfileFields) {
            continue;
        }
        match installed
            .addon
            .profile_fields(&host, form, values, errors)
            .await
        {
            Ok(fragment) => html.push_str(&fragment),
            Err(e) => {
                tracing::error!(addon = installed.addon.id(), error = %e, "profile fields failed")
            }
        }
    }
    html
}

/// Every enabled addon validates its fields; all errors are collected so
/// the form shows them together. On success, the saves to run in the
/// host's transaction.
pub async fn validate(
    state: &Arc<HostState>,
    form: &ProfileContext,
    values: &FormValues,
) -> Result<Vec<ProfileSave>, FieldErrors> {
    let enabled = state.registry.enabled(&state.db).await.map_err(|_| {
        let mut e = FieldErrors::default();
        e.add(
            "form",
            "The form could not be checked right now. Please try again.",
        );
        e
    })?;
    let mut saves = Vec::new();
    let mut errors = FieldErrors::default();
    for installed in enabled {
        let host = state.handle_for(installed.addon.id());
        if !installed.manifest.has_hook(Hook::ProfileFields) {
            continue;
        }
        match installed.addon.validate_profile(&host, form, values).await {
            Ok(Some(save)) => saves.push(save),
            Ok(None) => {}
            Err(e) => errors.merge(e),
        }
    }
    if errors.is_empty() {
        Ok(saves)
    } else {
        Err(errors)
    }
}
