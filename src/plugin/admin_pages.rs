//! What addons add to the host's admin pages: a section after the user
//! form, badges and filters on the Users list, dashboard notices, and who
//! did an admin action (for addons that keep an audit trail).

use serde::Serialize;

use super::Account;

/// The admin who changed something, and from where.
#[derive(Clone, Debug)]
pub struct AdminActor {
    pub account: Account,
    pub ip: String,
}

/// An addon's section on the admin user page, after the profile form.
#[derive(Clone, Debug, Default)]
pub struct UserSection {
    /// Trusted HTML from the addon's own templates.
    pub html: String,
    /// A notice for the top of the page (plain text: what the addon's last
    /// action on this user did), read from the request the addon was given.
    pub notice: Option<String>,
}

/// A short label beside an account on the Users list ("App", "SMS").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserBadge {
    pub label: String,
    /// Good news (a factor is on) or a warning (none is).
    pub tone: BadgeTone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BadgeTone {
    On,
    Off,
}

/// A filter an addon offers on the Users list. The host links it as
/// `/admin/users?filter=<addon id>.<key>`.
#[derive(Clone, Debug, Serialize)]
pub struct UserFilter {
    pub key: String,
    pub label: String,
}

/// A warning at the top of the admin dashboard, with a link to act on it.
#[derive(Clone, Debug, Serialize)]
pub struct DashboardNotice {
    pub text: String,
    pub link_label: String,
    /// A local path.
    pub link_path: String,
}
