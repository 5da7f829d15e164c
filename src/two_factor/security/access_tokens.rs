//! Personal access tokens for the API: create (shown once) and revoke.

use super::*;

/// "Create token": its name, scope, lifetime, and the current password.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct TokenForm {
    name: String,
    scope: String,
    expires_days: String,
    password: String,
}

pub(super) async fn token_create(
    st: Data,
    req: HttpRequest,
    Form(form): Form<TokenForm>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > tokens::MAX_NAME {
        return page(
            &st,
            &req,
            &account,
            StatusCode::UNPROCESSABLE_ENTITY,
            with_error(
                "Give the token a name of up to 80 characters, so you can tell it apart later.",
            ),
        )
        .await;
    }
    let Some(scope) = Scope::parse(form.scope.trim()) else {
        return page(
            &st,
            &req,
            &account,
            StatusCode::UNPROCESSABLE_ENTITY,
            with_error("Choose what the token may do: read only, or full access."),
        )
        .await;
    };
    let expires_at = match form.expires_days.trim() {
        "" | "never" => None,
        d => match d.parse::<i64>() {
            Ok(days) if (1..=3650).contains(&days) => Some(crate::db::now() + days * 86_400),
            _ => {
                return page(
                    &st,
                    &req,
                    &account,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    with_error("Choose when the token expires."),
                )
                .await;
            }
        },
    };
    if let Some(r) = require_password(&st, &req, &account, &form.password, None).await? {
        return Ok(r);
    }
    let id = account.id;
    let n = name.clone();
    let token = st
        .host
        .db()
        .transaction(move |conn| tokens::create(conn, id, Kind::Pat, &n, scope, expires_at))
        .await?;
    audit::record(
        st.host.db(),
        event(&account, &req, &ip, "api_token", "created")
            .detail(format!("“{name}”, {} access", scope.as_str())),
    )
    .await;
    let view = View {
        mode: "token",
        new_token: Some(token),
        new_token_name: name,
        notice: Some(
            "Copy your new personal access token now. You will not be able to see it again.".into(),
        ),
        ..View::default()
    };
    page(&st, &req, &account, StatusCode::OK, view).await
}

pub(super) async fn token_revoke(
    st: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let Ok(token_id) = path.into_inner().parse::<i64>() else {
        return Err(PageError::NotFound);
    };
    let id = account.id;
    match st
        .host
        .db()
        .transaction(move |conn| tokens::revoke(conn, id, token_id))
        .await
    {
        Ok(true) => {
            audit::record(
                st.host.db(),
                event(&account, &req, &ip, "api_token", "revoked")
                    .detail(format!("token #{token_id}")),
            )
            .await;
            page(
                &st,
                &req,
                &account,
                StatusCode::OK,
                with_notice("The token was revoked. Requests using it are refused from now on."),
            )
            .await
        }
        Ok(false) => Err(PageError::NotFound),
        Err(e) => Err(PageError::internal(&e)),
    }
}
