//! The box above the settings form (gateway, mode, base URL, whether the
//! gateway answers, the last connection test and error).

use actix_web::HttpRequest;

use crate::plugin::HostHandle;

use crate::two_factor::settings::{Gateway, Mode};
use crate::two_factor::sms::service::Service;

pub async fn render(service: &Service, host: &HostHandle, req: &HttpRequest) -> String {
    let mut ctx = tera::Context::new();
    let settings = match service.settings(host).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "addon settings unreadable");
            return "<p class=\"error\">The two-factor settings could not be read from the database.</p>".into();
        }
    };
    let verify = settings.gateway == Gateway::TwilioVerify;
    ctx.insert("csrf_token", &host.csrf_token(req));
    ctx.insert("test_path", super::connection_test::PATH);
    ctx.insert("gateway_label", settings.gateway.label());
    ctx.insert("verify", &verify);
    ctx.insert("production", &(settings.mode == Mode::Production));
    ctx.insert(
        "base_url",
        if verify {
            settings.verify_endpoint(&service.config).base_url
        } else {
            settings.base_url(&service.config)
        },
    );
    ctx.insert("has_key", &settings.has_api_key());
    // Admins are asked for a code, but the admin looking at this has no
    // factor: their own sign-in is protected by the password alone.
    if settings.admin_enabled {
        if let Some(me) = host.current_account(req).await {
            let unprotected = crate::two_factor::factors::of(host.db(), me.id)
                .await
                .is_ok_and(|f| !f.any());
            ctx.insert("me_without_factor", &unprotected);
        }
    }
    ctx.insert("customer_enabled", &settings.customer_enabled);
    ctx.insert("admin_enabled", &settings.admin_enabled);
    let test = host
        .db()
        .run(crate::two_factor::state::last_connection_test)
        .await
        .ok()
        .flatten();
    if let Some((ok, text, at)) = test {
        ctx.insert("test_ok", &ok);
        ctx.insert("test_text", &text);
        ctx.insert("test_at", &format_time(at));
    }
    // The legacy API is asked on every view (as before); Twilio Verify only
    // when the owner presses "Test connection".
    if settings.has_api_key() && !verify {
        match service
            .client
            .app_details(service.endpoint(&settings))
            .await
        {
            Ok(app) => {
                ctx.insert("gateway_ok", &true);
                ctx.insert("app_name", &app.name);
                ctx.insert("sms_enabled", &app.sms_enabled);
            }
            Err(e) => {
                service.gateway_failed(host.db(), "app details", &e).await;
                ctx.insert("gateway_ok", &false);
                ctx.insert("gateway_error", &e.to_string());
            }
        }
    }
    let last = host
        .db()
        .run(crate::two_factor::state::last_gateway_error)
        .await
        .ok()
        .flatten();
    if let Some((text, at)) = last {
        ctx.insert("last_error", &text);
        ctx.insert("last_error_at", &format_time(at));
    }
    let ceiling = service.config.sms_hourly_ceiling.min(i32::MAX as u32) as i32;
    match crate::two_factor::limits::store_ceiling_reached(host.db(), ceiling).await {
        Ok(Some(since)) => {
            ctx.insert("ceiling", &ceiling);
            ctx.insert("ceiling_reached_at", &format_time(since));
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "could not read the SMS ceiling"),
    }
    host.render_fragment("two_factor/settings_status.html", &ctx)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "settings status template failed");
            "<p class=\"error\">The gateway status could not be shown.</p>".into()
        })
}

pub fn format_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
