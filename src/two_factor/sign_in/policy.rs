//! Whether a login is challenged, and where to.

use crate::plugin::{Interface, LoginDecision, Role};

use crate::two_factor::settings::StoreSettings;

pub fn verify_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => "/admin/two-factor/verify",
        Interface::Customer => "/two-factor/verify",
    }
}

pub fn phone_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => "/admin/two-factor/phone",
        Interface::Customer => "/two-factor/phone",
    }
}

/// What a sign-in needs after the right password: the one rule for the
/// login forms and the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// No second factor (the login forms may still ask for a phone to enrol).
    Nothing,
    /// The authenticator app, whatever the role's SMS setting: the user
    /// opted in (SMS and recovery codes are offered beside it).
    App,
    /// A code texted to the phone on file.
    Sms,
    /// The stored gateway key does not decrypt (the instance runs with
    /// another secret key): refuse, since reading it as "no key" would
    /// switch the second factor off.
    Unavailable,
}

/// Shown when a sign-in is refused for `Requirement::Unavailable`.
pub const UNAVAILABLE_MESSAGE: &str = "Signing in is not possible right now: the store's two-factor settings need attention. Please try again later.";

pub fn requirement(
    settings: &StoreSettings,
    role: Role,
    has_app: bool,
    has_phone: bool,
) -> Requirement {
    if has_app {
        return Requirement::App;
    }
    if settings.api_key_unreadable && settings.enabled_for(role) {
        return Requirement::Unavailable;
    }
    if has_phone && settings.active_for(role) {
        Requirement::Sms
    } else {
        Requirement::Nothing
    }
}

/// The decision after a verified password. `role` decides whether a code is
/// asked for; `interface` (the form used) only picks the page's skin.
pub fn decide(
    settings: &StoreSettings,
    role: Role,
    interface: Interface,
    has_phone: bool,
    password_just_changed: bool,
) -> LoginDecision {
    if !settings.active_for(role) {
        return LoginDecision::Continue;
    }
    if has_phone {
        LoginDecision::Challenge {
            redirect: verify_path(interface).to_string(),
        }
    } else if password_just_changed {
        LoginDecision::Challenge {
            redirect: phone_path(interface).to_string(),
        }
    } else {
        LoginDecision::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::two_factor::settings::Mode;

    fn settings(key: &str, customer: bool, admin: bool) -> StoreSettings {
        StoreSettings {
            gateway: crate::two_factor::settings::Gateway::AuthyLegacy,
            api_key: key.into(),
            verify: Default::default(),
            api_key_unreadable: false,
            mode: Mode::Test,
            customer_enabled: customer,
            admin_enabled: admin,
        }
    }

    fn challenge(path: &str) -> LoginDecision {
        LoginDecision::Challenge {
            redirect: path.into(),
        }
    }

    #[test]
    fn role_decides_and_interface_picks_the_skin() {
        let admin_only = settings("k", false, true);
        assert_eq!(
            decide(&admin_only, Role::Admin, Interface::Admin, true, false),
            challenge("/admin/two-factor/verify")
        );
        assert_eq!(
            decide(&admin_only, Role::Vendor, Interface::Admin, true, false),
            challenge("/admin/two-factor/verify")
        );
        // An admin signing in through the customer form is still challenged.
        assert_eq!(
            decide(&admin_only, Role::Admin, Interface::Customer, true, false),
            challenge("/two-factor/verify")
        );
        assert_eq!(
            decide(
                &admin_only,
                Role::Customer,
                Interface::Customer,
                true,
                false
            ),
            LoginDecision::Continue
        );
        // A customer through the admin form: the customer toggle decides.
        assert_eq!(
            decide(&admin_only, Role::Customer, Interface::Admin, true, false),
            LoginDecision::Continue
        );
        let customer_only = settings("k", true, false);
        assert_eq!(
            decide(
                &customer_only,
                Role::Customer,
                Interface::Admin,
                true,
                false
            ),
            challenge("/admin/two-factor/verify")
        );
        assert_eq!(
            decide(&customer_only, Role::Admin, Interface::Admin, true, false),
            LoginDecision::Continue
        );
    }

    #[test]
    fn one_requirement_for_forms_and_api_and_an_unreadable_key_fails_closed() {
        let on = settings("k", true, false);
        assert_eq!(
            requirement(&on, Role::Customer, false, true),
            Requirement::Sms
        );
        assert_eq!(
            requirement(&on, Role::Customer, false, false),
            Requirement::Nothing
        );
        assert_eq!(
            requirement(&on, Role::Admin, false, true),
            Requirement::Nothing
        );
        assert_eq!(requirement(&on, Role::Admin, true, false), Requirement::App);
        let mut unreadable = settings("", true, false);
        unreadable.api_key_unreadable = true;
        assert_eq!(
            requirement(&unreadable, Role::Customer, false, true),
            Requirement::Unavailable
        );
        assert_eq!(
            requirement(&unreadable, Role::Customer, false, false),
            Requirement::Unavailable
        );
        assert_eq!(
            requirement(&unreadable, Role::Customer, true, true),
            Requirement::App
        );
        assert_eq!(
            requirement(&unreadable, Role::Admin, false, true),
            Requirement::Nothing
        );
    }

    #[test]
    fn no_key_no_phone_means_no_challenge_unless_enrolling() {
        assert_eq!(
            decide(
                &settings("", true, true),
                Role::Admin,
                Interface::Admin,
                true,
                false
            ),
            LoginDecision::Continue
        );
        let on = settings("k", true, true);
        assert_eq!(
            decide(&on, Role::Customer, Interface::Customer, false, false),
            LoginDecision::Continue
        );
        assert_eq!(
            decide(&on, Role::Customer, Interface::Customer, false, true),
            challenge("/two-factor/phone")
        );
        assert_eq!(
            decide(&on, Role::Vendor, Interface::Admin, false, true),
            challenge("/admin/two-factor/phone")
        );
        assert_eq!(
            decide(
                &settings("k", false, false),
                Role::Admin,
                Interface::Admin,
                false,
                true
            ),
            LoginDecision::Continue
        );
    }
}
