//! Test harness: a fresh database per test (SQLite in a temp folder, or a new
//! PostgreSQL database when `TEST_DATABASE_URL` is set).

#![allow(dead_code)]

use diesel::Connection;

pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn fresh() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let name = format!(
                    "sf_test_{}",
                    storefront_2fa::crypto::random_token(9)
                        .to_lowercase()
                        .replace(['-', '_'], "x")
                );
                let mut admin =
                    diesel::PgConnection::establish(&base).expect("connect to TEST_DATABASE_URL");
                diesel::connection::SimpleConnection::batch_execute(
                    &mut admin,
                    &format!("CREATE DATABASE {name}"),
                )
                .expect("create test database");
                let url = match base.rfind('/') {
                    Some(i) if base[..i].contains("//") && i > base.find("//").unwrap() + 1 => {
                        format!("{}/{}", &base[..i], name)
                    }
                    _ => format!("{}/{}", base.trim_end_matches('/'), name),
                };
                TestDb {
                    url,
                    _dir: None,
                    pg: Some((base, name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
        }
    }

    pub fn dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.path())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = &self.pg {
            if let Ok(mut admin) = diesel::PgConnection::establish(base) {
                let _ = diesel::connection::SimpleConnection::batch_execute(
                    &mut admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
            }
        }
    }
}
