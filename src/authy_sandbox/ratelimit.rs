//! Per-user (or per-phone) request limits, counted in the database in
//! one-minute windows so that several instances share them.

use diesel::prelude::*;

use super::is_unique_violation;
use crate::db::schema::sandbox_rate_limits as rl;
use crate::db::{now, DbConn, DbError};

/// Counts one request for `key`; false when it goes over `limit` requests
/// in the current minute. A limit of 0 means unlimited.
pub fn hit(conn: &mut DbConn, key: &str, limit: u32) -> Result<bool, DbError> {
    if limit == 0 {
        return Ok(true);
    }
    let window = now() - now().rem_euclid(60);
    let row = || {
        rl::table
            .filter(rl::key.eq(key))
            .filter(rl::window_start.eq(window))
    };
    for _ in 0..3 {
        let updated = diesel::update(row())
            .set(rl::hits.eq(rl::hits + 1))
            .execute(conn)?;
        if updated == 0 {
            let inserted = diesel::insert_into(rl::table)
                .values((
                    rl::key.eq(key),
                    rl::window_start.eq(window),
                    rl::hits.eq(1i64),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => {
                    // A new window: forget this key's old ones.
                    diesel::delete(
                        rl::table
                            .filter(rl::key.eq(key))
                            .filter(rl::window_start.lt(window)),
                    )
                    .execute(conn)?;
                }
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let hits: i64 = row().select(rl::hits).first(conn)?;
        return Ok(hits <= i64::from(limit));
    }
    Ok(false)
}

pub fn user_key(user_id: i64) -> String {
    format!("user:{user_id}")
}

pub fn phone_key(country_code: i32, national: &str) -> String {
    format!("phone:{country_code}:{national}")
}
