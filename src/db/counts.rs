//! Counts the SQL statements and write transactions the server runs, with
//! diesel's connection instrumentation. Round trips, not CPU, decide how a
//! sign-in does on PostgreSQL and on many cores, and the counts are
//! deterministic, so they are the first figures the benchmark prints and a
//! test bounds them (`tests/it/sign_in_counts.rs`).
//!
//! Every pooled connection reports its events to `CountStatements`, which
//! adds them to the tally of the `Db` handle whose `run` or `transaction`
//! is running on this thread (set by `Counting`). So a handle's tally holds
//! exactly the work done through it: the store's own, or the mounted test
//! gateway's (`Db::for_gateway_sandbox`), which in production is Twilio's
//! and not the store's. Work on a raw connection (`Db::get`: start-up,
//! the command line, test set-up) is not counted. Unused, it costs an
//! atomic add per statement.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// Statements and write transactions run through one side's handles.
#[derive(Debug, Default)]
pub struct Tally {
    statements: AtomicU64,
    transaction_statements: AtomicU64,
    connection_checks: AtomicU64,
    write_transactions: AtomicU64,
}

impl Tally {
    pub fn read(&self) -> Counted {
        Counted {
            statements: self.statements.load(Ordering::Relaxed),
            transaction_statements: self.transaction_statements.load(Ordering::Relaxed),
            connection_checks: self.connection_checks.load(Ordering::Relaxed),
            write_transactions: self.write_transactions.load(Ordering::Relaxed),
        }
    }
}

/// The tallies of one pool: the store's (host and addons), its periodic
/// housekeeping (refreshing what is cached for a second, the addon state
/// and settings; sweeping day-old rows once a minute: how often these run
/// depends on the clock, not on the traffic, so they are no one request's),
/// and the mounted test gateway's.
#[derive(Debug, Default)]
pub struct Counters {
    pub store: Tally,
    pub housekeeping: Tally,
    pub gateway_sandbox: Tally,
}

/// Whose work a `Db` handle does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Store,
    Housekeeping,
    GatewaySandbox,
}

impl Counters {
    fn tally(&self, side: Side) -> &Tally {
        match side {
            Side::Store => &self.store,
            Side::Housekeeping => &self.housekeeping,
            Side::GatewaySandbox => &self.gateway_sandbox,
        }
    }
}

/// A reading of a tally. `statements` are the statements that do the
/// work: every query, insert, update and delete (the same on both
/// backends). The statements that open and close transactions (`BEGIN`,
/// `COMMIT`, `ROLLBACK`, savepoints) are `transaction_statements`: each
/// write transaction costs two. `connection_checks` are the `SELECT 1`
/// that tests a PostgreSQL connection on checkout when there is reason to
/// doubt it (`liveness`: none in steady traffic; none ever on SQLite). A write
/// transaction is a top-level one (a savepoint inside it is not another).
/// Every statement is a round trip to PostgreSQL (`round_trips`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    pub statements: u64,
    pub transaction_statements: u64,
    pub connection_checks: u64,
    pub write_transactions: u64,
}

impl Counted {
    pub fn round_trips(&self) -> u64 {
        self.statements + self.transaction_statements + self.connection_checks
    }
}

impl std::ops::Add for Counted {
    type Output = Counted;
    fn add(self, more: Counted) -> Counted {
        Counted {
            statements: self.statements + more.statements,
            transaction_statements: self.transaction_statements + more.transaction_statements,
            connection_checks: self.connection_checks + more.connection_checks,
            write_transactions: self.write_transactions + more.write_transactions,
        }
    }
}

impl std::ops::Sub for Counted {
    type Output = Counted;
    fn sub(self, before: Counted) -> Counted {
        Counted {
            statements: self.statements - before.statements,
            transaction_statements: self.transaction_statements - before.transaction_statements,
            connection_checks: self.connection_checks - before.connection_checks,
            write_transactions: self.write_transactions - before.write_transactions,
        }
    }
}

impl std::fmt::Display for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} statements, {} write transactions ({} round trips with BEGIN/COMMIT and connection checks)",
            self.statements,
            self.write_transactions,
            self.round_trips()
        )
    }
}

thread_local! {
    /// The tally that statements on this thread go to, while a `Db` call runs.
    static ACTIVE: RefCell<Option<(Arc<Counters>, Side)>> = const { RefCell::new(None) };
    /// A connection is being checked out of the pool on this thread.
    static CHECKING_OUT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `get` (a checkout from the pool): a statement it runs is the
/// pool's connection check.
pub fn checkout<T>(get: impl FnOnce() -> T) -> T {
    CHECKING_OUT.with(|c| c.set(true));
    let got = get();
    CHECKING_OUT.with(|c| c.set(false));
    got
}

/// While alive, statements on this thread count for `side` of `counters`
/// (the previous owner, if any, is restored on drop).
pub struct Counting {
    previous: Option<(Arc<Counters>, Side)>,
}

impl Counting {
    pub fn start(counters: &Arc<Counters>, side: Side) -> Counting {
        let previous = ACTIVE.with(|a| a.borrow_mut().replace((counters.clone(), side)));
        Counting { previous }
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ACTIVE.with(|a| *a.borrow_mut() = previous);
    }
}

/// Runs `f` (periodic housekeeping inside a request's work, such as the
/// minute's sweep) with its statements counted as housekeeping.
pub fn housekeeping<T>(f: impl FnOnce() -> T) -> T {
    let previous = ACTIVE.with(|a| {
        let mut active = a.borrow_mut();
        let previous = active.as_ref().map(|(c, side)| (c.clone(), *side));
        if let Some((_, side)) = active.as_mut() {
            *side = Side::Housekeeping;
        }
        previous
    });
    let result = f();
    ACTIVE.with(|a| *a.borrow_mut() = previous);
    result
}

fn add(field: impl Fn(&Tally) -> &AtomicU64) {
    ACTIVE.with(|a| {
        if let Some((counters, side)) = a.borrow().as_ref() {
            field(counters.tally(*side)).fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// Installed on every pooled connection (see `Db::connect`).
#[derive(Default)]
pub struct CountStatements {
    /// diesel announces a transaction's begin, commit or rollback just
    /// before it sends that statement.
    next_is_transaction_control: bool,
}

impl Instrumentation for CountStatements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                if std::mem::take(&mut self.next_is_transaction_control) {
                    add(|t| &t.transaction_statements)
                } else if CHECKING_OUT.with(Cell::get) {
                    add(|t| &t.connection_checks)
                } else {
                    add(|t| &t.statements)
                }
            }
            InstrumentationEvent::BeginTransaction { depth, .. } => {
                self.next_is_transaction_control = true;
                if depth.get() == 1 {
                    add(|t| &t.write_transactions)
                }
            }
            InstrumentationEvent::CommitTransaction { .. }
            | InstrumentationEvent::RollbackTransaction { .. } => {
                self.next_is_transaction_control = true;
            }
            // Every failed query passes here, so this is where a lost
            // connection is noticed (see `liveness`).
            InstrumentationEvent::FinishQuery {
                error: Some(error), ..
            } => super::liveness::note_failed_query(error),
            _ => {}
        }
    }
}
