//! The SMS and voice gateways a code is delivered and checked through:
//! `verify` (Twilio Verify v2, the default) and `authy` (the legacy
//! Authy-compatible API), each also served by the sandbox in test mode;
//! `http` holds what both clients share (the bounded read, transport
//! errors). The types here are what the rest of the addon sees.

pub mod authy;
mod http;
pub mod verify;

pub use authy::{AuthyClient, AuthyId};
pub(crate) use verify::{VerificationSid, VerifyClient, VerifyEndpoint};

/// How a code travels; forms name it `sms` or `call`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Call,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
        }
    }
}

/// A code check the gateway answered in a well-formed way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    /// The gateway said no (a wrong code; for Authy also an expired one).
    Rejected,
    /// The right code, already used (Authy's 60019, "Token was used
    /// recently"): a concurrent submission of it won, or it is replayed.
    /// Not a guess, so not a wrong code: it ends no sign-in (Twilio
    /// Verify's answer for a used code is its 20404, the same outcome).
    Used,
}

/// Why a call failed. Messages are safe to show to a store owner: no key,
/// no token, no code, no phone number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("the gateway did not answer within the time limit")]
    Timeout,
    #[error("the gateway could not be reached ({0})")]
    Unreachable(String),
    #[error("the gateway rejected the credentials (HTTP 401)")]
    BadApiKey,
    #[error("the gateway does not know this user (HTTP 404)")]
    UnknownUser,
    #[error("the gateway refused the phone number or email")]
    InvalidUser,
    #[error("the gateway is rate limiting requests (HTTP 429)")]
    RateLimited,
    #[error("the gateway answered HTTP {0}")]
    Status(u16),
    #[error("the gateway sent an answer that could not be understood")]
    UnexpectedBody,
    #[error("no API key is configured")]
    NoApiKey,
    /// Verify 60200 on `To`: the number is not a valid phone number.
    #[error("the gateway says the phone number is not valid (60200)")]
    InvalidNumber,
    /// Verify 60205: SMS cannot reach a landline; a call can.
    #[error("the gateway cannot send SMS to this number, a landline (60205)")]
    Landline,
    /// Verify 60410: the number is blocked for fraud.
    #[error("the gateway has blocked this phone number (60410)")]
    Blocked,
    /// Verify 60202: too many checks on one verification.
    #[error("too many checks for this code at the gateway (60202)")]
    TooManyChecks,
    /// Verify 60203: too many sends to one number.
    #[error("too many codes sent to this number at the gateway (60203)")]
    TooManySends,
    /// Verify 20404: the verification (or service) is gone: approved,
    /// canceled, expired, or never there.
    #[error("the gateway has no such verification or service (20404)")]
    NotFound,
}

impl GatewayError {
    /// An answer about this number or code, not a failure of the gateway:
    /// shown to the user as what to do, not recorded as the store's last
    /// gateway error.
    pub fn is_about_the_user(&self) -> bool {
        matches!(
            self,
            GatewayError::InvalidNumber
                | GatewayError::Landline
                | GatewayError::Blocked
                | GatewayError::TooManyChecks
                | GatewayError::TooManySends
                | GatewayError::NotFound
        )
    }
}
