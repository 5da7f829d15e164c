//! The sandbox's gate: 404 when the policy says it is not available, then
//! the API key from the `X-Authy-API-Key` header, the `api_key` query
//! parameter or the `api_key` body field, compared in constant time.

use actix_web::{HttpRequest, HttpResponse};

use super::params::Params;
use super::{responses, SandboxState};
use crate::crypto::constant_time_eq;

pub const HEADER: &str = "X-Authy-API-Key";

/// The key the request presents, header first (header only when
/// `header_only`).
pub fn presented_key(req: &HttpRequest, params: &Params, header_only: bool) -> Option<String> {
    if let Some(value) = req.headers().get(HEADER) {
        return value.to_str().ok().map(|s| s.trim().to_string());
    }
    if header_only {
        return None;
    }
    params.text(&["api_key"])
}

/// True when `key` is non-empty and equals one of `accepted` (every
/// candidate is compared, in constant time).
pub fn key_matches(key: &str, accepted: &[String]) -> bool {
    let mut found = false;
    for candidate in accepted {
        if !candidate.is_empty() && constant_time_eq(candidate.as_bytes(), key.as_bytes()) {
            found = true;
        }
    }
    !key.is_empty() && found
}

/// 404 when the sandbox is switched off.
pub async fn check_available(state: &SandboxState) -> Result<(), HttpResponse> {
    if state.policy.is_available().await {
        Ok(())
    } else {
        Err(HttpResponse::NotFound().finish())
    }
}

/// 401 with the reference body unless the request carries an accepted key.
pub async fn check_key(
    req: &HttpRequest,
    params: &Params,
    state: &SandboxState,
) -> Result<(), HttpResponse> {
    let Some(key) = presented_key(req, params, state.policy.key_in_header_only()) else {
        return Err(responses::invalid_api_key());
    };
    let accepted = state.policy.accepted_keys().await;
    if key_matches(&key, &accepted) {
        Ok(())
    } else {
        Err(responses::invalid_api_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_keys_never_match() {
        assert!(!key_matches("", &["".to_string()]));
        assert!(!key_matches("", &["k".to_string()]));
        assert!(key_matches("k2", &["k1".to_string(), "k2".to_string()]));
        assert!(!key_matches("k", &["k1".to_string()]));
    }
}
