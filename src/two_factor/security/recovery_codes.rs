//! Recovery codes on the Security page: view them again and generate new
//! ones, each after the password.

use super::*;

/// Ten new recovery codes, shown once on the codes view.
pub(crate) async fn new_codes(st: &State, account: &Account) -> Result<Vec<String>, PageError> {
    let key = st.host.secret_key().clone();
    let id = account.id;
    Ok(st
        .host
        .db()
        .transaction(move |conn| recovery::regenerate(conn, &key, id))
        .await?)
}

pub(crate) fn codes_view(codes: Vec<String>, notice: String) -> View {
    View {
        mode: "codes",
        codes_text: recovery::as_text(&codes),
        codes,
        notice: Some(notice),
        ..View::default()
    }
}

pub(super) async fn recovery_view(
    st: Data,
    req: HttpRequest,
    Form(form): Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    if let Some(r) = require_password(&st, &req, &account, &form.password, None).await? {
        return Ok(r);
    }
    let key = st.host.secret_key().clone();
    let id = account.id;
    let shown = st
        .host
        .db()
        .run(move |conn| recovery::reveal(conn, &key, id))
        .await?
        .unwrap_or_default();
    let unused: Vec<String> = shown
        .iter()
        .filter(|c| !c.used)
        .map(|c| c.code.clone())
        .collect();
    let ip = st.host.client_ip(&req);
    audit::record(
        st.host.db(),
        event(&account, &req, &ip, "recovery_codes", "viewed"),
    )
    .await;
    let view = View {
        mode: "recovery",
        codes_text: recovery::as_text(&unused),
        shown_codes: shown,
        ..View::default()
    };
    page(&st, &req, &account, StatusCode::OK, view).await
}

/// "Generate new codes…": its own step, saying what stops working, with
/// the one form that replaces the codes.
pub(super) async fn recovery_regenerate_page(
    st: Data,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let view = View {
        mode: "regenerate",
        ..View::default()
    };
    page(&st, &req, &account, StatusCode::OK, view).await
}

pub(super) async fn recovery_regenerate(
    st: Data,
    req: HttpRequest,
    Form(form): Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    if let Some(r) = require_password(&st, &req, &account, &form.password, None).await? {
        return Ok(r);
    }
    let codes = new_codes(&st, &account).await?;
    audit::record(
        st.host.db(),
        event(&account, &req, &ip, "recovery_codes", "regenerated"),
    )
    .await;
    let view = codes_view(
        codes,
        "Here are your new recovery codes. Your old codes no longer work.".into(),
    );
    page(&st, &req, &account, StatusCode::OK, view).await
}
