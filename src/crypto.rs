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

/// The server's 32-byte secret. Purpose-specific keys are derived from it so
/// that no two uses share a key. Never printed.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

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
        Ok(SecretKey(key))
    }

    /// The key as configuration takes it (`security.secret_key`).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn generate() -> SecretKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretKey(key)
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
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 of `data` under the purpose key, base64url.
    pub fn sign(&self, purpose: &str, data: &[u8]) -> String {
        let key = self.derive(purpose);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key length");
        mac.update(data);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
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

    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        let encoded = stored
            .strip_prefix(ENCRYPTED_PREFIX)
            .ok_or(CryptoError::Decrypt)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| CryptoError::Decrypt)?;
        if bytes.len() < 24 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new(&self.derive("secrets-at-rest").into());
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }
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
    fn secret_key_is_hidden_from_debug() {
        assert_eq!(
            format!("{:?}", SecretKey::generate()),
            "SecretKey(<redacted>)"
        );
    }
}
