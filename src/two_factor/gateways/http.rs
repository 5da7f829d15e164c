//! What both gateway clients share: one `reqwest::Client` shape (timeouts,
//! no redirects), a bounded read of the answer, and transport errors that
//! never carry the URL (it may hold a code) or a credential.

use std::time::Duration;

use super::GatewayError;

/// Longest response body read; a gateway answer is a few kilobytes at most.
pub const MAX_BODY: usize = 64 * 1024;

/// A client whose every request ends within `timeout`.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // A redirect could carry the credentials elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("storefront-2fa/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("static reqwest configuration")
}

/// Sends and reads at most `MAX_BODY` bytes of the answer.
pub async fn read(req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), GatewayError> {
    let mut res = req.send().await.map_err(transport_error)?;
    let status = res.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(GatewayError::UnexpectedBody);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

fn transport_error(e: reqwest::Error) -> GatewayError {
    if e.is_timeout() {
        GatewayError::Timeout
    } else if e.is_connect() {
        GatewayError::Unreachable("connection failed".into())
    } else if e.is_body() || e.is_decode() {
        GatewayError::UnexpectedBody
    } else {
        // Without the URL: it may hold a code.
        GatewayError::Unreachable(e.without_url().to_string())
    }
}

/// Parses a JSON object (not an array, which serde would map onto fields).
pub fn parse_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(GatewayError::UnexpectedBody);
    }
    // JSON is UTF-8 (RFC 8259), and serde_json skips the strings of fields
    // it ignores without checking them: a body with broken UTF-8 anywhere
    // is garbage as a whole, not a yes with a damaged message (found by
    // the property tests).
    let text = std::str::from_utf8(body).map_err(|_| GatewayError::UnexpectedBody)?;
    serde_json::from_str(text).map_err(|_| GatewayError::UnexpectedBody)
}
