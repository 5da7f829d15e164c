//! Phone numbers: validated with libphonenumber (the `phonenumber` crate,
//! as the addon does), stored as the national number's digits, and masked
//! the way Authy shows them.

use phonenumber::Mode;

/// A validated number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub country_code: i32,
    /// Digits of the national number (leading zeros kept where significant).
    pub national: String,
    /// `+1 201-555-0123`.
    pub international: String,
}

impl Phone {
    /// Country code and national digits run together (`12015550123`).
    pub fn full_digits(&self) -> String {
        format!("{}{}", self.country_code, self.national)
    }
}

/// Digits only (spaces, dashes, dots, brackets dropped); `None` when the
/// text has anything else.
pub fn digits(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.trim().chars() {
        match c {
            '0'..='9' => out.push(c),
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
            _ => return None,
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// A calling code (`1`, `44`, `+44`).
pub fn country_code(text: &str) -> Option<i32> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || t.len() > 3 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i32>().ok().filter(|&c| c > 0)
}

/// Parses and validates `+{cc}{digits}`.
pub fn validate(country_code: i32, cellphone: &str) -> Option<Phone> {
    let digits = digits(cellphone)?;
    if digits.len() > 17 {
        return None;
    }
    let number = phonenumber::parse(None, format!("+{country_code}{digits}")).ok()?;
    if !phonenumber::is_valid(&number) || i32::from(number.code().value()) != country_code {
        return None;
    }
    Some(Phone {
        country_code,
        national: number.national().to_string(),
        international: number.format().mode(Mode::International).to_string(),
    })
}

/// `XXX-XXX-1234` (user status).
pub fn mask_status(national: &str) -> String {
    format!("XXX-XXX-{}", last(national, 4))
}

/// `+1-XXX-XXX-XX34` (SMS and call answers).
pub fn mask_cellphone(country_code: i32, national: &str) -> String {
    format!("+{country_code}-XXX-XXX-XX{}", last(national, 2))
}

fn last(s: &str, n: usize) -> &str {
    &s[s.len().saturating_sub(n)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_with_libphonenumber() {
        let p = validate(1, "201-555-0123").unwrap();
        assert_eq!(p.national, "2015550123");
        assert_eq!(p.international, "+1 201-555-0123");
        assert_eq!(p.full_digits(), "12015550123");
        assert!(validate(1, "123").is_none());
        assert!(validate(1, "201-555-01x3").is_none());
        assert!(validate(44, "7400 123456").is_some());
        // The national trunk prefix is dropped: same stored digits, same id.
        assert_eq!(
            validate(44, "07400 123456").map(|p| p.national),
            Some("7400123456".into())
        );
    }

    #[test]
    fn masks() {
        assert_eq!(mask_status("2015550123"), "XXX-XXX-0123");
        assert_eq!(mask_cellphone(1, "2015550123"), "+1-XXX-XXX-XX23");
        assert_eq!(country_code("+44"), Some(44));
        assert_eq!(country_code("abc"), None);
    }
}
