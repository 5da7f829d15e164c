//! Setting up an authenticator app: the QR code and key (`app_start`),
//! then confirming with a current code and the password, which ends on
//! new recovery codes (`app_confirm`).

use super::recovery_codes::{codes_view, new_codes};
use super::*;

/// Shows the set-up view for the pending secret.
pub(super) fn setup_view(account: &Account, secret: &[u8]) -> View {
    let encoded = totp::encode_secret(secret);
    let uri = totp::otpauth_uri(&account.email, &encoded);
    View {
        mode: "setup",
        qr_svg: qr::svg(&uri),
        secret: Some(totp::display_secret(&encoded)),
        otpauth: Some(uri),
        ..View::default()
    }
}

pub(super) async fn app_start(st: Data, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let secret = totp::generate_secret();
    let enc = st.host.secret_key().encrypt(&totp::encode_secret(&secret));
    let id = account.id;
    if !st
        .host
        .db()
        .transaction(move |conn| totp::begin_setup(conn, id, &enc))
        .await?
    {
        let view = with_error("An authenticator app is already set up. Disable two-factor authentication first to move to a new app.");
        return page(&st, &req, &account, StatusCode::CONFLICT, view).await;
    }
    page(
        &st,
        &req,
        &account,
        StatusCode::OK,
        setup_view(&account, &secret),
    )
    .await
}

pub(super) async fn app_confirm(
    st: Data,
    req: HttpRequest,
    Form(form): Form<PasswordAndCodeForm>,
) -> Result<HttpResponse, PageError> {
    let account = account(&st, &req).await?;
    let ip = st.host.client_ip(&req);
    let id = account.id;
    let row = match st.host.db().run(move |conn| totp::load(conn, id)).await? {
        Some(r) if !r.confirmed => r,
        _ => {
            let view = with_error("There is no authenticator set-up in progress. Start again with “Set up authenticator app”.");
            return page(&st, &req, &account, StatusCode::CONFLICT, view).await;
        }
    };
    let Some(secret) = totp::secret_of(st.host.secret_key(), &row) else {
        return Err(PageError::internal(
            &"authenticator secret could not be decrypted",
        ));
    };
    let again = |message: &str| {
        let mut view = setup_view(&account, &secret);
        view.error = Some(message.to_string());
        view
    };
    if !password_ok(&st, &account, &form.password).await? {
        audit::record(
            st.host.db(),
            event(&account, &req, &ip, "app_setup", "failure").detail("wrong password"),
        )
        .await;
        let view = again(WRONG_PASSWORD);
        return page(&st, &req, &account, StatusCode::UNAUTHORIZED, view).await;
    }
    let code = form.code.trim().replace(' ', "");
    let step = if totp::looks_like_code(&code) {
        totp::matching_step(&secret, &code, crate::db::now())
    } else {
        None
    };
    let Some(step) = step else {
        audit::record(
            st.host.db(),
            event(&account, &req, &ip, "app_setup", "failure").detail("wrong code"),
        )
        .await;
        let view = again("That code is not right. Check the time on your phone and enter the 6-digit code your app shows now.");
        return page(&st, &req, &account, StatusCode::UNPROCESSABLE_ENTITY, view).await;
    };
    if !st
        .host
        .db()
        .transaction(move |conn| totp::confirm(conn, id, step))
        .await?
    {
        let view = with_error("This set-up was already confirmed or replaced.");
        return page(&st, &req, &account, StatusCode::CONFLICT, view).await;
    }
    audit::record(
        st.host.db(),
        event(&account, &req, &ip, "app_setup", "success"),
    )
    .await;
    // Recovery codes the user already saved (at SMS set-up, minutes ago
    // perhaps) keep working: replacing them here would void them silently.
    let unused = factors::of(st.host.db(), id).await?.recovery.remaining;
    if unused > 0 {
        let view = with_notice(format!(
            "Your authenticator app is set up. From now on you will be asked for its code when you sign in. Your {unused} unused recovery codes still work; “Generate new codes” below replaces them."
        ));
        return page(&st, &req, &account, StatusCode::OK, view).await;
    }
    let codes = new_codes(&st, &account).await?;
    let view = codes_view(codes, "Your authenticator app is set up. From now on you will be asked for its code when you sign in. Save these recovery codes: each one lets you in once if you lose your phone.".into());
    page(&st, &req, &account, StatusCode::OK, view).await
}
