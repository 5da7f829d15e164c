//! The Country phone code and Phone number fields on `/register`,
//! `/account` and `/admin/users/{id}`.

use serde::{Deserialize, Serialize};

use crate::plugin::{
    AddonError, FieldErrors, FormValues, HostHandle, Interface, ProfileContext, ProfileForm,
    ProfileSave, Role, GENERIC_AUTH_ERROR,
};

use crate::two_factor::admin::confirm_access;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::limits;
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::sign_in::verify::Checked;
use crate::two_factor::sms::countries;
use crate::two_factor::sms::phone::{PhoneError, PhoneNumber};
use crate::two_factor::sms::service::{gateway_message, Actor, Service, ACCOUNT_PAGE_PURPOSE};
use crate::two_factor::store;

pub const F_COUNTRY: &str = "tfa_country";
pub const F_PHONE: &str = "tfa_phone";
pub const F_PASSWORD: &str = "tfa_current_password";
pub const F_CODE: &str = "tfa_code";

/// The addon's fields in a host profile form (names as `F_*` above), and
/// the e-mail of a registration, which names the account in the audit log.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PhoneFields {
    tfa_country: String,
    tfa_phone: String,
    tfa_current_password: String,
    tfa_code: String,
    email: String,
}

/// Route of the "Send a code to my current phone" button.
pub const SEND_CODE_PATH: &str = "/two-factor/account/send-code";
/// The phone error when an admin's phone change needs "confirm it is you".
const CONFIRM_FIRST: &str = "Confirm it is you before changing an administrator's phone number (your password and your own code), then save again.";

#[derive(Serialize)]
struct FieldsView<'a> {
    form: ProfileForm,
    /// Pre-rendered, escaped `<option>`s (see `countries::options_html`).
    country_options: String,
    phone: String,
    stored_last_two: Option<String>,
    /// Changing the phone needs a code from the current phone.
    needs_code: bool,
    needs_password: bool,
    send_code_path: &'a str,
    notice: Option<String>,
    errors: &'a FieldErrors,
    /// "Confirm it is you", when changing this admin's phone needs it.
    confirm_path: Option<String>,
}

pub async fn fields(
    service: &Service,
    host: &HostHandle,
    form: &ProfileContext,
    values: Option<&FormValues>,
    errors: &FieldErrors,
) -> Result<String, AddonError> {
    let stored = match &form.account {
        Some(account) => store::phone_of(host.db(), account.id).await?,
        None => None,
    };
    let settings = service.settings(host).await?;
    let needs_code = form.form == ProfileForm::Account
        && stored.is_some()
        && form
            .account
            .as_ref()
            .is_some_and(|a| settings.active_for(a.role));
    let (country, phone) = match values {
        Some(v) => {
            let f: PhoneFields = v.read();
            (f.tfa_country.trim().into(), f.tfa_phone.trim().into())
        }
        None => match &stored {
            // National format would be nicer; E.164 is unambiguous and valid input.
            Some(s) => (s.phone.region().to_string(), s.phone.e164().to_string()),
            None => (String::new(), String::new()),
        },
    };
    let notice = match (&form.account, needs_code) {
        (Some(account), true) => {
            let account_id = account.id;
            host.db()
                .run(move |conn| crate::two_factor::state::notice(conn, account_id))
                .await?
                .filter(|(_, at)| *at > crate::db::now() - 600)
                .map(|(text, _)| text)
        }
        _ => None,
    };
    // The gateway refused the stored number: say so beside the field,
    // unless the form already has something to say there.
    let mut errors = errors.clone();
    if stored.as_ref().is_some_and(|s| s.refused) && errors.get(F_PHONE).is_none() {
        errors.add(F_PHONE, match form.form {
            ProfileForm::AdminUser => "Our text message service says this user's phone number is not valid, so no codes reach it. Enter a correct number.",
            _ => "Our text message service says this phone number is not valid, so no codes reach it. Enter a correct number.",
        });
    }
    let errors = &errors;
    let view = FieldsView {
        form: form.form,
        country_options: countries::options_html(&country),
        phone,
        stored_last_two: stored.as_ref().map(|s| s.phone.last_two().to_string()),
        needs_code,
        needs_password: form.form == ProfileForm::Account,
        send_code_path: SEND_CODE_PATH,
        notice,
        errors,
        confirm_path: (errors.get(F_PHONE) == Some(CONFIRM_FIRST))
            .then(|| {
                form.account
                    .as_ref()
                    .map(|a| confirm_access::path_to(&format!("/admin/users/{}", a.id)))
            })
            .flatten(),
    };
    let ctx =
        tera::Context::from_serialize(&view).map_err(|e| AddonError::Internal(e.to_string()))?;
    host.render_fragment("two_factor/profile_fields.html", &ctx)
}

fn phone_error(errors: &mut FieldErrors, e: PhoneError) {
    match e {
        PhoneError::UnknownCountry => errors.add(F_COUNTRY, e.to_string()),
        _ => errors.add(F_PHONE, e.to_string()),
    }
}

pub async fn validate(
    service: &Service,
    host: &HostHandle,
    form: &ProfileContext,
    values: &FormValues,
) -> Result<Option<ProfileSave>, FieldErrors> {
    let fields: PhoneFields = values.read();
    let mut errors = FieldErrors::default();
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "two-factor profile check failed");
        let mut errors = FieldErrors::default();
        errors.add(
            F_PHONE,
            "The phone number could not be checked just now. Please try again.",
        );
        errors
    };
    let number = fields.tfa_phone.trim();
    let new_phone = if number.is_empty() {
        None
    } else {
        match PhoneNumber::parse(fields.tfa_country.trim(), number) {
            Ok(p) => Some(p),
            Err(e) => {
                phone_error(&mut errors, e);
                return Err(errors);
            }
        }
    };
    // Each account registered with a phone gets a text at its first
    // sign-in: accounts made in bulk from one address would make texts in
    // bulk (SMS pumping), so an address may register only so many.
    if form.form == ProfileForm::Registration && new_phone.is_some() {
        let allowed = limits::registration_attempt(host.db(), &form.ip)
            .await
            .map_err(|e| internal(&e))?;
        if !allowed {
            errors.add(
                F_PHONE,
                "Too many accounts with a phone number were registered from your network in the last hour. Please try again later.",
            );
            return Err(errors);
        }
    }
    let stored = match &form.account {
        Some(account) => store::phone_of(host.db(), account.id)
            .await
            .map_err(|e| internal(&e))?,
        None => None,
    };
    let unchanged = match (&stored, &new_phone) {
        (None, None) => true,
        (Some(s), Some(p)) => s.phone == *p,
        _ => false,
    };
    if unchanged {
        return Ok(None);
    }

    // An admin account's phone is its second factor: changing it (own or
    // another admin's) from the admin user page needs "confirm it is you".
    if let (ProfileForm::AdminUser, Some(target), Some(actor)) =
        (form.form, &form.account, &form.actor)
    {
        if target.role == Role::Admin {
            let confirmed =
                confirm_access::is_confirmed(host.db(), form.session_key.as_deref(), actor.id)
                    .await
                    .map_err(|e| internal(&e))?;
            if !confirmed {
                errors.add(F_PHONE, CONFIRM_FIRST);
                return Err(errors);
            }
        }
    }

    if form.form == ProfileForm::Account {
        let Some(account) = &form.account else {
            return Ok(None);
        };
        let password = fields.tfa_current_password.as_str();
        if password.is_empty() {
            errors.add(
                F_PASSWORD,
                "Enter your current password to change your phone number.",
            );
            return Err(errors);
        }
        if !host.verify_password(account.id, password).await {
            errors.add(F_PASSWORD, "That is not your current password.");
            return Err(errors);
        }
        let settings = service.settings(host).await.map_err(|e| internal(&e))?;
        if let Some(current) = stored
            .as_ref()
            .filter(|_| settings.active_for(account.role))
        {
            let raw = fields.tfa_code.trim();
            if raw.is_empty() {
                errors.add(
                    F_CODE,
                    format!(
                        "Enter the code sent to your current phone (ending in {}). Use “Send a code to my current phone” to get one.",
                        current.phone.last_two()
                    ),
                );
                return Err(errors);
            }
            let code = OtpCode::parse_typed(raw, settings.code_lengths());
            let interface = account.role.interface();
            let actor = Actor {
                account,
                interface,
                ip: &form.ip,
                purpose: ACCOUNT_PAGE_PURPOSE,
                initial: false,
                via_api: false,
            };
            let outcome = service
                .check_code(host, &settings, &actor, current, code.as_ref())
                .await
                .map_err(|e| internal(&e))?;
            match outcome {
                Checked::Valid { .. } => {}
                Checked::Wrong | Checked::NoCodeSent => {
                    errors.add(F_CODE, "That code is not right. Check it, or send a new code to your current phone.");
                    return Err(errors);
                }
                Checked::Locked => {
                    errors.add(F_CODE, GENERIC_AUTH_ERROR);
                    return Err(errors);
                }
                Checked::GatewayFailed => {
                    errors.add(F_CODE, gateway_message(false));
                    return Err(errors);
                }
                Checked::CodeEnded | Checked::TooManyTriesAtGateway => {
                    errors.add(F_CODE, "That code has expired or was already used. Send a new code to your current phone.");
                    return Err(errors);
                }
            }
        }
    }

    // Admin edits and registration need neither password nor code.
    let actor_email = form
        .actor
        .as_ref()
        .map(|a| a.email.to_lowercase())
        .unwrap_or_default();
    let subject_email = form
        .account
        .as_ref()
        .map(|a| a.email.to_lowercase())
        .unwrap_or_else(|| fields.email.trim().to_lowercase());
    let interface = match form.form {
        ProfileForm::AdminUser => Interface::Admin,
        _ => Interface::Customer,
    };
    let by = match form.form {
        ProfileForm::Registration => "at registration".to_string(),
        ProfileForm::Account => "by the account holder".to_string(),
        ProfileForm::AdminUser => format!("by admin {actor_email}"),
    };
    let ip = form.ip.clone();
    // A changed or removed phone voids the account's sign-ins under way
    // (they started under the old factor); a new account has none.
    let void = (form.form != ProfileForm::Registration).then(|| host.clone());
    let save: ProfileSave = Box::new(move |conn, account_id| {
        if let Some(host) = &void {
            host.void_pending_sign_ins(conn, account_id)?;
        }
        let (outcome, detail) = match &new_phone {
            Some(phone) => {
                store::save_phone(conn, account_id, phone)?;
                ("saved", format!("phone ending {} {by}", phone.last_two()))
            }
            None => {
                store::delete_phone(conn, account_id)?;
                ("removed", format!("phone removed {by}"))
            }
        };
        let mut ev = AuditEvent::new("phone_change", outcome)
            .interface(interface)
            .ip(&ip)
            .detail(detail);
        ev.account_id = Some(account_id);
        ev.account_email = subject_email;
        audit::insert(conn, &ev)
    });
    Ok(Some(save))
}
