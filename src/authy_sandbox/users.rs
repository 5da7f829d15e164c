//! Sandbox users: one id per (country code, national number), kept in the
//! database so ids survive restarts; removal marks the row (registering the
//! same number again brings the same id back).

use diesel::prelude::*;

use super::is_unique_violation;
use super::phone::Phone;
use super::stats::{self, Counter};
use crate::authy_sandbox::schema::{sandbox_tokens, sandbox_users as u};
use crate::db::{now, DbConn, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct SandboxUser {
    pub id: i64,
    pub country_code: i32,
    pub cellphone: String,
    pub email: String,
}

/// Registers (or re-registers) a number; returns its stable id.
pub fn register(conn: &mut DbConn, phone: &Phone, email: &str) -> Result<i64, DbError> {
    let t = now();
    let row = || {
        u::table
            .filter(u::country_code.eq(phone.country_code))
            .filter(u::cellphone.eq(&phone.national))
    };
    for _ in 0..3 {
        let updated = diesel::update(row())
            .set((
                u::email.eq(email),
                u::updated_at.eq(t),
                u::removed_at.eq(None::<i64>),
            ))
            .execute(conn)?;
        if updated == 0 {
            // In a savepoint: a concurrent registration of the same number
            // makes this insert fail, and on PostgreSQL that would abort the
            // caller's whole transaction; rolled back to the savepoint, the
            // next round finds the other's row.
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(u::table)
                    .values((
                        u::country_code.eq(phone.country_code),
                        u::cellphone.eq(&phone.national),
                        u::email.eq(email),
                        u::created_at.eq(t),
                        u::updated_at.eq(t),
                    ))
                    .execute(conn)
            });
            match inserted {
                Ok(_) => stats::bump(conn, Counter::User)?,
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(row().select(u::id).first(conn)?);
    }
    Err(DbError::Query(diesel::result::Error::RollbackTransaction))
}

/// A registered, not removed user.
pub fn find(conn: &mut DbConn, id: i64) -> Result<Option<SandboxUser>, DbError> {
    crate::on_backend!(conn, |conn| {
        Ok(u::table
            .filter(u::id.eq(id))
            .filter(u::removed_at.is_null())
            .select((u::id, u::country_code, u::cellphone, u::email))
            .first(conn)
            .optional()?)
    })
}

/// Removes a user (and its pending token); false when there was none.
pub fn remove(conn: &mut DbConn, id: i64) -> Result<bool, DbError> {
    crate::on_backend!(conn, |conn| {
        let t = now();
        let removed = diesel::update(
            u::table
                .filter(u::id.eq(id))
                .filter(u::removed_at.is_null()),
        )
        .set((u::removed_at.eq(Some(t)), u::updated_at.eq(t)))
        .execute(conn)?;
        if removed > 0 {
            diesel::delete(sandbox_tokens::table.filter(sandbox_tokens::user_id.eq(id)))
                .execute(conn)?;
        }
        Ok(removed > 0)
    })
}

impl SandboxUser {
    /// The stored number as a [`Phone`] (for the outbox).
    pub fn phone(&self) -> Phone {
        super::phone::validate(self.country_code, &self.cellphone).unwrap_or_else(|| Phone {
            country_code: self.country_code,
            national: self.cellphone.clone(),
            international: format!("+{} {}", self.country_code, self.cellphone),
        })
    }
}
