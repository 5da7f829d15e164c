//! `plugin.toml`: an addon's id, name, version, hooks, route prefixes and
//! settings schema.

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    pub addon: AddonInfo,
    #[serde(default)]
    pub settings: Vec<SettingSpec>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AddonInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    /// Hooks the addon implements; others are not called.
    #[serde(default)]
    pub hooks: Vec<Hook>,
    /// Path prefixes the addon's routes live under (404 while disabled).
    #[serde(default)]
    pub route_prefixes: Vec<String>,
    /// Prefixes (within `route_prefixes`) whose routes authenticate every
    /// request with a bearer token or an API key and never read the session
    /// cookie: the host asks them for no CSRF token, and leaves their error
    /// bodies (JSON) as they are instead of turning them into pages.
    #[serde(default)]
    pub token_prefixes: Vec<String>,
    /// Pages of the addon the host links from its admin navigation (shown
    /// to administrators while the addon is enabled).
    #[serde(default)]
    pub admin_links: Vec<AdminLink>,
}

/// A link in the host's admin navigation: a page under the addon's prefixes.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct AdminLink {
    pub label: String,
    pub path: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    AfterPasswordVerified,
    ProfileFields,
    AfterPasswordChange,
    OnLogout,
    Routes,
    /// The admin user page's section, the Users list's badges and
    /// filters, dashboard notices.
    AdminPages,
    /// Another way to sign in, shown under the login forms.
    LoginPage,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SettingSpec {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: SettingKind,
    pub label: String,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// For `select`: the allowed values and their labels.
    #[serde(default)]
    pub options: Vec<SelectOption>,
    /// For `text` and `secret`: longest accepted value.
    #[serde(default)]
    pub max_length: Option<usize>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SelectOption {
    pub value: String,
    pub label: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SettingKind {
    Bool,
    Text,
    Secret,
    Select,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("manifest: {0}")]
    Invalid(String),
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text)?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let id = &self.addon.id;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ManifestError::Invalid(format!("bad addon id {id:?}")));
        }
        for prefix in self
            .addon
            .route_prefixes
            .iter()
            .chain(&self.addon.token_prefixes)
        {
            if !prefix.starts_with('/') || prefix.len() < 2 || prefix.ends_with('/') {
                return Err(ManifestError::Invalid(format!(
                    "bad route prefix {prefix:?}"
                )));
            }
        }
        for link in &self.addon.admin_links {
            let own = self
                .addon
                .route_prefixes
                .iter()
                .any(|prefix| path_is_under(&link.path, prefix));
            // Plain path characters only: the skin puts it in an href as is.
            let plain = link
                .path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b));
            if !own || !plain || link.label.trim().is_empty() {
                return Err(ManifestError::Invalid(format!(
                    "admin link {:?} is not one of the addon's pages",
                    link.path
                )));
            }
        }
        for prefix in &self.addon.token_prefixes {
            if !self
                .addon
                .route_prefixes
                .iter()
                .any(|own| path_is_under(prefix, own))
            {
                return Err(ManifestError::Invalid(format!(
                    "token prefix {prefix:?} is not under the addon's route prefixes"
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.settings {
            if !seen.insert(s.key.as_str()) {
                return Err(ManifestError::Invalid(format!(
                    "setting {} listed twice",
                    s.key
                )));
            }
            if s.kind == SettingKind::Select && s.options.is_empty() {
                return Err(ManifestError::Invalid(format!(
                    "select {} has no options",
                    s.key
                )));
            }
        }
        Ok(())
    }

    pub fn has_hook(&self, hook: Hook) -> bool {
        self.addon.hooks.contains(&hook)
    }

    pub fn setting(&self, key: &str) -> Option<&SettingSpec> {
        self.settings.iter().find(|s| s.key == key)
    }
}

/// True when `path` is `prefix` or below it (`/api/v1` is under `/api`,
/// `/apiary` is not).
pub fn path_is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_manifest_parses() {
        let m = Manifest::parse(crate::two_factor::MANIFEST).unwrap();
        assert_eq!(m.addon.id, "two_factor");
        assert!(m.setting("api_key").is_some());
    }

    #[test]
    fn rejects_duplicate_settings_and_bad_prefixes() {
        let dup = "[addon]\nid='x'\nname='X'\nversion='1'\n[[settings]]\nkey='a'\ntype='bool'\nlabel='A'\n[[settings]]\nkey='a'\ntype='bool'\nlabel='A'\n";
        assert!(Manifest::parse(dup).is_err());
        let prefix = "[addon]\nid='x'\nname='X'\nversion='1'\nroute_prefixes=['nope']\n";
        assert!(Manifest::parse(prefix).is_err());
        let outside = "[addon]\nid='x'\nname='X'\nversion='1'\nroute_prefixes=['/x']\ntoken_prefixes=['/api']\n";
        assert!(Manifest::parse(outside).is_err());
        let inside = "[addon]\nid='x'\nname='X'\nversion='1'\nroute_prefixes=['/x']\ntoken_prefixes=['/x/api']\n";
        assert!(Manifest::parse(inside).is_ok());
        assert!(path_is_under("/x/api/v1", "/x/api") && !path_is_under("/x/apiary", "/x/api"));
        let link = |path: &str| {
            format!("[addon]\nid='x'\nname='X'\nversion='1'\nroute_prefixes=['/x']\nadmin_links=[{{label='L', path='{path}'}}]\n")
        };
        assert!(Manifest::parse(&link("/x/log")).is_ok());
        assert!(
            Manifest::parse(&link("/admin/users")).is_err(),
            "not its page"
        );
        assert!(
            Manifest::parse(&link("/x/a\\\" onclick=\\\"")).is_err(),
            "plain paths only"
        );
    }
}
