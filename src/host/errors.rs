//! Error pages: any empty or plain-text 4xx/5xx response becomes a page in
//! the store's skin, with a message a person can act on.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::templates::{html, STORE_NAME};

/// How long the error pages wait for a database connection before calling
/// a failure an outage.
const DATABASE_PROBE: std::time::Duration = std::time::Duration::from_millis(500);
use super::HostState;

pub fn message_for(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "Bad request",
            "The form data could not be read. Go back, check the fields and try again.",
        ),
        403 => (
            "Form expired",
            "This form has expired or was not sent from this store. Reload the page and try again.",
        ),
        404 => ("Page not found", "There is no page at this address."),
        405 => (
            "Not allowed",
            "This address does not accept that kind of request.",
        ),
        413 => (
            "Too much data",
            "The form sent more than 64 KiB. Shorten what you entered and try again.",
        ),
        429 => ("Too many requests", "Please wait a moment and try again."),
        503 => (
            "Temporarily unavailable",
            "The store cannot reach its database just now, so nothing was done: nobody was signed in and nothing was saved. Please try again in a minute.",
        ),
        _ => (
            "Something went wrong",
            "The store could not complete that request. Please try again in a moment.",
        ),
    }
}

/// Unknown routes.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

pub async fn error_pages<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    let state = req.app_data::<web::Data<HostState>>().cloned();
    let json_client = state.as_ref().is_some_and(|s| s.is_token_route(req.path()));
    let started = std::time::Instant::now();
    let res = next.call(req).await?;
    let mut status = res.status();
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes().starts_with(b"text/plain"))
        .unwrap_or(true);
    // A failure while the database is away (a PostgreSQL restart) is a 503
    // with a page saying so, whatever the handler made of it: it failed
    // closed, and the person should know to try again, not that the store
    // is broken. A server that restarted and is back is reachable again,
    // but a request that met one of the connections it dropped failed for
    // the same reason.
    let database_down = match &state {
        Some(s) if !json_client && status == StatusCode::INTERNAL_SERVER_ERROR => {
            s.db.lost_connection_since(started) || !s.db.reachable(DATABASE_PROBE).await
        }
        _ => false,
    };
    if database_down {
        status = StatusCode::SERVICE_UNAVAILABLE;
    } else if json_client || !(status.is_client_error() || status.is_server_error()) || !plain {
        return Ok(res.map_into_left_body());
    }
    let Some(state) = state else {
        return Ok(res.map_into_left_body());
    };
    let (title, message) = message_for(status);
    let mut ctx = tera::Context::new();
    ctx.insert("store_name", STORE_NAME);
    ctx.insert("title", title);
    ctx.insert("message", message);
    ctx.insert("status", &status.as_u16());
    let page = html(&state, status, "host/error.html", &ctx);
    let (req, old) = res.into_parts();
    let mut page = page.map_into_boxed_body();
    // Keep headers the handler meant (Set-Cookie, Retry-After, Allow).
    for (name, value) in old.headers() {
        if name == header::SET_COOKIE || name == header::RETRY_AFTER || name == header::ALLOW {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    if database_down && !page.headers().contains_key(header::RETRY_AFTER) {
        page.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    }
    Ok(ServiceResponse::new(req, page).map_into_right_body())
}
