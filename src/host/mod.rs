//! The reference storefront.
pub mod accounts;
pub mod email;
pub mod password;
