//! The audit log's events and outcomes in words ("Code sent", not
//! "code_sent"). The stored names stay as they are: scripts and the
//! email filter read them.

/// The event as the store owner reads it.
pub fn event(name: &str, outcome: &str) -> String {
    let label = match (name, outcome) {
        ("addon", "enabled") => "Addon enabled",
        ("addon", "disabled") => "Addon disabled",
        ("challenge", "started") => "Sign-in asked for a code",
        ("challenge", "cancelled") => "Sign-in cancelled",
        ("challenge", _) => "Sign-in challenge",
        ("code_sent", _) => "Code sent",
        ("call", _) => "Code call",
        ("verify", _) => "Code checked",
        ("lock", _) => "Account locked",
        ("reset", _) => "Two-factor reset by an admin",
        ("disable", _) => "Two-factor turned off",
        ("app_setup", _) => "Authenticator app set up",
        ("passkey", "added") => "Passkey added",
        ("passkey", "used") => "Passkey used to sign in",
        ("passkey", "removed") => "Passkey removed",
        ("passkey", "renamed") => "Passkey renamed",
        ("passkey", "failure") => "Passkey refused",
        ("passkey", _) => "Passkey",
        ("recovery_codes", "viewed") => "Recovery codes viewed",
        ("recovery_codes", _) => "New recovery codes",
        ("phone_change", _) => "Phone changed",
        ("settings_change", _) => "Settings saved",
        ("connection_test", _) => "Connection test",
        ("confirm_access", _) => "Admin confirmed it is them",
        ("api_token", "created") => "Access token created",
        ("api_token", "revoked") => "Access token revoked",
        ("api_token", _) => "Access token",
        ("api_signin", _) => "API sign-in",
        ("trusted_device", "trusted") => "Device trusted",
        ("trusted_device", "used") => "Trusted device skipped the code",
        ("trusted_device", "forgotten") => "Trusted device forgotten",
        ("trusted_device", _) => "Trusted device",
        ("setup_required", "asked") => "Sign-in asked to set up 2FA",
        ("setup_required", "postponed") => "2FA set-up postponed",
        ("setup_required", _) => "2FA set-up required",
        _ => return words(name),
    };
    label.to_string()
}

/// The outcome as the store owner reads it.
pub fn outcome(outcome: &str) -> String {
    match outcome {
        "success" => "Succeeded".into(),
        "failure" => "Failed".into(),
        "gateway_error" => "Gateway error".into(),
        "rate_limited" => "Held back (limit)".into(),
        "nothing" => "Nothing to remove".into(),
        "voided" => "No longer valid".into(),
        other => words(other),
    }
}

/// `snake_case` as a sentence: "gateway_ids_forgotten" → "Gateway ids forgotten".
fn words(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_reads_as_words() {
        assert_eq!(super::event("code_sent", "success"), "Code sent");
        assert_eq!(super::event("addon", "disabled"), "Addon disabled");
        assert_eq!(super::event("some_new_event", "x"), "Some new event");
        assert_eq!(super::outcome("rate_limited"), "Held back (limit)");
        assert_eq!(
            super::outcome("gateway_ids_forgotten"),
            "Gateway ids forgotten"
        );
    }
}
