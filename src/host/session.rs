//! Server-side sessions. The cookie holds only a random id; the database
//! holds the state (signed-in account, pending login) under the id's
//! SHA-256. CSRF tokens are an HMAC of the cookie value, so anonymous
//! visitors get working forms without a database row.

use std::rc::Rc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpMessage, HttpRequest};
use diesel::prelude::*;

use super::accounts::AccountRow;
use super::basket;
use super::pending::PendingRow;
use super::HostState;
use crate::crypto::{random_token, sha256_hex};
use crate::db::schema::{accounts, pending_logins, sessions};
use crate::db::{now, DbConn, DbError};

pub const COOKIE_NAME: &str = "sf_session";
/// Session ids are 32 random bytes, base64url: 43 characters.
const ID_BYTES: usize = 32;
/// `last_seen_at` is written at most this often, not on every request.
const TOUCH_EVERY_SECS: i64 = 60;

/// The session cookie value of this request: the one the browser sent, or
/// a new one the middleware will set on the response.
#[derive(Clone, Debug)]
pub struct SessionCookie {
    pub value: String,
    pub issued_now: bool,
}

impl SessionCookie {
    pub fn from_request(req: &HttpRequest) -> Option<String> {
        req.cookie(COOKIE_NAME)
            .map(|c| c.value().to_string())
            .filter(|v| looks_like_id(v))
    }

    pub fn new_id() -> String {
        random_token(ID_BYTES)
    }

    pub fn id_hash(&self) -> String {
        sha256_hex(&self.value)
    }
}

pub fn looks_like_id(v: &str) -> bool {
    v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub account_id: Option<i64>,
    pub pending_login_id: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// What this request's session holds, loaded once per request, in one
/// query: the session, its signed-in account, and its pending login with
/// that login's account.
#[derive(Clone, Debug, Default)]
pub struct CurrentSession {
    pub id_hash: String,
    pub row: Option<SessionRow>,
    pub account: Option<AccountRow>,
    /// The unexpired pending login the session holds, with its account,
    /// while the account's credential generation is still the one the
    /// sign-in started under (see `HostState::pending_with_account`).
    pub pending: Option<(PendingRow, AccountRow)>,
}

impl CurrentSession {
    pub fn pending_login_id(&self) -> Option<&str> {
        self.row
            .as_ref()
            .and_then(|r| r.pending_login_id.as_deref())
    }
}

pub fn cookie_of(req: &HttpRequest) -> SessionCookie {
    req.extensions()
        .get::<SessionCookie>()
        .cloned()
        .unwrap_or_else(|| SessionCookie {
            value: SessionCookie::from_request(req).unwrap_or_default(),
            issued_now: false,
        })
}

/// The session of `req`, from the database, cached in the request. Expired
/// sessions (idle or absolute timeout) are deleted and read as empty.
pub async fn current(state: &HostState, req: &HttpRequest) -> Result<Rc<CurrentSession>, DbError> {
    if let Some(cached) = req.extensions().get::<Rc<CurrentSession>>() {
        return Ok(cached.clone());
    }
    let cookie = cookie_of(req);
    let id_hash = cookie.id_hash();
    let loaded = if cookie.value.is_empty() || cookie.issued_now {
        CurrentSession {
            id_hash,
            ..Default::default()
        }
    } else {
        let idle = state.settings.session.idle_timeout_minutes * 60;
        let absolute = state.settings.session.absolute_timeout_minutes * 60;
        let hash = id_hash.clone();
        state
            .db
            .run(move |conn| load(conn, hash, idle, absolute))
            .await?
    };
    let loaded = Rc::new(loaded);
    req.extensions_mut().insert(loaded.clone());
    Ok(loaded)
}

diesel::alias!(accounts as pending_accounts: PendingAccounts);

/// A session row with its account, and its live pending login with that
/// login's account, as one query reads them.
type Loaded = (
    SessionRow,
    Option<AccountRow>,
    Option<PendingRow>,
    Option<AccountRow>,
);

fn load(
    conn: &mut DbConn,
    id_hash: String,
    idle: i64,
    absolute: i64,
) -> Result<CurrentSession, DbError> {
    let t = now();
    // One round trip for what every page of a session needs: these were
    // three or four queries (session, account; pending login, account).
    let loaded: Option<Loaded> = crate::on_backend!(conn, |c| sessions::table
        .left_join(accounts::table.on(sessions::account_id.eq(accounts::id.nullable())))
        .left_join(
            pending_logins::table.on(sessions::pending_login_id
                .eq(pending_logins::id.nullable())
                .and(pending_logins::expires_at.gt(t))),
        )
        .left_join(
            pending_accounts
                .on(pending_logins::account_id.eq(pending_accounts.field(accounts::id))),
        )
        .filter(sessions::id_hash.eq(&id_hash))
        .select((
            sessions::all_columns,
            accounts::all_columns.nullable(),
            pending_logins::all_columns.nullable(),
            pending_accounts.fields(accounts::all_columns).nullable(),
        ))
        .first(c)
        .optional())?;
    let Some((row, account, pending, pending_account)) = loaded else {
        return Ok(CurrentSession {
            id_hash,
            ..Default::default()
        });
    };
    if t - row.last_seen_at > idle || t - row.created_at > absolute {
        delete_session(conn, &id_hash)?;
        return Ok(CurrentSession {
            id_hash,
            ..Default::default()
        });
    }
    if t - row.last_seen_at >= TOUCH_EVERY_SECS {
        crate::on_backend!(conn, |c| diesel::update(sessions::table.find(&id_hash))
            .set(sessions::last_seen_at.eq(t))
            .execute(c))?;
    }
    let pending = pending
        .zip(pending_account)
        .filter(|(p, a)| a.credential_generation == p.credential_generation);
    Ok(CurrentSession {
        id_hash,
        row: Some(row),
        account,
        pending,
    })
}

/// Deletes a session row and any pending login it holds.
pub fn delete_session(conn: &mut DbConn, id_hash: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        let pending: Option<Option<String>> = diesel::delete(sessions::table.find(id_hash))
            .returning(sessions::pending_login_id)
            .get_result(conn)
            .optional()?;
        if let Some(Some(pending_id)) = pending {
            diesel::delete(pending_logins::table.find(pending_id)).execute(conn)?;
        }
        Ok(())
    })
}

/// Records `pending_id` in this request's session (creating the row), in
/// one upsert. A pending login the session held before (a second password
/// step in the same browser) is no longer reachable: no session names it,
/// and the sweep removes it once it has expired (`pending::insert`). It
/// was deleted here at the cost of a read before every write.
pub fn attach_pending(conn: &mut DbConn, id_hash: &str, pending_id: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        use diesel::sql_types::{BigInt, Text};
        diesel::sql_query(
            "INSERT INTO sessions (id_hash, account_id, pending_login_id, created_at, last_seen_at) \
             VALUES ($1, NULL, $2, $3, $3) ON CONFLICT (id_hash) DO UPDATE \
             SET pending_login_id = excluded.pending_login_id, last_seen_at = excluded.last_seen_at",
        )
        .bind::<Text, _>(id_hash)
        .bind::<Text, _>(pending_id)
        .bind::<BigInt, _>(now())
        .execute(conn)?;
        Ok(())
    })
}

/// Signs `account_id` in under a brand-new session id: the old session row
/// (and its pending login, unless the caller took it already: `taken`) is
/// replaced, the anonymous cart joins the account's cart. Returns the new
/// cookie value.
pub fn start_signed_in(
    conn: &mut DbConn,
    old_hash: &str,
    account_id: i64,
    taken: Option<&str>,
) -> Result<String, DbError> {
    let new_id = SessionCookie::new_id();
    let new_hash = sha256_hex(&new_id);
    let t = now();
    let anonymous = basket::anonymous_owner(old_hash);
    // After a second factor, the session holds the pending login just
    // taken: it moves to the new id in one statement, which also says
    // whether an anonymous cart waits (most sign-ins have none, and then
    // the cart is not read). Otherwise the old row goes and a new one comes.
    let rotated = match taken {
        Some(taken) => rotate(conn, old_hash, &new_hash, account_id, taken, &anonymous, t)?,
        None => None,
    };
    let has_cart = match rotated {
        Some(has_cart) => has_cart,
        None => {
            crate::on_backend!(conn, |c| {
                let pending: Option<Option<String>> =
                    diesel::delete(sessions::table.find(old_hash))
                        .returning(sessions::pending_login_id)
                        .get_result(c)
                        .optional()?;
                if let Some(Some(pending_id)) = pending.filter(|p| p.as_deref() != taken) {
                    diesel::delete(pending_logins::table.find(pending_id)).execute(c)?;
                }
            });
            crate::on_backend!(conn, |c| diesel::insert_into(sessions::table)
                .values((
                    sessions::id_hash.eq(&new_hash),
                    sessions::account_id.eq(Some(account_id)),
                    sessions::pending_login_id.eq(None::<String>),
                    sessions::created_at.eq(t),
                    sessions::last_seen_at.eq(t),
                ))
                .execute(c))?;
            true
        }
    };
    if has_cart {
        basket::merge(conn, &anonymous, &basket::account_owner(account_id))?;
    }
    Ok(new_id)
}

/// Moves the session `old_hash`, holding the pending login `taken`, to
/// `new_hash`, signed in; Some(whether `anonymous` has cart items), or None
/// when no such session row was there.
fn rotate(
    conn: &mut DbConn,
    old_hash: &str,
    new_hash: &str,
    account_id: i64,
    taken: &str,
    anonymous: &str,
    t: i64,
) -> Result<Option<bool>, DbError> {
    use diesel::sql_types::{BigInt, Bool, Text};
    #[derive(QueryableByName)]
    struct Rotated {
        #[diesel(sql_type = Bool)]
        has_cart: bool,
    }
    Ok(crate::on_backend!(conn, |c| diesel::sql_query(
        "UPDATE sessions SET id_hash = $1, account_id = $2, pending_login_id = NULL, \
         created_at = $3, last_seen_at = $3 WHERE id_hash = $4 AND pending_login_id = $5 \
         RETURNING EXISTS (SELECT 1 FROM cart_items WHERE owner = $6) AS has_cart",
    )
    .bind::<Text, _>(new_hash)
    .bind::<BigInt, _>(account_id)
    .bind::<BigInt, _>(t)
    .bind::<Text, _>(old_hash)
    .bind::<Text, _>(taken)
    .bind::<Text, _>(anonymous)
    .get_result::<Rotated>(c)
    .optional())?
    .map(|r| r.has_cart))
}

/// Ends every session of an account except `keep_hash` (after a password change).
pub fn end_other_sessions(
    conn: &mut DbConn,
    account_id: i64,
    keep_hash: &str,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::id_hash.ne(keep_hash)),
    )
    .execute(conn)?)
}

/// The `Set-Cookie` for a session id.
pub fn build_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE_NAME, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

/// A cookie that makes the browser forget the session.
pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let mut c = build_cookie(String::new(), secure);
    c.make_removal();
    c
}
