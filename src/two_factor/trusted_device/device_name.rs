//! A name for a device the user can recognise in the list ("Firefox on
//! Windows"), read from its User-Agent. Only a label: nothing depends on it.

const MAX_LEN: usize = 80;

pub fn from_user_agent(ua: &str) -> String {
    let browser = browser(ua);
    let os = os(ua);
    let name = match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => format!("A browser on {o}"),
        (None, None) => "Unknown browser".to_string(),
    };
    name.chars().take(MAX_LEN).collect()
}

fn browser(ua: &str) -> Option<&'static str> {
    // Order matters: Edge and Opera also say Chrome; Chrome also says Safari.
    [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(mark, _)| ua.contains(mark))
    .map(|(_, name)| name)
}

fn os(ua: &str) -> Option<&'static str> {
    [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| ua.contains(mark))
    .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::from_user_agent;

    #[test]
    fn common_browsers_get_readable_names() {
        assert_eq!(
            from_user_agent(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
            ),
            "Firefox on Windows"
        );
        assert_eq!(
            from_user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"),
            "Safari on macOS"
        );
        assert_eq!(
            from_user_agent("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Mobile Safari/537.36"),
            "Chrome on Android"
        );
        assert_eq!(
            from_user_agent("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/119.0 Safari/537.36 Edg/119.0"),
            "Edge on Windows"
        );
        assert_eq!(from_user_agent(""), "Unknown browser");
        assert_eq!(from_user_agent(&"x".repeat(500)), "Unknown browser");
    }
}
