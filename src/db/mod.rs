//! Database access: one connection enum over SQLite and PostgreSQL, an r2d2
//! pool, embedded migrations per backend, and `run`/`transaction`, which
//! send PostgreSQL queries to the blocking pool and run SQLite's in place
//! (see `Db::run`), with SQLite writers queued on one in-process turn.

pub mod counts;
pub mod liveness;
pub mod migrations;
pub mod schema;
pub mod scratch;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{CustomizeConnection, Pool};

use diesel::Connection as _;
use liveness::CheckedPool;

/// A connection to whichever backend `database.url` names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

impl DbConn {
    pub fn is_postgres(&self) -> bool {
        matches!(self, DbConn::Pg(_))
    }
}

pub use liveness::PooledConn;

/// Runs a diesel query on the concrete connection inside a `DbConn`: the
/// body is compiled once per backend. Through `DbConn` itself, diesel's
/// multi-backend wrapper renders the query's whole SQL text each time it
/// walks the query (for the statement cache's check and for the binds), on
/// every run; on the concrete connection a cached statement is only bound
/// and stepped. For the queries that run on every request.
///
/// `|c|` only names the concrete connection: the body is not a closure, so
/// `?` and `return` in it leave the enclosing function.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database task was cancelled")]
    Cancelled,
}

/// Handle to the pool. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: CheckedPool,
    backend: Backend,
    /// SQLite has one writer at a time. Write transactions of this process
    /// queue here, where the next one starts the moment the last commits,
    /// instead of in SQLite's busy handler, which sleeps 1 to 100 ms between
    /// tries. (Other processes on the same file still meet the busy timeout.)
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// What this pool ran (see `counts`), and whose work this handle does.
    counters: Arc<counts::Counters>,
    side: counts::Side,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Sets up each new pooled connection: SQLite's pragmas (below), and on
/// both backends the statement counter (`counts`), installed after the
/// pragmas so that setting up a connection is not counted.
///
/// SQLite connections want a busy timeout instead of immediate `database is
/// locked` errors, and foreign keys switched on (WAL is set once at connect).
/// They leave checkpoints to `spawn_checkpointer`: SQLite's automatic one
/// runs in whichever request's commit fills the log, fsync included, and
/// was the largest part of the code step's p99.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA wal_autocheckpoint = 0;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        match conn {
            DbConn::Sqlite(c) => c.set_instrumentation(counts::CountStatements::default()),
            DbConn::Pg(c) => c.set_instrumentation(counts::CountStatements::default()),
        }
        Ok(())
    }
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://...`), creating the
    /// SQLite file's folder when needed.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Db> {
        let (backend, conn_url) = if url.starts_with("postgres://")
            || url.starts_with("postgresql://")
        {
            (Backend::Postgres, url.to_string())
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            if let Some(parent) = std::path::Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)?;
                }
            }
            // WAL is a property of the file: set it once, before the pool
            // opens connections concurrently.
            {
                use diesel::Connection;
                let mut first = diesel::SqliteConnection::establish(path)?;
                first.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")?;
            }
            (Backend::Sqlite, path.to_string())
        };
        let conn_url_for_checkpoints = conn_url.clone();
        // r2d2 would run `SELECT 1` on every checkout: one round trip more
        // per database call. `CheckedPool` tests a PostgreSQL connection
        // only when there is reason to doubt it.
        let pool = CheckedPool::build(
            Pool::builder()
                .max_size(pool_size.max(1))
                .connection_timeout(Duration::from_secs(10))
                .connection_customizer(Box::new(SqlitePragmas)),
            conn_url,
        )?;
        let sqlite_writer = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        if let Some(writer) = &sqlite_writer {
            spawn_checkpointer(conn_url_for_checkpoints, Arc::downgrade(writer));
        }
        Ok(Db {
            pool,
            backend,
            sqlite_writer,
            counters: Arc::default(),
            side: counts::Side::Store,
        })
    }

    /// The same pool, for the mounted test gateway: its statements are
    /// counted apart from the store's (in production that work is Twilio's).
    pub fn for_gateway_sandbox(&self) -> Db {
        Db {
            side: counts::Side::GatewaySandbox,
            ..self.clone()
        }
    }

    /// The same pool, for periodic housekeeping (refreshing what is cached
    /// for a second: addon state and settings): counted apart, since how
    /// often it runs depends on the clock, not on the requests.
    pub fn for_housekeeping(&self) -> Db {
        Db {
            side: counts::Side::Housekeeping,
            ..self.clone()
        }
    }

    /// The same for housekeeping (see `counts::housekeeping`).
    pub fn counted_for_housekeeping(&self) -> counts::Counted {
        self.counters.housekeeping.read()
    }

    /// Statements and write transactions run so far through the store's
    /// handles of this pool (see `counts`).
    pub fn counted(&self) -> counts::Counted {
        self.counters.store.read()
    }

    /// The same for the mounted test gateway's handles.
    pub fn counted_for_gateway_sandbox(&self) -> counts::Counted {
        self.counters.gateway_sandbox.read()
    }

    fn counting(&self) -> counts::Counting {
        counts::Counting::start(&self.counters, self.side)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether a connection can be had within `wait` and answers: tells a
    /// database outage apart from other failures (the error pages answer
    /// 503 then).
    pub async fn reachable(&self, wait: Duration) -> bool {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || pool.reachable(wait))
            .await
            .unwrap_or(false)
    }

    /// Whether a connection was found lost (the server restarted, say)
    /// after `since`.
    pub fn lost_connection_since(&self, since: std::time::Instant) -> bool {
        self.pool.lost_since(since)
    }

    /// A pooled connection for blocking code (CLI, start-up, tests).
    pub fn get(&self) -> Result<PooledConn, DbError> {
        Ok(self.pool.checkout()?)
    }

    /// Runs database work. On PostgreSQL, on the blocking thread pool (a
    /// query waits for the network). On SQLite, right here: a query on a
    /// local file with the log's fsync moved to the checkpoint thread takes
    /// microseconds, less than handing it to another thread and back, which
    /// cost more CPU per sign-in than all its queries (about 40 calls).
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
    {
        if self.inline() {
            let _counting = self.counting();
            let mut conn = counts::checkout(|| self.pool.checkout())?;
            return f(&mut conn);
        }
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let _counting = db.counting();
            let mut conn = counts::checkout(|| db.pool.checkout())?;
            f(&mut conn)
        })
        .await
        .map_err(|_| DbError::Cancelled)?
    }

    fn inline(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    /// `run` inside a write transaction: all of `f` lands, or none of it.
    pub async fn transaction<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
    {
        if self.inline() {
            return self.transaction_blocking(f);
        }
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.transaction_blocking(f))
            .await
            .map_err(|_| DbError::Cancelled)?
    }

    /// `transaction` for a thread that may block (start-up, background
    /// threads): it waits for this process's SQLite write turn the same way.
    pub fn transaction_blocking<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        // The turn first, then a connection: a writer waiting for its turn
        // holds no connection that readers could use.
        let _turn = self
            .sqlite_writer
            .as_deref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner));
        let _counting = self.counting();
        let mut conn = counts::checkout(|| self.pool.checkout())?;
        write_transaction(&mut conn, f)
    }
}

/// Copies the write-ahead log into the database file a few times a second,
/// on its own thread and connection, so no request waits for it. PASSIVE
/// neither waits for nor blocks readers and writers. Ends when the last
/// handle of the pool (`alive`) is dropped.
fn spawn_checkpointer(path: String, alive: std::sync::Weak<Mutex<()>>) {
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            use diesel::Connection;
            let Ok(mut conn) = diesel::SqliteConnection::establish(&path) else {
                return;
            };
            let _ = conn.batch_execute("PRAGMA busy_timeout = 1000;");
            while alive.strong_count() > 0 {
                std::thread::sleep(Duration::from_millis(250));
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the SQLite checkpoint thread");
    }
}

/// A transaction that will write. On SQLite it starts with `BEGIN
/// IMMEDIATE`: a deferred transaction that reads and then writes fails at
/// once with `database is locked` when another writer got in between (the
/// busy timeout does not apply to that upgrade), so under concurrency every
/// write transaction must take the write lock up front.
pub fn write_transaction<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, DbError>,
) -> Result<T, DbError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    use diesel::Connection;
    fn sqlite(conn: &mut DbConn) -> &mut diesel::SqliteConnection {
        match conn {
            DbConn::Sqlite(c) => c,
            DbConn::Pg(_) => unreachable!("checked by the caller"),
        }
    }
    if conn.is_postgres() {
        return conn.transaction(f);
    }
    // Inside a transaction already (a helper that writes, called from a
    // `Db::transaction`): the write lock is held, so a savepoint will do.
    let depth =
        AnsiTransactionManager::transaction_manager_status_mut(sqlite(conn)).transaction_depth()?;
    if depth.is_some() {
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite(conn), "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => match AnsiTransactionManager::commit_transaction(sqlite(conn)) {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(sqlite(conn));
                Err(e.into())
            }
        },
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(sqlite(conn))?;
            Err(e)
        }
    }
}

/// Seconds since the Unix epoch: the one time format stored in both backends.
/// A sweep of rows nobody can use any more (expired or a day old), run
/// at most once a minute per process by the write that finds it due:
/// not a delete with every sign-in. Its statements count as housekeeping.
pub struct Sweep {
    last: std::sync::atomic::AtomicI64,
}

impl Default for Sweep {
    fn default() -> Sweep {
        Sweep::new()
    }
}

impl Sweep {
    pub const EVERY_SECS: i64 = 60;

    pub const fn new() -> Sweep {
        Sweep {
            last: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// True at most once a minute (of concurrent callers, one).
    pub fn due(&self, t: i64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let prev = self.last.load(Relaxed);
        t - prev >= Self::EVERY_SECS
            && self
                .last
                .compare_exchange(prev, t, Relaxed, Relaxed)
                .is_ok()
    }

    /// Runs `sweep` when due, counted as housekeeping.
    pub fn run_if_due<T>(
        &self,
        t: i64,
        sweep: impl FnOnce() -> Result<T, DbError>,
    ) -> Result<(), DbError> {
        if self.due(t) {
            counts::housekeeping(sweep)?;
        }
        Ok(())
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_is_due_at_most_once_a_minute() {
        let sweep = Sweep::new();
        assert!(sweep.due(1_000));
        assert!(!sweep.due(1_000));
        assert!(!sweep.due(1_000 + Sweep::EVERY_SECS - 1));
        assert!(sweep.due(1_000 + Sweep::EVERY_SECS));
        assert!(!sweep.due(1_000 + Sweep::EVERY_SECS));
    }

    #[tokio::test]
    async fn a_write_helper_called_inside_a_transaction_joins_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = Db::connect(&url, 2).unwrap();
        db.run(|c| Ok(c.batch_execute("CREATE TABLE t (v INTEGER)")?))
            .await
            .unwrap();
        let insert = |c: &mut DbConn, v: i32| -> Result<(), DbError> {
            write_transaction(c, |c| {
                Ok(c.batch_execute(&format!("INSERT INTO t VALUES ({v})"))?)
            })
        };
        db.transaction(move |c| {
            insert(c, 1)?;
            insert(c, 2)
        })
        .await
        .expect("nested write transactions become savepoints");
        // A failure after the nested write undoes it with the outer one.
        let failed = db
            .transaction(move |c| {
                insert(c, 3)?;
                Err::<(), _>(DbError::Cancelled)
            })
            .await;
        assert!(failed.is_err());
        let count = db
            .run(|c| {
                use diesel::prelude::*;
                #[derive(QueryableByName)]
                struct N {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                Ok(diesel::sql_query("SELECT count(*) AS n FROM t")
                    .get_result::<N>(c)?
                    .n)
            })
            .await
            .unwrap();
        assert_eq!(count, 2);
    }
}
