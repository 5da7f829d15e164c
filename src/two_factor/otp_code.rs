//! A one-time code as typed by the user, checked locally before any request.

use std::fmt;
use std::ops::RangeInclusive;

/// 6 to 8 ASCII digits (4 to 10 for Verify). Only `parse` makes one, so a value of this type is
/// always safe to put in a URL path. Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

pub const MIN_LEN: usize = 6;
pub const MAX_LEN: usize = 8;
/// The lengths a Twilio Verify service may be set to.
pub const VERIFY_LENGTHS: RangeInclusive<usize> = 4..=10;

impl OtpCode {
    /// Accepts `^[0-9]{6,8}$` after trimming surrounding whitespace (phones
    /// paste codes with a trailing newline). Everything else is refused,
    /// including Unicode digits, signs, slashes and long input.
    pub fn parse(input: &str) -> Option<OtpCode> {
        OtpCode::parse_within(input, MIN_LEN..=MAX_LEN)
    }

    /// As `parse`, for a gateway whose codes have other lengths (Twilio
    /// Verify: 4 to 10 digits, `VERIFY_LENGTHS`).
    pub fn parse_within(input: &str, lengths: RangeInclusive<usize>) -> Option<OtpCode> {
        // Check the length first so a huge input costs nothing more.
        if input.len() > 64 {
            return None;
        }
        let code = input.trim();
        let ok = lengths.contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| OtpCode(code.to_string()))
    }

    /// As `parse_within`, for a code as a person typed it: digit groups
    /// with spaces or dashes are its digits (see `without_separators`).
    pub fn parse_typed(input: &str, lengths: RangeInclusive<usize>) -> Option<OtpCode> {
        OtpCode::parse_within(&without_separators(input), lengths)
    }

    /// The digits, for the one request that sends them to the gateway.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A code as people type or paste it: digit groups with single spaces or
/// dashes between them ("894 3320", "894-3320") become the digits alone;
/// anything else is returned as it is, to be refused (and counted) by the
/// parser it goes to. Every code field (SMS, app, recovery, the API)
/// takes its input through here, so all accept the same separators.
pub fn without_separators(input: &str) -> std::borrow::Cow<'_, str> {
    let t = input.trim();
    let bytes = t.as_bytes();
    let separated = t.len() <= 64
        && bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && bytes.iter().any(|b| matches!(b, b' ' | b'-'))
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-'))
        // One separator at a time.
        && bytes
            .windows(2)
            .all(|w| w[0].is_ascii_digit() || w[1].is_ascii_digit());
    if separated {
        t.bytes()
            .filter(u8::is_ascii_digit)
            .map(char::from)
            .collect::<String>()
            .into()
    } else {
        input.into()
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::OtpCode;

    #[test]
    fn accepts_six_to_eight_ascii_digits() {
        for ok in ["123456", "1234567", "12345678", " 1234567\n", "000000"] {
            assert!(OtpCode::parse(ok).is_some(), "{ok:?}");
        }
        assert_eq!(OtpCode::parse(" 1234567 ").unwrap().expose(), "1234567");
    }

    #[test]
    fn refuses_hostile_and_malformed_input() {
        let long = "1".repeat(50 * 1024);
        let hostile = [
            "",
            "12345",
            "123456789",
            "../sms",
            "123456/1#",
            "123456/../../sms/1",
            "12 34 56",
            "123456?force=false",
            "+123456",
            "-123456",
            "１２３４５６", // full-width digits
            "١٢٣٤٥٦",       // Arabic-Indic digits
            "123456\u{0}",
            "12345a",
            "1234567%2F",
            long.as_str(),
        ];
        for bad in hostile {
            assert!(
                OtpCode::parse(bad).is_none(),
                "{:?}",
                &bad[..bad.len().min(20)]
            );
        }
    }

    #[test]
    fn separators_between_digit_groups_are_dropped_and_nothing_else() {
        use super::without_separators as w;
        for (typed, code) in [
            ("894 3320", "8943320"),
            ("894-3320", "8943320"),
            (" 12 34 56 ", "123456"),
            ("123456", "123456"),
        ] {
            assert_eq!(w(typed).trim(), code, "{typed:?}");
            assert!(OtpCode::parse(&w(typed)).is_some());
        }
        // Not digit groups: left as typed, so the parser refuses them.
        for odd in [
            "12  34", "-123456", "123456-", "12 a4 56", "1 2\t3", "12--34", "",
        ] {
            assert_eq!(w(odd), odd, "{odd:?}");
        }
        assert!(OtpCode::parse(&w("12--3456")).is_none());
    }

    #[test]
    fn debug_does_not_show_the_code() {
        let code = OtpCode::parse("1234567").unwrap();
        assert!(!format!("{code:?}").contains("1234567"));
    }
}
