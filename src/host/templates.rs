//! Tera templates and the one place pages are rendered, so every page gets
//! the same skin variables.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::csrf::token_for;
use super::session::{self, cookie_of};
use super::HostState;

pub const STORE_NAME: &str = "Storefront";

/// Loads every template under `dir` plus addon-supplied ones.
pub fn load(dir: &std::path::Path, extra: Vec<(String, String)>) -> anyhow::Result<tera::Tera> {
    let glob = format!("{}/**/*.html", dir.display());
    let mut tera = tera::Tera::new(&glob)?;
    if !extra.is_empty() {
        tera.add_raw_templates(extra)?;
    }
    tera.autoescape_on(vec![".html"]);
    Ok(tera)
}

/// Account fields a page may show.
#[derive(Serialize)]
struct AccountView<'a> {
    id: i64,
    email: &'a str,
    name: &'a str,
    role: &'a str,
}

pub async fn render(
    state: &HostState,
    req: &HttpRequest,
    status: StatusCode,
    template: &str,
    mut ctx: tera::Context,
) -> HttpResponse {
    let session = session::current(state, req).await.unwrap_or_default();
    if let Some(account) = &session.account {
        ctx.insert(
            "current_account",
            &AccountView {
                id: account.id,
                email: &account.email,
                name: &account.name,
                role: &account.role,
            },
        );
    }
    ctx.insert("csrf_token", &token_for(state, &cookie_of(req).value));
    ctx.insert("store_name", STORE_NAME);
    html(state, status, template, &ctx)
}

/// Renders without session data (error pages).
pub fn html(
    state: &HostState,
    status: StatusCode,
    template: &str,
    ctx: &tera::Context,
) -> HttpResponse {
    match state.tera.render(template, ctx) {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(template, error = ?e, "template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("The page could not be shown.")
        }
    }
}
