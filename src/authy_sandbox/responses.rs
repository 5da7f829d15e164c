//! Compact JSON responses with the key order of the wire reference.
//!
//! serde_json's `json!` sorts object keys (the crate is built without
//! `preserve_order`), so bodies are built from [`J`], which keeps insertion
//! order, and written with `serde_json::to_string` (compact: no spaces).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// A JSON value whose objects keep their keys in insertion order.
#[derive(Debug, Clone)]
pub enum J {
    V(Value),
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            J::V(v) => v.serialize(serializer),
            J::Obj(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            J::Arr(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

impl<T: Into<Value>> From<T> for J {
    fn from(v: T) -> J {
        J::V(v.into())
    }
}

/// An ordered object from `(key, value)` pairs.
pub fn obj<const N: usize>(entries: [(&str, J); N]) -> J {
    J::Obj(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A JSON `null`.
pub fn null() -> J {
    J::V(Value::Null)
}

/// Serialises compactly.
pub fn to_string(body: &J) -> String {
    serde_json::to_string(body).expect("serialising in-memory JSON cannot fail")
}

/// A response with `Content-Type: application/json` and a compact body.
pub fn json(status: StatusCode, body: &J) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(to_string(body))
}

pub fn ok(body: &J) -> HttpResponse {
    json(StatusCode::OK, body)
}

/// The reference error body:
/// `{"message":M,"success":false,"errors":{"message":M},"error_code":"600NN"}`.
pub fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    json(status, &error_body(code, message, &[], &[]))
}

/// An error body with extra fields: `top` right after `message` (as in
/// `"token":"is invalid"`), `fields` inside `errors` and again at the top
/// level (as Authy reports invalid user fields).
pub fn error_body(code: &str, message: &str, top: &[(&str, &str)], fields: &[(&str, &str)]) -> J {
    let mut entries: Vec<(String, J)> = vec![("message".into(), message.into())];
    for (k, v) in top {
        entries.push(((*k).into(), (*v).into()));
    }
    entries.push(("success".into(), false.into()));
    let mut errors: Vec<(String, J)> = vec![("message".into(), message.into())];
    for (k, v) in fields {
        errors.push(((*k).into(), (*v).into()));
    }
    entries.push(("errors".into(), J::Obj(errors)));
    for (k, v) in fields {
        entries.push(((*k).into(), (*v).into()));
    }
    entries.push(("error_code".into(), code.into()));
    J::Obj(entries)
}

pub fn invalid_api_key() -> HttpResponse {
    error(StatusCode::UNAUTHORIZED, "60001", "Invalid API key")
}

pub fn user_not_found() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "60026", "User not found.")
}

pub fn missing_parameter(name: &str) -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "60004",
        &format!("Invalid parameter: {name} - Parameter is required"),
    )
}

pub fn invalid_parameter(name: &str, why: &str) -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "60004",
        &format!("Invalid parameter: {name} - {why}"),
    )
}

pub fn too_many_requests() -> HttpResponse {
    error(StatusCode::TOO_MANY_REQUESTS, "60003", "Too many requests")
}

/// The database (or another internal part) failed: 503, never a panic.
pub fn unavailable() -> HttpResponse {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "60000",
        "Service temporarily unavailable",
    )
}

/// Unix seconds as ISO 8601 UTC (`2026-11-25T03:00:00Z`).
pub fn iso8601(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_matches_the_reference_bytes() {
        assert_eq!(
            to_string(&error_body("60001", "Invalid API key", &[], &[])),
            r#"{"message":"Invalid API key","success":false,"errors":{"message":"Invalid API key"},"error_code":"60001"}"#
        );
        assert_eq!(
            to_string(&error_body(
                "60020",
                "Token is invalid",
                &[("token", "is invalid")],
                &[]
            )),
            r#"{"message":"Token is invalid","token":"is invalid","success":false,"errors":{"message":"Token is invalid"},"error_code":"60020"}"#
        );
    }

    #[test]
    fn objects_keep_insertion_order() {
        let body = obj([
            ("z", 1.into()),
            ("a", obj([("y", null()), ("b", "x".into())])),
        ]);
        assert_eq!(to_string(&body), r#"{"z":1,"a":{"y":null,"b":"x"}}"#);
    }

    #[test]
    fn iso8601_is_utc_with_z() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_921_200), "2026-11-29T03:00:00Z");
    }
}
