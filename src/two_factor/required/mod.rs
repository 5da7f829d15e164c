//! "Require two-factor authentication" per interface, with a grace period.
//!
//! A user with no second factor who signs in with the right password is
//! asked to set one up: during the grace period on a page that also offers
//! "Remind me later", after it with no way past but setting one up or
//! signing out. The clock starts at the first sign-in that sees the
//! requirement and is stored, while the period's length is read from the
//! settings each time: shortening it reaches everyone already counting.
//!
//! - `rule`: the settings and the one rule (`grace`) every caller uses;
//! - `store`: when each account's clock started;
//! - `options`: the set-up methods the page offers, listed in one place
//!   (app, SMS; a passkey joins them there);
//! - `sign_in`: the login hook's side and the API's;
//! - `pages`: the interstitial, "Remind me later", and app set-up within
//!   the sign-in;
//! - `admin`: grace state on the Users list and the dashboard;
//! - `last_factor`: the last factor stays while it is required.

pub mod admin;
pub mod last_factor;
pub mod options;
pub mod pages;
pub mod rule;
pub mod sign_in;
pub mod store;
