//! Passkeys and security keys (WebAuthn), a phishing-resistant second
//! factor: the browser signs the server's challenge with a key bound to
//! this store's address, so a look-alike site gets nothing it can replay.
//!
//! Files by job: `relying_party` (who we are to the browser: the id and
//! origin from `server.public_url`, and the webauthn-rs verifier), `keys`
//! (the stored credentials, their names, counters and last use),
//! `ceremony` (the server half of each registration or sign-in, single use,
//! 5 minutes, in the database), `setup` (adding, renaming and removing keys
//! on the Security page), `sign_in` (the sign-in step that asks for a
//! key, beside the other factors) and `passwordless` (passkey sign-in from
//! the login pages, with no password).

pub mod ceremony;
pub mod keys;
pub mod passwordless;
pub mod relying_party;
pub(crate) mod setup;
pub(crate) mod sign_in;

pub use relying_party::RelyingParty;
