//! The store admin's view of the sandbox: the outbox, newest first, with
//! approve / deny buttons for pending push requests. Mounted by the
//! two-factor addon through [`configure_admin`]; the host checks CSRF.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use std::sync::Arc;

use super::{approvals, outbox, SandboxPolicy};
use crate::db::Db;
use crate::plugin::HostHandle;

pub const PAGE_PATH: &str = "/admin/two-factor/sandbox";

/// The outbox page's template, for the host that mounts the page to register.
pub fn templates() -> Vec<(String, String)> {
    vec![(
        "authy_sandbox/outbox.html".to_string(),
        include_str!("templates/outbox.html").to_string(),
    )]
}
/// Messages shown on the page.
pub const PAGE_LIMIT: i64 = 200;

/// GET `/admin/two-factor/sandbox`; POST `…/approvals/{uuid}/approve` and `…/deny`.
pub fn configure_admin(cfg: &mut web::ServiceConfig, host: HostHandle, db: Db) {
    configure_admin_when(cfg, host, db, Arc::new(Always));
}

/// The same pages, answering 404 whenever `policy` says the sandbox is not
/// available (in production mode the outbox page is gone).
pub fn configure_admin_when(
    cfg: &mut web::ServiceConfig,
    host: HostHandle,
    db: Db,
    policy: Arc<dyn SandboxPolicy>,
) {
    let (page_host, page_db, page_policy) = (host.clone(), db.clone(), policy.clone());
    let (approve_host, approve_db, approve_policy) = (host.clone(), db.clone(), policy.clone());
    let (deny_host, deny_db, deny_policy) = (host, db, policy);
    cfg.route(
        PAGE_PATH,
        web::get().to(move |req: HttpRequest| {
            let (host, db, policy) = (page_host.clone(), page_db.clone(), page_policy.clone());
            async move {
                if !policy.is_available().await {
                    return HttpResponse::NotFound().finish();
                }
                outbox_page(req, host, db).await
            }
        }),
    )
    .route(
        "/admin/two-factor/sandbox/approvals/{uuid}/approve",
        web::post().to(move |req: HttpRequest| {
            let (host, db, policy) = (
                approve_host.clone(),
                approve_db.clone(),
                approve_policy.clone(),
            );
            async move {
                if !policy.is_available().await {
                    return HttpResponse::NotFound().finish();
                }
                decide(req, host, db, true).await
            }
        }),
    )
    .route(
        "/admin/two-factor/sandbox/approvals/{uuid}/deny",
        web::post().to(move |req: HttpRequest| {
            let (host, db, policy) = (deny_host.clone(), deny_db.clone(), deny_policy.clone());
            async move {
                if !policy.is_available().await {
                    return HttpResponse::NotFound().finish();
                }
                decide(req, host, db, false).await
            }
        }),
    );
}

/// The pages of `configure_admin`: always there.
struct Always;

#[async_trait::async_trait(?Send)]
impl SandboxPolicy for Always {
    async fn accepted_keys(&self) -> Vec<String> {
        Vec::new()
    }
    async fn is_available(&self) -> bool {
        true
    }
}

async fn outbox_page(req: HttpRequest, host: HostHandle, db: Db) -> HttpResponse {
    if let Err(resp) = host.require_admin(&req).await {
        return resp;
    }
    let loaded = db
        .run(|c| {
            Ok((
                outbox::list(c, None, PAGE_LIMIT)?,
                approvals::pending(c, 100)?,
            ))
        })
        .await;
    let (messages, pending) = match loaded {
        Ok(data) => data,
        Err(e) => {
            tracing::error!(target: "authy_sandbox", error = %e, "sandbox outbox page");
            return HttpResponse::ServiceUnavailable().body("The sandbox outbox is unavailable.");
        }
    };
    let notice =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("decided").cloned())
            .and_then(|d| match d.as_str() {
                "approved" => Some("The push request was approved."),
                "denied" => Some("The push request was denied."),
                "gone" => Some("That push request is no longer pending."),
                _ => None,
            });
    let mut ctx = tera::Context::new();
    ctx.insert("messages", &messages);
    ctx.insert("approvals", &pending);
    ctx.insert("refresh_seconds", &5);
    ctx.insert("limit", &PAGE_LIMIT);
    ctx.insert("notice", &notice);
    host.render(&req, StatusCode::OK, "authy_sandbox/outbox.html", ctx)
        .await
}

async fn decide(req: HttpRequest, host: HostHandle, db: Db, approve: bool) -> HttpResponse {
    if let Err(resp) = host.require_admin(&req).await {
        return resp;
    }
    let uuid = req.match_info().get("uuid").unwrap_or_default().to_string();
    let decided = match db
        .transaction(move |c| approvals::decide(c, &uuid, approve))
        .await
    {
        Ok(true) if approve => "approved",
        Ok(true) => "denied",
        Ok(false) => "gone",
        Err(e) => {
            tracing::error!(target: "authy_sandbox", error = %e, "sandbox approval decision");
            return HttpResponse::ServiceUnavailable().body("The sandbox is unavailable.");
        }
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{PAGE_PATH}?decided={decided}")))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::super::approvals::Approval;
    use super::super::outbox::OutboxMessage;

    fn message(id: i64, text: &str) -> OutboxMessage {
        OutboxMessage {
            id,
            sent_at: 1_795_921_200 + id,
            sent_at_iso: super::super::responses::iso8601(1_795_921_200 + id),
            channel: "sms".into(),
            country_code: 1,
            phone: "2015550123".into(),
            text: text.into(),
        }
    }

    #[test]
    fn outbox_template_renders_messages_and_decision_forms() {
        let tera = crate::host::templates::load(None, super::templates()).expect("templates parse");
        let approval = Approval {
            id: 1,
            uuid: "0f0f0f0f-0000-4000-8000-000000000001".into(),
            authy_id: 7,
            email: "shopper@example.com".into(),
            country_code: 1,
            phone: "2015550123".into(),
            message: "Log in to the store admin".into(),
            seconds_to_expire: 86_400,
            status: "pending".into(),
            created_at: 1_795_921_200,
            updated_at: 1_795_921_200,
            processed_at: None,
            created_at_iso: "2026-11-29T03:00:00Z".into(),
        };
        let mut ctx = tera::Context::new();
        ctx.insert(
            "messages",
            &vec![
                message(2, "Your verification code is 7654321"),
                message(1, "Your verification code is 1234567"),
            ],
        );
        ctx.insert("approvals", &vec![approval]);
        ctx.insert("refresh_seconds", &5);
        ctx.insert("limit", &super::PAGE_LIMIT);
        ctx.insert("notice", &Some("The push request was approved."));
        ctx.insert("csrf_token", "csrf-abc");
        ctx.insert("store_name", "Demo store");
        ctx.insert("skin", "admin");
        ctx.insert("flash", &None::<String>);
        ctx.insert("current_account", &None::<String>);
        let html = tera
            .render("authy_sandbox/outbox.html", &ctx)
            .expect("renders");
        let newer = html.find("7654321").expect("newest message shown");
        let older = html.find("1234567").expect("older message shown");
        assert!(newer < older, "newest first");
        assert!(html.contains(r#"action="/admin/two-factor/sandbox/approvals/0f0f0f0f-0000-4000-8000-000000000001/approve""#));
        assert!(html.contains(r#"action="/admin/two-factor/sandbox/approvals/0f0f0f0f-0000-4000-8000-000000000001/deny""#));
        assert_eq!(
            html.matches(r#"name="csrf_token" value="csrf-abc""#)
                .count(),
            2
        );
        assert!(html.contains("refreshes every 5 s"));
        // The reload moved to a static file (the CSP allows no inline
        // script); the page still asks for it, every 5 s.
        assert!(html.contains(
            r#"<script src="/static/auto_refresh.js" data-refresh-seconds="5" defer></script>"#
        ));
        assert!(!html.contains("<script>"), "no inline script");
        assert!(html.contains("The push request was approved."));
        assert!(html.contains("Sandbox outbox · Demo store"));
    }
}
