//! Tera templates and the one place pages are rendered, so every page gets
//! the same skin variables.

use actix_web::http::StatusCode;
use std::rc::Rc;

use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use super::csrf::token_for;
use super::pending::PendingRow;
use super::session::{self, cookie_of};
use super::HostState;

pub const STORE_NAME: &str = "Storefront";

/// The host's own templates (`skins/`, `host/`), built into the binary so
/// it runs from any folder. Addons bring theirs through `Addon::templates`.
static HOST_TEMPLATES: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The folders of `templates/` that belong to the host.
const HOST_FOLDERS: [&str; 2] = ["skins", "host"];

/// The host's embedded templates as (name, source), e.g. `skins/base.html`.
pub fn embedded() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for folder in HOST_FOLDERS {
        if let Some(dir) = HOST_TEMPLATES.get_dir(folder) {
            out.extend(crate::plugin::embedded_templates(dir, ""));
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("server.templates_dir {0} does not exist or is not a folder")]
    OverrideMissing(std::path::PathBuf),
    #[error(
        "server.templates_dir {0} holds no .html templates (expected e.g. skins/customer.html)"
    )]
    OverrideEmpty(std::path::PathBuf),
    #[error("could not read the template {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("a template does not parse: {0:?}")]
    Parse(#[from] tera::Error),
}

/// The host's embedded templates, then the addons' (`extra`), then the
/// store's own skin from `overrides` (a folder laid out like `templates/`:
/// a file there replaces the template of the same name). A missing or empty
/// override folder, or a template that does not parse, stops the start.
pub fn load(
    overrides: Option<&std::path::Path>,
    extra: Vec<(String, String)>,
) -> Result<tera::Tera, TemplateError> {
    let mut all = embedded();
    all.extend(extra);
    if let Some(dir) = overrides {
        let custom = read_folder(dir)?;
        if custom.is_empty() {
            return Err(TemplateError::OverrideEmpty(dir.to_path_buf()));
        }
        all.extend(custom);
    }
    // Later entries replace earlier ones of the same name.
    let mut by_name = std::collections::BTreeMap::new();
    for (name, text) in all {
        by_name.insert(name, text);
    }
    let mut tera = tera::Tera::default();
    tera.add_raw_templates(by_name)?;
    tera.autoescape_on(vec![".html"]);
    Ok(tera)
}

fn read_folder(root: &std::path::Path) -> Result<Vec<(String, String)>, TemplateError> {
    if !root.is_dir() {
        return Err(TemplateError::OverrideMissing(root.to_path_buf()));
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| TemplateError::Read {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| TemplateError::Read {
                    path: dir.clone(),
                    source,
                })?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| TemplateError::Read {
                        path: path.clone(),
                        source,
                    })?;
                let name = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((name, text));
            }
        }
    }
    Ok(out)
}

/// The live pending login of this request, read once per request for
/// what the page shows around its content (the header, the checkout
/// progress). Display only: access decisions read the row afresh.
#[derive(Clone)]
struct PagePending(Option<Rc<PendingRow>>);

pub async fn pending_for_page(state: &HostState, req: &HttpRequest) -> Option<Rc<PendingRow>> {
    if let Some(cached) = req.extensions().get::<PagePending>() {
        return cached.0.clone();
    }
    let found = state
        .pending_with_account(req)
        .await
        .map(|(row, _)| Rc::new(row));
    req.extensions_mut().insert(PagePending(found.clone()));
    found
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
    if session
        .account
        .as_ref()
        .is_some_and(|a| a.role == crate::plugin::Role::Admin.as_str())
    {
        // Enabled addons' own admin pages, in the admin navigation.
        let links: Vec<_> = match state.registry.enabled(&state.db).await {
            Ok(enabled) => enabled
                .iter()
                .flat_map(|a| a.manifest.addon.admin_links.iter().cloned())
                .collect(),
            Err(_) => Vec::new(),
        };
        ctx.insert("addon_links", &links);
    }
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
    // Between the password and the second factor nobody is signed in, yet
    // the skin must not offer "Log in" or "Register" to someone signing in.
    if session.account.is_none() && pending_for_page(state, req).await.is_some() {
        ctx.insert("signing_in", &true);
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
