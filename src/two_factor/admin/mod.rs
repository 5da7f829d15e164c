//! The store admin's side of the addon: resetting a user's factors (the
//! user page and the command line, `tools`), the user page's section
//! (`user_section`), who has a second factor (`staff`: Users list badges,
//! its filter, the dashboard warning), "confirm it is you" before changing
//! an admin's factors (`confirm_access`), the status box on the settings
//! page (`status`) with its "Test connection" button (`connection_test`),
//! what a settings save or the on/off switch records (`changes`), and the
//! audit log page (`audit_page`, its words in `audit_labels`) and its CSV
//! export (`audit_csv`).

pub(crate) mod audit_csv;
pub(crate) mod audit_labels;
pub(crate) mod audit_page;
pub(crate) mod changes;
pub(crate) mod confirm_access;
pub(crate) mod connection_test;
pub(crate) mod staff;
pub(crate) mod status;
pub mod tools;
pub(crate) mod user_section;
