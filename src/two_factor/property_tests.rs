//! Property tests (issue 20) of every addon parser that takes user or
//! network input: random strings, bytes and truncations give a clear
//! refusal or a well-formed value, never a panic, and never a "yes" from a
//! gateway answer that does not say yes. Case counts are bounded so the
//! whole file runs in seconds; the fuzz targets under `fuzz/` go further.

use proptest::prelude::*;

use crate::two_factor::gateways::{authy, verify, TokenCheck};
use crate::two_factor::otp_code::{self, OtpCode};
use crate::two_factor::recovery::codes as recovery;
use crate::two_factor::sms::countries;
use crate::two_factor::sms::phone::PhoneNumber;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Failures print their minimal input; nothing is written to src/.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Answers a real gateway gives, to mutate and truncate.
const GOOD_ANSWERS: &[&[u8]] = &[
    br#"{"success":true,"token":"is valid","message":"Token is valid."}"#,
    br#"{"success":"true","token":"is valid"}"#,
    br#"{"sid":"VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"approved","valid":true}"#,
    br#"{"sid":"VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"pending","valid":false}"#,
    br#"{"success":true,"user":{"id":42}}"#,
    br#"{"success":true,"app":{"name":"Store","sms_enabled":true}}"#,
    br#"{"friendly_name":"Store","code_length":6}"#,
    br#"{"error_code":"60020","token":"is invalid","success":false}"#,
];

/// Regression (found by `a_mutated_yes_is_a_yes_only_if_it_still_says_so`):
/// a "yes" whose ignored `message` held a byte that is not UTF-8 was read
/// as a yes; a body that is not valid JSON is now garbage as a whole.
#[test]
fn a_yes_with_broken_utf8_is_garbage() {
    let mut body = GOOD_ANSWERS[0].to_vec();
    body[46] = 128;
    assert!(authy::check_verify(200, &body).is_err());
    let mut body = GOOD_ANSWERS[2].to_vec();
    body[2] = 0xff;
    assert!(verify::check_checked(200, &body).is_err());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn otp_code_is_digits_of_an_allowed_length_or_nothing(s in any::<String>()) {
        if let Some(code) = OtpCode::parse(&s) {
            let digits = code.expose();
            prop_assert!((otp_code::MIN_LEN..=otp_code::MAX_LEN).contains(&digits.len()));
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(digits, s.trim());
        }
        if let Some(code) = OtpCode::parse_typed(&s, otp_code::VERIFY_LENGTHS) {
            prop_assert!(otp_code::VERIFY_LENGTHS.contains(&code.expose().len()));
            prop_assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        // Debug never shows the digits.
        if let Some(code) = OtpCode::parse(&s) {
            let shown = format!("{:?}", code);
            prop_assert!(!shown.contains(code.expose()));
        }
    }

    #[test]
    fn otp_code_typed_with_separators_is_its_digits(
        groups in prop::collection::vec("[0-9]{1,4}", 1..4),
        sep in prop::sample::select(vec![" ", "-"]),
    ) {
        let typed = groups.join(sep);
        let digits: String = groups.concat();
        match OtpCode::parse_typed(&typed, otp_code::VERIFY_LENGTHS) {
            Some(code) => prop_assert_eq!(code.expose(), digits.as_str()),
            None => prop_assert!(!otp_code::VERIFY_LENGTHS.contains(&digits.len())),
        }
    }

    #[test]
    fn phone_numbers_parse_or_are_refused_and_a_parsed_one_reparses(
        country in prop_oneof![
            prop::sample::select(countries::all().iter().map(|c| c.region.to_string()).collect::<Vec<_>>()),
            any::<String>(),
        ],
        number in prop_oneof![
            "[0-9 ()+.-]{0,24}",
            "\\+[0-9]{1,3} [0-9]{4,12}",
            any::<String>(),
        ],
    ) {
        if let Ok(phone) = PhoneNumber::parse(&country, &number) {
            // The E.164 form reads back as the same number from any country.
            let again = PhoneNumber::parse("US", phone.e164()).expect("E.164 reparses");
            prop_assert_eq!(again.e164(), phone.e164());
            prop_assert!(phone.e164().starts_with('+'));
            prop_assert!(phone.e164()[1..].bytes().all(|b| b.is_ascii_digit()));
            // The masked form shows at most the last four digits.
            let shown: String = phone.masked().chars().filter(char::is_ascii_digit).collect();
            let national = phone.national();
            prop_assert!(national.ends_with(&shown[shown.len().saturating_sub(4)..]));
        }
    }

    #[test]
    fn the_country_select_marks_at_most_the_chosen_country(region in any::<String>()) {
        let html = countries::options_html(&region);
        let selected = html.matches(" selected").count();
        let known = countries::find(&region).is_some();
        prop_assert_eq!(selected, usize::from(known));
        prop_assert_eq!(html.matches("<option ").count(), countries::all().len());
        // Whatever was asked for never reaches the markup: the options are
        // the fixed list, with at most the one " selected" added.
        prop_assert_eq!(html.replace(" selected", ""), countries::options_html(""));
        prop_assert!(countries::find(countries::store_country(&region)).is_some());
    }

    #[test]
    fn recovery_code_input_is_canonical_or_refused(s in any::<String>()) {
        if let Some(canonical) = recovery::normalize(&s) {
            prop_assert_eq!(recovery::normalize(&canonical), Some(canonical.clone()));
            prop_assert!(canonical.is_ascii());
            prop_assert!(!canonical.contains(['-', ' ']));
        }
    }

    #[test]
    fn a_generated_recovery_code_survives_how_people_type_it(
        upper in any::<bool>(),
        spaced in any::<bool>(),
    ) {
        let code = recovery::generate_one();
        let mut typed = if upper { code.to_uppercase() } else { code.clone() };
        if spaced {
            typed = typed.replace('-', " ");
        }
        prop_assert_eq!(recovery::normalize(&typed), recovery::normalize(&code));
        prop_assert!(recovery::normalize(&code).is_some());
    }

    /// Random bytes with any status: never a panic, never a "valid".
    #[test]
    fn gateway_garbage_is_never_a_yes(status in 100u16..600, body in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assert_ne!(authy::check_verify(status, &body), Ok(TokenCheck::Valid));
        prop_assert_ne!(verify::check_checked(status, &body), Ok(TokenCheck::Valid));
        let _ = authy::check_sent(status, &body);
        let _ = authy::check_register(status, &body);
        let _ = authy::check_app_details(status, &body);
        let _ = verify::check_started(status, &body);
        let _ = verify::check_service(status, &body);
    }

    /// A real answer cut short (a dropped connection) is an error, never a
    /// yes, whatever the status.
    #[test]
    fn truncated_gateway_answers_are_errors(which in 0..GOOD_ANSWERS.len(), cut in 0usize..200, status in prop::sample::select(vec![200u16, 201, 401, 404, 429, 500])) {
        let answer = GOOD_ANSWERS[which];
        let cut = cut % answer.len();
        let body = &answer[..cut];
        prop_assert_ne!(authy::check_verify(status, body), Ok(TokenCheck::Valid));
        prop_assert_ne!(verify::check_checked(status, body), Ok(TokenCheck::Valid));
        prop_assert!(authy::check_sent(status, body).is_err());
        prop_assert!(authy::check_register(status, body).is_err());
        prop_assert!(verify::check_started(status, body).is_err());
    }

    /// One byte of a real answer changed: a yes only when the answer still
    /// says exactly yes.
    #[test]
    fn a_mutated_yes_is_a_yes_only_if_it_still_says_so(pos in 0usize..80, byte in any::<u8>()) {
        let answer = GOOD_ANSWERS[0].to_vec();
        let mut body = answer.clone();
        let at = pos % body.len();
        body[at] = byte;
        if authy::check_verify(200, &body) == Ok(TokenCheck::Valid) {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            prop_assert_eq!(&v["token"], "is valid");
            prop_assert!(v["success"] == true || v["success"] == "true");
        }
    }
}
