//! Second factors. The Authy-compatible API (SMS and voice), authenticator
//! apps (TOTP) and recovery codes.

pub mod authy;
pub mod recovery;
pub mod totp;

pub use authy::{AuthyClient, AuthyId, Channel, GatewayError, TokenCheck};
