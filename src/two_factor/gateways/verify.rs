//! Client for Twilio Verify v2 (see twilio-verify-api.md): start a
//! verification (SMS or call), check a code against it, cancel it, and read
//! the service (the connection test).
//!
//! HTTP Basic with the Account SID and Auth Token (or an API key SID and
//! secret); form bodies in, JSON out. A code counts as right only when the
//! answer is HTTP 200 with `"status": "approved"` and `"valid": true` (a
//! JSON boolean); anything else refuses. Verify's error codes become
//! `GatewayError`s the pages turn into words. Neither codes nor
//! credentials are logged.

use serde::Deserialize;

use super::http::{self, parse_object};
use super::{Channel, GatewayError, TokenCheck};
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::sms::phone::PhoneNumber;

/// `VE` and 32 lower-case hex digits: only `parse` makes one, so it is
/// always safe in a URL path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationSid(String);

impl VerificationSid {
    pub fn parse(s: &str) -> Option<VerificationSid> {
        is_sid(s, "VE").then(|| VerificationSid(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `prefix` and 32 lower-case hex digits: the shape of every Twilio SID.
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34
        && s.starts_with(prefix)
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where to send requests and as whom.
#[derive(Clone, Copy)]
pub struct VerifyEndpoint<'a> {
    /// `https://verify.twilio.com`, or the sandbox's `/sandbox/twilio`.
    pub base_url: &'a str,
    /// The Account SID, or an API key SID.
    pub username: &'a str,
    /// The Auth Token, or the API key's secret.
    pub secret: &'a str,
    /// The Verify service, `VA…` (checked when the settings were saved).
    pub service_sid: &'a str,
}

/// What the connection test reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    pub friendly_name: String,
    pub code_length: u8,
}

#[derive(Clone)]
pub struct VerifyClient {
    http: reqwest::Client,
}

impl VerifyClient {
    pub fn new(timeout: std::time::Duration) -> VerifyClient {
        VerifyClient {
            http: http::client(timeout),
        }
    }

    fn service_url(ep: VerifyEndpoint<'_>, rest: &str) -> Result<String, GatewayError> {
        if ep.username.is_empty() || ep.secret.is_empty() || !is_sid(ep.service_sid, "VA") {
            return Err(GatewayError::NoApiKey);
        }
        Ok(format!(
            "{}/v2/Services/{}{rest}",
            ep.base_url.trim_end_matches('/'),
            ep.service_sid
        ))
    }

    async fn call(
        &self,
        ep: VerifyEndpoint<'_>,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), GatewayError> {
        http::read(req.basic_auth(ep.username, Some(ep.secret))).await
    }

    /// `POST /v2/Services/{VA}/Verifications`: sends a code (again, while
    /// one is pending for the number: the same code).
    pub async fn start(
        &self,
        ep: VerifyEndpoint<'_>,
        to: &PhoneNumber,
        channel: Channel,
    ) -> Result<VerificationSid, GatewayError> {
        let url = Self::service_url(ep, "/Verifications")?;
        let form = [("To", to.e164()), ("Channel", channel.as_str())];
        let (status, body) = self.call(ep, self.http.post(url).form(&form)).await?;
        check_started(status, &body)
    }

    /// `POST /v2/Services/{VA}/VerificationCheck` with the verification's
    /// SID (never only `To`: the code is bound to the sign-in that asked).
    pub async fn check(
        &self,
        ep: VerifyEndpoint<'_>,
        sid: &VerificationSid,
        code: &OtpCode,
    ) -> Result<TokenCheck, GatewayError> {
        let url = Self::service_url(ep, "/VerificationCheck")?;
        let form = [("VerificationSid", sid.as_str()), ("Code", code.expose())];
        let (status, body) = self.call(ep, self.http.post(url).form(&form)).await?;
        check_checked(status, &body)
    }

    /// `POST /v2/Services/{VA}/Verifications/{VE}` with `Status=canceled`.
    pub async fn cancel(
        &self,
        ep: VerifyEndpoint<'_>,
        sid: &VerificationSid,
    ) -> Result<(), GatewayError> {
        let url = Self::service_url(ep, &format!("/Verifications/{}", sid.as_str()))?;
        let form = [("Status", "canceled")];
        let (status, body) = self.call(ep, self.http.post(url).form(&form)).await?;
        match status {
            200..=299 => Ok(()),
            _ => Err(status_error(status, &body)),
        }
    }

    /// `GET /v2/Services/{VA}`: do the credentials and the service work?
    pub async fn service(&self, ep: VerifyEndpoint<'_>) -> Result<ServiceInfo, GatewayError> {
        let url = Self::service_url(ep, "")?;
        let (status, body) = self.call(ep, self.http.get(url)).await?;
        check_service(status, &body)
    }
}

/// Verify's error body: `code` is a JSON number.
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i64>,
}

/// Maps a non-2xx answer to an error by Verify's code, then by status.
fn status_error(status: u16, body: &[u8]) -> GatewayError {
    let code = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.code);
    match (status, code) {
        (401, _) | (_, Some(20003)) => GatewayError::BadApiKey,
        (_, Some(60200)) => GatewayError::InvalidNumber,
        (_, Some(60205)) => GatewayError::Landline,
        (_, Some(60410)) => GatewayError::Blocked,
        (_, Some(60202)) => GatewayError::TooManyChecks,
        (_, Some(60203)) => GatewayError::TooManySends,
        (404, Some(20404)) => GatewayError::NotFound,
        (429, _) | (_, Some(20429)) => GatewayError::RateLimited,
        _ => GatewayError::Status(status),
    }
}

#[derive(Deserialize)]
struct Verification {
    sid: String,
    status: String,
    #[serde(default)]
    valid: Option<serde_json::Value>,
}

/// Start answer: any 2xx with a pending verification and its SID.
pub fn check_started(status: u16, body: &[u8]) -> Result<VerificationSid, GatewayError> {
    if !(200..=299).contains(&status) {
        return Err(status_error(status, body));
    }
    let v: Verification = parse_object(body)?;
    match VerificationSid::parse(&v.sid) {
        Some(sid) if v.status == "pending" => Ok(sid),
        _ => Err(GatewayError::UnexpectedBody),
    }
}

/// Check answer: 200 `approved` with `valid: true` is the only yes; 200
/// `pending` is a wrong code; a verification that ended on too many checks
/// says so; anything else is an error (fail closed).
pub fn check_checked(status: u16, body: &[u8]) -> Result<TokenCheck, GatewayError> {
    if status != 200 {
        return Err(status_error(status, body));
    }
    let v: Verification = parse_object(body)?;
    let valid = matches!(v.valid, Some(serde_json::Value::Bool(true)));
    match (v.status.as_str(), valid) {
        ("approved", true) => Ok(TokenCheck::Valid),
        ("pending", false) => Ok(TokenCheck::Rejected),
        ("max_attempts_reached", false) => Err(GatewayError::TooManyChecks),
        ("canceled" | "expired" | "deleted" | "failed", false) => Err(GatewayError::NotFound),
        _ => Err(GatewayError::UnexpectedBody),
    }
}

/// Service answer: 200 with the service's name and code length (4 to 10).
pub fn check_service(status: u16, body: &[u8]) -> Result<ServiceInfo, GatewayError> {
    #[derive(Deserialize)]
    struct Service {
        #[serde(default)]
        friendly_name: String,
        #[serde(default)]
        code_length: Option<u8>,
    }
    if status != 200 {
        return Err(status_error(status, body));
    }
    let s: Service = parse_object(body)?;
    let code_length = s.code_length.unwrap_or(6);
    if !(4..=10).contains(&code_length) {
        return Err(GatewayError::UnexpectedBody);
    }
    Ok(ServiceInfo {
        friendly_name: s.friendly_name,
        code_length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VE: &str = "VE0123456789abcdef0123456789abcdef";

    #[test]
    fn sids_have_one_shape() {
        assert!(VerificationSid::parse(VE).is_some());
        for bad in [
            "VE0123456789ABCDEF0123456789abcdef",
            "VA0123456789abcdef0123456789abcdef",
            "VE0123456789abcdef0123456789abcde",
            "VE0123456789abcdef0123456789abcdef0",
            "VE0123456789abcdef0123456789abcde/",
            "",
        ] {
            assert!(VerificationSid::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_an_approved_valid_check_is_a_yes() {
        let body = |status: &str, valid: &str| {
            format!(r#"{{"sid":"{VE}","status":"{status}","valid":{valid}}}"#)
        };
        assert_eq!(
            check_checked(200, body("approved", "true").as_bytes()),
            Ok(TokenCheck::Valid)
        );
        assert_eq!(
            check_checked(200, body("pending", "false").as_bytes()),
            Ok(TokenCheck::Rejected)
        );
        // A string "true", an approved answer that is not valid, or a 201:
        // never a yes.
        for (status, b) in [
            (200, body("approved", "\"true\"")),
            (200, body("approved", "false")),
            (200, body("pending", "true")),
            (201, body("approved", "true")),
            (200, "[]".to_string()),
            (200, "garbage".to_string()),
        ] {
            assert_ne!(check_checked(status, b.as_bytes()), Ok(TokenCheck::Valid));
        }
        assert_eq!(
            check_checked(200, body("max_attempts_reached", "false").as_bytes()),
            Err(GatewayError::TooManyChecks)
        );
    }

    #[test]
    fn verify_error_codes_become_errors() {
        let e = |status: u16, code: i64| {
            status_error(
                status,
                format!(r#"{{"code":{code},"message":"m","more_info":"x","status":{status}}}"#)
                    .as_bytes(),
            )
        };
        assert_eq!(e(401, 20003), GatewayError::BadApiKey);
        assert_eq!(e(400, 60200), GatewayError::InvalidNumber);
        assert_eq!(e(400, 60205), GatewayError::Landline);
        assert_eq!(e(403, 60410), GatewayError::Blocked);
        assert_eq!(e(429, 60202), GatewayError::TooManyChecks);
        assert_eq!(e(429, 60203), GatewayError::TooManySends);
        assert_eq!(e(404, 20404), GatewayError::NotFound);
        assert_eq!(e(429, 20429), GatewayError::RateLimited);
        assert_eq!(e(500, 0), GatewayError::Status(500));
        assert_eq!(status_error(503, b"<html>"), GatewayError::Status(503));
        // A code given as a string is not Verify's shape: only the status counts.
        assert_eq!(
            status_error(404, br#"{"code":"20404"}"#),
            GatewayError::Status(404)
        );
    }

    #[test]
    fn a_start_answer_must_be_a_pending_verification() {
        let ok = format!(r#"{{"sid":"{VE}","status":"pending","valid":false}}"#);
        assert_eq!(check_started(201, ok.as_bytes()).unwrap().as_str(), VE);
        assert!(check_started(201, br#"{"sid":"VE../../x","status":"pending"}"#).is_err());
        assert!(check_started(500, ok.as_bytes()).is_err());
    }

    #[test]
    fn a_service_reports_its_code_length() {
        let s = check_service(200, br#"{"friendly_name":"Shop","code_length":8}"#).unwrap();
        assert_eq!((s.friendly_name.as_str(), s.code_length), ("Shop", 8));
        assert!(check_service(200, br#"{"code_length":11}"#).is_err());
        assert_eq!(
            check_service(404, br#"{"code":20404,"status":404}"#),
            Err(GatewayError::NotFound)
        );
    }
}
