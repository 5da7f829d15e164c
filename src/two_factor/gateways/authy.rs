//! Client for the Authy-compatible "protected JSON" API (see authy-api.md).
//!
//! One shared `reqwest::Client` with the configured timeout. Every path
//! segment is percent-encoded, the token is an `OtpCode` (checked digits),
//! the user id comes from the database. A token counts as valid only when
//! the answer is HTTP 200 with `"token":"is valid"` and `success` true or
//! "true"; anything else refuses. Neither tokens nor the key are logged.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;

use super::http::{self, parse_object};
use super::{Channel, GatewayError, TokenCheck};
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::sms::phone::PhoneNumber;

/// Everything but unreserved characters is encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The gateway's id for a user, read only from the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthyId(pub i64);

/// How a code travels; forms name it `sms` or `call`.
/// What the app details call reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppDetails {
    pub name: String,
    pub sms_enabled: bool,
}

#[derive(Clone)]
pub struct AuthyClient {
    http: reqwest::Client,
}

/// Where to send requests and with which key.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    pub base_url: &'a str,
    pub api_key: &'a str,
}

impl AuthyClient {
    pub fn new(timeout: std::time::Duration) -> AuthyClient {
        AuthyClient {
            http: http::client(timeout),
        }
    }

    /// `POST /protected/json/users/new`: the gateway's id for this phone.
    pub async fn register_user(
        &self,
        ep: Endpoint<'_>,
        email: &str,
        phone: &PhoneNumber,
    ) -> Result<AuthyId, GatewayError> {
        let country_code = phone.calling_code().to_string();
        let form = [
            ("user[email]", email),
            ("user[cellphone]", phone.national()),
            ("user[country_code]", country_code.as_str()),
        ];
        let url = url(ep, &["protected", "json", "users", "new"], "");
        let req = self
            .http
            .post(url)
            .header(KEY_HEADER, ep.api_key)
            .form(&form);
        let (status, body) = send(ep, req).await?;
        check_register(status, &body)
    }

    /// `GET /protected/json/{sms|call}/{id}?force=true`.
    pub async fn send_code(
        &self,
        ep: Endpoint<'_>,
        id: AuthyId,
        channel: Channel,
    ) -> Result<(), GatewayError> {
        let id = id.0.to_string();
        let url = url(
            ep,
            &["protected", "json", channel.as_str(), &id],
            "force=true",
        );
        let (status, body) = send(ep, self.http.get(url).header(KEY_HEADER, ep.api_key)).await?;
        check_sent(status, &body)
    }

    /// `GET /protected/json/verify/{token}/{id}?force=true`.
    pub async fn verify(
        &self,
        ep: Endpoint<'_>,
        id: AuthyId,
        code: &OtpCode,
    ) -> Result<TokenCheck, GatewayError> {
        let id = id.0.to_string();
        let url = url(
            ep,
            &["protected", "json", "verify", code.expose(), &id],
            "force=true",
        );
        let (status, body) = send(ep, self.http.get(url).header(KEY_HEADER, ep.api_key)).await?;
        check_verify(status, &body)
    }

    /// `GET /protected/json/app/details`: does the gateway answer, and take the key?
    pub async fn app_details(&self, ep: Endpoint<'_>) -> Result<AppDetails, GatewayError> {
        let url = url(ep, &["protected", "json", "app", "details"], "");
        let (status, body) = send(ep, self.http.get(url).header(KEY_HEADER, ep.api_key)).await?;
        check_app_details(status, &body)
    }
}

const KEY_HEADER: &str = "X-Authy-API-Key";

fn url(ep: Endpoint<'_>, segments: &[&str], query: &str) -> String {
    let mut url = ep.base_url.trim_end_matches('/').to_string();
    for segment in segments {
        url.push('/');
        url.extend(utf8_percent_encode(segment, SEGMENT));
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Sends with the key set; the answer's status and (bounded) body.
async fn send(
    ep: Endpoint<'_>,
    req: reqwest::RequestBuilder,
) -> Result<(u16, Vec<u8>), GatewayError> {
    if ep.api_key.is_empty() {
        return Err(GatewayError::NoApiKey);
    }
    http::read(req).await
}

/// `success` as gateways send it: `true` or `"true"`.
fn success_true(v: &Option<serde_json::Value>) -> bool {
    matches!(v, Some(serde_json::Value::Bool(true)))
        || matches!(v, Some(serde_json::Value::String(s)) if s == "true")
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error_code: Option<serde_json::Value>,
    #[serde(default)]
    token: Option<String>,
}

/// Maps a non-200 answer to an error.
fn status_error(status: u16, body: &[u8]) -> GatewayError {
    let code = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error_code)
        .map(|c| match c {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_default();
    match (status, code.as_str()) {
        (401, "60001") => GatewayError::BadApiKey,
        (404, "60026") => GatewayError::UnknownUser,
        (400, "60027") => GatewayError::InvalidUser,
        (429, _) => GatewayError::RateLimited,
        _ => GatewayError::Status(status),
    }
}

/// Verify answer: HTTP 200, `"token":"is valid"`, `success` true/"true".
/// A well-formed "no" (wrong or used token) is `Rejected`; a 200 that says
/// anything else is `Rejected` too. Everything else is an error.
pub fn check_verify(status: u16, body: &[u8]) -> Result<TokenCheck, GatewayError> {
    #[derive(Deserialize)]
    struct VerifyBody {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        success: Option<serde_json::Value>,
    }
    if status == 200 {
        // A body that is not a JSON object (or repeats a key) is garbage.
        let parsed: VerifyBody = parse_object(body)?;
        let valid = parsed.token.as_deref() == Some("is valid") && success_true(&parsed.success);
        return Ok(if valid {
            TokenCheck::Valid
        } else {
            TokenCheck::Rejected
        });
    }
    if status == 401 {
        if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
            let code = parsed.error_code.map(|c| {
                c.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| c.to_string())
            });
            if code.as_deref() == Some("60019") {
                return Ok(TokenCheck::Used);
            }
            if parsed.token.as_deref() == Some("is invalid") || code.as_deref() == Some("60020") {
                return Ok(TokenCheck::Rejected);
            }
        }
    }
    Err(status_error(status, body))
}

/// SMS or call answer: HTTP 200 with `success` true.
pub fn check_sent(status: u16, body: &[u8]) -> Result<(), GatewayError> {
    #[derive(Deserialize)]
    struct SentBody {
        #[serde(default)]
        success: Option<serde_json::Value>,
    }
    if status != 200 {
        return Err(status_error(status, body));
    }
    let parsed: SentBody = parse_object(body)?;
    if success_true(&parsed.success) {
        Ok(())
    } else {
        Err(GatewayError::UnexpectedBody)
    }
}

/// Register answer: HTTP 200, `success` true and a positive numeric `user.id`.
pub fn check_register(status: u16, body: &[u8]) -> Result<AuthyId, GatewayError> {
    #[derive(Deserialize)]
    struct User {
        id: i64,
    }
    #[derive(Deserialize)]
    struct RegisterBody {
        #[serde(default)]
        success: Option<serde_json::Value>,
        user: Option<User>,
    }
    if status != 200 {
        return Err(status_error(status, body));
    }
    let parsed: RegisterBody = parse_object(body)?;
    match parsed.user {
        Some(User { id }) if id > 0 && success_true(&parsed.success) => Ok(AuthyId(id)),
        _ => Err(GatewayError::UnexpectedBody),
    }
}

pub fn check_app_details(status: u16, body: &[u8]) -> Result<AppDetails, GatewayError> {
    #[derive(Deserialize)]
    struct App {
        #[serde(default)]
        name: String,
        #[serde(default)]
        sms_enabled: bool,
    }
    #[derive(Deserialize)]
    struct DetailsBody {
        #[serde(default)]
        success: Option<serde_json::Value>,
        app: Option<App>,
    }
    if status != 200 {
        return Err(status_error(status, body));
    }
    let parsed: DetailsBody = parse_object(body)?;
    match parsed.app {
        Some(app) if success_true(&parsed.success) => Ok(AppDetails {
            name: app.name,
            sms_enabled: app.sms_enabled,
        }),
        _ => Err(GatewayError::UnexpectedBody),
    }
}

#[cfg(test)]
mod tests;
