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
