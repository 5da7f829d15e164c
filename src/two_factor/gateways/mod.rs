//! The SMS and voice gateways a code is delivered and checked through:
//! `authy`, the Authy-compatible API (production gateways and the sandbox
//! in test mode).

pub mod authy;

pub use authy::{AuthyClient, AuthyId, Channel, GatewayError, TokenCheck};
