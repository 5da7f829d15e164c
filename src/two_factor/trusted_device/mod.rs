//! "Don't ask again on this device for N days": a trusted device skips the
//! code at sign-in, after the right password, for the account that trusted
//! it and no other.
//!
//! - `period`: the store's setting per interface (days, 0 = off) and the
//!   one rule that says whether a stored device still counts;
//! - `cookie`: the browser's side (one cookie per account, so a shared
//!   computer can trust several accounts; a random token, stored hashed);
//! - `device_name`: a readable name from the User-Agent;
//! - `store`: the rows (trust, use, list, forget);
//! - `remember`: what every code page shares (the checkbox's offer, and
//!   turning a ticked box into a trusted device once the code was right)
//!   and the sign-in check;
//! - `pages`: the Security page's "Trusted devices" list with Forget and
//!   Forget all, and the admin's Forget all for a user.
//!
//! Everything that ends what a device was trusted under ends the device:
//! its row records the account's credential generation, which a password
//! change, a two-factor reset or disable, a removed factor and "sign out
//! everywhere" move on. The JSON API never reads the cookie.

pub mod cookie;
pub mod device_name;
pub mod pages;
pub mod period;
pub mod remember;
pub mod store;
