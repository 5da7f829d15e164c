//! Responses every page of the addon shares.

use actix_web::{web, HttpRequest, HttpResponse};

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
