//! The sandbox's request parameters: the first byte picks the content type,
//! the rest is the body (the query string is its first line).
#![no_main]
use libfuzzer_sys::fuzz_target;
use storefront_2fa::authy_sandbox::params::Params;

fuzz_target!(|data: &[u8]| {
    let Some((kind, rest)) = data.split_first() else {
        return;
    };
    let content_type = match kind % 4 {
        0 => "application/json",
        1 => "application/x-www-form-urlencoded",
        2 => "text/plain",
        _ => "",
    };
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(0);
    let query = String::from_utf8_lossy(&rest[..split]);
    if let Ok(params) = Params::parse(&query, content_type, &rest[split..]) {
        for path in [&["user", "email"][..], &["via"], &["phone_number"], &[""]] {
            if let Some(text) = params.text(path) {
                assert!(!text.is_empty());
            }
            let _ = params.flag(path);
        }
    }
});
