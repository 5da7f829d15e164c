//! `Email`: a login name, parsed once into one canonical form, so that two
//! addresses a person cannot tell apart are one account, and an address
//! made to look like another is refused.
//!
//! The canonical form: Unicode NFKC (full-width letters become ASCII, a
//! decomposed `é` becomes the composed one), then lower-cased whole (logins
//! have always been case-insensitive here, the local part included). Refused:
//! invisible and format characters (zero-width spaces, bidi overrides, soft
//! hyphens: anything in General_Category Cf or Default_Ignorable_Code_Point),
//! which would make two different stored addresses look identical on screen;
//! and a local part or domain label that mixes Latin with Cyrillic or Greek
//! letters (a Cyrillic `а` in `аdmin@`), the classic look-alike, while an
//! address wholly in one script stays welcome.
//!
//! Rows stored before this form existed are brought to it once at start-up
//! (`accounts::normalise_stored_emails`).

use std::fmt;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, Script};
use icu_properties::{CodePointMapData, CodePointSetData};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

pub const INVISIBLE: &str = "The email address holds an invisible character (such as a zero-width space or a text-direction mark), perhaps from copying it. Type the address in by hand and try again.";
pub const MIXED_SCRIPTS: &str = "The email address mixes letters of different alphabets (for example a Cyrillic \u{201c}\u{0430}\u{201d} among Latin letters), so it could pass for another address. Type it in by hand and try again.";

/// Whether `c` shows as nothing, or changes how the text around it shows
/// (bidi controls), rather than as a character of its own.
pub fn is_invisible(c: char) -> bool {
    CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// Whether `part` has letters of two of Latin, Cyrillic and Greek (the
/// scripts whose letters look alike).
fn mixes_look_alike_scripts(part: &str) -> bool {
    let scripts = CodePointMapData::<Script>::new();
    let (mut latin, mut cyrillic, mut greek) = (false, false, false);
    for c in part.chars() {
        match scripts.get(c) {
            Script::Latin => latin = true,
            Script::Cyrillic => cyrillic = true,
            Script::Greek => greek = true,
            _ => {}
        }
    }
    [latin, cyrillic, greek].iter().filter(|b| **b).count() > 1
}

impl Email {
    /// Accepts `local@domain.tld`: at most 254 characters, no spaces,
    /// control, invisible or format characters, no label mixing look-alike
    /// scripts; normalised (NFKC) and lower-cased.
    pub fn parse(input: &str) -> Result<Email, &'static str> {
        let raw = input.trim();
        if raw.is_empty() {
            return Err("Enter your email address.");
        }
        // Before normalising: NFKC keeps most of these, but the message
        // should name what the person sent, whatever NFKC makes of it.
        if raw.chars().any(is_invisible) {
            return Err(INVISIBLE);
        }
        if raw.chars().count() > 254 * 4 {
            return Err("That email address is too long.");
        }
        // Lower-casing and NFKC each can undo the other for a few
        // characters (NFKC maps U+1D2C MODIFIER LETTER CAPITAL A to "A"), so
        // both run until neither changes anything: one canonical form, which
        // every check below then reads.
        let mut canonical = raw.to_string();
        let mut stable = false;
        for _ in 0..4 {
            let next = ComposingNormalizerBorrowed::new_nfkc()
                .normalize(&canonical.to_lowercase())
                .trim()
                .to_string();
            if next == canonical {
                stable = true;
                break;
            }
            canonical = next;
        }
        let s = canonical.as_str();
        if !stable || s.is_empty() {
            return Err("Enter an email address like name@example.com.");
        }
        if s.chars().count() > 254 {
            return Err("That email address is too long.");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("An email address has no spaces.");
        }
        if s.chars().any(is_invisible) {
            return Err(INVISIBLE);
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("Enter an email address like name@example.com.");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.chars().count() > 64 || local.contains('@') || !domain_ok {
            return Err("Enter an email address like name@example.com.");
        }
        if mixes_look_alike_scripts(local) || domain.split('.').any(mixes_look_alike_scripts) {
            return Err(MIXED_SCRIPTS);
        }
        Ok(Email(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Email, INVISIBLE, MIXED_SCRIPTS};
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "a b@example.com",
            "ann@example",
            "ann@exa..mple.com",
            "ann@example.com\u{0}",
            "a@b@example.com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn full_width_letters_are_the_ascii_address() {
        // ＡＮＮ＠ｅｘａｍｐｌｅ．ｃｏｍ, typed with a full-width keyboard.
        let wide = "\u{FF21}\u{FF2E}\u{FF2E}\u{FF20}\u{FF45}\u{FF58}\u{FF41}\u{FF4D}\u{FF50}\u{FF4C}\u{FF45}\u{FF0E}\u{FF43}\u{FF4F}\u{FF4D}";
        assert_eq!(Email::parse(wide).unwrap().as_str(), "ann@example.com");
    }

    #[test]
    fn composed_and_decomposed_e_acute_are_one_address() {
        let composed = Email::parse("ren\u{00E9}@example.com").unwrap();
        let decomposed = Email::parse("rene\u{0301}@example.com").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(composed.as_str(), "ren\u{00E9}@example.com");
        assert_eq!(
            Email::parse("REN\u{00C9}@EXAMPLE.COM").unwrap(),
            composed,
            "upper-case É is the same address"
        );
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused() {
        for bad in [
            "ann\u{200B}@example.com", // zero-width space
            "\u{200B}ann@example.com", // leading, which trim() keeps
            "ann@exam\u{200D}ple.com", // zero-width joiner
            "\u{202E}moc.elpmaxe@nna", // right-to-left override
            "ann\u{2066}@example.com", // left-to-right isolate
            "ann\u{00AD}@example.com", // soft hyphen
            "ann\u{FEFF}@example.com", // byte-order mark
            "ann\u{3164}@example.com", // Hangul filler (shows as blank)
        ] {
            assert_eq!(Email::parse(bad), Err(INVISIBLE), "{bad:?}");
        }
    }

    #[test]
    fn a_cyrillic_a_among_latin_letters_is_refused() {
        // U+0430 CYRILLIC SMALL LETTER A in place of the Latin a.
        assert_eq!(Email::parse("\u{0430}dmin@example.com"), Err(MIXED_SCRIPTS));
        assert_eq!(Email::parse("admin@ex\u{0430}mple.com"), Err(MIXED_SCRIPTS));
        // Greek omicron in a Latin word.
        assert_eq!(Email::parse("b\u{03BF}b@example.com"), Err(MIXED_SCRIPTS));
        // One script per part is a real address.
        assert_eq!(
            Email::parse("\u{0410}\u{043D}\u{043D}\u{0430}@example.com")
                .unwrap()
                .as_str(),
            "\u{0430}\u{043D}\u{043D}\u{0430}@example.com"
        );
        assert!(Email::parse("\u{0430}\u{043D}\u{043D}\u{0430}@\u{043F}\u{0440}\u{0438}\u{043C}\u{0435}\u{0440}.\u{0440}\u{0444}").is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any string: a clear error or an address, never a panic; an
        /// accepted address is canonical (parsing it again changes nothing)
        /// and holds nothing invisible.
        #[test]
        fn any_input_parses_or_is_refused(s in any::<String>()) {
            if let Ok(email) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                prop_assert!(!email.as_str().chars().any(super::is_invisible));
                prop_assert!(email.as_str().chars().count() <= 254);
            }
        }

        /// Addresses shaped like real ones, with Unicode letters, upper case
        /// and an invisible character somewhere.
        #[test]
        fn shaped_addresses(
            local in "[a-zA-Z0-9.é\u{0301}\u{FF41}-\u{FF5A}]{1,20}",
            domain in "[a-zA-Z\u{FF41}-\u{FF5A}]{1,12}\\.[a-z]{2,6}",
            invisible in prop::sample::select(vec!['\u{200B}', '\u{200E}', '\u{202E}', '\u{2060}', '\u{FEFF}']),
            at in 0usize..20,
        ) {
            let address = format!("{local}@{domain}");
            if let Ok(email) = Email::parse(&address) {
                prop_assert_eq!(Email::parse(&address.to_uppercase()), Ok(email.clone()));
                let mut chars: Vec<char> = address.chars().collect();
                chars.insert(at.min(chars.len()), invisible);
                let spoofed: String = chars.into_iter().collect();
                prop_assert_eq!(Email::parse(&spoofed), Err(INVISIBLE));
            }
        }
    }
}
