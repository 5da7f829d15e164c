//! The installed addons in their run order, their enabled state and their
//! settings, all read from the database so every instance agrees.
//!
//! Every request asks for them, several times (gate, hooks, the addon's own
//! pages): a full sign-in asked a dozen times. They are kept in memory for
//! at most `CACHE_TTL`, and dropped at once when this process changes them,
//! so a change made on one instance reaches the others within a second.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::manifest::{Manifest, SettingKind};
use super::Addon;
use crate::crypto::SecretKey;
use crate::db::schema::{addon_settings, addons};
use crate::db::{now, Db, DbConn, DbError};

pub struct InstalledAddon {
    pub manifest: Manifest,
    pub addon: Arc<dyn Addon>,
}

/// How long another instance's change to the addon tables may go unseen.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// Addons in the explicit order their hooks run.
#[derive(Clone, Default)]
pub struct AddonRegistry {
    installed: Arc<Vec<InstalledAddon>>,
    cache: Arc<Cache>,
}

#[derive(Default)]
struct Cache {
    enabled: Mutex<Option<(Instant, Arc<Vec<String>>)>>,
    settings: Mutex<HashMap<String, (Instant, AddonSettings)>>,
}

fn fresh(read_at: &Instant) -> bool {
    read_at.elapsed() < CACHE_TTL
}

/// An addon's settings as the addon sees them: secrets decrypted, defaults
/// filled in. Debug hides every value, since some are secrets.
#[derive(Clone, Default)]
pub struct AddonSettings {
    values: BTreeMap<String, String>,
    /// Secrets that are stored but do not decrypt (the secret key changed).
    unreadable: std::collections::BTreeSet<String>,
}

impl std::fmt::Debug for AddonSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl AddonSettings {
    /// Settings as a host that keeps them its own way hands them over
    /// (secrets already decrypted); keys missing here read as empty.
    pub fn from_values(values: BTreeMap<String, String>) -> AddonSettings {
        AddonSettings {
            values,
            unreadable: Default::default(),
        }
    }

    pub fn text(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or("")
    }
    pub fn bool(&self, key: &str) -> bool {
        self.text(key) == "true"
    }
    pub fn is_set(&self, key: &str) -> bool {
        !self.text(key).is_empty()
    }
    /// A secret is stored but cannot be decrypted: it reads as empty, and an
    /// addon must not take that as "not configured" (that would fail open).
    pub fn is_unreadable(&self, key: &str) -> bool {
        self.unreadable.contains(key)
    }
}

impl AddonRegistry {
    /// Registers addons in run order. Panics on a programming error: an
    /// addon whose id differs from its manifest, or one id twice.
    pub fn new(addons: Vec<(Manifest, Arc<dyn Addon>)>) -> AddonRegistry {
        let mut seen = std::collections::HashSet::new();
        let installed = addons
            .into_iter()
            .map(|(manifest, addon)| {
                assert_eq!(
                    manifest.addon.id,
                    addon.id(),
                    "manifest id and addon id differ"
                );
                assert!(
                    seen.insert(addon.id()),
                    "addon {} installed twice",
                    addon.id()
                );
                InstalledAddon { manifest, addon }
            })
            .collect();
        AddonRegistry {
            installed: Arc::new(installed),
            cache: Arc::default(),
        }
    }

    pub fn all(&self) -> &[InstalledAddon] {
        &self.installed
    }

    pub fn get(&self, id: &str) -> Option<&InstalledAddon> {
        self.installed.iter().find(|a| a.manifest.addon.id == id)
    }

    /// Ids of the addons switched on (see `CACHE_TTL`).
    pub async fn enabled_ids(&self, db: &Db) -> Result<Arc<Vec<String>>, DbError> {
        if self.installed.is_empty() {
            return Ok(Arc::default());
        }
        if let Some((read_at, ids)) = lock(&self.cache.enabled).as_ref() {
            if fresh(read_at) {
                return Ok(ids.clone());
            }
        }
        let ids = Arc::new(
            db.for_housekeeping()
                .run(|conn| {
                    Ok(addons::table
                        .filter(addons::enabled.eq(true))
                        .select(addons::id)
                        .load::<String>(conn)?)
                })
                .await?,
        );
        *lock(&self.cache.enabled) = Some((Instant::now(), ids.clone()));
        Ok(ids)
    }

    /// Installed and enabled addons, in run order.
    pub async fn enabled(&self, db: &Db) -> Result<Vec<&InstalledAddon>, DbError> {
        let ids = self.enabled_ids(db).await?;
        Ok(self
            .installed
            .iter()
            .filter(|a| ids.contains(&a.manifest.addon.id))
            .collect())
    }

    pub async fn is_enabled(&self, db: &Db, id: &str) -> Result<bool, DbError> {
        Ok(self.enabled_ids(db).await?.iter().any(|e| e == id))
    }

    pub async fn set_enabled(&self, db: &Db, id: &str, enabled: bool) -> Result<(), DbError> {
        let id = id.to_string();
        db.transaction(move |conn| {
            let updated = diesel::update(addons::table.find(&id))
                .set((addons::enabled.eq(enabled), addons::updated_at.eq(now())))
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(addons::table)
                    .values((
                        addons::id.eq(&id),
                        addons::enabled.eq(enabled),
                        addons::updated_at.eq(now()),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await?;
        *lock(&self.cache.enabled) = None;
        Ok(())
    }

    /// Settings of `id` with defaults applied and secrets decrypted. A secret
    /// that no longer decrypts (secret key changed) reads as empty and is
    /// listed by `is_unreadable`.
    pub async fn settings(
        &self,
        db: &Db,
        key: &SecretKey,
        id: &str,
    ) -> Result<AddonSettings, DbError> {
        let Some(installed) = self.get(id) else {
            return Ok(AddonSettings::default());
        };
        if let Some((read_at, settings)) = lock(&self.cache.settings).get(id) {
            if fresh(read_at) {
                return Ok(settings.clone());
            }
        }
        let manifest = installed.manifest.clone();
        // Each addon's secrets are sealed with its own key (older ones, with
        // the store's, still open: `SecretKey::for_addon`).
        let key = key.for_addon(id);
        let addon_id = id.to_string();
        let settings = db
            .for_housekeeping()
            .run(move |conn| {
                let stored = load_raw(conn, &addon_id)?;
                let mut values = BTreeMap::new();
                let mut unreadable = std::collections::BTreeSet::new();
                for spec in &manifest.settings {
                    let value = match stored.get(&spec.key) {
                        Some(v) if spec.kind == SettingKind::Secret && !v.is_empty() => {
                            key.decrypt(v).unwrap_or_else(|_| {
                                unreadable.insert(spec.key.clone());
                                String::new()
                            })
                        }
                        Some(v) => v.clone(),
                        None => default_text(spec.default.as_ref()),
                    };
                    values.insert(spec.key.clone(), value);
                }
                Ok(AddonSettings { values, unreadable })
            })
            .await?;
        lock(&self.cache.settings).insert(id.to_string(), (Instant::now(), settings.clone()));
        Ok(settings)
    }

    /// Stores already validated values (plain text; secrets are encrypted
    /// here). Returns the keys whose value changed.
    pub async fn save_settings(
        &self,
        db: &Db,
        key: &SecretKey,
        id: &str,
        new_values: BTreeMap<String, String>,
    ) -> Result<Vec<String>, DbError> {
        let Some(installed) = self.get(id) else {
            return Ok(Vec::new());
        };
        let manifest = installed.manifest.clone();
        let key = key.for_addon(id);
        let addon_id = id.to_string();
        let changed = db
            .transaction(move |conn| {
                let id = addon_id;
                let stored = load_raw(conn, &id)?;
                let mut changed = Vec::new();
                for (k, v) in new_values {
                    let Some(spec) = manifest.setting(&k) else {
                        continue;
                    };
                    let old_plain = match stored.get(&k) {
                        Some(old) if spec.kind == SettingKind::Secret => {
                            key.decrypt(old).unwrap_or_default()
                        }
                        Some(old) => old.clone(),
                        None => default_text(spec.default.as_ref()),
                    };
                    if old_plain == v {
                        continue;
                    }
                    let to_store = if spec.kind == SettingKind::Secret && !v.is_empty() {
                        key.encrypt(&v)
                    } else {
                        v
                    };
                    diesel::delete(
                        addon_settings::table
                            .filter(addon_settings::addon_id.eq(&id))
                            .filter(addon_settings::key.eq(&k)),
                    )
                    .execute(conn)?;
                    diesel::insert_into(addon_settings::table)
                        .values((
                            addon_settings::addon_id.eq(&id),
                            addon_settings::key.eq(&k),
                            addon_settings::value.eq(&to_store),
                        ))
                        .execute(conn)?;
                    changed.push(k);
                }
                Ok(changed)
            })
            .await?;
        lock(&self.cache.settings).remove(id);
        Ok(changed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn load_raw(conn: &mut DbConn, id: &str) -> Result<BTreeMap<String, String>, DbError> {
    Ok(addon_settings::table
        .filter(addon_settings::addon_id.eq(id))
        .select((addon_settings::key, addon_settings::value))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// A manifest default as the text the settings store holds.
pub fn default_text(value: Option<&toml::Value>) -> String {
    match value {
        None => String::new(),
        Some(toml::Value::String(s)) => s.clone(),
        Some(toml::Value::Boolean(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}
