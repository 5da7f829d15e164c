//! Code delivery providers. Today: the Authy-compatible API (SMS and voice).

pub mod authy;

pub use authy::{AuthyClient, AuthyId, Channel, GatewayError, TokenCheck};
