//! Whether a pooled PostgreSQL connection still reaches its server, known
//! without a `SELECT 1` before every use.
//!
//! r2d2 can test each connection as it leaves the pool. On PostgreSQL that
//! was one round trip in four of a sign-in (10 of 40), for a connection that
//! had answered a query milliseconds before. Instead, a connection is tested
//! only when there is a reason to doubt it:
//! - it has not been used for `TRUSTED_IDLE` (or not at all): a server
//!   restart or a dropped line in a quiet hour is then caught before any
//!   request meets it;
//! - or a connection of the same pool was found lost since it was last
//!   used: once one request has met a restarted server, every connection
//!   older than that is tested before use, so the others fail no request.
//!
//! A connection that is found lost, by the test or by a request's query,
//! is dropped when it goes back to the pool (`Manager::has_broken`, which
//! also notes the loss for the pool), and the pool opens a new one. What this gives up: when the server drops
//! its connections in the middle of steady traffic, the first request to
//! meet one gets the "cannot reach the database" page (as every request in
//! flight at that moment does anyway) instead of none.
//!
//! SQLite connections are never tested: a file cannot drop the line.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use diesel::r2d2::{
    Builder, ConnectionManager, ManageConnection, Pool, PoolError, PooledConnection, R2D2Connection,
};
use diesel::result::{DatabaseErrorKind, Error};

use super::DbConn;

/// How long a connection may sit unused and still be trusted without a
/// test. Under traffic every connection is used many times a second, so
/// none is tested; a store that is quiet for a second tests its next one.
pub const TRUSTED_IDLE: Duration = Duration::from_secs(1);

pub type PooledConn = PooledConnection<Manager>;

/// An r2d2 pool of `DbConn` whose checkouts follow the rules above.
/// Cheap to clone.
#[derive(Clone)]
pub struct CheckedPool {
    pool: Pool<Manager>,
    losses: Arc<Losses>,
}

/// When a connection of one pool was last found lost.
#[derive(Debug, Default)]
struct Losses {
    /// Nanoseconds after `epoch()`; 0 for never.
    last: AtomicU64,
}

impl Losses {
    fn note(&self, at: Instant) {
        self.last
            .fetch_max(nanos_since_epoch(at), Ordering::Relaxed);
    }

    /// Whether one was found lost at or after `at`.
    fn since(&self, at: Instant) -> bool {
        self.last.load(Ordering::Relaxed) >= nanos_since_epoch(at)
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// The pool's connection manager: diesel's, except that a connection found
/// lost on this thread is reported broken when it goes back to the pool,
/// and the loss noted for the pool.
#[derive(Debug)]
pub struct Manager {
    diesel: ConnectionManager<DbConn>,
    losses: Arc<Losses>,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.diesel.connect()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        self.diesel.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        // Called as the connection goes back, on the thread that used it
        // (the pooled connection's drop), so this thread's flag is its own.
        if LOST_HERE.with(|l| l.replace(false)) {
            self.losses.note(Instant::now());
            return true;
        }
        self.diesel.has_broken(conn)
    }
}

thread_local! {
    /// A query on this thread found its connection lost since the last
    /// checkout here.
    static LOST_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Told of every failed query (by the statement counter, which sees them
/// all): an error that says the line to the server is gone marks this
/// thread's connection lost.
pub fn note_failed_query(error: &Error) {
    if matches!(
        error,
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        )
    ) {
        LOST_HERE.with(|l| l.set(true));
    }
}

/// When this connection was last handed out by `checkout`.
#[derive(Clone, Copy)]
struct LastCheckout(Instant);

impl CheckedPool {
    /// The pool `builder` describes, of connections to `url`. r2d2's own
    /// test on checkout is off: `checkout` decides.
    pub fn build(builder: Builder<Manager>, url: String) -> Result<CheckedPool, PoolError> {
        let losses = Arc::new(Losses::default());
        let manager = Manager {
            diesel: ConnectionManager::new(url),
            losses: losses.clone(),
        };
        let pool = builder.test_on_check_out(false).build(manager)?;
        Ok(CheckedPool { pool, losses })
    }

    /// A connection there is no reason to doubt: tested first when the
    /// rules at the top of this file say so; a lost one is dropped and the
    /// next tried (a new one at worst, which `Pool::get` opens).
    pub fn checkout(&self) -> Result<PooledConn, PoolError> {
        LOST_HERE.with(|l| l.set(false));
        // Each lost connection tried is dropped, so the pool's size bounds
        // how many can be met; after that a new connection is trusted as
        // opened.
        for _ in 0..self.pool.max_size() {
            let mut conn = self.pool.get()?;
            if !conn.is_postgres() {
                return Ok(conn);
            }
            let now = Instant::now();
            let doubted = match PooledConnection::extensions(&conn).get::<LastCheckout>() {
                None => true,
                Some(LastCheckout(at)) => {
                    now.duration_since(*at) > TRUSTED_IDLE || self.losses.since(*at)
                }
            };
            if doubted && !answers(&mut conn) {
                drop(conn);
                continue;
            }
            stamp(&mut conn, now);
            return Ok(conn);
        }
        let mut conn = self.pool.get()?;
        stamp(&mut conn, Instant::now());
        Ok(conn)
    }

    /// Whether a connection can be had within `wait` and answers: always
    /// tested, since this is asked when a request has failed. A lost one
    /// is dropped and the next tried, so connections left from before a
    /// restart do not make a server that is back look unreachable.
    pub fn reachable(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        for _ in 0..=self.pool.max_size() {
            LOST_HERE.with(|l| l.set(false));
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(mut conn) = self.pool.get_timeout(left) else {
                return false;
            };
            if answers(&mut conn) {
                return true;
            }
            drop(conn);
        }
        false
    }

    /// Whether a connection of this pool was found lost at or after
    /// `since`: a request that failed then failed for want of its database.
    pub fn lost_since(&self, since: Instant) -> bool {
        self.losses.since(since)
    }
}

/// Notes that `conn` is handed out at `now`: in place when it has been
/// before, so a checkout allocates nothing. SQLite connections carry no
/// stamp (they are never tested).
fn stamp(conn: &mut PooledConn, now: Instant) {
    if !conn.is_postgres() {
        return;
    }
    let extensions = PooledConnection::extensions_mut(conn);
    match extensions.get_mut::<LastCheckout>() {
        Some(last) => last.0 = now,
        None => {
            extensions.insert(LastCheckout(now));
        }
    }
}

/// Tests `conn` with `SELECT 1` (on PostgreSQL). One that does not answer
/// is marked lost, so it is discarded as it is dropped (and the pool's
/// older connections become suspect).
fn answers(conn: &mut PooledConn) -> bool {
    if !conn.is_postgres() || R2D2Connection::ping(&mut **conn).is_ok() {
        return true;
    }
    LOST_HERE.with(|l| l.set(true));
    false
}
