//! Responses every page of the addon shares.

use actix_web::{web, HttpRequest, HttpResponse};
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
