//! One middleware for every request: gives the browser a session cookie,
//! and refuses any state-changing request without a valid CSRF token (or
//! with a body over 64 KiB) before a handler sees it.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use futures_util::StreamExt;

use super::session::{build_cookie, SessionCookie, COOKIE_NAME};
use super::HostState;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

pub fn token_for(state: &HostState, cookie_value: &str) -> String {
    state.key.sign("csrf", cookie_value.as_bytes())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn session_and_csrf<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<HostState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let path = req.path();
    // Routes that authenticate otherwise (API keys, bearer tokens) never
    // rely on the session cookie, so CSRF does not apply to them; they say
    // so themselves (`HostState::token_routes`).
    if path.starts_with("/static/") || path == "/healthz" || state.is_token_route(path) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let sent = SessionCookie::from_request(req.request());
    let cookie = SessionCookie {
        issued_now: sent.is_none(),
        value: sent.unwrap_or_else(SessionCookie::new_id),
    };
    req.extensions_mut().insert(cookie.clone());

    if !is_safe(req.method()) {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Ok(refuse(req, StatusCode::PAYLOAD_TOO_LARGE));
        }
        let mut payload = req.take_payload();
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let Ok(chunk) = chunk else {
                return Ok(refuse(req, StatusCode::BAD_REQUEST));
            };
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Ok(refuse(req, StatusCode::PAYLOAD_TOO_LARGE));
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        let presented = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| form_token(&body));
        let valid = !cookie.issued_now
            && presented.is_some_and(|t| {
                state
                    .key
                    .verify_signature("csrf", cookie.value.as_bytes(), &t)
            });
        if !valid {
            return Ok(refuse(req, StatusCode::FORBIDDEN));
        }
        req.set_payload(Payload::from(body));
    }

    let mut res = next.call(req).await?;
    if cookie.issued_now && !sets_session_cookie(res.response()) {
        let c = build_cookie(cookie.value, state.settings.server.secure_cookies);
        if let Ok(v) = header::HeaderValue::from_str(&c.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res.map_into_left_body())
}

fn sets_session_cookie<B>(res: &actix_web::HttpResponse<B>) -> bool {
    res.cookies().any(|c| c.name() == COOKIE_NAME)
}

fn form_token(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == FORM_FIELD)
        .map(|(_, v)| v)
}

/// An empty error response; the error-page middleware gives it a page.
fn refuse<B>(req: ServiceRequest, status: StatusCode) -> ServiceResponse<EitherBody<B>> {
    let (http_req, _) = req.into_parts();
    ServiceResponse::new(http_req, HttpResponse::new(status).map_into_right_body())
}
