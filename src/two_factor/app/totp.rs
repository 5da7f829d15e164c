//! Authenticator apps (TOTP, RFC 6238): a 160-bit secret from the OS CSPRNG,
//! stored encrypted; HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! drift either way. A code is accepted once only: the last accepted step is
//! stored and moved forward by one atomic `UPDATE ... WHERE last_step < ?`,
//! so a replayed code, an earlier code and the second of two concurrent uses
//! of one code all fail.

use diesel::prelude::*;
use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::crypto::{constant_time_eq, SecretKey};
use crate::db::{now, DbConn, DbError};
use crate::two_factor::schema::tfa_totp;

pub const DIGITS: usize = 6;
pub const STEP_SECS: u64 = 30;
/// Steps of clock drift accepted on each side of the current one.
pub const SKEW_STEPS: i64 = 1;
pub const SECRET_BYTES: usize = 20;
pub const ISSUER: &str = "Storefront";

/// A fresh 160-bit secret.
pub fn generate_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// RFC 4648 base32 without padding, as authenticator apps expect.
pub fn encode_secret(secret: &[u8]) -> String {
    match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => s.trim_end_matches('=').to_string(),
        Secret::Raw(_) => unreachable!("to_encoded returns Encoded"),
    }
}

pub fn decode_secret(encoded: &str) -> Option<Vec<u8>> {
    Secret::Encoded(encoded.trim().to_uppercase())
        .to_bytes()
        .ok()
}

/// `secret` grouped in fours for typing it into an app by hand.
pub fn display_secret(encoded: &str) -> String {
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://` URI shown as a QR code.
pub fn otpauth_uri(email: &str, encoded_secret: &str) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!(
        "otpauth://totp/{issuer}:{label}?secret={encoded_secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        issuer = enc(ISSUER),
        label = enc(email),
    )
}

fn totp(secret: &[u8], digits: usize, step: u64) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, digits, 0, step, secret.to_vec())
}

/// The step number of a Unix time.
pub fn step_of(unix: i64) -> i64 {
    unix.max(0) / STEP_SECS as i64
}

/// The code of step `step`.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    totp(secret, DIGITS, STEP_SECS).generate(step.max(0) as u64 * STEP_SECS)
}

/// The step within ±`SKEW_STEPS` of `unix` whose code is `code`, if any.
/// Checks every candidate (no early exit) with a constant-time compare.
pub fn matching_step(secret: &[u8], code: &str, unix: i64) -> Option<i64> {
    let current = step_of(unix);
    let mut found = None;
    for step in (current - SKEW_STEPS)..=(current + SKEW_STEPS) {
        if step < 0 {
            continue;
        }
        if constant_time_eq(code_at_step(secret, step).as_bytes(), code.as_bytes())
            && found.is_none()
        {
            found = Some(step);
        }
    }
    found
}

/// `true` when `input` has the shape of an app code (6 ASCII digits).
pub fn looks_like_code(input: &str) -> bool {
    input.len() == DIGITS && input.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Clone, Debug)]
pub struct AppRow {
    pub secret_enc: String,
    pub confirmed: bool,
}

pub fn load(conn: &mut DbConn, account_id: i64) -> Result<Option<AppRow>, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(tfa_totp::table
            .find(account_id)
            .select((tfa_totp::secret, tfa_totp::confirmed))
            .first::<(String, bool)>(conn)
            .optional()?
            .map(|(secret_enc, confirmed)| AppRow {
                secret_enc,
                confirmed,
            }))
    })
}

pub fn has_confirmed(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    Ok(load(conn, account_id)?.is_some_and(|r| r.confirmed))
}

/// Starts (or restarts) a set-up with a new secret. Refused (false) while a
/// confirmed app exists: that must be removed first.
pub fn begin_setup(conn: &mut DbConn, account_id: i64, secret_enc: &str) -> Result<bool, DbError> {
    if has_confirmed(conn, account_id)? {
        return Ok(false);
    }
    diesel::delete(tfa_totp::table.find(account_id)).execute(conn)?;
    diesel::insert_into(tfa_totp::table)
        .values((
            tfa_totp::account_id.eq(account_id),
            tfa_totp::secret.eq(secret_enc),
            tfa_totp::confirmed.eq(false),
            tfa_totp::last_step.eq(0i64),
            tfa_totp::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Marks the pending set-up confirmed, recording `step` as used so the code
/// that confirmed cannot sign in. Exactly one of concurrent confirmations wins.
pub fn confirm(conn: &mut DbConn, account_id: i64, step: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(diesel::update(
            tfa_totp::table
                .find(account_id)
                .filter(tfa_totp::confirmed.eq(false)),
        )
        .set((tfa_totp::confirmed.eq(true), tfa_totp::last_step.eq(step)))
        .execute(conn)?
            == 1)
    })
}

/// Claims `step` for a confirmed app: succeeds once, and only for a step
/// later than every step claimed before.
pub fn claim_step(conn: &mut DbConn, account_id: i64, step: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(diesel::update(
            tfa_totp::table
                .find(account_id)
                .filter(tfa_totp::confirmed.eq(true))
                .filter(tfa_totp::last_step.lt(step)),
        )
        .set(tfa_totp::last_step.eq(step))
        .execute(conn)?
            == 1)
    })
}

pub fn remove(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(diesel::delete(tfa_totp::table.find(account_id)).execute(conn)? > 0)
    })
}

/// The decrypted secret of a row.
pub fn secret_of(key: &SecretKey, row: &AppRow) -> Option<Vec<u8>> {
    key.decrypt(&row.secret_enc)
        .ok()
        .and_then(|s| decode_secret(&s))
}

/// Checks `code` against the account's confirmed app at time `unix` and
/// claims its step. `false` for a wrong, replayed or earlier code.
pub fn verify(
    conn: &mut DbConn,
    key: &SecretKey,
    account_id: i64,
    code: &str,
    unix: i64,
) -> Result<bool, DbError> {
    if !looks_like_code(code) {
        return Ok(false);
    }
    let Some(row) = load(conn, account_id)?.filter(|r| r.confirmed) else {
        return Ok(false);
    };
    let Some(secret) = secret_of(key, &row) else {
        tracing::error!(account_id, "authenticator secret could not be decrypted");
        return Ok(false);
    };
    match matching_step(&secret, code, unix) {
        Some(step) => claim_step(conn, account_id, step),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, the SHA-1 rows (8 digits, 30 s).
    #[test]
    fn rfc6238_appendix_b_sha1() {
        let rows = [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ];
        let t = totp(RFC_SECRET, 8, 30);
        for (time, code) in rows {
            assert_eq!(t.generate(time), code, "T = {time}");
        }
    }

    /// RFC 4226 Appendix D: HOTP values for counters 0-9 (a TOTP with a
    /// one-second step evaluated at time = counter is HOTP of that counter).
    #[test]
    fn rfc4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        let hotp = totp(RFC_SECRET, 6, 1);
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp.generate(counter as u64), *code, "counter {counter}");
        }
        // Our six-digit, 30-second code of step n is HOTP(n).
        assert_eq!(code_at_step(RFC_SECRET, 1), "287082");
        assert_eq!(code_at_step(RFC_SECRET, 9), "520489");
    }

    #[test]
    fn drift_of_one_step_is_accepted_and_two_is_not() {
        let secret = generate_secret();
        let t = 1_700_000_000i64;
        let now = step_of(t);
        for (offset, ok) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_at_step(&secret, now + offset);
            let m = matching_step(&secret, &code, t);
            // A code of a far step can collide by chance (10^-6); tolerate
            // only a hit on a legal step.
            if ok {
                assert_eq!(m, Some(now + offset), "offset {offset}");
            } else {
                assert!(m.is_none() || m != Some(now + offset), "offset {offset}");
            }
        }
    }

    #[test]
    fn secrets_are_160_bits_and_round_trip() {
        let s = generate_secret();
        assert_eq!(s.len(), 20);
        let enc = encode_secret(&s);
        assert_eq!(enc.len(), 32);
        assert!(!enc.contains('='));
        assert_eq!(decode_secret(&enc).unwrap(), s);
        assert_eq!(
            decode_secret(&display_secret(&enc).replace(' ', "")).unwrap(),
            s
        );
        assert_ne!(generate_secret(), s);
    }

    #[test]
    fn otpauth_uri_has_the_parameters_apps_read() {
        let uri = otpauth_uri("a+b@example.com", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri,
            "otpauth://totp/Storefront:a%2Bb%40example%2Ecom?secret=JBSWY3DPEHPK3PXP&issuer=Storefront&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn code_shape() {
        assert!(looks_like_code("012345"));
        for bad in ["12345", "1234567", "12a456", "١٢٣٤٥٦", " 12345"] {
            assert!(!looks_like_code(bad), "{bad}");
        }
    }
}
