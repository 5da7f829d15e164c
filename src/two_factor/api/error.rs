//! The API's one error type: every refusal is an `ApiError`, rendered as
//! `{"error": "<stable code>", "message": "..."}` with its status (and
//! `WWW-Authenticate` on 401, `Retry-After` on 429). Handlers return
//! `Result<HttpResponse, ApiError>` and use `?`.

use actix_web::http::header::{HeaderValue, CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::db::DbError;
use crate::plugin::GENERIC_AUTH_ERROR;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_an_object() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be a JSON object.",
        )
    }

    pub fn invalid_request(message: &'static str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// A wrong password, an unknown user or a locked account: one message.
    pub fn invalid_credentials() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            GENERIC_AUTH_ERROR,
        )
    }

    pub fn invalid_challenge() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_challenge",
            "This sign-in has expired or is unknown. Sign in again.",
        )
    }

    /// A wrong, used, expired or locked-out code: one message.
    pub fn wrong_code() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_code", GENERIC_AUTH_ERROR)
    }

    /// A code of the wrong JSON type or shape (counted as an attempt).
    pub fn malformed_code(message: &'static str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_code", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send a valid token as `Authorization: Bearer <token>`.",
        )
    }

    pub fn provider_unavailable(message: &'static str) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            message,
        )
    }

    pub fn rate_limited(message: String, seconds: i64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no API endpoint at this address.",
        )
    }

    /// A failure on our side; the cause goes to the log only.
    pub fn internal(e: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "two-factor API failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Please try again.",
        )
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        ApiError::internal(&e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                res.insert_header((RETRY_AFTER, v));
            }
        }
        res.json(json!({ "error": self.code, "message": self.message }))
    }
}
