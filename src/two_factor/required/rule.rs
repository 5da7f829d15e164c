//! The settings of "Require two-factor authentication" and the rule that
//! says where an account without a second factor stands.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plugin::{AddonSettings, FieldErrors, Role};

pub const CUSTOMER_REQUIRED: &str = "customer_require_2fa";
pub const ADMIN_REQUIRED: &str = "admin_require_2fa";
pub const CUSTOMER_GRACE_DAYS: &str = "customer_grace_days";
pub const ADMIN_GRACE_DAYS: &str = "admin_grace_days";
pub const MAX_GRACE_DAYS: i64 = 365;
pub const DEFAULT_GRACE_DAYS: i64 = 7;
const DAY_SECS: i64 = 86_400;

/// The store's rule for a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub required: bool,
    /// 0: set-up is required at the next sign-in.
    pub grace_days: i64,
}

fn parse_days(text: &str) -> Option<i64> {
    let days: i64 = text.trim().parse().ok()?;
    (0..=MAX_GRACE_DAYS).contains(&days).then_some(days)
}

impl Rule {
    /// The rule for accounts of `role` (the role decides, never the form
    /// used). A grace period left empty is the default (7 days); an
    /// unreadable one counts as none: nothing fails open.
    pub fn for_role(settings: &AddonSettings, role: Role) -> Rule {
        let (required, grace) = match role {
            Role::Admin | Role::Vendor => (ADMIN_REQUIRED, ADMIN_GRACE_DAYS),
            Role::Customer => (CUSTOMER_REQUIRED, CUSTOMER_GRACE_DAYS),
        };
        let grace_days = match settings.text(grace).trim() {
            "" => DEFAULT_GRACE_DAYS,
            text => parse_days(text).unwrap_or(0),
        };
        Rule {
            required: settings.bool(required),
            grace_days,
        }
    }
}

/// Where an account without a second factor stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Standing {
    NotRequired,
    /// Set-up is required; "Remind me later" still lets the user in.
    InGrace {
        days_left: i64,
    },
    /// Set-up or sign out: nothing else.
    Ended,
}

/// The account's standing, its clock having started at `started_at`: the
/// period is the store's current one, so shortening it reaches everyone.
pub fn grace(rule: Rule, started_at: i64, now: i64) -> Standing {
    if !rule.required {
        return Standing::NotRequired;
    }
    let ends = started_at + rule.grace_days * DAY_SECS;
    if now >= ends {
        Standing::Ended
    } else {
        // Whole days, rounded up: "1 day left" until the very end.
        Standing::InGrace {
            days_left: (ends - now + DAY_SECS - 1) / DAY_SECS,
        }
    }
}

/// The settings form's check of both grace fields.
pub fn check_settings(values: &BTreeMap<String, String>) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for key in [CUSTOMER_GRACE_DAYS, ADMIN_GRACE_DAYS] {
        if let Some(v) = values.get(key).filter(|v| !v.trim().is_empty()) {
            if parse_days(v).is_none() {
                errors.add(
                    key,
                    format!("Enter a whole number of days from 0 (at the next sign-in) to {MAX_GRACE_DAYS}."),
                );
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 2_000_000_000;
    const ON_7: Rule = Rule {
        required: true,
        grace_days: 7,
    };

    #[test]
    fn the_grace_counts_whole_days_from_the_stored_start() {
        assert_eq!(grace(ON_7, NOW, NOW), Standing::InGrace { days_left: 7 });
        assert_eq!(
            grace(ON_7, NOW - 6 * DAY_SECS - 1, NOW),
            Standing::InGrace { days_left: 1 }
        );
        assert_eq!(grace(ON_7, NOW - 7 * DAY_SECS, NOW), Standing::Ended);
        let off = Rule {
            required: false,
            ..ON_7
        };
        assert_eq!(grace(off, NOW - 100 * DAY_SECS, NOW), Standing::NotRequired);
    }

    #[test]
    fn shortening_reaches_users_already_counting_and_zero_means_now() {
        let started = NOW - 3 * DAY_SECS;
        assert_eq!(
            grace(ON_7, started, NOW),
            Standing::InGrace { days_left: 4 }
        );
        let two = Rule {
            grace_days: 2,
            ..ON_7
        };
        assert_eq!(grace(two, started, NOW), Standing::Ended);
        let zero = Rule {
            grace_days: 0,
            ..ON_7
        };
        assert_eq!(grace(zero, NOW, NOW), Standing::Ended);
    }

    #[test]
    fn the_grace_setting_is_whole_days() {
        assert_eq!(parse_days("7"), Some(7));
        for bad in ["-1", "366", "1.5", "", "week"] {
            assert!(parse_days(bad).is_none(), "{bad}");
        }
        let values: BTreeMap<String, String> = [(ADMIN_GRACE_DAYS.to_string(), "x".to_string())]
            .into_iter()
            .collect();
        assert!(check_settings(&values).get(ADMIN_GRACE_DAYS).is_some());
    }
}
