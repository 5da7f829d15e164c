//! Answers 404 under a disabled addon's route prefixes, so a switched-off
//! addon exposes nothing.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::registry::AddonRegistry;
use crate::db::Db;

/// `true` when `path` is `prefix` or lies below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

pub async fn addon_gate<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let owner = req
        .app_data::<web::Data<AddonRegistry>>()
        .and_then(|registry| {
            registry
                .all()
                .iter()
                .find(|a| {
                    a.manifest
                        .addon
                        .route_prefixes
                        .iter()
                        .any(|p| under(req.path(), p))
                })
                .map(|a| a.manifest.addon.id.clone())
        });
    if let Some(id) = owner {
        let registry = req.app_data::<web::Data<AddonRegistry>>().cloned();
        let db = req.app_data::<web::Data<Db>>().cloned();
        let enabled = match (registry, db) {
            (Some(registry), Some(db)) => registry.is_enabled(&db, &id).await,
            _ => Ok(false),
        };
        let refused = match enabled {
            Ok(true) => None,
            Ok(false) => Some(HttpResponse::NotFound().finish()),
            // Not known to be on: the addon's routes do not run, and the
            // answer says the store failed (the error pages make it the
            // 503 page while the database is away), not that the page
            // does not exist.
            Err(e) => {
                tracing::error!(addon = %id, error = %e, "could not read whether the addon is enabled");
                Some(HttpResponse::InternalServerError().finish())
            }
        };
        if let Some(res) = refused {
            let (http_req, _) = req.into_parts();
            return Ok(ServiceResponse::new(http_req, res.map_into_right_body()));
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefix_matching_respects_segments() {
        assert!(super::under("/two-factor", "/two-factor"));
        assert!(super::under("/two-factor/verify", "/two-factor"));
        assert!(!super::under("/two-factorx", "/two-factor"));
        assert!(!super::under("/", "/two-factor"));
    }
}
