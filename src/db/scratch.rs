//! A throwaway PostgreSQL database: created under a random name on the
//! server a URL points at, dropped when the handle is dropped. Tests and the
//! load generator use one each, so they never write into a database that
//! anyone else uses (the `postgres` database of a shared server, say).

use diesel::connection::SimpleConnection;
use diesel::Connection;

pub struct ScratchDatabase {
    /// The URL it was made from (its server's maintenance database).
    base: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// A new empty database named `{prefix}_{random}` on the server of
    /// `base_url`; `prefix` is lower-case letters, digits and underscores.
    pub fn create(base_url: &str, prefix: &str) -> anyhow::Result<ScratchDatabase> {
        let name = format!(
            "{prefix}_{}",
            crate::crypto::random_token(9)
                .to_lowercase()
                .replace(['-', '_'], "x")
        );
        let mut admin = diesel::PgConnection::establish(base_url)?;
        admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(ScratchDatabase {
            url: with_database(base_url, &name),
            base: base_url.to_string(),
            name,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // FORCE ends the connections that pools still hold.
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.base) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `url` with its database name replaced by `name` (or given one), keeping
/// any `?parameters`.
fn with_database(url: &str, name: &str) -> String {
    let (rest, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let authority_start = rest.find("//").map_or(0, |i| i + 2);
    let server = match rest[authority_start..].find('/') {
        Some(i) => &rest[..authority_start + i],
        None => rest,
    };
    format!("{server}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_or_added() {
        for (url, want) in [
            ("postgres://u@h:5432/postgres", "postgres://u@h:5432/x"),
            ("postgres://u@h:5432/", "postgres://u@h:5432/x"),
            ("postgres://u@h:5432", "postgres://u@h:5432/x"),
            (
                "postgresql://h/db?sslmode=disable",
                "postgresql://h/x?sslmode=disable",
            ),
            (
                "postgres://h?sslmode=disable",
                "postgres://h/x?sslmode=disable",
            ),
        ] {
            assert_eq!(with_database(url, "x"), want, "{url}");
        }
    }
}
