//! "Test connection" on the settings page: asks the chosen gateway whether
//! the credentials work (Twilio Verify: `GET /v2/Services/{VA}`; Authy:
//! the app details), keeps the answer in words as the last connection
//! test, and goes back to the settings page, which shows it.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::plugin::HostHandle;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::gateways::GatewayError;
use crate::two_factor::pages::{see_other, PageError};
use crate::two_factor::settings::{Gateway, StoreSettings};
use crate::two_factor::sms::service::Service;
use crate::two_factor::{state, ADDON_ID};

pub const PATH: &str = "/admin/two-factor/gateway/test";

struct State {
    service: Arc<Service>,
    host: HostHandle,
}

pub fn configure(cfg: &mut web::ServiceConfig, service: Arc<Service>, host: HostHandle) {
    cfg.service(
        web::resource(PATH)
            .app_data(web::Data::new(State { service, host }))
            .route(web::post().to(test_connection)),
    );
}

async fn test_connection(
    st: web::Data<State>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let admin = st.host.require_admin(&req).await?;
    let settings = st.service.settings(&st.host).await?;
    let (ok, text) = run(&st.service, &settings).await;
    // A failed test is also the store's last gateway error.
    let recorded = text.clone();
    st.host
        .db()
        .transaction(move |conn| {
            if !ok {
                state::record_gateway_error(conn, &format!("connection test: {recorded}"))?;
            }
            state::record_connection_test(conn, ok, &recorded)
        })
        .await?;
    audit::record(
        st.host.db(),
        AuditEvent::new("connection_test", if ok { "success" } else { "failure" })
            .account(&admin)
            .ip(&st.host.client_ip(&req))
            .detail(text),
    )
    .await;
    Ok(see_other(&format!("/admin/addons/{ADDON_ID}/settings")))
}

/// Asks the gateway; whether it worked and the answer in words.
async fn run(service: &Service, settings: &StoreSettings) -> (bool, String) {
    if !settings.has_api_key() {
        return (
            false,
            match settings.gateway {
                Gateway::TwilioVerify => "Enter the Account SID, Auth Token (or API key SID and secret) and Verify Service SID first, and save.".into(),
                Gateway::AuthyLegacy => "Enter the Authy API key first, and save.".into(),
            },
        );
    }
    match settings.gateway {
        Gateway::TwilioVerify => {
            match service
                .verify
                .service(settings.verify_endpoint(&service.config))
                .await
            {
                Ok(info) => (
                    true,
                    format!(
                        "Twilio Verify answered: service “{}”, codes of {} digits.",
                        info.friendly_name, info.code_length
                    ),
                ),
                Err(e) => (false, in_words(&e)),
            }
        }
        Gateway::AuthyLegacy => {
            match service.client.app_details(service.endpoint(settings)).await {
                Ok(app) => (
                    true,
                    format!(
                        "The Authy-compatible API answered: application “{}”.",
                        app.name
                    ),
                ),
                Err(e) => (false, in_words(&e)),
            }
        }
    }
}

/// A failed test, in words a store owner can act on.
fn in_words(e: &GatewayError) -> String {
    match e {
        GatewayError::BadApiKey => "The gateway refused the credentials (HTTP 401). Check the Account SID and Auth Token (or the API key SID and secret).".into(),
        GatewayError::NotFound => "The gateway does not know this Verify Service SID. Check it in Twilio's console under Verify, Services.".into(),
        GatewayError::Timeout | GatewayError::Unreachable(_) => format!("The gateway could not be reached: {e}. Check the server's network connection."),
        other => format!("The gateway answered with an error: {other}."),
    }
}
