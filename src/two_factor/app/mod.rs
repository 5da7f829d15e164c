//! Authenticator apps (TOTP): the secret, codes and their single use
//! (`totp`), the QR code of the set-up (`qr`), and the sign-in step that
//! asks for the app's code (`sign_in`; set-up itself is on the Security
//! page).

pub mod qr;
pub mod sign_in;
pub mod totp;
