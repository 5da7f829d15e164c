//! `To`: E.164 (`+` and up to 15 digits, nothing else), valid for
//! libphonenumber; and the test numbers that make the sandbox refuse the
//! way Verify does (see the module docs).

use phonenumber::Mode;

use crate::authy_sandbox::phone::{self, Phone};

/// A validated `To`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct To {
    /// `+15017122661`: what Verify answers in `to`, and the key of the
    /// number's verifications.
    pub e164: String,
    /// The same number as the outbox stores it.
    pub phone: Phone,
}

/// Parses a `To`; `None` for anything Verify would call an invalid
/// parameter (60200).
pub fn parse_to(text: &str) -> Option<To> {
    let digits = text.strip_prefix('+')?;
    if !(2..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return None;
    }
    let number = phonenumber::parse(None, text).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    let e164 = number.format().mode(Mode::E164).to_string();
    let country_code = i32::from(number.code().value());
    let phone = phone::validate(country_code, &number.national().to_string())?;
    Some(To { e164, phone })
}

/// What a test number does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestNumber {
    /// National number ending in `0205`: a landline, so SMS answers 60205
    /// (a call goes through).
    Landline,
    /// National number ending in `0410`: blocked for fraud (60410).
    Blocked,
}

pub fn test_number(to: &To) -> Option<TestNumber> {
    let national = &to.phone.national;
    if national.ends_with("0205") {
        Some(TestNumber::Landline)
    } else if national.ends_with("0410") {
        Some(TestNumber::Blocked)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_must_be_a_valid_e164_number() {
        let to = parse_to("+12015550123").unwrap();
        assert_eq!(to.e164, "+12015550123");
        assert_eq!(to.phone.national, "2015550123");
        assert_eq!(to.phone.country_code, 1);
        assert!(parse_to("+447400123456").is_some());
        for bad in [
            "12015550123",
            "+1 201 555 0123",
            "+1-201-555-0123",
            "+1201555012",
            "+123",
            "+",
            "",
            "+012015550123",
            "+1201555012x",
            "+1234567890123456",
        ] {
            assert!(parse_to(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn test_numbers_are_valid_numbers() {
        let landline = parse_to("+12015550205").expect("a valid number");
        assert_eq!(test_number(&landline), Some(TestNumber::Landline));
        let blocked = parse_to("+12015550410").expect("a valid number");
        assert_eq!(test_number(&blocked), Some(TestNumber::Blocked));
        assert_eq!(test_number(&parse_to("+12015550123").unwrap()), None);
    }
}
