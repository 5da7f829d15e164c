//! The two-factor audit log for the store admin: `/admin/two-factor/audit`,
//! newest first, filtered by email, paged.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::plugin::HostHandle;
use crate::two_factor::admin::audit_labels;
use crate::two_factor::audit;
use crate::two_factor::pages::PageError;

pub fn configure(cfg: &mut web::ServiceConfig, host: HostHandle) {
    cfg.service(
        web::resource("/admin/two-factor/audit")
            .app_data(web::Data::new(host))
            .route(web::get().to(audit_page)),
    );
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Serialize)]
struct AuditView {
    rows: Vec<AuditLine>,
    email: String,
    page: i64,
    prev_page: Option<i64>,
    next_page: Option<i64>,
}

#[derive(Serialize)]
struct AuditLine {
    /// "2026-11-30 14:05 UTC", kept on one line.
    time: String,
    /// The exact time, for the `datetime` attribute and the tooltip.
    iso_time: String,
    exact_time: String,
    account: String,
    interface: String,
    ip: String,
    /// The stored name (`code_sent`), for scripts reading the page.
    event: String,
    event_label: String,
    outcome: String,
    detail: String,
}

async fn audit_page(
    host: web::Data<HostHandle>,
    req: HttpRequest,
    query: Option<web::Query<AuditQuery>>,
) -> Result<HttpResponse, PageError> {
    if let Err(resp) = host.require_admin(&req).await {
        return Ok(resp);
    }
    let (email, page) = match query {
        Some(q) => (
            q.email.chars().take(200).collect::<String>(),
            q.page.unwrap_or(1).clamp(1, 1_000_000),
        ),
        None => (String::new(), 1),
    };
    let (rows, more) = audit::page(host.db(), &email, page).await?;
    let view = AuditView {
        rows: rows
            .into_iter()
            .map(|r| AuditLine {
                time: format_at(r.created_at, "%Y-%m-%d %H:%M UTC"),
                iso_time: format_at(r.created_at, "%Y-%m-%dT%H:%M:%SZ"),
                exact_time: format_at(r.created_at, "%Y-%m-%d %H:%M:%S UTC"),
                account: match (r.account_email.is_empty(), r.account_id) {
                    (false, _) => r.account_email,
                    (true, Some(id)) => format!("account #{id}"),
                    (true, None) => "—".to_string(),
                },
                interface: r.interface,
                ip: r.ip,
                event_label: audit_labels::event(&r.event, &r.outcome),
                outcome: audit_labels::outcome(&r.outcome),
                event: r.event,
                detail: r.detail,
            })
            .collect(),
        email,
        page,
        prev_page: (page > 1).then(|| page - 1),
        next_page: more.then(|| page + 1),
    };
    match tera::Context::from_serialize(&view) {
        Ok(ctx) => Ok(host
            .render(&req, StatusCode::OK, "two_factor/audit.html", ctx)
            .await),
        Err(e) => Err(PageError::internal(&e)),
    }
}

fn format_at(t: i64, format: &str) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format(format).to_string())
        .unwrap_or_default()
}
