//! Email::parse: any bytes (as text) give an address or a message; an
//! address is canonical (parsing it again gives it back) and holds nothing
//! invisible.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storefront_2fa::host::email::{is_invisible, Email};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(email) = Email::parse(text) {
        assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
        assert!(!email.as_str().chars().any(is_invisible));
        assert!(email.as_str().chars().count() <= 254);
    }
});
