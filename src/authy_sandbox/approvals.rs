//! OneTouch push approval requests: created by the API, approved or denied
//! by the store admin on the outbox page, expiring after
//! `seconds_to_expire` (0: never).

use diesel::prelude::*;
use serde::Serialize;

use super::responses::{iso8601, null, obj, J};
use super::users::SandboxUser;
use super::{outbox, random_uuid, APP_ID, APP_NAME};
use crate::authy_sandbox::schema::{sandbox_approvals as ap, sandbox_users};
use crate::db::{now, DbConn, DbError};

pub const DEFAULT_SECONDS_TO_EXPIRE: i64 = 86_400;

pub struct NewApproval<'a> {
    pub message: &'a str,
    /// JSON texts of `details`, `hidden_details` and `logos`.
    pub details: String,
    pub hidden_details: String,
    pub logos: String,
    pub seconds_to_expire: i64,
}

/// Stores a pending request, puts the push notification in the outbox;
/// returns the uuid.
pub fn create(
    conn: &mut DbConn,
    user: &SandboxUser,
    new: &NewApproval<'_>,
) -> Result<String, DbError> {
    let uuid = random_uuid();
    let t = now();
    diesel::insert_into(ap::table)
        .values((
            ap::uuid.eq(&uuid),
            ap::user_id.eq(user.id),
            ap::message.eq(new.message),
            ap::details.eq(&new.details),
            ap::hidden_details.eq(&new.hidden_details),
            ap::logos.eq(&new.logos),
            ap::seconds_to_expire.eq(new.seconds_to_expire),
            ap::status.eq("pending"),
            ap::created_at.eq(t),
            ap::updated_at.eq(t),
        ))
        .execute(conn)?;
    outbox::record(
        conn,
        "push",
        &user.phone(),
        &format!("Push approval request: {}", new.message),
    )?;
    Ok(uuid)
}

#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub id: i64,
    pub uuid: String,
    pub authy_id: i64,
    pub email: String,
    pub country_code: i32,
    pub phone: String,
    pub message: String,
    pub seconds_to_expire: i64,
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub processed_at: Option<i64>,
    pub created_at_iso: String,
}

type Row = (
    i64,
    String,
    i64,
    String,
    i32,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
);

fn expired(seconds_to_expire: i64, created_at: i64, at: i64) -> bool {
    seconds_to_expire > 0 && at >= created_at + seconds_to_expire
}

fn to_approval(r: Row) -> Approval {
    let (
        id,
        uuid,
        authy_id,
        email,
        country_code,
        phone,
        message,
        seconds_to_expire,
        status,
        created_at,
        updated_at,
        processed_at,
    ) = r;
    let status = if status == "pending" && expired(seconds_to_expire, created_at, now()) {
        "expired".to_string()
    } else {
        status
    };
    Approval {
        id,
        uuid,
        authy_id,
        email,
        country_code,
        phone,
        message,
        seconds_to_expire,
        status,
        created_at,
        updated_at,
        processed_at,
        created_at_iso: iso8601(created_at),
    }
}

macro_rules! approval_columns {
    () => {
        (
            ap::id,
            ap::uuid,
            ap::user_id,
            sandbox_users::email,
            sandbox_users::country_code,
            sandbox_users::cellphone,
            ap::message,
            ap::seconds_to_expire,
            ap::status,
            ap::created_at,
            ap::updated_at,
            ap::processed_at,
        )
    };
}

/// One request by uuid.
pub fn get(conn: &mut DbConn, uuid: &str) -> Result<Option<Approval>, DbError> {
    let row: Option<Row> = ap::table
        .inner_join(sandbox_users::table)
        .filter(ap::uuid.eq(uuid))
        .select(approval_columns!())
        .first(conn)
        .optional()?;
    Ok(row.map(to_approval))
}

/// Pending, unexpired requests, newest first (for the admin page).
pub fn pending(conn: &mut DbConn, limit: i64) -> Result<Vec<Approval>, DbError> {
    let rows: Vec<Row> = ap::table
        .inner_join(sandbox_users::table)
        .filter(ap::status.eq("pending"))
        .select(approval_columns!())
        .order(ap::id.desc())
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(to_approval)
        .filter(|a| a.status == "pending")
        .collect())
}

/// Approves (`true`) or denies a pending, unexpired request; false when
/// there is no such request any more.
pub fn decide(conn: &mut DbConn, uuid: &str, approve: bool) -> Result<bool, DbError> {
    let t = now();
    let Some(current) = get(conn, uuid)? else {
        return Ok(false);
    };
    if current.status != "pending" {
        return Ok(false);
    }
    let status = if approve { "approved" } else { "denied" };
    let changed = diesel::update(
        ap::table
            .filter(ap::uuid.eq(uuid))
            .filter(ap::status.eq("pending")),
    )
    .set((
        ap::status.eq(status),
        ap::updated_at.eq(t),
        ap::processed_at.eq(Some(t)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// A 24-hex-digit object id in the style of Authy's `_id` fields.
fn object_id(prefix: u8, n: i64) -> String {
    format!("{prefix:02x}{n:022x}")
}

/// The body of `GET /onetouch/json/approval_requests/{uuid}`.
pub fn status_body(a: &Approval) -> J {
    let processed_at = match a.processed_at {
        Some(t) => iso8601(t).into(),
        None => null(),
    };
    obj([
        (
            "approval_request",
            obj([
                ("_app_name", APP_NAME.into()),
                ("_app_serial_id", APP_ID.into()),
                ("_authy_id", a.authy_id.into()),
                ("_id", object_id(0xa0, a.id).into()),
                ("_user_email", a.email.clone().into()),
                ("app_id", object_id(0xa1, APP_ID).into()),
                ("created_at", iso8601(a.created_at).into()),
                ("notified", false.into()),
                ("processed_at", processed_at),
                ("seconds_to_expire", a.seconds_to_expire.into()),
                ("status", a.status.clone().into()),
                ("updated_at", iso8601(a.updated_at).into()),
                ("user_id", object_id(0xa2, a.authy_id).into()),
                ("uuid", a.uuid.clone().into()),
            ]),
        ),
        ("success", true.into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_rules() {
        assert!(!expired(0, 0, i64::MAX / 2));
        assert!(!expired(86_400, 1000, 1000 + 86_399));
        assert!(expired(86_400, 1000, 1000 + 86_400));
        assert_eq!(object_id(0xa0, 255).len(), 24);
    }
}
