//! Property tests (issue 20) of the parsers outside the addon that read
//! outside input: the sandbox's request parameters (query, form and JSON
//! bodies from any client), `plugin.toml` and the configuration file.
//! Random and mutated input gives an error or a value, never a panic.
//! Bounded case counts; the fuzz targets under `fuzz/` go further.

use proptest::prelude::*;

use crate::authy_sandbox::params::Params;
use crate::config::Settings;
use crate::plugin::Manifest;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures print their minimal input; nothing is written to src/.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `text` with the byte at `pos` replaced, or cut at `pos`, or with
/// `insert` put in at `pos` (kept valid UTF-8 by working on chars).
fn mutate(text: &str, how: u8, pos: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = pos % (chars.len() + 1);
    match how % 3 {
        0 => chars[..at].iter().collect(),
        1 => {
            let mut out: String = chars[..at].iter().collect();
            out.push_str(insert);
            out.extend(&chars[at..]);
            out
        }
        _ => {
            let mut out: String = chars[..at].iter().collect();
            out.push_str(insert);
            out.extend(chars.iter().skip(at + 1));
            out
        }
    }
}

const CONFIG_EXAMPLE: &str = r#"
demo_data = false
[server]
bind = "127.0.0.1:0"
secure_cookies = true
[database]
pool_size = 4
[two_factor]
gateway_timeout_ms = 2000
audit_retention_days = 30
[sandbox]
rate_limit_per_minute = 10
"#;

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sandbox_params_from_any_request(
        query in prop_oneof!["[a-z\\[\\]=&%0-9]{0,40}", any::<String>()],
        content_type in prop::sample::select(vec!["application/json", "application/x-www-form-urlencoded", "", "text/plain"]),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "\\{\"[a-z\\[\\]]{0,8}\": ?(\"[a-z]{0,8}\"|[0-9]{1,5}|true|null|\\[\\]|\\{\\})\\}".prop_map(String::into_bytes),
            "[a-z\\[\\]]{1,12}=[a-z%0-9]{0,12}(&[a-z\\[\\]]{1,12}=[a-z]{0,5}){0,3}".prop_map(String::into_bytes),
        ],
        path in prop::collection::vec("[a-z]{0,5}", 0..4),
    ) {
        if let Ok(params) = Params::parse(&query, content_type, &body) {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            // Reading any path is safe, and text is trimmed and non-empty.
            if let Some(text) = params.text(&path) {
                prop_assert!(!text.is_empty());
                prop_assert_eq!(text.trim(), text.as_str());
            }
            let _ = params.flag(&path);
        }
    }

    #[test]
    fn a_form_key_and_its_json_twin_read_the_same(outer in "[a-z]{1,8}", inner in "[a-z]{1,8}", value in "[a-zA-Z0-9]{1,12}") {
        let form = format!("{outer}[{inner}]={value}");
        let json = format!("{{\"{outer}\":{{\"{inner}\":\"{value}\"}}}}");
        let a = Params::parse("", "application/x-www-form-urlencoded", form.as_bytes()).unwrap();
        let b = Params::parse("", "application/json", json.as_bytes()).unwrap();
        prop_assert_eq!(a.text(&[&outer, &inner]), Some(value.clone()));
        prop_assert_eq!(b.text(&[&outer, &inner]), Some(value));
    }

    #[test]
    fn plugin_manifests_parse_or_say_why(text in any::<String>()) {
        let _ = Manifest::parse(&text);
    }

    /// The shipped plugin.toml, cut, spliced or with a character replaced:
    /// an error, or a manifest that passed every check.
    #[test]
    fn a_mutated_plugin_toml_is_refused_or_still_valid(how in any::<u8>(), pos in any::<usize>(), insert in prop_oneof!["[\\[\\]=\"'#/. a-z0-9\\n]{0,6}", any::<String>()]) {
        let text = mutate(crate::two_factor::MANIFEST, how, pos, &insert);
        if let Ok(m) = Manifest::parse(&text) {
            prop_assert!(!m.addon.id.is_empty());
            prop_assert!(m.addon.route_prefixes.iter().all(|p| p.starts_with('/')));
        }
    }
}

proptest! {
    // Each case writes a file and builds the layered settings: fewer cases.
    #![proptest_config(config(64))]

    #[test]
    fn configuration_files_load_or_say_why(how in any::<u8>(), pos in any::<usize>(), insert in prop_oneof!["[\\[\\]=\"'#. a-z0-9_\\n-]{0,8}", any::<String>()]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("storefront.toml");
        std::fs::write(&path, mutate(CONFIG_EXAMPLE, how, pos, &insert)).unwrap();
        if let Ok(settings) = Settings::load(Some(&path)) {
            // What loaded is usable: the database address can be built.
            prop_assert!(!settings.database_url().is_empty());
        }
    }
}

#[test]
fn the_config_example_loads_with_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("storefront.toml");
    std::fs::write(&path, CONFIG_EXAMPLE).unwrap();
    let s = Settings::load(Some(&path)).unwrap();
    assert!(s.server.secure_cookies);
    assert_eq!(s.two_factor.audit_retention_days, 30);
    assert_eq!(s.two_factor.gateway_timeout_ms, 2000);
}
