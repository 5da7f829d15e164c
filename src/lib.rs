//! storefront-2fa: a reference storefront (the host), its addon API, the
//! Two Factor Authentication addon, and an Authy-compatible sandbox.

pub mod authy_sandbox;
pub mod config;
pub mod crypto;
pub mod db;
pub mod host;
pub mod plugin;
pub mod startup;
pub mod telemetry;
pub mod two_factor;

#[cfg(test)]
mod property_tests;
