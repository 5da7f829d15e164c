//! plugin.toml: a manifest that parses passed every check.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storefront_2fa::plugin::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Manifest::parse(text) {
        assert!(!m.addon.id.is_empty());
        assert!(m.addon.route_prefixes.iter().all(|p| p.starts_with('/')));
    }
});
