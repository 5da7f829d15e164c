//! The 2FA audit trail: every challenge, send, check, lock, settings and
//! phone change, with time, account, interface, IP and outcome. Never a
//! code, a key or a full phone number.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::{now, Db, DbConn, DbError};
use crate::plugin::{Account, Interface};
use crate::two_factor::schema::tfa_audit;

#[derive(Clone, Debug, Default)]
pub struct AuditEvent {
    pub account_id: Option<i64>,
    pub account_email: String,
    pub interface: String,
    pub ip: String,
    pub event: &'static str,
    pub outcome: &'static str,
    pub detail: String,
}

impl AuditEvent {
    pub fn new(event: &'static str, outcome: &'static str) -> AuditEvent {
        AuditEvent {
            event,
            outcome,
            ..AuditEvent::default()
        }
    }

    pub fn account(mut self, account: &Account) -> AuditEvent {
        self.account_id = Some(account.id);
        self.account_email = account.email.to_lowercase();
        self
    }

    pub fn interface(mut self, interface: Interface) -> AuditEvent {
        self.interface = interface.as_str().to_string();
        self
    }

    pub fn ip(mut self, ip: &str) -> AuditEvent {
        self.ip = ip.to_string();
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> AuditEvent {
        self.detail = detail.into();
        self
    }
}

pub fn insert(conn: &mut DbConn, ev: &AuditEvent) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        diesel::insert_into(tfa_audit::table)
            .values((
                tfa_audit::created_at.eq(now()),
                tfa_audit::account_id.eq(ev.account_id),
                tfa_audit::account_email.eq(&ev.account_email),
                tfa_audit::interface.eq(&ev.interface),
                tfa_audit::ip.eq(&ev.ip),
                tfa_audit::event.eq(ev.event),
                tfa_audit::outcome.eq(ev.outcome),
                tfa_audit::detail.eq(&ev.detail),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Records an event; a failure to record is logged, not shown to the user.
pub async fn record(db: &Db, ev: AuditEvent) {
    let event = ev.event;
    if let Err(e) = db.transaction(move |conn| insert(conn, &ev)).await {
        tracing::error!(event, error = %e, "two-factor audit record failed");
    }
}

#[derive(Clone, Debug, Serialize, Queryable)]
pub struct AuditRow {
    pub id: i64,
    pub created_at: i64,
    pub account_id: Option<i64>,
    pub account_email: String,
    pub interface: String,
    pub ip: String,
    pub event: String,
    pub outcome: String,
    pub detail: String,
}

pub const PAGE_SIZE: i64 = 50;

/// One page (1-based), newest first; `email` filters by a part of the
/// account email, case-insensitively. Returns the rows and whether a next page exists.
pub async fn page(db: &Db, email: &str, page: i64) -> Result<(Vec<AuditRow>, bool), DbError> {
    let filter = email.trim().to_lowercase();
    let offset = (page.max(1) - 1).saturating_mul(PAGE_SIZE);
    db.run(move |conn| {
        let mut query = tfa_audit::table.into_boxed();
        if !filter.is_empty() {
            query = query.filter(
                tfa_audit::account_email
                    .like(format!("%{}%", like_escaped(&filter)))
                    .escape('\\'),
            );
        }
        let mut rows = query
            .order(tfa_audit::id.desc())
            .limit(PAGE_SIZE + 1)
            .offset(offset)
            .select((
                tfa_audit::id,
                tfa_audit::created_at,
                tfa_audit::account_id,
                tfa_audit::account_email,
                tfa_audit::interface,
                tfa_audit::ip,
                tfa_audit::event,
                tfa_audit::outcome,
                tfa_audit::detail,
            ))
            .load::<AuditRow>(conn)?;
        let more = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        Ok((rows, more))
    })
    .await
}

/// How long audit events are kept unless the operator says otherwise
/// (`two_factor.audit_retention_days`): a year and a bit, so a yearly
/// review still sees last year's same month.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;
/// How often a running store sweeps (once at start, then this often).
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes events older than `days` days before `t`; `days == 0` keeps
/// everything. Returns how many went.
pub fn sweep(conn: &mut DbConn, t: i64, days: u32) -> Result<usize, DbError> {
    if days == 0 {
        return Ok(0);
    }
    let cutoff = t - i64::from(days) * 86_400;
    Ok(crate::on_backend!(conn, |conn| diesel::delete(
        tfa_audit::table.filter(tfa_audit::created_at.lt(cutoff))
    )
    .execute(conn))?)
}

/// The sweep of a running store: now, then every `SWEEP_EVERY`, for as
/// long as the worker that started it runs. A failed sweep is logged and
/// tried again next time; it never stops the store.
pub async fn sweep_forever(db: Db, days: u32) {
    if days == 0 {
        return;
    }
    loop {
        match db.transaction(move |conn| sweep(conn, now(), days)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                days,
                "two-factor audit events past retention deleted"
            ),
            Err(e) => tracing::warn!(error = %e, "two-factor audit retention sweep failed"),
        }
        actix_web::rt::time::sleep(SWEEP_EVERY).await;
    }
}

/// Every event matching `email` (as `page` filters), oldest first, for the
/// CSV export; read in batches so one query never holds the whole table.
pub async fn all_matching(db: &Db, email: &str) -> Result<Vec<AuditRow>, DbError> {
    const BATCH: i64 = 5_000;
    let filter = email.trim().to_lowercase();
    let mut out = Vec::new();
    let mut after = 0i64;
    loop {
        let filter = filter.clone();
        let batch: Vec<AuditRow> = db
            .run(move |conn| {
                let mut query = tfa_audit::table
                    .filter(tfa_audit::id.gt(after))
                    .into_boxed();
                if !filter.is_empty() {
                    query = query.filter(
                        tfa_audit::account_email
                            .like(format!("%{}%", like_escaped(&filter)))
                            .escape('\\'),
                    );
                }
                Ok(query
                    .order(tfa_audit::id.asc())
                    .limit(BATCH)
                    .select((
                        tfa_audit::id,
                        tfa_audit::created_at,
                        tfa_audit::account_id,
                        tfa_audit::account_email,
                        tfa_audit::interface,
                        tfa_audit::ip,
                        tfa_audit::event,
                        tfa_audit::outcome,
                        tfa_audit::detail,
                    ))
                    .load::<AuditRow>(conn)?)
            })
            .await?;
        let full = batch.len() as i64 == BATCH;
        if let Some(last) = batch.last() {
            after = last.id;
        }
        out.extend(batch);
        if !full {
            return Ok(out);
        }
    }
}

fn like_escaped(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
