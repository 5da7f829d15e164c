//! One-time recovery codes: made, sealed and keyed (`codes`). They are
//! entered on the app step (`app::sign_in`), shown at the end of a
//! set-up (`sign_in::after`) and managed on the Security page.

pub mod codes;
