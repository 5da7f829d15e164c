//! The one integration-test binary: every module talks HTTP to real servers
//! on loopback.

mod admin_pages;
mod anywhere;
mod attacks;
mod cli;
mod code_step;
mod example_addon;
mod helpers;
mod host;
mod instances;
mod phones;
mod plugin_api;
mod polish;
mod sandbox;
mod sandbox_admin;
mod sandbox_api;
mod sandbox_mounted;
mod second_host;
mod sign_in_counts;
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
