//! The HTTP handlers of the sandbox API. Paths are relative to the sandbox
//! base (`/sandbox/authy` in the app, `/` standalone). Every route answers
//! any method and reads parameters from the query string and the body.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::approvals::{self, NewApproval, DEFAULT_SECONDS_TO_EXPIRE};
use super::params::{self, Params};
use super::phone::{self, Phone};
use super::ratelimit;
use super::responses::{self, error, error_body, json, obj, ok, J};
use super::stats::{self, Counter};
use super::tokens::{self, Verification};
use super::users::{self, SandboxUser};
use super::verifications::{self, Check, DEFAULT_CODE_LENGTH, TTL_SECONDS};
use super::{auth, outbox, SandboxState, APP_ID, APP_NAME};
use crate::db::DbError;

type State = web::Data<SandboxState>;

/// Registers every API route (relative paths) and the state they share.
pub fn configure(cfg: &mut web::ServiceConfig, state: SandboxState) {
    cfg.app_data(web::Data::new(state))
        .route("/protected/json/users/new", web::route().to(register_user))
        .route(
            "/protected/json/users/delete/{id}",
            web::route().to(remove_user),
        )
        .route(
            "/protected/json/users/{id}/remove",
            web::route().to(remove_user),
        )
        .route(
            "/protected/json/users/{id}/delete",
            web::route().to(remove_user),
        )
        .route(
            "/protected/json/users/{id}/status",
            web::route().to(user_status),
        )
        .route("/protected/json/sms/{id}", web::route().to(send_sms))
        .route("/protected/json/call/{id}", web::route().to(start_call))
        .route(
            "/protected/json/verify/{token}/{id}",
            web::route().to(verify_token),
        )
        .route("/protected/json/app/details", web::route().to(app_details))
        .route("/protected/json/app/stats", web::route().to(app_stats))
        .route(
            "/onetouch/json/users/{id}/approval_requests",
            web::route().to(create_approval),
        )
        .route(
            "/onetouch/json/approval_requests/{uuid}",
            web::route().to(approval_status),
        )
        .route(
            "/protected/json/phones/verification/start",
            web::route().to(verification_start),
        )
        .route(
            "/protected/json/phones/verification/check",
            web::route().to(verification_check),
        )
        .route("/outbox", web::route().to(outbox_json));
}

/// Availability, body, API key; counts the call for the monthly stats.
async fn prepare(
    req: &HttpRequest,
    payload: web::Payload,
    state: &SandboxState,
    count_call: bool,
) -> Result<Params, HttpResponse> {
    auth::check_available(state).await?;
    let params = params::read(req, payload).await?;
    auth::check_key(req, &params, state).await?;
    if count_call {
        state.api_calls.count_one();
    }
    Ok(params)
}

macro_rules! prepared {
    ($req:expr, $payload:expr, $state:expr) => {
        match prepare(&$req, $payload, &$state, true).await {
            Ok(p) => p,
            Err(resp) => return resp,
        }
    };
}

fn db_failed(e: DbError) -> HttpResponse {
    tracing::error!(target: "authy_sandbox", error = %e, "sandbox database error");
    responses::unavailable()
}

fn path_id(req: &HttpRequest) -> Option<i64> {
    req.match_info()
        .get("id")?
        .parse::<i64>()
        .ok()
        .filter(|&id| id > 0)
}

fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Looks a user parameter up as `user[NAME]` or plain `NAME`.
fn user_param(params: &Params, name: &str) -> Option<String> {
    params
        .text(&["user", name])
        .or_else(|| params.text(&[name]))
}

async fn register_user(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let params = prepared!(req, payload, state);
    let Some(email) = user_param(&params, "email") else {
        return responses::missing_parameter("user[email]");
    };
    let Some(cellphone) = user_param(&params, "cellphone") else {
        return responses::missing_parameter("user[cellphone]");
    };
    let Some(country) = user_param(&params, "country_code") else {
        return responses::missing_parameter("user[country_code]");
    };
    let mut invalid: Vec<(&str, &str)> = Vec::new();
    if !plausible_email(&email) {
        invalid.push(("email", "is invalid"));
    }
    let cc = phone::country_code(&country);
    if cc.is_none() {
        invalid.push(("country_code", "is invalid"));
    }
    let validated = cc.and_then(|cc| phone::validate(cc, &cellphone));
    if validated.is_none() {
        invalid.push(("cellphone", "is invalid"));
    }
    let Some(phone) = validated.filter(|_| invalid.is_empty()) else {
        return json(
            StatusCode::BAD_REQUEST,
            &error_body("60027", "User was not valid", &[], &invalid),
        );
    };
    let install_link = params.flag(&["send_install_link_via_sms"]);
    let result = state
        .db
        .transaction(move |c| {
            let id = users::register(c, &phone, &email)?;
            if install_link {
                outbox::record(
                    c,
                    "sms",
                    &phone,
                    "Download the authenticator app to get your verification codes: https://authy.com/download/",
                )?;
            }
            Ok(id)
        })
        .await;
    match result {
        Ok(id) => ok(&obj([
            ("message", "User created successfully.".into()),
            ("user", obj([("id", id.into())])),
            ("success", true.into()),
        ])),
        Err(e) => db_failed(e),
    }
}

async fn remove_user(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let _params = prepared!(req, payload, state);
    let Some(id) = path_id(&req) else {
        return responses::user_not_found();
    };
    match state.db.transaction(move |c| users::remove(c, id)).await {
        Ok(true) => ok(&obj([
            ("message", "User was added to remove.".into()),
            ("success", true.into()),
        ])),
        Ok(false) => responses::user_not_found(),
        Err(e) => db_failed(e),
    }
}

async fn find_user(req: &HttpRequest, state: &SandboxState) -> Result<SandboxUser, HttpResponse> {
    let Some(id) = path_id(req) else {
        return Err(responses::user_not_found());
    };
    match state.db.run(move |c| users::find(c, id)).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(responses::user_not_found()),
        Err(e) => Err(db_failed(e)),
    }
}

macro_rules! user_or_return {
    ($req:expr, $state:expr) => {
        match find_user(&$req, &$state).await {
            Ok(user) => user,
            Err(resp) => return resp,
        }
    };
}

async fn user_status(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let _params = prepared!(req, payload, state);
    let user = user_or_return!(req, state);
    ok(&obj([
        (
            "status",
            obj([
                ("authy_id", user.id.into()),
                ("confirmed", true.into()),
                ("registered", false.into()),
                ("country_code", user.country_code.into()),
                ("phone_number", phone::mask_status(&user.cellphone).into()),
                ("devices", J::Arr(Vec::new())),
                ("has_hard_token", false.into()),
                ("account_disabled", false.into()),
            ]),
        ),
        ("message", "User status.".into()),
        ("success", true.into()),
    ]))
}

/// Result of a database step that may hit the rate limit.
enum Limited<T> {
    Done(T),
    TooMany,
}

async fn send_code(
    req: HttpRequest,
    payload: web::Payload,
    state: State,
    channel: &'static str,
) -> HttpResponse {
    let _params = prepared!(req, payload, state);
    let user = user_or_return!(req, state);
    let limit = state.settings.rate_limit_per_minute;
    let phone = user.phone();
    let outcome = state
        .db
        .transaction(move |c| {
            if !ratelimit::hit(c, &ratelimit::user_key(user.id), limit)? {
                return Ok(Limited::TooMany);
            }
            let code = tokens::issue(c, user.id, channel)?;
            let text = if channel == "call" {
                format!("Voice call: your verification code is {code}")
            } else {
                format!("Your verification code is {code}")
            };
            outbox::record(c, channel, &phone, &text)?;
            stats::bump(
                c,
                if channel == "call" {
                    Counter::Call
                } else {
                    Counter::Sms
                },
            )?;
            Ok(Limited::Done(phone::mask_cellphone(
                phone.country_code,
                &phone.national,
            )))
        })
        .await;
    let message = if channel == "call" {
        "Call started..."
    } else {
        "SMS token was sent"
    };
    match outcome {
        Ok(Limited::Done(masked)) => ok(&obj([
            ("success", true.into()),
            ("message", message.into()),
            ("cellphone", masked.into()),
        ])),
        Ok(Limited::TooMany) => responses::too_many_requests(),
        Err(e) => db_failed(e),
    }
}

async fn send_sms(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    send_code(req, payload, state, "sms").await
}

async fn start_call(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    send_code(req, payload, state, "call").await
}

async fn verify_token(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let _params = prepared!(req, payload, state);
    let user = user_or_return!(req, state);
    let token = req
        .match_info()
        .get("token")
        .unwrap_or_default()
        .to_string();
    let limit = state.settings.rate_limit_per_minute;
    let outcome = state
        .db
        .transaction(move |c| {
            if !ratelimit::hit(c, &ratelimit::user_key(user.id), limit)? {
                return Ok(Limited::TooMany);
            }
            let result = tokens::verify(c, user.id, &token)?;
            if result == Verification::Valid {
                stats::bump(c, Counter::Auth)?;
            }
            Ok(Limited::Done(result))
        })
        .await;
    match outcome {
        Ok(Limited::Done(Verification::Valid)) => ok(&obj([
            ("message", "Token is valid.".into()),
            ("token", "is valid".into()),
            ("success", "true".into()),
        ])),
        Ok(Limited::Done(Verification::Used)) => json(
            StatusCode::UNAUTHORIZED,
            &error_body(
                "60019",
                "Token is invalid. Token was used recently",
                &[("token", "is invalid")],
                &[],
            ),
        ),
        Ok(Limited::Done(Verification::Invalid)) => json(
            StatusCode::UNAUTHORIZED,
            &error_body("60020", "Token is invalid", &[("token", "is invalid")], &[]),
        ),
        Ok(Limited::TooMany) => responses::too_many_requests(),
        Err(e) => db_failed(e),
    }
}

async fn app_details(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let _params = prepared!(req, payload, state);
    ok(&obj([
        (
            "app",
            obj([
                ("app_id", APP_ID.into()),
                ("name", APP_NAME.into()),
                ("plan", "pay_as_you_go".into()),
                ("sms_enabled", true.into()),
                ("onetouch_enabled", true.into()),
            ]),
        ),
        ("message", "Application information.".into()),
        ("success", true.into()),
    ]))
}

async fn app_stats(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let _params = prepared!(req, payload, state);
    // This call and those before it, written down before they are read.
    if let Err(e) = state.api_calls.flush_now().await {
        return db_failed(e);
    }
    match state.db.run(stats::report).await {
        Ok(body) => ok(&body),
        Err(e) => db_failed(e),
    }
}

/// A JSON object parameter as JSON text (`{}` when absent or not an object).
fn object_text(params: &Params, name: &str) -> String {
    match params.get(&[name]) {
        Some(v @ Value::Object(_)) => v.to_string(),
        _ => "{}".to_string(),
    }
}

async fn create_approval(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let params = prepared!(req, payload, state);
    let user = user_or_return!(req, state);
    let Some(message) = params.text(&["message"]) else {
        return responses::missing_parameter("message");
    };
    let seconds_to_expire = match params.text(&["seconds_to_expire"]) {
        None => DEFAULT_SECONDS_TO_EXPIRE,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => n,
            _ => {
                return responses::invalid_parameter(
                    "seconds_to_expire",
                    "Must be a number of seconds",
                )
            }
        },
    };
    let logos = match params.get(&["logos"]) {
        Some(v @ Value::Array(_)) => v.to_string(),
        _ => "[]".to_string(),
    };
    let new = NewApproval {
        message: "",
        details: object_text(&params, "details"),
        hidden_details: object_text(&params, "hidden_details"),
        logos,
        seconds_to_expire,
    };
    let limit = state.settings.rate_limit_per_minute;
    let outcome = state
        .db
        .transaction(move |c| {
            if !ratelimit::hit(c, &ratelimit::user_key(user.id), limit)? {
                return Ok(Limited::TooMany);
            }
            let new = NewApproval {
                message: &message,
                ..new
            };
            Ok(Limited::Done(approvals::create(c, &user, &new)?))
        })
        .await;
    match outcome {
        Ok(Limited::Done(uuid)) => ok(&obj([
            ("approval_request", obj([("uuid", uuid.into())])),
            ("success", true.into()),
        ])),
        Ok(Limited::TooMany) => responses::too_many_requests(),
        Err(e) => db_failed(e),
    }
}

async fn approval_status(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let _params = prepared!(req, payload, state);
    let uuid = req.match_info().get("uuid").unwrap_or_default().to_string();
    let lookup = uuid.clone();
    match state.db.run(move |c| approvals::get(c, &lookup)).await {
        Ok(Some(approval)) => ok(&approvals::status_body(&approval)),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "60049",
            &format!("Approval request not found: {uuid}"),
        ),
        Err(e) => db_failed(e),
    }
}

/// Why `country_code` + `phone_number` were refused.
enum PhoneRejected {
    Missing(&'static str),
    Invalid,
}

impl PhoneRejected {
    fn response(&self) -> HttpResponse {
        match self {
            PhoneRejected::Missing(name) => responses::missing_parameter(name),
            PhoneRejected::Invalid => {
                error(StatusCode::BAD_REQUEST, "60033", "Phone number is invalid")
            }
        }
    }
}

/// `country_code` + `phone_number`, both required, validated (60033).
fn verification_phone(params: &Params) -> Result<Phone, PhoneRejected> {
    let Some(country) = params.text(&["country_code"]) else {
        return Err(PhoneRejected::Missing("country_code"));
    };
    let Some(number) = params.text(&["phone_number"]) else {
        return Err(PhoneRejected::Missing("phone_number"));
    };
    phone::country_code(&country)
        .and_then(|cc| phone::validate(cc, &number))
        .ok_or(PhoneRejected::Invalid)
}

async fn verification_start(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let params = prepared!(req, payload, state);
    let Some(via) = params.text(&["via"]).map(|v| v.to_ascii_lowercase()) else {
        return responses::missing_parameter("via");
    };
    let via: &'static str = match via.as_str() {
        "sms" => "sms",
        "call" => "call",
        _ => return responses::invalid_parameter("via", "Must be sms or call"),
    };
    let phone = match verification_phone(&params) {
        Ok(p) => p,
        Err(rejected) => return rejected.response(),
    };
    let code_length = match params.text(&["code_length"]) {
        None => DEFAULT_CODE_LENGTH,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (4..=10).contains(&n) => n,
            _ => return responses::invalid_parameter("code_length", "Must be between 4 and 10"),
        },
    };
    let limit = state.settings.rate_limit_per_minute;
    let to = phone.international.clone();
    let outcome = state
        .db
        .transaction(move |c| {
            let key = ratelimit::phone_key(phone.country_code, &phone.national);
            if !ratelimit::hit(c, &key, limit)? {
                return Ok(Limited::TooMany);
            }
            let (uuid, code) = verifications::start(c, &phone, via, code_length)?;
            outbox::record(c, via, &phone, &format!("Your verification code is {code}"))?;
            stats::bump(
                c,
                if via == "call" {
                    Counter::Call
                } else {
                    Counter::Sms
                },
            )?;
            Ok(Limited::Done(uuid))
        })
        .await;
    let message = if via == "call" {
        format!("Call to {to} initiated.")
    } else {
        format!("Text message sent to {to}.")
    };
    match outcome {
        Ok(Limited::Done(uuid)) => ok(&obj([
            ("carrier", "Sandbox Mobile".into()),
            ("is_cellphone", true.into()),
            ("is_ported", false.into()),
            ("message", message.into()),
            ("seconds_to_expire", TTL_SECONDS.into()),
            ("uuid", uuid.into()),
            ("success", true.into()),
        ])),
        Ok(Limited::TooMany) => responses::too_many_requests(),
        Err(e) => db_failed(e),
    }
}

async fn verification_check(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let params = prepared!(req, payload, state);
    let phone = match verification_phone(&params) {
        Ok(p) => p,
        Err(rejected) => return rejected.response(),
    };
    let Some(code) = params.text(&["verification_code"]) else {
        return responses::missing_parameter("verification_code");
    };
    let limit = state.settings.rate_limit_per_minute;
    let to = phone.international.clone();
    let outcome = state
        .db
        .transaction(move |c| {
            let key = ratelimit::phone_key(phone.country_code, &phone.national);
            if !ratelimit::hit(c, &key, limit)? {
                return Ok(Limited::TooMany);
            }
            Ok(Limited::Done(verifications::check(c, &phone, &code)?))
        })
        .await;
    match outcome {
        Ok(Limited::Done(Check::Correct)) => ok(&obj([
            ("message", "Verification code is correct.".into()),
            ("success", true.into()),
        ])),
        Ok(Limited::Done(Check::Incorrect)) => error(
            StatusCode::UNAUTHORIZED,
            "60022",
            "Verification code is incorrect",
        ),
        Ok(Limited::Done(Check::NoPending)) => error(
            StatusCode::NOT_FOUND,
            "60023",
            &format!("No pending verifications for {to} found."),
        ),
        Ok(Limited::TooMany) => responses::too_many_requests(),
        Err(e) => db_failed(e),
    }
}

async fn outbox_json(req: HttpRequest, payload: web::Payload, state: State) -> HttpResponse {
    let params = match prepare(&req, payload, &state, false).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let limit = match params.text(&["limit"]) {
        None => outbox::DEFAULT_LIMIT,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n > 0 => n.min(outbox::MAX_LIMIT),
            _ => return responses::invalid_parameter("limit", "Must be a positive number"),
        },
    };
    let phone = params.text(&["phone"]);
    match state
        .db
        .run(move |c| outbox::list(c, phone.as_deref(), limit))
        .await
    {
        Ok(messages) => ok(&J::Arr(messages.iter().map(|m| m.to_json()).collect())),
        Err(e) => db_failed(e),
    }
}
