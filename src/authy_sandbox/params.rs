//! Request parameters merged from the query string and the body (JSON or
//! form-encoded, on any method), with Rails-style `user[email]` nesting.
//!
//! `user[email]=a` (form or query) and `{"user":{"email":"a"}}` (JSON) give
//! the same tree; body values override query values.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::responses;

/// Largest request body the sandbox reads (413 beyond).
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Default, Clone)]
pub struct Params {
    root: Map<String, Value>,
}

impl Params {
    /// Parses a query string, then a body, into one parameter tree.
    pub fn parse(query: &str, content_type: &str, body: &[u8]) -> Result<Params, &'static str> {
        let mut params = Params::default();
        params
            .add_form(query.as_bytes())
            .map_err(|_| "Malformed query string")?;
        let trimmed = body.trim_ascii();
        if trimmed.is_empty() {
            return Ok(params);
        }
        let ct = content_type.to_ascii_lowercase();
        let is_json = if ct.contains("json") {
            true
        } else if ct.contains("x-www-form-urlencoded") {
            false
        } else {
            trimmed.starts_with(b"{")
        };
        if is_json {
            let value: Value = serde_json::from_slice(trimmed).map_err(|_| "Malformed JSON")?;
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        params.insert(&split_key(&key), value);
                    }
                }
                Value::Null => {}
                _ => return Err("Malformed JSON"),
            }
        } else {
            params
                .add_form(trimmed)
                .map_err(|_| "Malformed form body")?;
        }
        Ok(params)
    }

    fn add_form(&mut self, bytes: &[u8]) -> Result<(), serde_urlencoded::de::Error> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)?;
        for (key, value) in pairs {
            self.insert(&split_key(&key), Value::String(value));
        }
        Ok(())
    }

    fn insert(&mut self, path: &[String], value: Value) {
        insert_path(&mut self.root, path, value);
    }

    /// The raw value at a path (`&["user", "email"]`).
    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut current = self.root.get(*first)?;
        for seg in rest {
            current = current.as_object()?.get(*seg)?;
        }
        Some(current)
    }

    /// A scalar parameter as text (numbers and booleans included); `None`
    /// when absent, null, empty or not a scalar.
    pub fn text(&self, path: &[&str]) -> Option<String> {
        let text = match self.get(path)? {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        if text.is_empty() {
            None
        } else {
            Some(text)
        }
    }

    /// `true`, `True`, `1` (as text or JSON) are true.
    pub fn flag(&self, path: &[&str]) -> bool {
        matches!(
            self.text(path).map(|s| s.to_ascii_lowercase()).as_deref(),
            Some("true") | Some("1")
        )
    }
}

/// `user[email]` → `["user", "email"]`; `logos[][url]` → `["logos", "", "url"]`.
fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_string()];
    };
    if open == 0 || !key.ends_with(']') {
        return vec![key.to_string()];
    }
    let mut segs = vec![key[..open].to_string()];
    let inner = &key[open + 1..key.len() - 1];
    segs.extend(inner.split("][").map(str::to_string));
    segs
}

fn insert_path(map: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.insert(first.clone(), value);
        return;
    }
    if rest[0].is_empty() {
        let entry = map
            .entry(first.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        let items = entry.as_array_mut().expect("just made an array");
        let tail = &rest[1..];
        if tail.is_empty() {
            items.push(value);
            return;
        }
        let reuse =
            matches!(items.last(), Some(Value::Object(last)) if !last.contains_key(&tail[0]));
        if !reuse {
            items.push(Value::Object(Map::new()));
        }
        if let Some(Value::Object(last)) = items.last_mut() {
            insert_path(last, tail, value);
        }
        return;
    }
    let entry = map
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(inner) = entry {
        insert_path(inner, rest, value);
    }
}

/// Reads the body (at most [`MAX_BODY`] bytes) and merges all parameters.
pub async fn read(req: &HttpRequest, mut payload: web::Payload) -> Result<Params, HttpResponse> {
    let too_large = || {
        responses::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "60000",
            "Request body is too large",
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| responses::invalid_parameter("body", "Could not read the request body"))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Params::parse(req.query_string(), content_type, &body)
        .map_err(|why| responses::invalid_parameter("body", why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_json_and_query_give_the_same_tree() {
        let form = Params::parse(
            "",
            "application/x-www-form-urlencoded",
            b"user%5Bemail%5D=a%40b.c&user[cellphone]=201-555-0123",
        )
        .unwrap();
        let json = Params::parse(
            "",
            "application/json",
            br#"{"user":{"email":"a@b.c","cellphone":"201-555-0123"}}"#,
        )
        .unwrap();
        let query =
            Params::parse("user[email]=a%40b.c&user[cellphone]=201-555-0123", "", b"").unwrap();
        for p in [&form, &json, &query] {
            assert_eq!(p.text(&["user", "email"]).as_deref(), Some("a@b.c"));
            assert_eq!(
                p.text(&["user", "cellphone"]).as_deref(),
                Some("201-555-0123")
            );
        }
    }

    #[test]
    fn body_overrides_query_and_sniffs_json_without_content_type() {
        let p = Params::parse("force=false&locale=en", "", br#"{"force":true}"#).unwrap();
        assert!(p.flag(&["force"]));
        assert_eq!(p.text(&["locale"]).as_deref(), Some("en"));
        let p = Params::parse("", "", b"force=True").unwrap();
        assert!(p.flag(&["force"]));
    }

    #[test]
    fn flat_bracket_keys_in_json_are_nested() {
        let p = Params::parse("", "application/json", br#"{"user[country_code]":44}"#).unwrap();
        assert_eq!(p.text(&["user", "country_code"]).as_deref(), Some("44"));
    }

    #[test]
    fn arrays_of_objects_in_forms() {
        let p = Params::parse(
            "",
            "application/x-www-form-urlencoded",
            b"logos[][res]=default&logos[][url]=http://a&logos[][res]=low&logos[][url]=http://b&details[Amount]=5",
        )
        .unwrap();
        let logos = p.get(&["logos"]).unwrap().as_array().unwrap();
        assert_eq!(logos.len(), 2);
        assert_eq!(logos[1]["url"], "http://b");
        assert_eq!(p.text(&["details", "Amount"]).as_deref(), Some("5"));
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        assert!(Params::parse("", "application/json", b"{\"user\":").is_err());
        assert!(Params::parse("", "application/json", b"[1,2]").is_err());
        assert!(Params::parse("", "application/json", b"   ").is_ok());
    }

    #[test]
    fn empty_values_count_as_missing() {
        let p = Params::parse("message=&x=1", "", b"").unwrap();
        assert_eq!(p.text(&["message"]), None);
        assert_eq!(p.text(&["x"]).as_deref(), Some("1"));
    }
}
