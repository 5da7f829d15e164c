//! What a POST on the code pages said, carried to the page its redirect
//! leads to. Every POST there answers with a redirect (POST, redirect,
//! GET), so a reload never sends a code or submits one again; the message
//! waits in the database (any instance may serve the GET), keyed by the
//! browser's session, and is shown once. Nothing from the URL is shown.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;

use actix_web::HttpRequest;

use crate::db::{now, DbError};
use crate::plugin::HostHandle;
use crate::two_factor::schema::tfa_flashes;

/// A flash older than this is not shown (a sign-in lasts 10 minutes).
const TTL_SECS: i64 = 600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Something went as asked ("We sent a new code…").
    Notice,
    /// Something was refused; the text says what to do.
    Error,
    /// The gateway could not be reached: shown as an error, and the page
    /// that shows it answers 503, as the request that met the outage would
    /// have (the first code, sent by the password step before its redirect).
    Unavailable,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Notice => "notice",
            Kind::Error => "error",
            Kind::Unavailable => "unavailable",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Flash {
    pub kind: Kind,
    pub text: String,
}

impl Flash {
    pub fn notice(text: impl Into<String>) -> Flash {
        Flash {
            kind: Kind::Notice,
            text: text.into(),
        }
    }

    pub fn error(text: impl Into<String>) -> Flash {
        Flash {
            kind: Kind::Error,
            text: text.into(),
        }
    }

    pub fn unavailable(text: impl Into<String>) -> Flash {
        Flash {
            kind: Kind::Unavailable,
            text: text.into(),
        }
    }

    /// Puts the text where a page shows its kind: the notice or the error.
    pub fn show(self, notice: &mut Option<String>, error: &mut Option<String>) {
        match self.kind {
            Kind::Notice => *notice = Some(self.text),
            Kind::Error | Kind::Unavailable => *error = Some(self.text),
        }
    }
}

/// Keeps `flash` for this browser's next page. Without a session (no
/// cookie yet) there is no next page to show it on, so nothing is kept.
pub async fn leave(host: &HostHandle, req: &HttpRequest, flash: Flash) -> Result<(), DbError> {
    let Some(key) = host.session_key(req) else {
        return Ok(());
    };
    host.db()
        .transaction(move |conn| {
            crate::on_backend!(conn, |conn| {
                diesel::sql_query(
                    "INSERT INTO tfa_flashes (session_key, kind, text, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (session_key) DO UPDATE \
                     SET kind = $2, text = $3, created_at = $4",
                )
                .bind::<Text, _>(&key)
                .bind::<Text, _>(flash.kind.as_str())
                .bind::<Text, _>(&flash.text)
                .bind::<BigInt, _>(now())
                .execute(conn)?;
                // Flashes of sessions that never came back to read them.
                diesel::delete(
                    tfa_flashes::table.filter(tfa_flashes::created_at.lt(now() - TTL_SECS)),
                )
                .execute(conn)?;
                Ok(())
            })
        })
        .await
}

/// This browser's flash, removed as it is read; None when there is none
/// or it is too old.
pub async fn take(host: &HostHandle, req: &HttpRequest) -> Result<Option<Flash>, DbError> {
    let Some(key) = host.session_key(req) else {
        return Ok(None);
    };
    // Most page views have none: find out with a read, not a write lock.
    let probe = key.clone();
    let exists = host
        .db()
        .run(move |conn| {
            Ok(crate::on_backend!(conn, |c| diesel::select(
                diesel::dsl::exists(tfa_flashes::table.find(&probe))
            )
            .get_result::<bool>(c))?)
        })
        .await?;
    if !exists {
        return Ok(None);
    }
    let row = host
        .db()
        .transaction(move |conn| {
            let row: Option<(String, String, i64)> =
                crate::on_backend!(conn, |c| tfa_flashes::table
                    .find(&key)
                    .select((
                        tfa_flashes::kind,
                        tfa_flashes::text,
                        tfa_flashes::created_at
                    ))
                    .first(c)
                    .optional())?;
            crate::on_backend!(conn, |c| diesel::delete(tfa_flashes::table.find(&key))
                .execute(c))?;
            Ok(row)
        })
        .await?;
    Ok(row
        .filter(|(_, _, at)| *at >= now() - TTL_SECS)
        .map(|(kind, text, _)| Flash {
            kind: match kind.as_str() {
                "notice" => Kind::Notice,
                "unavailable" => Kind::Unavailable,
                _ => Kind::Error,
            },
            text,
        }))
}
