//! The one integration-test binary: every module talks HTTP to real servers
//! on loopback.

mod admin_pages;
mod anywhere;
mod attacks;
mod cli;
mod code_step;
mod example_addon;
/// The gateway that fails on a schedule, shared with the load generator.
#[path = "../../bench/src/fault_gateway.rs"]
mod fault_gateway;
mod hardening_audit;
mod hardening_bodies;
mod hardening_chaos;
mod hardening_crash;
mod hardening_headers;
mod hardening_identities;
mod hardening_pg_restart;
mod helpers;
mod host;
mod instances;
mod passkey_sign_in;
mod passkeys;
mod phones;
mod plugin_api;
mod polish;
mod require_two_factor;
mod sandbox;
mod sandbox_admin;
mod sandbox_api;
mod sandbox_mounted;
mod second_host;
mod sign_in_counts;
mod trusted_devices;
mod twilio_conformance;
mod twilio_sandbox;
mod two_factor;
mod two_factor_api;
mod two_factor_app;
mod two_factor_app_sms;
mod two_factor_gateway;
mod two_factor_sandbox;
mod two_factor_verify;
mod upgrade;
