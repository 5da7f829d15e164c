//! The country select: every region in libphonenumber's metadata with its
//! calling code, named in English by the short common name people look for
//! ("United Kingdom", not ISO 3166-1's "United Kingdom of Great Britain and
//! Northern Ireland"), sorted as a reader would (accents ignored).

use std::sync::OnceLock;

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Country {
    /// ISO 3166-1 alpha-2 region, e.g. "GB" (the select's value).
    pub region: &'static str,
    pub name: &'static str,
    pub calling_code: u16,
}

/// Regions libphonenumber knows that ISO 3166-1 has no entry for.
fn extra_name(region: &str) -> Option<&'static str> {
    Some(match region {
        "AC" => "Ascension Island",
        "TA" => "Tristan da Cunha",
        "XK" => "Kosovo",
        _ => return None,
    })
}

/// The short common name where ISO 3166-1's official one is long or
/// inverted ("Korea (Republic of)").
fn short_name(region: &str) -> Option<&'static str> {
    Some(match region {
        "BO" => "Bolivia",
        "BQ" => "Caribbean Netherlands",
        "BN" => "Brunei",
        "CC" => "Cocos Islands",
        "CD" => "Congo (DRC)",
        "CG" => "Congo",
        "FK" => "Falkland Islands",
        "FM" => "Micronesia",
        "GB" => "United Kingdom",
        "IR" => "Iran",
        "KP" => "North Korea",
        "KR" => "South Korea",
        "LA" => "Laos",
        "MD" => "Moldova",
        "MF" => "Saint Martin",
        "NL" => "Netherlands",
        "PS" => "Palestine",
        "RU" => "Russia",
        "SH" => "Saint Helena",
        "SX" => "Sint Maarten",
        "SY" => "Syria",
        "TW" => "Taiwan",
        "TZ" => "Tanzania",
        "US" => "United States",
        "VA" => "Vatican City",
        "VE" => "Venezuela",
        "VG" => "British Virgin Islands",
        "VI" => "U.S. Virgin Islands",
        "VN" => "Vietnam",
        _ => return None,
    })
}

/// The key names sort by: lower case with accents dropped, so "Åland
/// Islands" sorts with the A's and "Curaçao" before "Cyprus".
fn sort_key(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'À'..='Å' | 'à'..='å' => 'a',
            'Ç' | 'ç' => 'c',
            'È'..='Ë' | 'è'..='ë' => 'e',
            'Ì'..='Ï' | 'ì'..='ï' => 'i',
            'Ò'..='Ö' | 'ò'..='ö' => 'o',
            'Ù'..='Ü' | 'ù'..='ü' => 'u',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// All countries sorted by name, built once.
pub fn all() -> &'static [Country] {
    static LIST: OnceLock<Vec<Country>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut list: Vec<Country> = phonenumber::metadata::DATABASE
            .iter()
            .filter_map(|meta| {
                let id = meta.id();
                // Non-geographic entities ("001") have no country to pick.
                if id.len() != 2 {
                    return None;
                }
                let known = rust_iso3166::ALL.iter().find(|c| c.alpha2 == id);
                let (region, name) = match known {
                    Some(c) => (c.alpha2, short_name(c.alpha2).unwrap_or(c.name)),
                    None => {
                        let name = extra_name(id)?;
                        (leak_region(id), name)
                    }
                };
                Some(Country {
                    region,
                    name,
                    calling_code: meta.country_code(),
                })
            })
            .collect();
        list.sort_by_cached_key(|c| (sort_key(c.name), c.region));
        list
    })
}

/// Region codes outside ISO 3166 (three of them) live as long as the list.
fn leak_region(id: &str) -> &'static str {
    Box::leak(id.to_string().into_boxed_str())
}

/// The select's `<option>` elements, `selected` on `region`'s. They are
/// rendered (and escaped) once: `/account` shows them on every sign-in's
/// way through, and ~245 options through the template engine cost more
/// than the rest of that page.
pub fn options_html(selected: &str) -> String {
    // Each option as its opening up to the value's closing quote, and the rest.
    static OPTIONS: OnceLock<Vec<(&'static str, String, String)>> = OnceLock::new();
    let options = OPTIONS.get_or_init(|| {
        all()
            .iter()
            .map(|c| {
                let open = format!("<option value=\"{}\"", tera::escape_html(c.region));
                let rest = format!(
                    ">{} (+{})</option>\n",
                    tera::escape_html(c.name),
                    c.calling_code
                );
                (c.region, open, rest)
            })
            .collect()
    });
    let mut html =
        String::with_capacity(options.iter().map(|o| o.1.len() + o.2.len()).sum::<usize>() + 9);
    for (region, open, rest) in options {
        html.push_str(open);
        if *region == selected {
            html.push_str(" selected");
        }
        html.push_str(rest);
    }
    html
}

pub fn find(region: &str) -> Option<&'static Country> {
    all().iter().find(|c| c.region == region)
}

/// The country a calling code belongs to first ("US" for 1, "GB" for 44).
pub fn main_for_code(code: u16) -> Option<&'static Country> {
    let metas = phonenumber::metadata::DATABASE.by_code(&code)?;
    let main = metas
        .iter()
        .find(|m| m.is_main_country_for_code())
        .or(metas.first())?;
    find(main.id())
}

/// The store's default country, when the setting names one we know.
pub const FALLBACK_STORE_COUNTRY: &str = "US";

/// The region to preselect for someone with no phone yet: the store's
/// country setting, or the fallback when it names no country we know.
pub fn store_country(setting: &str) -> &'static str {
    find(setting.trim().to_ascii_uppercase().as_str())
        .map(|c| c.region)
        .unwrap_or(FALLBACK_STORE_COUNTRY)
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_has_names_and_calling_codes() {
        let all = super::all();
        assert!(all.len() > 200, "{}", all.len());
        let us = super::find("US").unwrap();
        assert_eq!(us.calling_code, 1);
        assert_eq!(us.name, "United States");
        assert_eq!(super::find("GB").unwrap().name, "United Kingdom");
        assert_eq!(super::find("KR").unwrap().name, "South Korea");
        assert_eq!(super::find("GB").unwrap().calling_code, 44);
        assert_eq!(super::find("DE").unwrap().calling_code, 49);
        assert!(super::find("ZZ").is_none());
        let keys: Vec<String> = all.iter().map(|c| super::sort_key(c.name)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        // Accented names sort with their letter, not after "Z".
        let pos = |r: &str| all.iter().position(|c| c.region == r).unwrap();
        assert!(pos("AX") < pos("AL"), "Åland Islands before Albania");
        assert!(pos("CW") < pos("CY"), "Curaçao before Cyprus");
        assert!(all
            .iter()
            .all(|c| !c.name.contains(" of ") || c.region == "IM"));
        assert_eq!(super::main_for_code(44).unwrap().region, "GB");
        assert_eq!(super::main_for_code(1).unwrap().region, "US");
    }

    #[test]
    fn the_store_country_falls_back_to_a_known_one() {
        assert_eq!(super::store_country("gb"), "GB");
        assert_eq!(super::store_country(" DE "), "DE");
        assert_eq!(super::store_country(""), "US");
        assert_eq!(super::store_country("ZZ"), "US");
    }

    #[test]
    fn options_mark_one_selected_and_are_escaped() {
        let html = super::options_html("GB");
        assert_eq!(html.matches("<option ").count(), super::all().len());
        assert_eq!(html.matches(" selected").count(), 1);
        assert!(html.contains(r#"<option value="GB" selected>United Kingdom"#));
        assert!(html.contains(r#"<option value="US">United States"#));
        // Names with apostrophes come out escaped, as the template engine would.
        assert!(!html.contains('\''));
        assert!(html.contains("&#x27;"));
        assert_eq!(super::options_html("").matches(" selected").count(), 0);
        assert_eq!(
            super::options_html("ZZ\" onclick")
                .matches(" selected")
                .count(),
            0
        );
    }
}
