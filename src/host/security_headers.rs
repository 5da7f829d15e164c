//! Security headers on every response, set in one place so no page can
//! forget them: a Content-Security-Policy that allows only the store's own
//! script and style files (the pages have no inline script or `style=""`),
//! framing refused twice over (CSP `frame-ancestors` and the older
//! `X-Frame-Options` for browsers without CSP 2), no MIME sniffing, no
//! referrer across origins, HSTS when the store is served over TLS, and
//! `Cache-Control: no-store` on everything that did not choose a cache
//! policy itself (only the static files do), so signed-in pages and pages
//! showing a secret never sit in a shared or back-button cache.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::HostState;

/// `'self'` for scripts and styles, nothing else: the QR code is inline
/// SVG markup (not a style), the favicon is a file. `form-action 'self'`
/// keeps an injected form from posting elsewhere; `base-uri 'none'` keeps
/// an injected `<base>` from redirecting the relative script URLs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// A year, for HSTS (the value browsers' preload lists ask for at least).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

pub async fn security_headers<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let tls = req
        .app_data::<web::Data<HostState>>()
        .is_some_and(|s| s.settings.server.secure_cookies);
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}
