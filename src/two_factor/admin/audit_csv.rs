//! The audit log as CSV for the store owner:
//! `GET /admin/two-factor/audit.csv` (admins only, the page's email filter).
//! Every cell is quoted, and a cell a spreadsheet would run as a formula
//! (starting with `=`, `+`, `-`, `@`, a tab or a carriage return: an email
//! or a detail can start with anything) gets a leading `'`, the OWASP
//! defence against CSV injection.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::plugin::HostHandle;
use crate::two_factor::admin::audit_labels;
use crate::two_factor::audit::{self, AuditRow};
use crate::two_factor::pages::PageError;

pub const PATH: &str = "/admin/two-factor/audit.csv";

pub fn configure(cfg: &mut web::ServiceConfig, host: HostHandle) {
    cfg.service(
        web::resource(PATH)
            .app_data(web::Data::new(host))
            .route(web::get().to(export)),
    );
}

#[derive(Deserialize)]
struct ExportQuery {
    #[serde(default)]
    email: String,
}

/// One CSV cell: quoted, quotes doubled, formula starters defused.
pub fn cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

pub const HEADER: [&str; 9] = [
    "Time (UTC)",
    "Account ID",
    "Account email",
    "Interface",
    "IP",
    "Event",
    "Event description",
    "Outcome",
    "Details",
];

/// The rows as a CSV document (RFC 4180: CRLF line ends).
pub fn to_csv(rows: &[AuditRow]) -> String {
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    line(&HEADER.map(cell), &mut out);
    for r in rows {
        let time = chrono::DateTime::from_timestamp(r.created_at, 0)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        line(
            &[
                cell(&time),
                cell(&r.account_id.map(|id| id.to_string()).unwrap_or_default()),
                cell(&r.account_email),
                cell(&r.interface),
                cell(&r.ip),
                cell(&r.event),
                cell(&audit_labels::event(&r.event, &r.outcome)),
                cell(&r.outcome),
                cell(&r.detail),
            ],
            &mut out,
        );
    }
    out
}

async fn export(
    host: web::Data<HostHandle>,
    req: HttpRequest,
    query: Option<web::Query<ExportQuery>>,
) -> Result<HttpResponse, PageError> {
    if let Err(resp) = host.require_admin(&req).await {
        return Ok(resp);
    }
    let email = query
        .map(|q| q.email.chars().take(200).collect::<String>())
        .unwrap_or_default();
    let rows = audit::all_matching(host.db(), &email).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"two-factor-audit.csv\"",
        ))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(to_csv(&rows)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formula_starters_are_defused_and_quotes_doubled() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "\"'+1\"");
        assert_eq!(cell("-2+3"), "\"'-2+3\"");
        assert_eq!(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(cell("\tx"), "\"'\tx\"");
        assert_eq!(cell("ann@example.com"), "\"ann@example.com\"");
        assert_eq!(cell(""), "\"\"");
    }

    #[test]
    fn a_row_becomes_one_line_of_nine_cells() {
        let row = AuditRow {
            id: 1,
            created_at: 1_764_547_200, // 2025-12-01T00:00:00Z
            account_id: Some(7),
            account_email: "=cmd@example.com".into(),
            interface: "customer".into(),
            ip: "127.0.0.1".into(),
            event: "code_checked".into(),
            outcome: "wrong".into(),
            detail: "a, \"quoted\"\nline".into(),
        };
        let csv = to_csv(&[row]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines.len(), 3, "header, row, empty after the last CRLF");
        assert!(lines[0].starts_with("\"Time (UTC)\",\"Account ID\""));
        assert!(lines[1]
            .starts_with("\"2025-12-01T00:00:00Z\",\"7\",\"'=cmd@example.com\",\"customer\""));
        assert!(lines[1].ends_with("\"a, \"\"quoted\"\"\nline\""));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a cell holds: quoted, its text recoverable, and never
        /// starting (inside the quote) with a formula character.
        #[test]
        fn any_cell_is_quoted_and_inert(s in any::<String>()) {
            let c = cell(&s);
            prop_assert!(c.starts_with('"') && c.ends_with('"') && c.len() >= 2);
            let inner = c[1..c.len() - 1].replace("\"\"", "\"");
            prop_assert!(!inner.starts_with(['=', '+', '-', '@', '\t', '\r']));
            let defused = format!("'{}", s);
            prop_assert!(inner == s || inner == defused);
        }
    }
}
