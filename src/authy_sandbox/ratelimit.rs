//! Per-user (or per-phone) request limits, counted in the database in
//! one-minute windows so that several instances share them.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::authy_sandbox::schema::sandbox_rate_limits as rl;
use crate::db::{now, DbConn, DbError};

/// Counts one request for `key`; false when it goes over `limit` requests
/// in the current minute. A limit of 0 means unlimited.
pub fn hit(conn: &mut DbConn, key: &str, limit: u32) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        if limit == 0 {
            return Ok(true);
        }
        let t = now();
        let window = t - t.rem_euclid(60);
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            hits: i64,
        }
        // One upsert: concurrent first hits of a window both land (an insert
        // that met a unique violation would abort a PostgreSQL transaction).
        let row: Row = diesel::sql_query(
            "INSERT INTO sandbox_rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key, window_start) DO UPDATE SET hits = sandbox_rate_limits.hits + 1 \
             RETURNING hits",
        )
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(window)
        .get_result(conn)?;
        if row.hits == 1 {
            // A new window: forget this key's old ones.
            diesel::delete(
                rl::table
                    .filter(rl::key.eq(key))
                    .filter(rl::window_start.lt(window)),
            )
            .execute(conn)?;
        }
        Ok(row.hits <= i64::from(limit))
    })
}

pub fn user_key(user_id: i64) -> String {
    format!("user:{user_id}")
}

pub fn phone_key(country_code: i32, national: &str) -> String {
    format!("phone:{country_code}:{national}")
}
