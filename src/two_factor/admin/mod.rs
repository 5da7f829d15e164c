//! The store admin's side of the addon: resetting a user's factors (the
//! user page and the command line, `tools`), "confirm it is you" before
//! changing an admin's factors (`confirm_access`), and the status box on
//! the settings page (`status`) with its "Test connection" button
//! (`connection_test`), and the audit log page (`audit_page`).

pub(crate) mod audit_page;
pub(crate) mod confirm_access;
pub(crate) mod connection_test;
pub(crate) mod status;
pub mod tools;
