//! How long a device may skip the code, per interface, and the rule that
//! says whether a stored device still counts.

use std::collections::BTreeMap;

use crate::plugin::{AddonSettings, FieldErrors, Role};

/// Settings keys (plugin.toml): days, 0 = off.
pub const CUSTOMER_DAYS: &str = "customer_trusted_device_days";
pub const ADMIN_DAYS: &str = "admin_trusted_device_days";
/// A year at most: a device trusted longer outlives most passwords.
pub const MAX_DAYS: i64 = 365;
pub const DAY_SECS: i64 = 86_400;
const CUSTOMER_DEFAULT: TrustDays = TrustDays(30);
const ADMIN_DEFAULT: TrustDays = TrustDays(0);

/// How many days a device may skip the code; 0 turns trusting off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TrustDays(i64);

impl TrustDays {
    /// A settings value: whole days from 0 to `MAX_DAYS`.
    pub fn parse(text: &str) -> Option<TrustDays> {
        let days: i64 = text.trim().parse().ok()?;
        (0..=MAX_DAYS).contains(&days).then_some(TrustDays(days))
    }

    /// The setting for accounts of `role` (the role decides, never the
    /// form used). Left empty: the default (customers 30 days, admins and
    /// vendors off). An unreadable value turns trusting off.
    pub fn for_role(settings: &AddonSettings, role: Role) -> TrustDays {
        let (key, default) = match role {
            Role::Admin | Role::Vendor => (ADMIN_DAYS, ADMIN_DEFAULT),
            Role::Customer => (CUSTOMER_DAYS, CUSTOMER_DEFAULT),
        };
        match settings.text(key).trim() {
            "" => default,
            text => TrustDays::parse(text).unwrap_or_default(),
        }
    }

    pub fn days(self) -> i64 {
        self.0
    }

    pub fn is_off(self) -> bool {
        self.0 == 0
    }

    pub fn secs(self) -> i64 {
        self.0 * DAY_SECS
    }
}

/// What the rule needs of a stored device.
#[derive(Clone, Copy, Debug)]
pub struct Trusted {
    pub created_at: i64,
    pub expires_at: i64,
    pub credential_generation: i64,
}

/// Why a stored device no longer skips the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The store turned trusting off for the role.
    TurnedOff,
    /// The password changed, two-factor authentication was reset or
    /// disabled, a factor was removed, or the user signed out everywhere.
    CredentialsChanged,
    Expired,
    /// The store lowered the period below the device's age.
    PeriodShortened,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::TurnedOff => "trusted devices are turned off for this role",
            Refused::CredentialsChanged => {
                "password, second factor or sessions changed since it was trusted"
            }
            Refused::Expired => "expired",
            Refused::PeriodShortened => "the store shortened the trust period below its age",
        }
    }
}

/// Whether `device` skips the code now. The expiry set when it was
/// trusted is never moved; the store's current period is applied to its
/// age, so lowering the setting reaches devices trusted before.
pub fn check(device: &Trusted, now: i64, days: TrustDays, generation: i64) -> Result<(), Refused> {
    if days.is_off() {
        return Err(Refused::TurnedOff);
    }
    if device.credential_generation != generation {
        return Err(Refused::CredentialsChanged);
    }
    if now >= device.expires_at {
        return Err(Refused::Expired);
    }
    if now >= device.created_at + days.secs() {
        return Err(Refused::PeriodShortened);
    }
    Ok(())
}

/// The settings form's check of both day fields.
pub fn check_settings(values: &BTreeMap<String, String>) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for key in [CUSTOMER_DAYS, ADMIN_DAYS] {
        if let Some(v) = values.get(key).filter(|v| !v.trim().is_empty()) {
            if TrustDays::parse(v).is_none() {
                errors.add(
                    key,
                    format!("Enter a whole number of days from 0 (off) to {MAX_DAYS}."),
                );
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000;

    fn device(age_days: i64, expires_in_days: i64, generation: i64) -> Trusted {
        Trusted {
            created_at: NOW - age_days * DAY_SECS,
            expires_at: NOW + expires_in_days * DAY_SECS,
            credential_generation: generation,
        }
    }

    #[test]
    fn a_device_counts_within_its_period_for_its_generation_only() {
        let thirty = TrustDays::parse("30").unwrap();
        assert_eq!(check(&device(1, 29, 4), NOW, thirty, 4), Ok(()));
        assert_eq!(
            check(&device(1, 29, 4), NOW, thirty, 5),
            Err(Refused::CredentialsChanged)
        );
        assert_eq!(
            check(&device(30, 0, 4), NOW, thirty, 4),
            Err(Refused::Expired)
        );
        assert_eq!(
            check(&device(1, 29, 4), NOW, TrustDays::default(), 4),
            Err(Refused::TurnedOff)
        );
    }

    #[test]
    fn lowering_the_period_reaches_devices_trusted_before() {
        let seven = TrustDays::parse("7").unwrap();
        // Trusted 10 days ago for 30: still before its own expiry, but
        // older than the store's new 7 days.
        assert_eq!(
            check(&device(10, 20, 1), NOW, seven, 1),
            Err(Refused::PeriodShortened)
        );
        assert_eq!(check(&device(6, 24, 1), NOW, seven, 1), Ok(()));
        // Raising it never extends a device past the expiry it was given.
        let year = TrustDays::parse("365").unwrap();
        assert_eq!(
            check(&device(31, -1, 1), NOW, year, 1),
            Err(Refused::Expired)
        );
    }

    #[test]
    fn the_setting_is_whole_days_up_to_a_year() {
        assert_eq!(TrustDays::parse(" 30 ").map(TrustDays::days), Some(30));
        assert_eq!(TrustDays::parse("0").map(TrustDays::is_off), Some(true));
        for bad in ["-1", "366", "7.5", "", "thirty"] {
            assert!(TrustDays::parse(bad).is_none(), "{bad}");
        }
        let values: BTreeMap<String, String> = [(CUSTOMER_DAYS.to_string(), "400".to_string())]
            .into_iter()
            .collect();
        assert!(check_settings(&values).get(CUSTOMER_DAYS).is_some());
        // Empty means the default: customers 30 days, admins and vendors off.
        let empty = AddonSettings::from_values(
            [(CUSTOMER_DAYS, ""), (ADMIN_DAYS, "")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        assert_eq!(TrustDays::for_role(&empty, Role::Customer).days(), 30);
        assert!(TrustDays::for_role(&empty, Role::Vendor).is_off());
    }
}
