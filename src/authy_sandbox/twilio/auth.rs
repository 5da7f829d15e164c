//! HTTP Basic, as Twilio takes it: the user is an Account SID (`AC…`) or an
//! API key SID (`SK…`), the password its Auth Token or secret. The policy
//! decides which pairs are accepted; this file only reads the header.

use actix_web::http::header;
use actix_web::HttpRequest;
use base64::Engine;

/// The `(user, secret)` of an `Authorization: Basic …` header; `None` when
/// there is none or it is not Basic, base64, UTF-8 and `user:secret`.
pub fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    parse_basic(value)
}

pub fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some((user.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_basic_credentials() {
        // "AC1:tok:en"
        assert_eq!(
            parse_basic("Basic QUMxOnRvazplbg=="),
            Some(("AC1".into(), "tok:en".into()))
        );
        assert_eq!(
            parse_basic("basic QUMxOnRvazplbg=="),
            Some(("AC1".into(), "tok:en".into()))
        );
        assert_eq!(parse_basic("Bearer QUMxOnRvazplbg=="), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        // "AC1" without a colon.
        assert_eq!(parse_basic("Basic QUMx"), None);
    }
}
