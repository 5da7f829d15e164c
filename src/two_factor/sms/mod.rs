//! Codes by text message and voice call: the phone number and country
//! types, sending and checking through the gateway with the limits in
//! front (`service`), the first code of a sign-in, sent by the password
//! step (`first_code`), the code and phone-entry pages of a sign-in
//! (`pages`), and the phone fields of the profile forms (`profile`).

pub mod countries;
pub(crate) mod first_code;
pub(crate) mod pages;
pub mod phone;
pub(crate) mod phone_change;
pub(crate) mod profile;
pub(crate) mod service;
