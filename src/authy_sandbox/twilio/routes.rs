//! The handlers of the Verify API and the JSON they answer (keys in the
//! order Twilio writes them). Every route first asks the policy whether the
//! sandbox is there (an empty 404 otherwise), then checks HTTP Basic
//! (401 / 20003), then the SIDs in the path (404 / 20404), then the form.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::errors::TwilioError;
use super::numbers::{self, TestNumber};
use super::store::{self, Checked, StartRequest, Started, Status, Target, Verification};
use super::{account_sid_of, auth, is_sid};
use crate::authy_sandbox::responses::{self, iso8601, null, obj, J};
use crate::authy_sandbox::{SandboxState, APP_NAME};
use crate::config::SandboxSettings;
use crate::db::now;

type State = web::Data<SandboxState>;
type Answer = Result<HttpResponse, TwilioError>;

/// Largest form body read.
pub const MAX_BODY: usize = 64 * 1024;

/// The sandbox's services were all made on 2026-11-30.
const SERVICE_CREATED: i64 = 1_795_996_800;

/// Registers the Verify routes (relative paths) and the state they share.
/// Ends with a catch-all: call it inside a `web::scope`.
pub fn configure(cfg: &mut web::ServiceConfig, state: SandboxState) {
    cfg.app_data(web::Data::new(state))
        .service(
            web::resource("/v2/Services/{service}")
                .route(web::get().to(fetch_service))
                .default_service(web::to(wrong_method)),
        )
        .service(
            web::resource("/v2/Services/{service}/Verifications")
                .route(web::post().to(create_verification))
                .default_service(web::to(wrong_method)),
        )
        .service(
            web::resource("/v2/Services/{service}/VerificationCheck")
                .route(web::post().to(check_verification))
                .default_service(web::to(wrong_method)),
        )
        .service(
            web::resource("/v2/Services/{service}/Verifications/{sid}")
                .route(web::get().to(fetch_verification))
                .route(web::post().to(update_verification))
                .default_service(web::to(wrong_method)),
        )
        .route("/{tail:.*}", web::route().to(unknown_path));
}

/// Who is calling: the account its requests belong to.
struct Caller {
    account_sid: String,
}

/// Availability, then credentials.
async fn gate(req: &HttpRequest, state: &SandboxState) -> Result<Caller, TwilioError> {
    if !state.policy.is_available().await {
        return Err(TwilioError::Unavailable);
    }
    let Some((user, secret)) = auth::basic_credentials(req) else {
        return Err(TwilioError::authenticate());
    };
    if user.is_empty() || secret.is_empty() || !state.policy.accepts_twilio(&user, &secret).await {
        return Err(TwilioError::authenticate());
    }
    Ok(Caller {
        account_sid: account_sid_of(&user),
    })
}

/// The service SID of the path (`VA…`); 404 when it is not one.
fn service_sid(req: &HttpRequest) -> Result<String, TwilioError> {
    let service = req.match_info().get("service").unwrap_or_default();
    if is_sid(service, "VA") {
        Ok(service.to_string())
    } else {
        Err(TwilioError::not_found("/Services"))
    }
}

/// The verification SID of the path (`VE…`); 404 when it is not one.
fn verification_sid(req: &HttpRequest, service: &str) -> Result<String, TwilioError> {
    let sid = req.match_info().get("sid").unwrap_or_default();
    if is_sid(sid, "VE") {
        Ok(sid.to_string())
    } else {
        Err(TwilioError::not_found(&format!(
            "/Services/{service}/Verifications"
        )))
    }
}

/// `scheme://host` and the mount point: the base of the `url` fields.
fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    let path = req.path();
    let prefix = path.find("/v2/Services/").map_or("", |i| &path[..i]);
    format!("{}://{}{prefix}", info.scheme(), info.host())
}

fn code_length(settings: &SandboxSettings) -> usize {
    usize::from(settings.verify_code_length.clamp(
        *SandboxSettings::VERIFY_CODE_LENGTHS.start(),
        *SandboxSettings::VERIFY_CODE_LENGTHS.end(),
    ))
}

/// A form body's fields (`application/x-www-form-urlencoded`, whatever the
/// content type says).
struct Form(Vec<(String, String)>);

impl Form {
    /// The first non-blank value of `name` (names are PascalCase, exact).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }
}

async fn read_form(mut payload: web::Payload) -> Result<Form, TwilioError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| TwilioError::invalid_parameter("request body"))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(TwilioError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                20001,
                "Request body too large",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .map(Form)
        .map_err(|_| TwilioError::invalid_parameter("request body"))
}

// ---- handlers -------------------------------------------------------------------

async fn fetch_service(req: HttpRequest, state: State) -> Answer {
    let caller = gate(&req, &state).await?;
    let service = service_sid(&req)?;
    let base = base_url(&req);
    Ok(responses::ok(&service_json(
        &service,
        &caller.account_sid,
        code_length(&state.settings),
        &base,
    )))
}

async fn create_verification(req: HttpRequest, payload: web::Payload, state: State) -> Answer {
    let caller = gate(&req, &state).await?;
    let service = service_sid(&req)?;
    let form = read_form(payload).await?;
    let to = form
        .get("To")
        .and_then(numbers::parse_to)
        .ok_or_else(|| TwilioError::invalid_parameter("To"))?;
    let channel: &'static str = match form.get("Channel") {
        Some("sms") => "sms",
        Some("call") => "call",
        Some(other @ ("whatsapp" | "email" | "sna" | "auto" | "rcs")) => {
            return Err(TwilioError::channel_disabled(other))
        }
        _ => return Err(TwilioError::invalid_parameter("Channel")),
    };
    match numbers::test_number(&to) {
        Some(TestNumber::Blocked) => return Err(TwilioError::blocked()),
        Some(TestNumber::Landline) if channel == "sms" => return Err(TwilioError::landline()),
        _ => {}
    }
    let code_length = code_length(&state.settings);
    let base = base_url(&req);
    let started = state
        .db
        .transaction(move |c| {
            store::start(
                c,
                &StartRequest {
                    service_sid: &service,
                    account_sid: &caller.account_sid,
                    to: &to,
                    channel,
                    code_length,
                },
                now(),
            )
        })
        .await?;
    match started {
        Started::Sent(v) => Ok(responses::json(
            StatusCode::CREATED,
            &verification_json(&v, &base),
        )),
        Started::TooManySends => Err(TwilioError::max_send_attempts()),
    }
}

async fn check_verification(req: HttpRequest, payload: web::Payload, state: State) -> Answer {
    let _caller = gate(&req, &state).await?;
    let service = service_sid(&req)?;
    let form = read_form(payload).await?;
    let not_found = TwilioError::not_found(&format!("/Services/{service}/VerificationCheck"));
    let to = match form.get("To") {
        None => None,
        Some(text) => Some(
            numbers::parse_to(text)
                .ok_or_else(|| TwilioError::invalid_parameter("To"))?
                .e164,
        ),
    };
    let sid = form.get("VerificationSid").map(str::to_string);
    let code = form.get("Code").map(str::to_string);
    if to.is_none() && sid.is_none() {
        return Err(TwilioError::to_or_sid_required());
    }
    let Some(code) = code else {
        return Err(TwilioError::invalid_parameter("Code"));
    };
    if sid.as_deref().is_some_and(|s| !is_sid(s, "VE")) {
        return Err(not_found);
    }
    let checked = state
        .db
        .transaction(move |c| {
            let target = match (&sid, &to) {
                (Some(sid), to) => Target::Sid {
                    sid,
                    to: to.as_deref(),
                },
                (None, Some(to)) => Target::To(to),
                (None, None) => unreachable!("one of the two was checked to be present"),
            };
            store::check(c, &service, target, &code, now())
        })
        .await?;
    match checked {
        Checked::Approved(v) | Checked::Pending(v) => Ok(responses::ok(&check_json(&v))),
        Checked::MaxAttempts => Err(TwilioError::max_check_attempts()),
        Checked::NotFound => Err(not_found),
    }
}

async fn fetch_verification(req: HttpRequest, state: State) -> Answer {
    let _caller = gate(&req, &state).await?;
    let service = service_sid(&req)?;
    let sid = verification_sid(&req, &service)?;
    let not_found = TwilioError::not_found(&format!("/Services/{service}/Verifications/{sid}"));
    let base = base_url(&req);
    let found = state
        .db
        .run(move |c| store::fetch(c, &service, &sid, now()))
        .await?;
    match found {
        Some(v) => Ok(responses::ok(&verification_json(&v, &base))),
        None => Err(not_found),
    }
}

async fn update_verification(req: HttpRequest, payload: web::Payload, state: State) -> Answer {
    let _caller = gate(&req, &state).await?;
    let service = service_sid(&req)?;
    let sid = verification_sid(&req, &service)?;
    let form = read_form(payload).await?;
    let status = match form.get("Status") {
        Some("canceled") => Status::Canceled,
        Some("approved") => Status::Approved,
        _ => return Err(TwilioError::invalid_parameter("Status")),
    };
    let not_found = TwilioError::not_found(&format!("/Services/{service}/Verifications/{sid}"));
    let base = base_url(&req);
    let updated = state
        .db
        .transaction(move |c| store::set_status(c, &service, &sid, status, now()))
        .await?;
    match updated {
        Some(v) => Ok(responses::ok(&verification_json(&v, &base))),
        None => Err(not_found),
    }
}

/// A known path with a method it does not take.
async fn wrong_method(req: HttpRequest, state: State) -> Answer {
    gate(&req, &state).await?;
    Err(TwilioError::method_not_allowed())
}

async fn unknown_path(req: HttpRequest, state: State) -> Answer {
    gate(&req, &state).await?;
    Err(TwilioError::not_found(req.path()))
}

// ---- JSON -----------------------------------------------------------------------

/// `GET /v2/Services/{VA}`: the fields the libraries read, with this
/// sandbox's values.
pub fn service_json(service_sid: &str, account_sid: &str, code_length: usize, base: &str) -> J {
    let url = format!("{base}/v2/Services/{service_sid}");
    let created = iso8601(SERVICE_CREATED);
    obj([
        ("sid", service_sid.into()),
        ("account_sid", account_sid.into()),
        ("friendly_name", APP_NAME.into()),
        ("code_length", code_length.into()),
        ("lookup_enabled", false.into()),
        ("psd2_enabled", false.into()),
        ("skip_sms_to_landlines", false.into()),
        ("dtmf_input_required", false.into()),
        ("tts_name", null()),
        ("do_not_share_warning_enabled", false.into()),
        ("custom_code_enabled", false.into()),
        (
            "push",
            obj([
                ("include_date", false.into()),
                ("apn_credential_sid", null()),
                ("fcm_credential_sid", null()),
            ]),
        ),
        (
            "totp",
            obj([
                ("issuer", APP_NAME.into()),
                ("time_step", 30.into()),
                ("code_length", 6.into()),
                ("skew", 1.into()),
            ]),
        ),
        ("default_template_sid", null()),
        (
            "whatsapp",
            obj([("msg_service_sid", null()), ("from", null())]),
        ),
        ("verify_event_subscription_enabled", false.into()),
        ("date_created", created.clone().into()),
        ("date_updated", created.into()),
        ("url", url.clone().into()),
        (
            "links",
            obj([
                (
                    "verification_checks",
                    format!("{url}/VerificationCheck").into(),
                ),
                ("verifications", format!("{url}/Verifications").into()),
            ]),
        ),
    ])
}

/// A verification (create, fetch, update).
pub fn verification_json(v: &Verification, base: &str) -> J {
    let attempts = v
        .send_code_attempts
        .iter()
        .map(|a| {
            obj([
                ("time", iso8601(a.sent_at).into()),
                ("channel", a.channel.clone().into()),
                ("attempt_sid", a.attempt_sid.clone().into()),
            ])
        })
        .collect();
    obj([
        ("sid", v.sid.clone().into()),
        ("service_sid", v.service_sid.clone().into()),
        ("account_sid", v.account_sid.clone().into()),
        ("to", v.to.clone().into()),
        ("channel", v.channel.clone().into()),
        ("status", v.status.as_str().into()),
        ("valid", (v.status == Status::Approved).into()),
        ("amount", null()),
        ("payee", null()),
        ("lookup", J::Obj(Vec::new())),
        ("send_code_attempts", J::Arr(attempts)),
        ("date_created", iso8601(v.created_at).into()),
        ("date_updated", iso8601(v.updated_at).into()),
        ("sna", null()),
        (
            "url",
            format!(
                "{base}/v2/Services/{}/Verifications/{}",
                v.service_sid, v.sid
            )
            .into(),
        ),
    ])
}

/// A verification check's answer.
pub fn check_json(v: &Verification) -> J {
    obj([
        ("sid", v.sid.clone().into()),
        ("service_sid", v.service_sid.clone().into()),
        ("account_sid", v.account_sid.clone().into()),
        ("to", v.to.clone().into()),
        ("channel", v.channel.clone().into()),
        ("status", v.status.as_str().into()),
        ("valid", (v.status == Status::Approved).into()),
        ("amount", null()),
        ("payee", null()),
        ("date_created", iso8601(v.created_at).into()),
        ("date_updated", iso8601(v.updated_at).into()),
        ("sna_attempts_error_codes", J::Arr(Vec::new())),
    ])
}
