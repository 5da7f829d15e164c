//! The country select: every region in libphonenumber's metadata with its
//! calling code, named in English from ISO 3166-1.

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
                    Some(c) => (c.alpha2, c.name),
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
        list.sort_by(|a, b| a.name.cmp(b.name).then(a.region.cmp(b.region)));
        list
    })
}

/// Region codes outside ISO 3166 (three of them) live as long as the list.
fn leak_region(id: &str) -> &'static str {
    Box::leak(id.to_string().into_boxed_str())
}

pub fn find(region: &str) -> Option<&'static Country> {
    all().iter().find(|c| c.region == region)
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_has_names_and_calling_codes() {
        let all = super::all();
        assert!(all.len() > 200, "{}", all.len());
        let us = super::find("US").unwrap();
        assert_eq!(us.calling_code, 1);
        assert!(us.name.contains("United States"));
        assert_eq!(super::find("GB").unwrap().calling_code, 44);
        assert_eq!(super::find("DE").unwrap().calling_code, 49);
        assert!(super::find("ZZ").is_none());
        assert!(all.windows(2).all(|w| w[0].name <= w[1].name));
    }
}
