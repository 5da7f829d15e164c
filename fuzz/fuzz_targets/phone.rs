//! PhoneNumber::parse with the country select's value: the first line is the
//! country, the rest the number. A parsed number is E.164 and reparses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storefront_2fa::two_factor::sms::{countries, phone::PhoneNumber};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (country, number) = text.split_once('\n').unwrap_or(("US", text));
    let _ = countries::options_html(country);
    if let Ok(phone) = PhoneNumber::parse(country, number) {
        assert!(phone.e164().starts_with('+'));
        let again = PhoneNumber::parse("US", phone.e164()).expect("E.164 reparses");
        assert_eq!(again.e164(), phone.e164());
        let _ = phone.masked();
    }
});
