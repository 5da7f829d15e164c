//! Recovery-code input: canonical or refused; the canonical form is stable.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storefront_2fa::two_factor::recovery::codes::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(canonical) = normalize(text) {
        assert_eq!(normalize(&canonical), Some(canonical.clone()));
        assert!(canonical.is_ascii());
    }
});
