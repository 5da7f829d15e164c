//! The generic addon settings form: fields rendered from the manifest's
//! `[[settings]]` schema and submitted values checked against it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::manifest::{Manifest, SettingKind};
use super::registry::AddonSettings;
use super::types::{FieldErrors, FormValues};

/// One field as the settings template shows it. A secret's value is never
/// sent back to the browser: only whether one is stored.
#[derive(Debug, Serialize)]
pub struct SettingField {
    pub key: String,
    pub kind: &'static str,
    pub label: String,
    pub help: String,
    pub value: String,
    pub checked: bool,
    pub secret_is_set: bool,
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
}

/// Longest text value accepted when the manifest sets no `max_length`.
const DEFAULT_MAX_LENGTH: usize = 500;

pub fn fields(
    manifest: &Manifest,
    current: &AddonSettings,
    submitted: Option<&FormValues>,
    errors: &FieldErrors,
) -> Vec<SettingField> {
    manifest
        .settings
        .iter()
        .map(|spec| {
            let stored = current.text(&spec.key).to_string();
            let (value, checked) = match spec.kind {
                SettingKind::Secret => (String::new(), false),
                SettingKind::Bool => {
                    let on = match submitted {
                        Some(form) => form.checked(&spec.key),
                        None => stored == "true",
                    };
                    (String::new(), on)
                }
                SettingKind::Text | SettingKind::Select => {
                    let v = submitted
                        .map(|f| f.text(&spec.key).to_string())
                        .unwrap_or(stored);
                    (v, false)
                }
            };
            SettingField {
                key: spec.key.clone(),
                kind: match spec.kind {
                    SettingKind::Bool => "bool",
                    SettingKind::Text => "text",
                    SettingKind::Secret => "secret",
                    SettingKind::Select => "select",
                },
                label: spec.label.clone(),
                help: spec.help.clone(),
                value,
                checked,
                secret_is_set: spec.kind == SettingKind::Secret && current.is_set(&spec.key),
                options: spec
                    .options
                    .iter()
                    .map(|o| (o.value.clone(), o.label.clone()))
                    .collect(),
                error: errors.get(&spec.key).map(str::to_string),
            }
        })
        .collect()
}

/// Checks submitted values against the schema. An empty secret keeps the
/// stored one unless `{key}__clear` is ticked.
pub fn validate(
    manifest: &Manifest,
    form: &FormValues,
) -> Result<BTreeMap<String, String>, FieldErrors> {
    let mut values = BTreeMap::new();
    let mut errors = FieldErrors::default();
    for spec in &manifest.settings {
        let raw = form.text(&spec.key);
        let max = spec.max_length.unwrap_or(DEFAULT_MAX_LENGTH);
        match spec.kind {
            SettingKind::Bool => {
                values.insert(spec.key.clone(), form.checked(&spec.key).to_string());
            }
            // A select the form does not carry keeps its stored value (an
            // older form, or a client that sets only some fields).
            SettingKind::Select if form.get(&spec.key).is_none() => {}
            SettingKind::Select => {
                if spec.options.iter().any(|o| o.value == raw) {
                    values.insert(spec.key.clone(), raw.to_string());
                } else {
                    errors.add(&spec.key, "Choose one of the listed options.");
                }
            }
            SettingKind::Text | SettingKind::Secret => {
                if raw.chars().count() > max {
                    errors.add(&spec.key, format!("At most {max} characters."));
                } else if raw.chars().any(char::is_control) {
                    errors.add(&spec.key, "Control characters are not allowed.");
                } else if spec.kind == SettingKind::Secret && raw.is_empty() {
                    if form.checked(&format!("{}__clear", spec.key)) {
                        values.insert(spec.key.clone(), String::new());
                    }
                } else {
                    values.insert(spec.key.clone(), raw.to_string());
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            "[addon]\nid='x'\nname='X'\nversion='1'\n\
             [[settings]]\nkey='key'\ntype='secret'\nlabel='Key'\nmax_length=5\n\
             [[settings]]\nkey='on'\ntype='bool'\nlabel='On'\n\
             [[settings]]\nkey='mode'\ntype='select'\nlabel='Mode'\noptions=[{value='a',label='A'}]\n",
        )
        .unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> FormValues {
        FormValues(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn empty_secret_keeps_the_stored_one() {
        let v = validate(&manifest(), &form(&[("key", ""), ("mode", "a")])).unwrap();
        assert!(!v.contains_key("key"));
        assert_eq!(v["on"], "false");
        let v = validate(
            &manifest(),
            &form(&[("key", ""), ("key__clear", "on"), ("mode", "a")]),
        )
        .unwrap();
        assert_eq!(v["key"], "");
    }

    #[test]
    fn rejects_long_values_control_chars_and_unknown_options() {
        let e = validate(&manifest(), &form(&[("key", "123456"), ("mode", "b")])).unwrap_err();
        assert!(e.get("key").is_some());
        assert!(e.get("mode").is_some());
        let e = validate(&manifest(), &form(&[("key", "a\u{7}"), ("mode", "a")])).unwrap_err();
        assert!(e.get("key").is_some());
    }
}
