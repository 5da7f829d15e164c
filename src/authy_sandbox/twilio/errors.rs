//! Twilio's error body, and nothing else in it:
//! `{"code":N,"message":"...","more_info":"https://www.twilio.com/docs/errors/N","status":H}`.
//! `code` and `status` are JSON numbers and the HTTP status equals
//! `status`. (A body that also had `type` and `title` would read as an RFC
//! 9457 problem to twilio-python, which then raises another exception class.)

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::authy_sandbox::responses::{self, obj, J};
use crate::db::DbError;

/// A refusal in Verify's words, or the sandbox being switched off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioError {
    /// The policy says the sandbox is not there: an empty 404, like every
    /// other route of a switched-off sandbox.
    #[error("the sandbox is not available")]
    Unavailable,
    #[error("Twilio error {code} ({status}): {message}")]
    Api {
        status: StatusCode,
        code: u32,
        message: String,
    },
}

impl TwilioError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> TwilioError {
        TwilioError::Api {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401 / 20003: missing or wrong credentials.
    pub fn authenticate() -> TwilioError {
        TwilioError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
    }

    /// 404 / 20404, naming the resource (a path of SIDs, never a number).
    pub fn not_found(resource: &str) -> TwilioError {
        TwilioError::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource {resource} was not found"),
        )
    }

    /// 405 / 20004.
    pub fn method_not_allowed() -> TwilioError {
        TwilioError::new(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed")
    }

    /// 400 / 60200: a parameter is missing or wrong (never echoes a value).
    pub fn invalid_parameter(name: &str) -> TwilioError {
        TwilioError::new(
            StatusCode::BAD_REQUEST,
            60200,
            format!("Invalid parameter: {name}"),
        )
    }

    /// 400 / 60221: a check names neither `To` nor `VerificationSid`.
    pub fn to_or_sid_required() -> TwilioError {
        TwilioError::new(
            StatusCode::BAD_REQUEST,
            60221,
            "Either a 'To' number or a 'VerificationSid' must be specified",
        )
    }

    /// 400 / 60223: a channel Verify has that this sandbox does not serve.
    pub fn channel_disabled(channel: &str) -> TwilioError {
        TwilioError::new(
            StatusCode::BAD_REQUEST,
            60223,
            format!(
                "Delivery channel disabled: {}",
                channel.to_ascii_uppercase()
            ),
        )
    }

    /// 400 / 60205: SMS to a landline.
    pub fn landline() -> TwilioError {
        TwilioError::new(
            StatusCode::BAD_REQUEST,
            60205,
            "SMS is not supported by landline phone number",
        )
    }

    /// 403 / 60410: the number is blocked for fraud.
    pub fn blocked() -> TwilioError {
        TwilioError::new(
            StatusCode::FORBIDDEN,
            60410,
            "Verification delivery attempt blocked",
        )
    }

    /// 429 / 60202: more than five checks of one verification.
    pub fn max_check_attempts() -> TwilioError {
        TwilioError::new(
            StatusCode::TOO_MANY_REQUESTS,
            60202,
            "Max check attempts reached",
        )
    }

    /// 429 / 60203: more than five sends to one number in ten minutes.
    pub fn max_send_attempts() -> TwilioError {
        TwilioError::new(
            StatusCode::TOO_MANY_REQUESTS,
            60203,
            "Max send attempts reached",
        )
    }

    /// 503 / 20503: the database failed (logged; the client retries).
    pub fn unavailable(e: DbError) -> TwilioError {
        tracing::error!(target: "authy_sandbox", error = %e, "sandbox database error (Twilio Verify API)");
        TwilioError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            20503,
            "Service is unavailable. Please try again",
        )
    }

    /// The JSON body (`None` for [`TwilioError::Unavailable`]).
    pub fn body(&self) -> Option<J> {
        match self {
            TwilioError::Unavailable => None,
            TwilioError::Api {
                status,
                code,
                message,
            } => Some(obj([
                ("code", (*code).into()),
                ("message", message.clone().into()),
                (
                    "more_info",
                    format!("https://www.twilio.com/docs/errors/{code}").into(),
                ),
                ("status", status.as_u16().into()),
            ])),
        }
    }
}

impl From<DbError> for TwilioError {
    fn from(e: DbError) -> TwilioError {
        TwilioError::unavailable(e)
    }
}

impl ResponseError for TwilioError {
    fn status_code(&self) -> StatusCode {
        match self {
            TwilioError::Unavailable => StatusCode::NOT_FOUND,
            TwilioError::Api { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let Some(body) = self.body() else {
            return HttpResponse::NotFound().finish();
        };
        let mut res = responses::json(self.status_code(), &body);
        if self.status_code() == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_exactly_four_fields_with_numbers() {
        let body = TwilioError::not_found("/Services/VA0/Verifications/VE0")
            .body()
            .unwrap();
        assert_eq!(
            responses::to_string(&body),
            r#"{"code":20404,"message":"The requested resource /Services/VA0/Verifications/VE0 was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}"#
        );
        let e = TwilioError::max_check_attempts();
        assert_eq!(e.status_code(), StatusCode::TOO_MANY_REQUESTS);
        assert!(responses::to_string(&e.body().unwrap()).contains(r#""code":60202,"#));
        assert!(TwilioError::Unavailable.body().is_none());
    }
}
