//! Recovery codes: ten per account, each 12 characters from a 32-symbol
//! alphabet (60 bits), shown as `xxxx-xxxx-xxxx`. Stored as an HMAC keyed
//! by the store's key and the account id, so a database dump alone cannot
//! check guesses. Each is used once: an atomic `UPDATE ... WHERE used_at IS
//! NULL` decides which of two concurrent uses wins.
//!
//! Each code is also kept encrypted with the store's key, so "View recovery
//! codes" can show them again after the password. A database dump alone
//! still reveals nothing; whoever also holds the key could read them, as
//! they could read the authenticator-app secret.

use diesel::prelude::*;
use rand::Rng;

use crate::crypto::SecretKey;
use crate::db::{now, DbConn, DbError};
use crate::two_factor::schema::tfa_recovery_codes;

pub const COUNT: usize = 10;
pub const LEN: usize = 12;
/// Warn when this many or fewer are left.
pub const LOW: i64 = 2;
/// Crockford-style: no I, L, O, U, so nothing is misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

fn format(raw: &str) -> String {
    format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12])
}

pub fn generate_one() -> String {
    let mut rng = rand::rngs::OsRng;
    let raw: String = (0..LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format(&raw)
}

/// The canonical form of what a user typed (case, spaces and dashes
/// ignored; the look-alikes i/l → 1 and o → 0 mapped), or None when it
/// cannot be a recovery code.
pub fn normalize(input: &str) -> Option<String> {
    if input.len() > 40 {
        return None;
    }
    let mut out = String::with_capacity(LEN);
    for c in input.chars() {
        match c {
            '-' | ' ' => continue,
            _ => {}
        }
        let c = c.to_ascii_lowercase();
        let c = match c {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == LEN).then_some(out)
}

/// `true` when `input` has the shape of a recovery code.
pub fn looks_like_code(input: &str) -> bool {
    normalize(input).is_some()
}

fn hash(key: &SecretKey, account_id: i64, normalized: &str) -> String {
    key.sign(
        "tfa-recovery-code",
        format!("{account_id}:{normalized}").as_bytes(),
    )
}

/// Replaces the account's codes with ten new ones; returns them (the only
/// time they exist in clear).
pub fn regenerate(
    conn: &mut DbConn,
    key: &SecretKey,
    account_id: i64,
) -> Result<Vec<String>, DbError> {
    let codes: Vec<String> = (0..COUNT).map(|_| generate_one()).collect();
    diesel::delete(tfa_recovery_codes::table.filter(tfa_recovery_codes::account_id.eq(account_id)))
        .execute(conn)?;
    let t = now();
    for code in &codes {
        let normalized = normalize(code).expect("generated codes are well formed");
        diesel::insert_into(tfa_recovery_codes::table)
            .values((
                tfa_recovery_codes::account_id.eq(account_id),
                tfa_recovery_codes::code_hash.eq(hash(key, account_id, &normalized)),
                tfa_recovery_codes::used_at.eq(None::<i64>),
                tfa_recovery_codes::created_at.eq(t),
                tfa_recovery_codes::code_sealed.eq(Some(key.encrypt(code))),
            ))
            .execute(conn)?;
    }
    Ok(codes)
}

/// The codes as the downloaded text file has them.
pub fn as_text(codes: &[String]) -> String {
    format!(
        "Storefront recovery codes\nEach code can be used once, in place of a verification code.\n\n{}\n",
        codes.join("\n")
    )
}

/// Uses a code: true once per code.
pub fn consume(
    conn: &mut DbConn,
    key: &SecretKey,
    account_id: i64,
    input: &str,
) -> Result<bool, DbError> {
    let Some(normalized) = normalize(input) else {
        return Ok(false);
    };
    // The hash under the addon's key, or under the store's key for codes
    // an older release made.
    let hashes = key.signatures(
        "tfa-recovery-code",
        format!("{account_id}:{normalized}").as_bytes(),
    );
    Ok(diesel::update(
        tfa_recovery_codes::table
            .filter(tfa_recovery_codes::account_id.eq(account_id))
            .filter(tfa_recovery_codes::code_hash.eq_any(hashes))
            .filter(tfa_recovery_codes::used_at.is_null()),
    )
    .set(tfa_recovery_codes::used_at.eq(Some(now())))
    .execute(conn)?
        == 1)
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub total: i64,
    pub remaining: i64,
    pub generated_at: Option<i64>,
}

pub fn summary(conn: &mut DbConn, account_id: i64) -> Result<Summary, DbError> {
    crate::on_backend!(conn, |conn| {
        let rows: Vec<(Option<i64>, i64)> = tfa_recovery_codes::table
            .filter(tfa_recovery_codes::account_id.eq(account_id))
            .select((tfa_recovery_codes::used_at, tfa_recovery_codes::created_at))
            .load(conn)?;
        Ok(Summary {
            total: rows.len() as i64,
            remaining: rows.iter().filter(|(u, _)| u.is_none()).count() as i64,
            generated_at: rows.iter().map(|(_, c)| *c).max(),
        })
    })
}

/// Whether the account has recovery codes (used or not): SMS set-up is
/// finished. One `EXISTS`, not the rows.
pub fn any(conn: &mut DbConn, account_id: i64) -> Result<bool, DbError> {
    Ok(crate::on_backend!(conn, |c| diesel::select(
        diesel::dsl::exists(
            tfa_recovery_codes::table.filter(tfa_recovery_codes::account_id.eq(account_id))
        )
    )
    .get_result(c))?)
}

/// One code as "View recovery codes" shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ShownCode {
    pub code: String,
    pub used: bool,
}

/// The account's codes in the order they were made, or None when any of
/// them cannot be shown (made before codes were kept encrypted, or the
/// secret key changed): then only new codes help.
pub fn reveal(
    conn: &mut DbConn,
    key: &SecretKey,
    account_id: i64,
) -> Result<Option<Vec<ShownCode>>, DbError> {
    let rows: Vec<(Option<String>, Option<i64>)> = tfa_recovery_codes::table
        .filter(tfa_recovery_codes::account_id.eq(account_id))
        .order(tfa_recovery_codes::id.asc())
        .select((tfa_recovery_codes::code_sealed, tfa_recovery_codes::used_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(sealed, used_at)| {
            let code = key.decrypt(sealed.as_deref()?).ok()?;
            Some(ShownCode {
                code,
                used: used_at.is_some(),
            })
        })
        .collect())
}

pub fn remaining(conn: &mut DbConn, account_id: i64) -> Result<i64, DbError> {
    Ok(summary(conn, account_id)?.remaining)
}

pub fn remove_all(conn: &mut DbConn, account_id: i64) -> Result<usize, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(diesel::delete(
            tfa_recovery_codes::table.filter(tfa_recovery_codes::account_id.eq(account_id)),
        )
        .execute(conn)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_sixty_bits_and_a_readable_shape() {
        // 12 symbols × log2(32) = 60 bits ≥ 50.
        assert_eq!(ALPHABET.len(), 32);
        let code = generate_one();
        assert_eq!(code.len(), 14);
        assert_eq!(&code[4..5], "-");
        assert_eq!(normalize(&code).unwrap().len(), 12);
        let set: std::collections::HashSet<String> = (0..200).map(|_| generate_one()).collect();
        assert_eq!(set.len(), 200);
    }

    #[test]
    fn typing_variants_are_forgiven_and_garbage_is_not() {
        assert_eq!(normalize("ABCD-EFGH-JK01").as_deref(), Some("abcdefghjk01"));
        assert_eq!(normalize("abcd efgh jkOI").as_deref(), Some("abcdefghjk01"));
        for bad in [
            "",
            "123456",
            "abcd-efgh-jku1",
            "abcd-efgh-jk0",
            "ábcd-efgh-jk01",
        ] {
            assert!(normalize(bad).is_none(), "{bad}");
        }
    }
}
