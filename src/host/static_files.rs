//! `/static/{file}`: the CSS and the little JS the pages need, built into
//! the binary. `server.static_dir` may hold the store's own versions: a file
//! there is served in place of the built-in one of the same name.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{web, HttpResponse};

static STATIC: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/static");

#[derive(Debug, thiserror::Error)]
pub enum StaticError {
    #[error("server.static_dir {0} does not exist or holds no files (expected e.g. style.css)")]
    OverrideEmpty(std::path::PathBuf),
}

/// Where the files come from: the built-in ones, and the override folder.
#[derive(Clone)]
pub struct StaticFiles {
    overrides: Option<std::path::PathBuf>,
}

impl StaticFiles {
    /// Checks the override folder now, so a wrong path stops the start
    /// instead of making every page unstyled later.
    pub fn new(overrides: Option<std::path::PathBuf>) -> Result<StaticFiles, StaticError> {
        if let Some(dir) = &overrides {
            let has_files = std::fs::read_dir(dir)
                .map(|mut entries| entries.any(|e| e.is_ok_and(|e| e.path().is_file())))
                .unwrap_or(false);
            if !has_files {
                return Err(StaticError::OverrideEmpty(dir.clone()));
            }
        }
        Ok(StaticFiles { overrides })
    }

    fn find(&self, name: &str) -> Option<Vec<u8>> {
        if let Some(dir) = &self.overrides {
            if let Ok(bytes) = std::fs::read(dir.join(name)) {
                return Some(bytes);
            }
        }
        STATIC.get_file(name).map(|f| f.contents().to_vec())
    }
}

/// A plain file name: letters, digits, dots, dashes and underscores, not
/// starting with a dot (so no `..`, no folders, no hidden files).
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

pub async fn serve(files: web::Data<StaticFiles>, name: web::Path<String>) -> HttpResponse {
    let name = name.into_inner();
    match plain_name(&name).then(|| files.find(&name)).flatten() {
        Some(bytes) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, content_type(&name)))
            .insert_header((CACHE_CONTROL, "public, max-age=3600"))
            .body(bytes),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_served() {
        for ok in ["style.css", "forms.js", "recovery_codes.js"] {
            assert!(plain_name(ok), "{ok}");
        }
        for bad in [
            "",
            "../Cargo.toml",
            ".env",
            "a/b.css",
            "a\\b",
            "%2e%2e",
            "x y",
        ] {
            assert!(!plain_name(bad), "{bad}");
        }
        assert!(StaticFiles::new(None).unwrap().find("style.css").is_some());
    }
}
