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
    #[error("Choose the country of your phone number.")]
    UnknownCountry,
    #[error("Enter your phone number.")]
    Empty,
    #[error("Use digits only (spaces, dashes, dots and brackets are fine).")]
    BadCharacters,
    #[error("This is not a valid phone number for {0}.")]
    Invalid(String),
}

/// Longest input we try to parse (E.164 has at most 15 digits).
const MAX_INPUT: usize = 32;

impl PhoneNumber {
    /// `country` is an ISO region such as "GB"; `number` what the user typed,
    /// national or international form.
    pub fn parse(country: &str, number: &str) -> Result<PhoneNumber, PhoneError> {
        let country: &Country =
            countries::find(country.trim()).ok_or(PhoneError::UnknownCountry)?;
        let number = number.trim();
        if number.is_empty() {
            return Err(PhoneError::Empty);
        }
        let allowed = |(i, c): (usize, char)| {
            c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.') || (c == '+' && i == 0)
        };
        if number.len() > MAX_INPUT || !number.char_indices().all(allowed) {
            return Err(PhoneError::BadCharacters);
        }
        let invalid = || PhoneError::Invalid(country.name.to_string());
        let id: phonenumber::country::Id = country.region.parse().map_err(|_| invalid())?;
        let parsed = phonenumber::parse(Some(id), number).map_err(|_| invalid())?;
        if !parsed.is_valid()
            || parsed.code().value() != country.calling_code
            // The region libphonenumber assigns must be the chosen one; it
            // finds none for some numbers with a national leading zero
            // (Italy), where the calling code check above has to do.
            || parsed.country().id().is_some_and(|found| found != id)
            || parsed.extension().is_some()
        {
            return Err(invalid());
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        let prefix = format!("+{}", country.calling_code);
        let national = e164.strip_prefix(&prefix).ok_or_else(invalid)?.to_string();
        Ok(PhoneNumber {
            region: country.region.to_string(),
            calling_code: country.calling_code,
            national,
            e164,
        })
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
    /// The only part of the number pages and logs show.
    pub fn last_two(&self) -> &str {
        let n = self.e164.len();
        &self.e164[n.saturating_sub(2)..]
    }
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
            ("US", "+44 7400 123456"), // another country's number
            ("CA", "(201) 555-0123"),  // a US number with Canada chosen
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
