//! Embedded migrations. Each owner (the host, every addon, the sandbox)
//! ships its own set: one folder per backend, the same names in both. The
//! host's run first, then each installed addon's in run order
//! (`startup::run_migrations`). Versions are dated names unique across all
//! sets, recorded in one table, so a database made when every migration
//! lived in one folder upgrades in place: what it applied is not run again.

use diesel::backend::Backend;
use diesel::migration::{Migration, MigrationSource};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConn;

/// One owner's migrations for both backends.
pub struct MigrationSet {
    /// Who owns the tables (for messages).
    pub owner: &'static str,
    pub sqlite: EmbeddedMigrations,
    pub postgres: EmbeddedMigrations,
}

/// The host's tables: accounts, sessions, pending logins, catalog, orders,
/// addons and their settings.
pub const HOST: MigrationSet = MigrationSet {
    owner: "host",
    sqlite: embed_migrations!("migrations/sqlite"),
    postgres: embed_migrations!("migrations/postgres"),
};

/// Applies every pending migration of `set`; returns how many ran.
pub fn run_set(conn: &mut DbConn, set: &MigrationSet) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(Borrowed(&set.sqlite)),
        DbConn::Pg(c) => c.run_pending_migrations(Borrowed(&set.postgres)),
    }
    .map_err(|e| anyhow::anyhow!("{} migration failed: {e}", set.owner))?;
    Ok(applied.len())
}

/// diesel takes a migration source by value, and `EmbeddedMigrations` is
/// neither `Copy` nor `Clone`: this lends a set's folder out.
struct Borrowed<'a>(&'a EmbeddedMigrations);

impl<DB: Backend> MigrationSource<DB> for Borrowed<'_> {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        <EmbeddedMigrations as MigrationSource<DB>>::migrations(self.0)
    }
}

/// Applies the host's pending migrations; returns how many ran.
pub fn run(conn: &mut DbConn) -> anyhow::Result<usize> {
    run_set(conn, &HOST)
}
