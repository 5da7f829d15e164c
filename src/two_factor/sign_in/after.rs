//! Pages between a completed sign-in and where it was going: "you used a
//! recovery code" and "save your recovery codes" (the end of SMS set-up).
//! The host's completion response (a redirect that sets the new session
//! cookie) is sent on with its Location changed to the page in between; its
//! target waits in a one-time note for that page's Continue or Done. POST,
//! redirect, GET: the page shows the new session, and a reload never sends
//! the code again.

use actix_web::http::header::{HeaderValue, CACHE_CONTROL, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::db::{DbConn, DbError};
use crate::plugin::{Account, HostHandle, Interface};
use crate::two_factor::pages::{interface_of, see_other, skin, DoneForm, PageError};

use crate::two_factor::recovery::codes as recovery;
use crate::two_factor::security;
use crate::two_factor::state::{self, NotePage};

/// Where the completed sign-in was going.
pub fn target_of(done: &HttpResponse) -> String {
    done.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/")
        .to_string()
}

/// Where the end of SMS set-up shows the new recovery codes.
pub fn first_codes_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => "/admin/two-factor/recovery-codes",
        Interface::Customer => "/two-factor/recovery-codes",
    }
}

/// Where a sign-in completed with a recovery code says how many are left.
pub fn recovery_used_path(interface: Interface) -> &'static str {
    match interface {
        Interface::Admin => "/admin/two-factor/recovery-used",
        Interface::Customer => "/two-factor/recovery-used",
    }
}

/// The pages in between read where the sign-in was going from a note kept
/// in the database (any instance can serve the page), once, within this
/// many seconds.
const NOTE_TTL_SECS: i64 = 600;
const FIRST_CODES: NotePage = NotePage::FirstCodes;
const RECOVERY_USED: NotePage = NotePage::RecoveryUsed;

fn leave_note(
    conn: &mut DbConn,
    page: NotePage,
    account_id: i64,
    target: &str,
) -> Result<(), DbError> {
    state::leave_note(conn, account_id, page, target)
}

/// The target noted for `page`, removed as it is read; None when there is
/// none or it is too old.
fn take_note(
    conn: &mut DbConn,
    page: NotePage,
    account_id: i64,
) -> Result<Option<String>, DbError> {
    let Some((target, at)) = state::note(conn, account_id, page)? else {
        return Ok(None);
    };
    state::delete_note(conn, account_id, page)?;
    Ok((at >= crate::db::now() - NOTE_TTL_SECS).then_some(target))
}

/// Sends a sign-in completed with a recovery code to the page that says how
/// many are left, keeping its target for that page's Continue. When the
/// note cannot be kept, the sign-in goes straight on.
pub async fn to_recovery_used(
    host: &HostHandle,
    account: &Account,
    interface: Interface,
    mut done: HttpResponse,
) -> HttpResponse {
    let id = account.id;
    let target = target_of(&done);
    match host
        .db()
        .transaction(move |conn| leave_note(conn, RECOVERY_USED, id, &target))
        .await
    {
        Ok(()) => {
            done.headers_mut().insert(
                LOCATION,
                HeaderValue::from_static(recovery_used_path(interface)),
            );
        }
        Err(e) => tracing::error!(error = %e, "could not note the recovery-code sign-in"),
    }
    done
}

/// For the recovery-used page: the sign-in's target and the codes left, once.
pub async fn take_recovery_used(
    host: &HostHandle,
    account: &Account,
) -> Result<Option<(String, i64)>, DbError> {
    let id = account.id;
    host.db()
        .transaction(move |conn| {
            let Some(target) = take_note(conn, RECOVERY_USED, id)? else {
                return Ok(None);
            };
            Ok(Some((target, recovery::remaining(conn, id)?)))
        })
        .await
}

/// The end of SMS set-up: the first sign-in completed with a texted code,
/// for an account that has no recovery codes yet, makes ten and sends the
/// browser to them (POST, redirect, GET: the page shows the new session,
/// and reloading it never re-sends the code form). `done` is the host's
/// completion response; it is returned as it is when the account already
/// has codes (from an app set-up or an earlier sign-in), and when making
/// them failed (the sign-in stands; the Security page can make codes).
/// The flag says whether codes were made.
pub async fn to_first_codes_or(
    host: &HostHandle,
    account: &Account,
    interface: Interface,
    mut done: HttpResponse,
) -> (HttpResponse, bool) {
    match make_first_codes(host, account.id, target_of(&done)).await {
        Ok(true) => {
            done.headers_mut().insert(
                LOCATION,
                HeaderValue::from_static(first_codes_path(interface)),
            );
            (done, true)
        }
        Ok(false) => (done, false),
        Err(e) => {
            tracing::error!(error = %e, "could not make the first recovery codes");
            (done, false)
        }
    }
}

/// Whether a texted code for this account confirms its phone rather than
/// signing in as usual: its number is not confirmed yet (entered at
/// registration or by an admin), or SMS set-up is not finished (no recovery
/// codes yet, the rule `to_first_codes_or` ends it by). The code page then
/// says "Confirm your phone number". `has_codes`: the account has
/// recovery codes (read with the phone, `store::phone_and_codes`).
pub fn confirms_phone_with(
    stored: &crate::two_factor::store::StoredPhone,
    has_codes: bool,
) -> bool {
    !stored.confirmed || !has_codes
}

/// `confirms_phone_with`, reading the codes when the phone is confirmed.
pub async fn confirms_phone(
    host: &HostHandle,
    stored: &crate::two_factor::store::StoredPhone,
) -> Result<bool, DbError> {
    if !stored.confirmed {
        return Ok(true);
    }
    let account_id = stored.account_id;
    host.db()
        .run(move |conn| Ok(!recovery::any(conn, account_id)?))
        .await
}

async fn make_first_codes(host: &HostHandle, id: i64, target: String) -> Result<bool, DbError> {
    // Most sign-ins: codes exist; find out with a read, not a write lock.
    if host.db().run(move |conn| recovery::any(conn, id)).await? {
        return Ok(false);
    }
    let key = host.secret_key().clone();
    host.db()
        .transaction(move |conn| {
            if recovery::summary(conn, id)?.total > 0 {
                return Ok(false);
            }
            recovery::regenerate(conn, &key, id)?;
            leave_note(conn, FIRST_CODES, id, &target)?;
            Ok(true)
        })
        .await
}

struct State {
    host: HostHandle,
}

pub fn configure(cfg: &mut web::ServiceConfig, host: HostHandle) {
    let data = web::Data::new(State { host });
    for interface in [Interface::Customer, Interface::Admin] {
        cfg.service(
            web::resource(first_codes_path(interface))
                .app_data(data.clone())
                .app_data(skin(interface))
                .route(web::get().to(first_codes_page))
                .route(web::post().to(first_codes_show)),
        );
    }
}

/// Whether a fresh note for `page` is waiting (read, not taken).
fn has_note(conn: &mut DbConn, page: NotePage, account_id: i64) -> Result<bool, DbError> {
    Ok(state::note(conn, account_id, page)?
        .is_some_and(|(_, at)| at >= crate::db::now() - NOTE_TTL_SECS))
}

/// The end of SMS set-up, on a GET: says the codes are ready behind a
/// button. A GET never shows nor uses up the one showing, since any site
/// can make the browser send one; the button's POST (with the CSRF token)
/// does (`first_codes_show`).
async fn first_codes_page(
    st: web::Data<State>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let interface = interface_of(&req);
    let account = st.host.require_account(&req, interface).await?;
    let id = account.id;
    if !st
        .host
        .db()
        .run(move |conn| has_note(conn, FIRST_CODES, id))
        .await?
    {
        return Ok(see_other(security::base_of(account.role.interface())));
    }
    let mut ctx = tera::Context::new();
    ctx.insert("codes", &Vec::<String>::new());
    ctx.insert("show_path", first_codes_path(interface));
    ctx.insert("security_path", security::base_of(account.role.interface()));
    let template = format!("two_factor/recovery_codes_{}.html", interface.as_str());
    let mut page = st.host.render(&req, StatusCode::OK, &template, ctx).await;
    page.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(page)
}

/// The new recovery codes, once, right after SMS set-up; afterwards only
/// "View recovery codes" (with the password) shows them.
async fn first_codes_show(
    st: web::Data<State>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let interface = interface_of(&req);
    let account = st.host.require_account(&req, interface).await?;
    let key = st.host.secret_key().clone();
    let id = account.id;
    let taken = st
        .host
        .db()
        .transaction(move |conn| {
            let Some(target) = take_note(conn, FIRST_CODES, id)? else {
                return Ok(None);
            };
            let codes = recovery::reveal(conn, &key, id)?.unwrap_or_default();
            Ok(Some((target, codes)))
        })
        .await;
    let (target, codes) = match taken? {
        Some(t) => t,
        None => return Ok(see_other(security::base_of(account.role.interface()))),
    };
    let codes: Vec<String> = codes.into_iter().map(|c| c.code).collect();
    let mut ctx = tera::Context::new();
    ctx.insert("codes_text", &recovery::as_text(&codes));
    ctx.insert("codes", &codes);
    ctx.insert("done", &DoneForm::to(&target));
    ctx.insert("security_path", security::base_of(account.role.interface()));
    let template = format!("two_factor/recovery_codes_{}.html", interface.as_str());
    let mut page = st.host.render(&req, StatusCode::OK, &template, ctx).await;
    page.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(page)
}
