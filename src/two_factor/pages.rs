//! What every page of the addon shares: `PageError` (why a page answers
//! with something else), `Form` (a form read once into its struct), the
//! interface a route was registered for, and redirects.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::plugin::Interface;

/// The interface (and so the skin) of a page: attached to each resource
/// when it is registered (`skin`), never guessed from the path.
pub fn interface_of(req: &HttpRequest) -> Interface {
    req.app_data::<web::Data<Interface>>()
        .map(|i| *i.get_ref())
        .unwrap_or(Interface::Customer)
}

/// What `interface_of` reads, for `.app_data` on a resource or scope.
pub fn skin(interface: Interface) -> web::Data<Interface> {
    web::Data::new(interface)
}

/// Why a page answers with something else than itself. Handlers return
/// `Result<HttpResponse, PageError>` and use `?`; the host's own refusals
/// (sign in first, not for your role) convert from the responses it gives.
#[derive(Debug)]
pub enum PageError {
    /// Go to another page (sign in again, the step the sign-in is at).
    SeeOther(String),
    Forbidden,
    NotFound,
    /// A failure on our side, logged when it was made.
    Internal,
}

impl PageError {
    /// Logs the cause; the page says only that something went wrong.
    pub fn internal(e: &dyn std::fmt::Display) -> PageError {
        tracing::error!(error = %e, "two-factor page failed");
        PageError::Internal
    }
}

impl From<crate::db::DbError> for PageError {
    fn from(e: crate::db::DbError) -> PageError {
        PageError::internal(&e)
    }
}

impl From<crate::two_factor::sms::service::ServiceError> for PageError {
    fn from(e: crate::two_factor::sms::service::ServiceError) -> PageError {
        PageError::internal(&e)
    }
}

impl From<tera::Error> for PageError {
    fn from(e: tera::Error) -> PageError {
        PageError::internal(&e)
    }
}

impl From<HttpResponse> for PageError {
    /// The host's refusal (`require_account`, `require_admin`): a redirect
    /// keeps its target; 403 and 404 keep their meaning.
    fn from(res: HttpResponse) -> PageError {
        let location = res
            .headers()
            .get(actix_web::http::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        match (res.status().as_u16(), location) {
            (300..=399, Some(to)) => PageError::SeeOther(to.to_string()),
            (403, _) => PageError::Forbidden,
            (404, _) => PageError::NotFound,
            _ => PageError::Internal,
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::SeeOther(to) => write!(f, "see {to}"),
            PageError::Forbidden => f.write_str("forbidden"),
            PageError::NotFound => f.write_str("not found"),
            PageError::Internal => f.write_str("internal error"),
        }
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            PageError::SeeOther(_) => StatusCode::SEE_OTHER,
            PageError::Forbidden => StatusCode::FORBIDDEN,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SeeOther(to) => see_other(to),
            // Empty bodies: the host's error-page middleware gives them a page.
            PageError::Forbidden => HttpResponse::Forbidden().finish(),
            PageError::NotFound => HttpResponse::NotFound().finish(),
            PageError::Internal => HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong on our side. Please try again."),
        }
    }
}

/// A page's form, read once into its own struct `T` (each field
/// `#[serde(default)]`, so a missing field is empty). A body that is not a
/// form at all (broken percent-encoding, a field given twice) reads as the
/// empty form: the handler then answers as it answers missing fields, with
/// the generic message and, at a code step, the attempt still counted, so
/// a malformed body never earns more than a wrong one. Too large a body is
/// refused by the `Bytes` limit before anything is read.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for Form<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Form<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await?;
            Ok(Form(
                serde_urlencoded::from_bytes(&body).unwrap_or_default(),
            ))
        })
    }
}

/// A redirect after a POST (or to another step), never cached.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// The page for a failure on our side; the cause goes to the log only.
pub fn internal_error(e: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "two-factor page failed");
    HttpResponse::InternalServerError()
        .content_type("text/plain; charset=utf-8")
        .body("Something went wrong on our side. Please try again.")
}

/// A GET form's action and hidden fields that lead to `target` (a form's
/// own query string is dropped by browsers, so it goes into fields).
#[derive(Serialize, Debug, PartialEq)]
pub struct DoneForm {
    pub action: String,
    pub params: Vec<Param>,
}

#[derive(Serialize, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub value: String,
}

impl DoneForm {
    pub fn to(target: &str) -> DoneForm {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let params = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| Param { name, value })
            .collect();
        DoneForm {
            action: path.to_string(),
            params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_form_keeps_the_target_query_as_fields() {
        assert_eq!(
            DoneForm::to("/checkout"),
            DoneForm {
                action: "/checkout".into(),
                params: vec![]
            }
        );
        let f = DoneForm::to("/account?tab=orders&q=a%20b");
        assert_eq!(f.action, "/account");
        assert_eq!(
            f.params,
            vec![
                Param {
                    name: "tab".into(),
                    value: "orders".into()
                },
                Param {
                    name: "q".into(),
                    value: "a b".into()
                }
            ]
        );
    }
}
