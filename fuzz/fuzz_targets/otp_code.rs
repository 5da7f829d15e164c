//! OtpCode: only ASCII digits of an allowed length come out, whatever goes in.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storefront_2fa::two_factor::otp_code::{self, OtpCode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(code) = OtpCode::parse(text) {
        assert!((otp_code::MIN_LEN..=otp_code::MAX_LEN).contains(&code.expose().len()));
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
    if let Some(code) = OtpCode::parse_typed(text, otp_code::VERIFY_LENGTHS) {
        assert!(otp_code::VERIFY_LENGTHS.contains(&code.expose().len()));
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
});
