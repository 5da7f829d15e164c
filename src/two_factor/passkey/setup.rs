//! The Security page's passkey forms: add a passkey or security key (a
//! name and the password, then the browser's prompt), rename one, and
//! remove one (the password and a code of another factor). Adding the
//! first factor ends on new recovery codes, as the app set-up does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, Scope};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};

use crate::plugin::Account;
use crate::two_factor::admin::status::format_time;
use crate::two_factor::audit;
use crate::two_factor::factors;
use crate::two_factor::pages::{Form, PageError};
use crate::two_factor::security::recovery_codes::{codes_view, new_codes};
use crate::two_factor::security::{
    account, event, page, require_password, security_page_actor, with_error, with_notice, Data,
    PasswordAndCodeForm, State, View, WRONG_PASSWORD,
};
use crate::two_factor::sign_in::verify::{self, Checked};
use crate::two_factor::sms::service::gateway_message;

use super::ceremony::{self, Binding};
use super::keys::{self, Added, KeyName, Use};

/// The passkey routes of a Security page scope.
pub fn routes(scope: Scope) -> Scope {
    scope
        .route("/passkeys/start", web::post().to(start))
        .route("/passkeys/finish", web::post().to(finish))
        .route("/passkeys/{id}", web::get().to(manage))
        .route("/passkeys/{id}/rename", web::post().to(rename))
        .route("/passkeys/{id}/remove", web::post().to(remove))
        .route(
            "/passkeys/{id}/remove-with-key",
            web::post().to(remove_with_key),
        )
}

/// A key as the page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct KeyView {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: String,
}

impl From<keys::KeyLine> for KeyView {
    fn from(k: keys::KeyLine) -> KeyView {
        KeyView {
            id: k.id,
            name: k.name,
            added: format_time(k.created_at),
            last_used: k
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
        }
    }
}

pub(crate) async fn key_views(st: &State, account_id: i64) -> Result<Vec<KeyView>, PageError> {
    Ok(st
        .host
        .db()
        .run(move |conn| keys::list(conn, account_id))
        .await?
        .into_iter()
        .map(KeyView::from)
        .collect())
}

/// What the registration ceremony keeps server-side: webauthn-rs's state,
/// and the name the user gave (so the answer cannot rename it).
#[derive(Serialize, Deserialize)]
struct Registration {
    name: String,
    state: PasskeyRegistration,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StartForm {
    name: String,
    password: String,
}

/// The browser's answer: the `PublicKeyCredential` as JSON (static/passkey.js).
#[derive(Deserialize, Default)]
#[serde(default)]
struct CredentialForm {
    credential: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameForm {
    name: String,
}

fn session_key(st: &State, req: &HttpRequest) -> Result<String, PageError> {
    st.host
        .session_key(req)
        .ok_or_else(|| PageError::internal(&"the Security page has no session key"))
}

const START_AGAIN: &str = "That request to add a key has ended (it lasts 5 minutes and works once). Start again with “Add a passkey or security key”.";

/// Name and password checked: the view that asks the browser to make a key.
async fn start(
    st: Data,
    req: HttpRequest,
    Form(form): Form<StartForm>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let name = match KeyName::parse(&form.name) {
        Ok(n) => n,
        Err(why) => {
            return page(
                &st,
                &req,
                &account,
                StatusCode::UNPROCESSABLE_ENTITY,
                with_error(why),
            )
            .await
        }
    };
    let wrong = event(&account, &req, &ip, "passkey", "failure").detail("adding: wrong password");
    if let Some(r) = require_password(&st, &req, &account, &form.password, Some(wrong)).await? {
        return Ok(r);
    }
    let id = account.id;
    let existing = st
        .host
        .db()
        .run(move |conn| keys::credentials(conn, id))
        .await?;
    if existing.len() as i64 >= keys::MAX_KEYS {
        let view = with_error(
            "You have 20 keys, the most an account may have. Remove one you no longer use first.",
        );
        return page(&st, &req, &account, StatusCode::CONFLICT, view).await;
    }
    let handle = keys::user_handle(st.host.secret_key(), id);
    let (options, state) = st
        .passkeys
        .start_registration(handle, &account.email, &account.name, &existing)
        .map_err(|e| PageError::internal(&e))?;
    let options = serde_json::to_string(&options).map_err(|e| PageError::internal(&e))?;
    let session = session_key(&st, &req)?;
    let kept = Registration {
        name: name.as_str().to_string(),
        state,
    };
    st.host
        .db()
        .transaction(move |conn| {
            ceremony::put(
                conn,
                Binding::Register {
                    session_key: &session,
                },
                id,
                &kept,
            )
        })
        .await?;
    let view = View {
        mode: "passkey_add",
        passkey_options: Some(options),
        passkey_name: name.as_str().to_string(),
        ..View::default()
    };
    page(&st, &req, &account, StatusCode::OK, view).await
}

/// The browser's new credential: checked against the ceremony, stored.
async fn finish(
    st: Data,
    req: HttpRequest,
    Form(form): Form<CredentialForm>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let id = account.id;
    let session = session_key(&st, &req)?;
    let kept: Option<Registration> = st
        .host
        .db()
        .run(move |conn| {
            ceremony::take(
                conn,
                Binding::Register {
                    session_key: &session,
                },
                id,
            )
        })
        .await?;
    let Some(kept) = kept else {
        return page(
            &st,
            &req,
            &account,
            StatusCode::CONFLICT,
            with_error(START_AGAIN),
        )
        .await;
    };
    let failed = |detail: String| event(&account, &req, &ip, "passkey", "failure").detail(detail);
    let answer: RegisterPublicKeyCredential = match serde_json::from_str(&form.credential) {
        Ok(a) => a,
        Err(_) => {
            audit::record(st.host.db(), failed("adding: unreadable answer".into())).await;
            let view = with_error("Your browser did not send a key. Try again with “Add a passkey or security key”, and follow your browser's prompt.");
            return page(&st, &req, &account, StatusCode::UNPROCESSABLE_ENTITY, view).await;
        }
    };
    let key = match st.passkeys.finish_registration(&answer, &kept.state) {
        Ok(k) => k,
        Err(e) => {
            audit::record(st.host.db(), failed(format!("adding: {e}"))).await;
            let view = with_error("That key could not be added: its answer did not match this store. Try again; if it keeps failing, use another key or browser.");
            return page(&st, &req, &account, StatusCode::UNPROCESSABLE_ENTITY, view).await;
        }
    };
    let name = KeyName::parse(&kept.name).map_err(|e| PageError::internal(&e))?;
    let stored_name = name.clone();
    let (added, had_factor) = st
        .host
        .db()
        .transaction(move |conn| {
            let had = factors::load(conn, id)?.any();
            Ok((keys::add(conn, id, &stored_name, &key)?, had))
        })
        .await?;
    match added {
        Added::Added => {}
        Added::Duplicate => {
            audit::record(
                st.host.db(),
                failed("adding: key already registered".into()),
            )
            .await;
            let view = with_error("That key is already added to an account here. Use another key, or remove it from the account it is on first.");
            return page(&st, &req, &account, StatusCode::CONFLICT, view).await;
        }
        Added::TooMany => {
            let view = with_error("You have 20 keys, the most an account may have. Remove one you no longer use first.");
            return page(&st, &req, &account, StatusCode::CONFLICT, view).await;
        }
    }
    audit::record(
        st.host.db(),
        event(&account, &req, &ip, "passkey", "added").detail(name.as_str().to_string()),
    )
    .await;
    let added_text = format!(
        "Your key “{}” is added. From now on you can use it when you sign in.",
        name.as_str()
    );
    let unused = factors::of(st.host.db(), id).await?.recovery.remaining;
    if had_factor || unused > 0 {
        let text = if unused > 0 {
            format!("{added_text} Your {unused} unused recovery codes still work.")
        } else {
            added_text
        };
        return page(&st, &req, &account, StatusCode::OK, with_notice(text)).await;
    }
    let codes = new_codes(&st, &account).await?;
    let view = codes_view(codes, format!("{added_text} Save these recovery codes: each one lets you in once if you lose your key."));
    page(&st, &req, &account, StatusCode::OK, view).await
}

/// The signed-in account and its key `key_id`, for an action on that key.
/// `Err` inside is the answer when the key is not on the account: the
/// Security page (404) saying so.
async fn owned_key(
    st: &State,
    req: &HttpRequest,
    key_id: i64,
) -> Result<Result<(Account, KeyView), HttpResponse>, PageError> {
    let account = account(st, req).await?;
    let key = key_views(st, account.id)
        .await?
        .into_iter()
        .find(|k| k.id == key_id);
    Ok(match key {
        Some(key) => Ok((account, key)),
        None => {
            let gone = with_error(NO_SUCH_KEY);
            Err(page(st, req, &account, StatusCode::NOT_FOUND, gone).await?)
        }
    })
}

const NO_SUCH_KEY: &str = "That key is not on your account (it may have been removed already).";

/// Rename or remove one key.
async fn manage(
    st: Data,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let (account, key) = match owned_key(&st, &req, path.into_inner()).await? {
        Ok(found) => found,
        Err(gone) => return Ok(gone),
    };
    let options = start_confirm(&st, &req, &account, key.id).await?;
    let view = View {
        mode: "passkey_manage",
        passkey: Some(key),
        passkey_options: options,
        ..View::default()
    };
    page(&st, &req, &account, StatusCode::OK, view).await
}

/// What confirming with the key itself keeps server-side: which key, and
/// webauthn-rs's state for a sign-in that allows only it.
#[derive(Serialize, Deserialize)]
struct Confirmation {
    key_id: i64,
    state: PasskeyAuthentication,
}

/// Starts "Remove with this key": the browser's request options for this
/// one key (None when its stored credential no longer reads).
async fn start_confirm(
    st: &State,
    req: &HttpRequest,
    account: &Account,
    key_id: i64,
) -> Result<Option<String>, PageError> {
    let id = account.id;
    let Some(credential) = st
        .host
        .db()
        .run(move |conn| keys::credential(conn, id, key_id))
        .await?
    else {
        return Ok(None);
    };
    let (options, state) = st
        .passkeys
        .start_sign_in(&[credential])
        .map_err(|e| PageError::internal(&e))?;
    let session = session_key(st, req)?;
    let kept = Confirmation { key_id, state };
    st.host
        .db()
        .transaction(move |conn| {
            ceremony::put(
                conn,
                Binding::Confirm {
                    session_key: &session,
                },
                id,
                &kept,
            )
        })
        .await?;
    Ok(Some(
        serde_json::to_string(&options).map_err(|e| PageError::internal(&e))?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordAndKeyForm {
    password: String,
    credential: String,
}

/// Removes a key after the password and an answer of that key itself.
async fn remove_with_key(
    st: Data,
    req: HttpRequest,
    path: web::Path<i64>,
    Form(form): Form<PasswordAndKeyForm>,
) -> Result<HttpResponse, PageError> {
    let key_id = path.into_inner();
    let (account, key) = match owned_key(&st, &req, key_id).await? {
        Ok(found) => found,
        Err(gone) => return Ok(gone),
    };
    let ip = st.host.client_ip(&req);
    let id = account.id;
    let session = session_key(&st, &req)?;
    // Taken first: whatever happens next, this answer is used up.
    let kept: Option<Confirmation> = st
        .host
        .db()
        .run(move |conn| {
            ceremony::take(
                conn,
                Binding::Confirm {
                    session_key: &session,
                },
                id,
            )
        })
        .await?;
    let refused = |detail: String| {
        event(&account, &req, &ip, "passkey", "failure")
            .detail(format!("removing “{}”: {detail}", key.name))
    };
    if !verify::password(&st.host, id, &form.password).await? {
        audit::record(st.host.db(), refused("wrong password".into())).await;
        return manage_again(
            &st,
            &req,
            &account,
            key,
            StatusCode::UNAUTHORIZED,
            WRONG_PASSWORD,
        )
        .await;
    }
    let answer: Option<PublicKeyCredential> = serde_json::from_str(&form.credential).ok();
    let checked = match (kept, answer) {
        (_, None) => Err("no answer from the browser that reads".to_string()),
        (None, _) => Err("no confirmation under way (expired or used)".to_string()),
        (Some(kept), Some(_)) if kept.key_id != key_id => {
            Err("a confirmation started for another key".to_string())
        }
        (Some(kept), Some(answer)) => st
            .passkeys
            .finish_sign_in(&answer, &kept.state)
            .map_err(|e| super::sign_in::refusal(&e)),
    };
    let result = match checked {
        Ok(r) => r,
        Err(why) => {
            audit::record(st.host.db(), refused(why)).await;
            return manage_again(
                &st,
                &req,
                &account,
                key,
                StatusCode::UNAUTHORIZED,
                "Your key's answer was not accepted. Try again, or confirm with a code instead.",
            )
            .await;
        }
    };
    match st
        .host
        .db()
        .transaction(move |conn| keys::record_use(conn, id, &result))
        .await?
    {
        Use::Recorded { .. } => {}
        Use::CounterWentBack { stored, got, .. } => {
            audit::record(st.host.db(), refused(format!("signature counter went backwards ({got} after {stored}); a cloned key, or a replayed answer"))).await;
            return manage_again(
                &st,
                &req,
                &account,
                key,
                StatusCode::UNAUTHORIZED,
                "Your key's answer was not accepted. Try again, or confirm with a code instead.",
            )
            .await;
        }
        Use::Unknown => {
            return page(
                &st,
                &req,
                &account,
                StatusCode::NOT_FOUND,
                with_error(NO_SUCH_KEY),
            )
            .await;
        }
    }
    remove_now(&st, &req, &account, &ip, key_id).await
}

/// The key's page again, with a new confirmation and `message`.
async fn manage_again(
    st: &State,
    req: &HttpRequest,
    account: &Account,
    key: KeyView,
    status: StatusCode,
    message: &str,
) -> Result<HttpResponse, PageError> {
    let options = start_confirm(st, req, account, key.id).await?;
    let view = View {
        mode: "passkey_manage",
        passkey: Some(key),
        passkey_options: options,
        error: Some(message.to_string()),
        ..View::default()
    };
    page(st, req, account, status, view).await
}

async fn rename(
    st: Data,
    req: HttpRequest,
    path: web::Path<i64>,
    Form(form): Form<NameForm>,
) -> Result<HttpResponse, PageError> {
    let key_id = path.into_inner();
    let (account, key) = match owned_key(&st, &req, key_id).await? {
        Ok(found) => found,
        Err(gone) => return Ok(gone),
    };
    let name = match KeyName::parse(&form.name) {
        Ok(n) => n,
        Err(why) => {
            let view = View {
                mode: "passkey_manage",
                passkey: Some(key),
                error: Some(why.into()),
                ..View::default()
            };
            return page(&st, &req, &account, StatusCode::UNPROCESSABLE_ENTITY, view).await;
        }
    };
    let id = account.id;
    let stored = name.clone();
    if !st
        .host
        .db()
        .run(move |conn| keys::rename(conn, id, key_id, &stored))
        .await?
    {
        return page(
            &st,
            &req,
            &account,
            StatusCode::NOT_FOUND,
            with_error(NO_SUCH_KEY),
        )
        .await;
    }
    let ip = st.host.client_ip(&req);
    audit::record(
        st.host.db(),
        event(&account, &req, &ip, "passkey", "renamed").detail(format!(
            "“{}” → “{}”",
            key.name,
            name.as_str()
        )),
    )
    .await;
    let view = with_notice(format!(
        "Your key “{}” is now called “{}”.",
        key.name,
        name.as_str()
    ));
    page(&st, &req, &account, StatusCode::OK, view).await
}

/// Removes a key after the password and a code of another factor (an
/// app or text-message code, or a recovery code). The last factor going
/// turns two-factor authentication off, as "Disable" does.
async fn remove(
    st: Data,
    req: HttpRequest,
    path: web::Path<i64>,
    Form(form): Form<PasswordAndCodeForm>,
) -> Result<HttpResponse, PageError> {
    let key_id = path.into_inner();
    let (account, key) = match owned_key(&st, &req, key_id).await? {
        Ok(found) => found,
        Err(gone) => return Ok(gone),
    };
    let ip = st.host.client_ip(&req);
    let again = |message: &str| View {
        mode: "passkey_manage",
        passkey: Some(key.clone()),
        error: Some(message.to_string()),
        ..View::default()
    };
    let wrong = event(&account, &req, &ip, "passkey", "failure")
        .detail(format!("removing “{}”: wrong password", key.name));
    if !verify::password(&st.host, account.id, &form.password).await? {
        audit::record(st.host.db(), wrong).await;
        let view = again(WRONG_PASSWORD);
        return page(&st, &req, &account, StatusCode::UNAUTHORIZED, view).await;
    }
    let actor = security_page_actor(&account, &req, &ip);
    match verify::check_code(&st.service, &st.host, &actor, form.code.trim(), true).await? {
        Checked::Valid { .. } => {}
        Checked::GatewayFailed => {
            let view = again(gateway_message(false));
            return page(&st, &req, &account, StatusCode::SERVICE_UNAVAILABLE, view).await;
        }
        _ => {
            audit::record(
                st.host.db(),
                event(&account, &req, &ip, "passkey", "failure")
                    .detail(format!("removing “{}”: wrong code", key.name)),
            )
            .await;
            let view = again("That code is not right. Enter a current code from your authenticator app or text message, or one of your recovery codes.");
            return page(&st, &req, &account, StatusCode::UNAUTHORIZED, view).await;
        }
    }
    remove_now(&st, &req, &account, &ip, key_id).await
}

/// Removes the key (checks passed); the last factor going turns two-factor
/// authentication off.
async fn remove_now(
    st: &State,
    req: &HttpRequest,
    account: &Account,
    ip: &str,
    key_id: i64,
) -> Result<HttpResponse, PageError> {
    let id = account.id;
    let host = st.host.clone();
    let (removed, all_off) = st
        .host
        .db()
        .transaction(move |conn| {
            let removed = keys::remove(conn, id, key_id)?;
            ceremony::remove_all(conn, id)?;
            let void = |c: &mut crate::db::DbConn, a: i64| host.void_pending_sign_ins(c, a);
            // Sign-ins under way may have been offered this key.
            void(conn, id)?;
            let all_off = removed.is_some() && !factors::load(conn, id)?.any();
            if all_off {
                factors::remove_all(conn, id, &void)?;
            }
            Ok((removed, all_off))
        })
        .await?;
    let Some(name) = removed else {
        return page(
            st,
            req,
            account,
            StatusCode::NOT_FOUND,
            with_error(NO_SUCH_KEY),
        )
        .await;
    };
    audit::record(
        st.host.db(),
        event(account, req, ip, "passkey", "removed").detail(name.clone()),
    )
    .await;
    let text = if all_off {
        format!("Your key “{name}” is removed. It was your last second factor, so two-factor authentication is now off and your recovery codes were removed too.")
    } else {
        format!("Your key “{name}” is removed. It no longer signs you in.")
    };
    page(st, req, account, StatusCode::OK, with_notice(text)).await
}
