//! Monthly counters (API calls, successful authentications, SMS, calls, new
//! users) kept in the database, and the `app/stats` report.

use chrono::Datelike;
use diesel::prelude::*;

use super::responses::{obj, J};
use super::{is_unique_violation, APP_ID};
use crate::db::schema::{sandbox_stats as st, sandbox_users};
use crate::db::{DbConn, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    ApiCall,
    Auth,
    Sms,
    Call,
    User,
}

fn this_month() -> (i32, i32) {
    let now = chrono::Utc::now();
    (now.year(), now.month() as i32)
}

fn increment(conn: &mut DbConn, year: i32, month: i32, counter: Counter) -> QueryResult<usize> {
    let row = st::table
        .filter(st::year.eq(year))
        .filter(st::month.eq(month));
    let update = diesel::update(row);
    match counter {
        Counter::ApiCall => update
            .set(st::api_calls.eq(st::api_calls + 1))
            .execute(conn),
        Counter::Auth => update.set(st::auths.eq(st::auths + 1)).execute(conn),
        Counter::Sms => update.set(st::sms.eq(st::sms + 1)).execute(conn),
        Counter::Call => update.set(st::calls.eq(st::calls + 1)).execute(conn),
        Counter::User => update.set(st::users.eq(st::users + 1)).execute(conn),
    }
}

/// Adds one to a counter of the current month.
pub fn bump(conn: &mut DbConn, counter: Counter) -> Result<(), DbError> {
    let (year, month) = this_month();
    for _ in 0..3 {
        if increment(conn, year, month, counter)? > 0 {
            return Ok(());
        }
        let one = |c: Counter| i64::from(c == counter);
        let inserted = diesel::insert_into(st::table)
            .values((
                st::year.eq(year),
                st::month.eq(month),
                st::api_calls.eq(one(Counter::ApiCall)),
                st::auths.eq(one(Counter::Auth)),
                st::sms.eq(one(Counter::Sms)),
                st::calls.eq(one(Counter::Call)),
                st::users.eq(one(Counter::User)),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => return Ok(()),
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The `app/stats` body: the last twelve months with activity, newest first,
/// each entry with exactly the seven reference keys.
pub fn report(conn: &mut DbConn) -> Result<J, DbError> {
    type Row = (i32, i32, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = st::table
        .select((
            st::year,
            st::month,
            st::api_calls,
            st::auths,
            st::sms,
            st::calls,
            st::users,
        ))
        .order((st::year.desc(), st::month.desc()))
        .limit(12)
        .load(conn)?;
    let total_users: i64 = sandbox_users::table
        .filter(sandbox_users::removed_at.is_null())
        .count()
        .get_result(conn)?;
    let stats: Vec<J> = rows
        .iter()
        .map(|&(year, month, api_calls, auths, sms, calls, users)| {
            let name = MONTHS[((month - 1).clamp(0, 11)) as usize];
            obj([
                ("api_calls_count", api_calls.into()),
                ("auths_count", auths.into()),
                ("calls_count", calls.into()),
                ("month", name.into()),
                ("sms_count", sms.into()),
                ("users_count", users.into()),
                ("year", year.into()),
            ])
        })
        .collect();
    Ok(obj([
        ("app_id", APP_ID.into()),
        ("count", (stats.len() as i64).into()),
        ("message", "Monthly statistics.".into()),
        ("stats", J::Arr(stats)),
        ("total_users", total_users.into()),
        ("success", true.into()),
    ]))
}
