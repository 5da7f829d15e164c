//! Keys and primitives shared by the host, the addons and the sandbox:
//! the server secret key, authenticated encryption of secrets at rest,
//! random tokens and one-way token hashes.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The server's 32-byte secret, or a key derived from it for one addon
/// (`for_addon`). Purpose-specific keys are derived from it so that no two
/// uses share a key. Never printed.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; 32],
    /// For an addon's key: the key its data was sealed with before addons
    /// had keys of their own (the store's). It only opens and recognises
    /// such data; everything new is sealed and signed with `bytes`.
    earlier: Option<std::sync::Arc<[u8; 32]>>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the secret key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("stored secret could not be decrypted (wrong secret key?)")]
    Decrypt,
    #[error("secret key file: {0}")]
    Io(#[from] std::io::Error),
}

const ENCRYPTED_PREFIX: &str = "enc:v1:";

impl SecretKey {
    pub fn parse(encoded: &str) -> Result<SecretKey, CryptoError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(SecretKey::from_bytes(key))
    }

    fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey {
            bytes,
            earlier: None,
        }
    }

    /// The key as configuration takes it (`security.secret_key`).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    pub fn generate() -> SecretKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretKey::from_bytes(key)
    }

    /// The key of one addon, derived from this (the store's) key with HKDF-
    /// SHA256 and the addon id, so that an addon never holds the key that
    /// signs the host's CSRF tokens, and no two addons share one. Data the
    /// addon sealed with the store's key before (an older release) still
    /// opens with it, and its keyed hashes are still recognised
    /// (`signatures`).
    pub fn for_addon(&self, addon_id: &str) -> SecretKey {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"storefront-2fa addon keys"), &self.bytes);
        let mut bytes = [0u8; 32];
        hk.expand(format!("addon:{addon_id}").as_bytes(), &mut bytes)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SecretKey {
            bytes,
            earlier: Some(std::sync::Arc::new(self.bytes)),
        }
    }

    /// Reads `{dir}/secret.key`, creating it (mode 0600) on first start.
    pub fn load_or_create(dir: &Path) -> Result<SecretKey, CryptoError> {
        let path = dir.join("secret.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => SecretKey::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let key = SecretKey::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                use std::io::Write;
                let mut file = options.open(&path)?;
                file.write_all(key.to_base64().as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A key for one purpose, derived with HMAC so uses never share a key.
    fn derive(&self, purpose: &str) -> [u8; 32] {
        derive(&self.bytes, purpose)
    }

    /// HMAC-SHA256 of `data` under the purpose key, base64url.
    pub fn sign(&self, purpose: &str, data: &[u8]) -> String {
        sign_with(&self.bytes, purpose, data)
    }

    /// `sign`, and for an addon's key also the signature under the key it
    /// had before: to find a keyed hash stored by an older release.
    pub fn signatures(&self, purpose: &str, data: &[u8]) -> Vec<String> {
        let mut out = vec![self.sign(purpose, data)];
        if let Some(earlier) = &self.earlier {
            out.push(sign_with(earlier, purpose, data));
        }
        out
    }

    /// Constant-time check of a `sign` output.
    pub fn verify_signature(&self, purpose: &str, data: &[u8], signature: &str) -> bool {
        constant_time_eq(self.sign(purpose, data).as_bytes(), signature.as_bytes())
    }

    /// Encrypts a secret for storage: `enc:v1:` + base64(nonce || ciphertext).
    pub fn encrypt(&self, plaintext: &str) -> String {
        let cipher = XChaCha20Poly1305::new(&self.derive("secrets-at-rest").into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("encryption cannot fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("{ENCRYPTED_PREFIX}{}", STANDARD.encode(out))
    }

    /// Opens a value sealed by `encrypt` (with this key, or for an addon's
    /// key, with the key it had before).
    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        match open_with(&self.bytes, stored) {
            Err(_) if self.earlier.is_some() => {
                open_with(self.earlier.as_deref().expect("checked"), stored)
            }
            other => other,
        }
    }
}

fn derive(key: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

fn sign_with(key: &[u8; 32], purpose: &str, data: &[u8]) -> String {
    let key = derive(key, purpose);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key length");
    mac.update(data);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn open_with(key: &[u8; 32], stored: &str) -> Result<String, CryptoError> {
    let encoded = stored
        .strip_prefix(ENCRYPTED_PREFIX)
        .ok_or(CryptoError::Decrypt)?;
    let bytes = STANDARD.decode(encoded).map_err(|_| CryptoError::Decrypt)?;
    if bytes.len() < 24 {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, ciphertext) = bytes.split_at(24);
    let cipher = XChaCha20Poly1305::new(&derive(key, "secrets-at-rest").into());
    let plain = cipher
        .decrypt(XNonce::from_slice(nonce), ciphertext)
        .map_err(|_| CryptoError::Decrypt)?;
    String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
}

/// `n` bytes from the OS CSPRNG, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 hex: how session ids and other high-entropy tokens are stored.
pub fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trips_and_detects_tampering() {
        let key = SecretKey::generate();
        let stored = key.encrypt("api-key-123");
        assert!(stored.starts_with("enc:v1:"));
        assert!(!stored.contains("api-key-123"));
        assert_eq!(key.decrypt(&stored).unwrap(), "api-key-123");
        let other = SecretKey::generate();
        assert!(other.decrypt(&stored).is_err());
        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push('A');
        assert!(key.decrypt(&tampered).is_err() || tampered == stored);
    }

    #[test]
    fn signatures_depend_on_purpose_and_key() {
        let key = SecretKey::generate();
        let sig = key.sign("csrf", b"session");
        assert!(key.verify_signature("csrf", b"session", &sig));
        assert!(!key.verify_signature("other", b"session", &sig));
        assert!(!SecretKey::generate().verify_signature("csrf", b"session", &sig));
    }

    #[test]
    fn addon_keys_are_their_own_and_still_open_what_the_store_key_sealed() {
        let store = SecretKey::generate();
        let a = store.for_addon("two_factor");
        let b = store.for_addon("other");
        assert_ne!(a.to_base64(), store.to_base64());
        assert_ne!(a.to_base64(), b.to_base64());
        assert_eq!(a.to_base64(), store.for_addon("two_factor").to_base64());
        // New data is the addon's own: the store key and other addons cannot open it.
        let sealed = a.encrypt("totp-secret");
        assert_eq!(a.decrypt(&sealed).unwrap(), "totp-secret");
        assert!(store.decrypt(&sealed).is_err());
        assert!(b.decrypt(&sealed).is_err());
        // Data sealed with the store key by an older release still opens.
        let old = store.encrypt("old-secret");
        assert_eq!(a.decrypt(&old).unwrap(), "old-secret");
        // Keyed hashes: the new one first, then the one an older release stored.
        let sigs = a.signatures("tfa-recovery-code", b"1:abcd");
        assert_eq!(sigs[0], a.sign("tfa-recovery-code", b"1:abcd"));
        assert_eq!(sigs[1], store.sign("tfa-recovery-code", b"1:abcd"));
        assert_ne!(sigs[0], sigs[1]);
        // The CSRF signature of the store key is not the addon's.
        assert!(!a.verify_signature("csrf", b"s", &store.sign("csrf", b"s")));
    }

    #[test]
    fn secret_key_is_hidden_from_debug() {
        assert_eq!(
            format!("{:?}", SecretKey::generate()),
            "SecretKey(<redacted>)"
        );
    }
}
