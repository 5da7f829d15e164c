//! A phone number checked for the chosen country and kept in E.164.

use crate::two_factor::sms::countries::{self, Country};

/// A valid number: region, calling code, national significant number and
/// its E.164 form. Debug shows only the last two digits.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    region: String,
    calling_code: u16,
    national: String,
    e164: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Choose the country of your phone number, or type it with its country code (+44 …).")]
    UnknownCountry,
    #[error("Enter your phone number.")]
    Empty,
    #[error("Use digits only (spaces, dashes, dots and brackets are fine).")]
    BadCharacters,
    #[error("This is not a valid phone number for {0}. Check the number, or choose its country.")]
    Invalid(String),
    #[error("This is not a valid international phone number. Check the country code after the +.")]
    InvalidInternational,
}

/// Longest input we try to parse (E.164 has at most 15 digits).
const MAX_INPUT: usize = 32;

impl PhoneNumber {
    /// `country` is an ISO region such as "GB"; `number` what the user typed,
    /// national or international form. An international number ("+44 7400
    /// 123456", "0044 7400 123456") is read by its own country code,
    /// whatever country is chosen: people paste numbers from their contacts.
    pub fn parse(country: &str, number: &str) -> Result<PhoneNumber, PhoneError> {
        let number = number.trim();
        let chosen = countries::find(country.trim());
        if number.is_empty() {
            return Err(match chosen {
                Some(_) => PhoneError::Empty,
                None => PhoneError::UnknownCountry,
            });
        }
        let allowed = |(i, c): (usize, char)| {
            c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.') || (c == '+' && i == 0)
        };
        if number.len() > MAX_INPUT || !number.char_indices().all(allowed) {
            return Err(PhoneError::BadCharacters);
        }
        match international_digits(number) {
            Some(digits) => parse_international(&digits, chosen),
            None => parse_national(chosen.ok_or(PhoneError::UnknownCountry)?, number),
        }
    }

    /// Rebuilds a number read back from the database (validated when stored).
    pub fn from_stored(
        region: String,
        calling_code: u16,
        national: String,
        e164: String,
    ) -> PhoneNumber {
        PhoneNumber {
            region,
            calling_code,
            national,
            e164,
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn calling_code(&self) -> u16 {
        self.calling_code
    }
    /// National significant number, digits only (what the gateway calls `cellphone`).
    pub fn national(&self) -> &str {
        &self.national
    }
    pub fn e164(&self) -> &str {
        &self.e164
    }
    /// For people: "+44 7400 123456".
    pub fn international(&self) -> String {
        formatted(&self.e164, phonenumber::Mode::International).unwrap_or_else(|| self.e164.clone())
    }
    /// For the local-number field: "07400 123456", never with a "+".
    pub fn national_display(&self) -> String {
        formatted(&self.e164, phonenumber::Mode::National)
            .filter(|n| !n.contains('+'))
            .unwrap_or_else(|| self.national.clone())
    }
    /// For pages that mask: the international form with every digit after
    /// the country code hidden but the last four ("+44 •••• ••3456").
    pub fn masked(&self) -> String {
        let shown = self.international();
        let prefix = format!("+{}", self.calling_code);
        let rest = shown.strip_prefix(&prefix).unwrap_or(&shown);
        let total = rest.chars().filter(char::is_ascii_digit).count();
        let mut seen = 0;
        let masked: String = rest
            .chars()
            .map(|c| {
                if !c.is_ascii_digit() {
                    return c;
                }
                seen += 1;
                if seen + 4 > total {
                    c
                } else {
                    '•'
                }
            })
            .collect();
        format!("{prefix}{masked}")
    }
    /// The only part of the number logs show.
    pub fn last_two(&self) -> &str {
        let n = self.e164.len();
        &self.e164[n.saturating_sub(2)..]
    }
}

/// The digits after the international prefix ("+" or "00"), when `number`
/// is written in international form.
fn international_digits(number: &str) -> Option<String> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if number.starts_with('+') {
        Some(digits)
    } else {
        digits.strip_prefix("00").map(str::to_string)
    }
}

/// A national number for the chosen country: the region libphonenumber
/// finds must be that country.
fn parse_national(country: &Country, number: &str) -> Result<PhoneNumber, PhoneError> {
    let invalid = || PhoneError::Invalid(country.name.to_string());
    let id: phonenumber::country::Id = country.region.parse().map_err(|_| invalid())?;
    let parsed = phonenumber::parse(Some(id), number).map_err(|_| invalid())?;
    if parsed.code().value() != country.calling_code
        // The region libphonenumber assigns must be the chosen one; it
        // finds none for some numbers with a national leading zero
        // (Italy), where the calling code check above has to do.
        || parsed.country().id().is_some_and(|found| found != id)
    {
        return Err(invalid());
    }
    from_parsed(country, &parsed).ok_or_else(invalid)
}

/// An international number: its country code decides the country.
fn parse_international(digits: &str, chosen: Option<&Country>) -> Result<PhoneNumber, PhoneError> {
    let invalid = || PhoneError::InvalidInternational;
    let parsed = phonenumber::parse(None, format!("+{digits}")).map_err(|_| invalid())?;
    let code = parsed.code().value();
    let region = match parsed.country().id() {
        Some(id) => countries::find(id.as_ref()),
        // Numbers libphonenumber places in no single region (Italy's with
        // a leading zero): the chosen country when it has this code, else
        // the code's main country.
        None => chosen
            .filter(|c| c.calling_code == code)
            .or_else(|| countries::main_for_code(code)),
    };
    let country = region
        .filter(|c| c.calling_code == code)
        .ok_or_else(invalid)?;
    from_parsed(country, &parsed).ok_or_else(invalid)
}

/// The stored form of a parsed number, when it is a valid one without an
/// extension.
fn from_parsed(country: &Country, parsed: &phonenumber::PhoneNumber) -> Option<PhoneNumber> {
    if !parsed.is_valid() || parsed.extension().is_some() {
        return None;
    }
    let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
    let prefix = format!("+{}", country.calling_code);
    let national = e164.strip_prefix(&prefix)?.to_string();
    Some(PhoneNumber {
        region: country.region.to_string(),
        calling_code: country.calling_code,
        national,
        e164,
    })
}

/// The number in libphonenumber's `mode`, or None if the stored E.164 no
/// longer parses (metadata changed since it was stored).
fn formatted(e164: &str, mode: phonenumber::Mode) -> Option<String> {
    let parsed = phonenumber::parse(None, e164).ok()?;
    Some(parsed.format().mode(mode).to_string())
}

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PhoneNumber(+{} …{})",
            self.calling_code,
            self.last_two()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{PhoneError, PhoneNumber};

    #[test]
    fn valid_numbers_are_stored_in_e164() {
        let cases = [
            ("US", "(201) 555-0123", "+12015550123", "2015550123"),
            ("US", "+1 201 555 0123", "+12015550123", "2015550123"),
            ("GB", "07400 123456", "+447400123456", "7400123456"),
            ("GB", "+44 7400 123456", "+447400123456", "7400123456"),
            ("DE", "0151 23456789", "+4915123456789", "15123456789"),
            ("FR", "06 12 34 56 78", "+33612345678", "612345678"),
            ("IT", "02 1234 5678", "+390212345678", "0212345678"),
            ("IN", "98765 43210", "+919876543210", "9876543210"),
            ("CA", "604-555-0123", "+16045550123", "6045550123"),
        ];
        for (country, input, e164, national) in cases {
            let phone = PhoneNumber::parse(country, input)
                .unwrap_or_else(|e| panic!("{country} {input}: {e}"));
            assert_eq!(phone.e164(), e164);
            assert_eq!(phone.national(), national);
            assert_eq!(phone.region(), country);
            assert_eq!(phone.last_two(), &e164[e164.len() - 2..]);
        }
    }

    #[test]
    fn invalid_numbers_are_refused_for_the_chosen_country() {
        let invalid = [
            ("US", "123"),
            ("US", "555-0123"),
            ("GB", "07400 12345"),
            ("DE", "0151"),
            ("CA", "(201) 555-0123"), // a US number with Canada chosen
            ("GB", "12345678901234567890"),
        ];
        for (country, input) in invalid {
            assert!(
                matches!(
                    PhoneNumber::parse(country, input),
                    Err(PhoneError::Invalid(_) | PhoneError::BadCharacters)
                ),
                "{country} {input}"
            );
        }
    }

    #[test]
    fn an_international_number_wins_over_the_chosen_country() {
        let cases = [
            ("US", "+44 7400 123456", "GB", "+447400123456"),
            ("US", "0044 7400 123456", "GB", "+447400123456"),
            ("DE", "+1 (201) 555-0123", "US", "+12015550123"),
            ("CA", "+1 201 555 0123", "US", "+12015550123"),
            ("", "+33 6 12 34 56 78", "FR", "+33612345678"),
            ("ZZ", "+49 151 23456789", "DE", "+4915123456789"),
            ("GB", "+39 02 1234 5678", "IT", "+390212345678"),
        ];
        for (chosen, input, region, e164) in cases {
            let phone = PhoneNumber::parse(chosen, input)
                .unwrap_or_else(|e| panic!("{chosen} {input}: {e}"));
            assert_eq!((phone.region(), phone.e164()), (region, e164), "{input}");
        }
        for bad in ["+44 7400 12345", "+999 123456", "00", "+"] {
            assert_eq!(
                PhoneNumber::parse("US", bad),
                Err(PhoneError::InvalidInternational),
                "{bad}"
            );
        }
    }

    #[test]
    fn numbers_are_shown_in_international_form_and_masked_to_the_last_four() {
        let gb = PhoneNumber::parse("GB", "07400 123456").unwrap();
        assert_eq!(gb.international(), "+44 7400 123456");
        assert_eq!(gb.masked(), "+44 •••• ••3456");
        assert_eq!(gb.national_display(), "07400 123456");
        let us = PhoneNumber::parse("US", "2015550123").unwrap();
        assert_eq!(us.international(), "+1 201-555-0123");
        assert_eq!(us.masked(), "+1 •••-•••-0123");
        assert_eq!(us.national_display(), "(201) 555-0123");
        // A number typed in international form still fills the local field
        // with its national form, never with a "+".
        let de = PhoneNumber::parse("US", "+49 151 23456789").unwrap();
        assert!(
            !de.national_display().contains('+'),
            "{}",
            de.national_display()
        );
        assert_eq!(de.national_display(), "01512 3456789");
    }

    #[test]
    fn hostile_input_is_refused_before_parsing() {
        assert_eq!(
            PhoneNumber::parse("ZZ", "2015550123"),
            Err(PhoneError::UnknownCountry)
        );
        assert_eq!(
            PhoneNumber::parse("", "2015550123"),
            Err(PhoneError::UnknownCountry)
        );
        assert_eq!(PhoneNumber::parse("US", "  "), Err(PhoneError::Empty));
        for bad in [
            "201555012a",
            "201/555/0123",
            "2015550123;ext=1",
            "２０１５５５０１２３",
            "1+2015550123",
        ] {
            assert_eq!(
                PhoneNumber::parse("US", bad),
                Err(PhoneError::BadCharacters),
                "{bad}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("US", &"1".repeat(50_000)),
            Err(PhoneError::BadCharacters)
        );
    }

    #[test]
    fn debug_hides_the_number() {
        let phone = PhoneNumber::parse("US", "2015550123").unwrap();
        let shown = format!("{phone:?}");
        assert!(!shown.contains("555"), "{shown}");
        assert!(shown.contains("23"));
    }
}
