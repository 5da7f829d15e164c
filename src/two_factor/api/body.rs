//! The API's request bodies, each read once into its own struct.
//!
//! A body must be a JSON object; anything else is `not_an_object`. Every
//! field is taken only as a JSON string: a number, `true`, `null`, an array
//! or an object in its place reads as absent, so it gets the answer a
//! missing field gets (and, for a code, is counted as an attempt).

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::recovery::codes as recovery;

/// Reads `body` into `T` when it is a JSON object.
pub(super) fn read<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(object @ Value::Object(_)) => {
            serde_json::from_value(object).map_err(|_| ApiError::not_an_object())
        }
        _ => Err(ApiError::not_an_object()),
    }
}

/// A field that is a JSON string, or absent when it is anything else.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// `POST /signin`.
#[derive(Deserialize)]
pub(super) struct SignIn {
    #[serde(default, deserialize_with = "text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub password: Option<String>,
}

/// `POST /verify-2fa` and `POST /two-factor/sms`: the challenge, and for
/// the first the code.
#[derive(Deserialize)]
pub(super) struct Challenge {
    #[serde(default, deserialize_with = "text")]
    pub challenge_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    code: Option<String>,
}

impl Challenge {
    pub fn code(&self) -> Option<String> {
        submitted_code(self.code.as_deref())
    }
}

/// `POST /two-factor/disable`: the password and a current code.
#[derive(Deserialize)]
pub(super) struct Disable {
    #[serde(default, deserialize_with = "text")]
    pub password: Option<String>,
    #[serde(default, deserialize_with = "text")]
    code: Option<String>,
}

impl Disable {
    pub fn code(&self) -> Option<String> {
        submitted_code(self.code.as_deref())
    }
}

/// A code as the API takes it: 4 to 10 digits (an app or SMS code; the
/// gateway's own length is checked later) or a recovery code, trimmed;
/// anything else is no code at all.
fn submitted_code(raw: Option<&str>) -> Option<String> {
    let typed = crate::two_factor::otp_code::without_separators(raw?);
    let s = typed.as_ref();
    let digits = OtpCode::parse_within(s, crate::two_factor::otp_code::VERIFY_LENGTHS).is_some();
    (digits || recovery::looks_like_code(s)).then(|| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_are_bodies() {
        for bad in ["[]", "\"x\"", "1", "null", "{", ""] {
            assert!(read::<SignIn>(bad.as_bytes()).is_err(), "{bad}");
        }
        let b: SignIn = read(br#"{"email":"a@b.c","password":"p","extra":1}"#).unwrap();
        assert_eq!(
            (b.email.as_deref(), b.password.as_deref()),
            (Some("a@b.c"), Some("p"))
        );
    }

    #[test]
    fn a_field_of_another_type_reads_as_absent() {
        for v in ["123456", "true", "null", "[\"123456\"]", "{\"a\":1}"] {
            let b: Challenge =
                read(format!(r#"{{"challenge_id":"c","code":{v}}}"#).as_bytes()).unwrap();
            assert_eq!(b.challenge_id.as_deref(), Some("c"));
            assert_eq!(b.code(), None, "{v}");
        }
        let b: Challenge = read(br#"{"challenge_id":"c","code":" 123456 "}"#).unwrap();
        assert_eq!(b.code().as_deref(), Some("123456"));
        let b: Challenge = read(br#"{"code":"12ab56"}"#).unwrap();
        assert_eq!((b.challenge_id.as_deref(), b.code()), (None, None));
    }
}
