//! Every message the sandbox would have sent: stored (newest first by id,
//! indexed by phone) and written to the server log. This is the test
//! sandbox: codes in its log and outbox are intended.

use diesel::prelude::*;
use serde::Serialize;

use super::phone::Phone;
use super::responses::{iso8601, obj, J};
use crate::authy_sandbox::schema::sandbox_outbox as ob;
use crate::db::{now, DbConn, DbError};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub sent_at: i64,
    /// `sent_at` as ISO 8601 UTC.
    pub sent_at_iso: String,
    pub channel: String,
    pub country_code: i32,
    pub phone: String,
    pub text: String,
}

impl OutboxMessage {
    /// The JSON entry of `GET /outbox`.
    pub fn to_json(&self) -> J {
        obj([
            ("sent_at", self.sent_at_iso.clone().into()),
            ("channel", self.channel.clone().into()),
            ("country_code", self.country_code.into()),
            ("phone", self.phone.clone().into()),
            ("text", self.text.clone().into()),
        ])
    }
}

/// Stores a message and logs it; returns its id.
pub fn record(conn: &mut DbConn, channel: &str, phone: &Phone, text: &str) -> Result<i64, DbError> {
    crate::on_backend!(conn, |conn| {
        let id: i64 = diesel::insert_into(ob::table)
            .values((
                ob::sent_at.eq(now()),
                ob::channel.eq(channel),
                ob::country_code.eq(phone.country_code),
                ob::phone.eq(&phone.national),
                ob::full_phone.eq(phone.full_digits()),
                ob::text.eq(text),
            ))
            .returning(ob::id)
            .get_result(conn)?;
        tracing::info!(
            target: "authy_sandbox",
            channel,
            to = %phone.international,
            text,
            "sandbox outbox message"
        );
        Ok(id)
    })
}

type Row = (i64, i64, String, i32, String, String);

fn to_message((id, sent_at, channel, country_code, phone, text): Row) -> OutboxMessage {
    OutboxMessage {
        id,
        sent_at,
        sent_at_iso: iso8601(sent_at),
        channel,
        country_code,
        phone,
        text,
    }
}

/// Messages newest first, at most `limit` (clamped to 1..=1000); with a
/// filter, those whose national digits or country code + national digits
/// equal the filter's digits. Each query walks one index backwards.
pub fn list(
    conn: &mut DbConn,
    phone_filter: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, DbError> {
    crate::on_backend!(conn, |conn| {
        let limit = limit.clamp(1, MAX_LIMIT);
        let columns = (
            ob::id,
            ob::sent_at,
            ob::channel,
            ob::country_code,
            ob::phone,
            ob::text,
        );
        let filter = phone_filter.map(str::trim).filter(|f| !f.is_empty());
        let rows: Vec<Row> = match filter {
            None => ob::table
                .select(columns)
                .order(ob::id.desc())
                .limit(limit)
                .load(conn)?,
            Some(f) => {
                let digits: String = f.chars().filter(char::is_ascii_digit).collect();
                if digits.is_empty() {
                    return Ok(Vec::new());
                }
                let mut rows: Vec<Row> = ob::table
                    .filter(ob::phone.eq(&digits))
                    .select(columns)
                    .order(ob::id.desc())
                    .limit(limit)
                    .load(conn)?;
                let full: Vec<Row> = ob::table
                    .filter(ob::full_phone.eq(&digits))
                    .select(columns)
                    .order(ob::id.desc())
                    .limit(limit)
                    .load(conn)?;
                rows.extend(full);
                rows.sort_by_key(|r| std::cmp::Reverse(r.0));
                rows.dedup_by_key(|r| r.0);
                rows.truncate(limit as usize);
                rows
            }
        };
        Ok(rows.into_iter().map(to_message).collect())
    })
}
