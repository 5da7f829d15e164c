//! The gateway clients' answer parsing: the first two bytes are the HTTP
//! status, the rest the body. Never a panic, and never a "valid code"
//! unless the body really says so.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storefront_2fa::two_factor::gateways::{authy, verify, TokenCheck};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_be_bytes([data[0], data[1]]) % 500;
    let body = &data[2..];
    if authy::check_verify(status, body) == Ok(TokenCheck::Valid) {
        let v: serde_json::Value = serde_json::from_slice(body).expect("a yes is JSON");
        assert_eq!(status, 200);
        assert_eq!(v["token"], "is valid");
        assert!(v["success"] == true || v["success"] == "true");
    }
    if verify::check_checked(status, body) == Ok(TokenCheck::Valid) {
        let v: serde_json::Value = serde_json::from_slice(body).expect("a yes is JSON");
        assert_eq!(status, 200);
        assert_eq!(v["status"], "approved");
        assert_eq!(v["valid"], true);
    }
    let _ = authy::check_sent(status, body);
    let _ = authy::check_register(status, body);
    let _ = authy::check_app_details(status, body);
    let _ = verify::check_started(status, body);
    let _ = verify::check_service(status, body);
});
