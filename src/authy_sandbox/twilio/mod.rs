//! The sandbox's Twilio Verify v2 API (see shared twilio-verify-api.md): the
//! same paths, form fields, JSON and error codes as
//! `https://verify.twilio.com`, so that the addon's Verify gateway and the
//! official `twilio` libraries work against it unchanged. Its codes land in
//! the sandbox's outbox, beside the Authy API's.
//!
//! Mounted by the app under `/sandbox/twilio`, and by the standalone sandbox
//! (`storefront-2fa sandbox`) under `/twilio`. Register it inside a scope:
//! it ends with a catch-all route that answers Twilio's 404.
//!
//! ```text
//! app.service(web::scope("/sandbox/twilio").configure(move |c| twilio::configure(c, state)));
//! ```
//!
//! Routes (relative to the mount point):
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v2/Services/{VA…}` | the service: `friendly_name` "Storefront 2FA Sandbox", `code_length` (`sandbox.verify_code_length`, 4 to 10, default 6) |
//! | `POST /v2/Services/{VA…}/Verifications` | `To` (E.164), `Channel` (`sms` or `call`): 201, a pending verification |
//! | `POST /v2/Services/{VA…}/VerificationCheck` | `Code`, and `To` or `VerificationSid`: 200 `pending` (wrong) or `approved` (right) |
//! | `GET /v2/Services/{VA…}/Verifications/{VE…}` | 200, the verification |
//! | `POST /v2/Services/{VA…}/Verifications/{VE…}` | `Status` = `canceled` or `approved`: 200 |
//!
//! Any well-formed service SID (`VA` and 32 lower-case hex digits) exists;
//! verifications belong to the service they were started on.
//!
//! Credentials: HTTP Basic, checked by the [`SandboxPolicy`]'s
//! `accepts_twilio` (standalone: any `AC…` or `SK…` SID with the sandbox's
//! API key as its secret; mounted: the Account SID and Auth Token, or the
//! API key SID and secret, entered in the addon's settings, and any `AC…`
//! SID with the operator's `sandbox.api_key`). Wrong or missing: 401, code
//! 20003. When the policy says the sandbox is not available, every route
//! answers an empty 404, as the Authy API does.
//!
//! Behaviour, as Verify's:
//! - a code is valid for 10 minutes ([`CODE_TTL_SECONDS`]);
//! - starting again for the same `To` on the same service while one is
//!   pending sends the same code again (on the channel asked for) and adds
//!   an entry to `send_code_attempts`;
//! - a wrong code answers 200 `pending` with `valid: false`; the right one
//!   200 `approved` with `valid: true`; after that, and after a cancel or the
//!   expiry, the verification is gone (404, code 20404);
//! - the 6th check of one verification answers 429, code 60202, and ends it
//!   as `max_attempts_reached` ([`MAX_CHECKS`]);
//! - the 6th send to one `To` on one service within 10 minutes answers 429,
//!   code 60203 ([`MAX_SENDS`]).
//!
//! Test numbers, so that a client can see Verify's refusals:
//!
//! | `To` | answer |
//! |---|---|
//! | not E.164, or not a valid number (libphonenumber) | 400, code 60200 (invalid parameter `To`) |
//! | national number ending in `0205`, e.g. `+12015550205`, with `Channel=sms` | 400, code 60205 (SMS to a landline; `call` works) |
//! | national number ending in `0410`, e.g. `+12015550410` | 403, code 60410 (blocked for fraud) |
//!
//! Codes are stored only as a hash salted with the verification's SID and
//! compared in constant time. A resend must send the same code, which a
//! hash cannot give back: the resend re-delivers the verification's first
//! outbox message instead. The outbox stands in for the phone and holds
//! what was sent in clear by design (see `outbox`), so no second readable
//! copy of the code exists. Concurrency: a start first writes its
//! (service, number) row in `sandbox_verify_numbers`, which queues
//! concurrent starts for one number on PostgreSQL (SQLite has one writer);
//! a check counts itself with a conditional `UPDATE … RETURNING` on a
//! pending row, so of two right checks at once only one approves, and no
//! more than five checks are ever compared.
//!
//! Files: `routes` (the handlers and the JSON), `store` (the tables),
//! `errors` (Twilio's error body), `auth` (HTTP Basic), `numbers` (`To`
//! and the test numbers).

pub mod auth;
pub mod errors;
pub mod numbers;
pub mod routes;
pub mod store;

pub use routes::configure;

#[cfg(doc)]
use super::SandboxPolicy;

/// A code's lifetime.
pub const CODE_TTL_SECONDS: i64 = 600;
/// Checks one verification may have; the next answers 60202.
pub const MAX_CHECKS: i32 = 5;
/// Sends to one number on one service within [`SEND_WINDOW_SECONDS`]; the
/// next answers 60203.
pub const MAX_SENDS: i64 = 5;
pub const SEND_WINDOW_SECONDS: i64 = 600;

/// True when `s` is `prefix` and 32 lower-case hex digits: the shape of
/// every Twilio SID (`AC`, `SK`, `VA`, `VE`, `VL`).
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34
        && s.starts_with(prefix)
        && s.as_bytes()[2..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// A new SID: `prefix` and 128 bits from the OS CSPRNG in lower-case hex.
pub fn random_sid(prefix: &str) -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

/// The Account SID a caller's requests belong to: its own when it signs in
/// with one, else (an `SK…` API key, whose account the sandbox cannot know)
/// one derived from the key SID, the same every time.
pub fn account_sid_of(user: &str) -> String {
    if is_sid(user, "AC") {
        user.to_string()
    } else {
        let digest = crate::crypto::sha256_hex(&format!("storefront-2fa sandbox account:{user}"));
        format!("AC{}", &digest[..32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_have_one_shape() {
        let ve = random_sid("VE");
        assert!(is_sid(&ve, "VE"), "{ve}");
        assert_ne!(ve, random_sid("VE"));
        assert!(is_sid("VA0123456789abcdef0123456789abcdef", "VA"));
        for bad in [
            "VA0123456789ABCDEF0123456789abcdef",
            "VE0123456789abcdef0123456789abcdef",
            "VA0123456789abcdef0123456789abcde",
            "VA0123456789abcdef0123456789abcdef0",
            "VA0123456789abcdef0123456789abcdeg",
            "VA0123456789abcdef0123456789abcdé",
            "",
        ] {
            assert!(!is_sid(bad, "VA"), "{bad}");
        }
    }

    #[test]
    fn api_keys_get_a_stable_account() {
        let ac = "AC0123456789abcdef0123456789abcdef";
        assert_eq!(account_sid_of(ac), ac);
        let sk = "SK0123456789abcdef0123456789abcdef";
        assert!(is_sid(&account_sid_of(sk), "AC"));
        assert_eq!(account_sid_of(sk), account_sid_of(sk));
    }
}
