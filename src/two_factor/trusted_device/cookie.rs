//! The browser's side of a trusted device: one cookie per account (its
//! name derived from the account id with the store's key, so a shared
//! computer can trust several accounts and the name does not give the id
//! away), holding a random token whose SHA-256 is what the store keeps.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

use crate::crypto::{random_token, sha256_hex, SecretKey};

const PREFIX: &str = "sf_device_";
const PURPOSE: &str = "trusted-device-cookie-name";
/// 32 random bytes, base64url without padding.
const TOKEN_LEN: usize = 43;

/// The cookie name for an account's trusted-device token.
pub fn name_for(key: &SecretKey, account_id: i64) -> String {
    let signed = key.sign(PURPOSE, account_id.to_string().as_bytes());
    format!("{PREFIX}{}", &signed[..16])
}

/// A new token, in clear (it exists so only in the cookie) and hashed.
pub struct NewToken {
    pub clear: String,
    pub hash: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewToken(…)")
    }
}

pub fn new_token() -> NewToken {
    let clear = random_token(32);
    let hash = sha256_hex(&clear);
    NewToken { clear, hash }
}

/// The stored hash of a token the browser sent, when it has a token's
/// shape (anything else is not looked up).
pub fn hash_of_sent(value: &str) -> Option<String> {
    let shaped = value.len() == TOKEN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| sha256_hex(value))
}

/// The token the request carries for this account, if any.
pub fn sent_by<'a>(req: &'a HttpRequest, name: &str) -> Option<Cookie<'a>> {
    req.cookie(name)
}

/// The cookie that keeps the token on the device until its expiry.
pub fn build(name: String, token: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(name, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

/// The cookie that makes the browser forget the token.
pub fn removal(name: String, secure: bool) -> Cookie<'static> {
    let mut c = build(name, String::new(), 0, secure);
    c.make_removal();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_per_account_that_does_not_show_the_id() {
        let key = SecretKey::generate();
        let a = name_for(&key, 7);
        assert_eq!(a, name_for(&key, 7));
        assert_ne!(a, name_for(&key, 8));
        assert!(a.starts_with(PREFIX) && !a.ends_with('7'));
        assert_ne!(a, name_for(&SecretKey::generate(), 7));
    }

    #[test]
    fn only_token_shaped_values_are_looked_up() {
        let t = new_token();
        assert_eq!(hash_of_sent(&t.clear), Some(t.hash.clone()));
        assert_ne!(t.hash, t.clear);
        assert!(hash_of_sent("short").is_none());
        assert!(hash_of_sent(&format!("{}!", &t.clear[..42])).is_none());
        assert_eq!(format!("{t:?}"), "NewToken(…)");
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_when_asked() {
        let c = build("n".into(), "v".into(), 3600, true);
        let text = c.to_string();
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax"));
        assert!(text.contains("Secure") && text.contains("Max-Age=3600"));
        assert!(!build("n".into(), "v".into(), 1, false)
            .to_string()
            .contains("Secure"));
        assert!(removal("n".into(), false).to_string().contains("Max-Age=0"));
    }
}
