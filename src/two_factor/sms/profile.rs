//! The Country phone code and Phone number fields on `/register`,
//! `/account` and `/admin/users/{id}`.

use serde::{Deserialize, Serialize};

use crate::plugin::{
    AddonError, FieldErrors, FormValues, HostHandle, Interface, ProfileContext, ProfileForm,
    ProfileSave, Role, GENERIC_AUTH_ERROR,
};

use crate::two_factor::admin::confirm_access;
use crate::two_factor::audit::{self, AuditEvent};
use crate::two_factor::factors::ProfileReads;
use crate::two_factor::limits;
use crate::two_factor::otp_code::OtpCode;
use crate::two_factor::settings::StoreSettings;
use crate::two_factor::sign_in::verify::Checked;
use crate::two_factor::sms::countries;
use crate::two_factor::sms::phone::{PhoneError, PhoneNumber};
use crate::two_factor::sms::phone_change::{self, NEW_PHONE_PURPOSE};
use crate::two_factor::sms::service::{gateway_message, Actor, Service, ACCOUNT_PAGE_PURPOSE};
use crate::two_factor::store;
use crate::two_factor::ADDON_ID;

pub const F_COUNTRY: &str = "tfa_country";
pub const F_PHONE: &str = "tfa_phone";
pub const F_PASSWORD: &str = "tfa_current_password";
pub const F_CODE: &str = "tfa_code";
pub const F_NEW_CODE: &str = "tfa_new_phone_code";
/// The addon setting naming the store's country (preselected for a phone).
pub const STORE_COUNTRY: &str = "store_country";

/// The addon's fields in a host profile form (names as `F_*` above), and
/// the e-mail of a registration, which names the account in the audit log.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PhoneFields {
    tfa_country: String,
    tfa_phone: String,
    tfa_current_password: String,
    tfa_code: String,
    tfa_new_phone_code: String,
    email: String,
}

/// Whose phone the form is about: the wording follows it ("your phone",
/// "this user's phone"), and only one's own new number waits for a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Whose {
    Own,
    ThisUser,
}

fn whose(form: &ProfileContext) -> Whose {
    match (form.form, &form.account, &form.actor) {
        (ProfileForm::AdminUser, Some(target), Some(actor)) if target.id != actor.id => {
            Whose::ThisUser
        }
        _ => Whose::Own,
    }
}

/// A change of one's own number on a profile (not at registration) waits
/// for a code sent to the new number.
fn confirms_new_number(form: &ProfileContext) -> bool {
    form.account.is_some() && form.form != ProfileForm::Registration && whose(form) == Whose::Own
}

/// Where "Send a new code to my new number" goes, per interface.
pub const NEW_PHONE_SEND_PATH: &str = "/two-factor/account/new-phone/send";
pub const ADMIN_NEW_PHONE_SEND_PATH: &str = "/admin/two-factor/account/new-phone/send";

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
    /// The number on file, masked ("+44 •••• ••3456").
    stored_masked: Option<String>,
    /// The number on file was set by an admin or at registration and waits
    /// for its owner's next sign-in.
    stored_unconfirmed: bool,
    /// The new number waiting for its code, masked.
    change_masked: Option<String>,
    new_phone_send_path: &'a str,
    change_notice: Option<String>,
    whose: Whose,
    /// What was typed in the current-password field, kept when only
    /// another field was wrong (it was just typed by this user).
    current_password: String,
    /// Changing the phone needs a code from the current phone.
    needs_code: bool,
    needs_password: bool,
    send_code_path: &'a str,
    notice: Option<String>,
    errors: &'a FieldErrors,
    /// "Confirm it is you", when changing this admin's phone needs it.
    confirm_path: Option<String>,
}

/// `reads` are the account's (`factors::profile_of`), None on registration.
pub async fn fields(
    service: &Service,
    host: &HostHandle,
    form: &ProfileContext,
    reads: Option<&ProfileReads>,
    values: Option<&FormValues>,
    errors: &FieldErrors,
) -> Result<String, AddonError> {
    let stored = reads.and_then(|r| r.phone.clone());
    // The notice kept for the profile (a code was sent, say), for 10 minutes.
    let recent_notice = reads
        .and_then(|r| r.notice.clone())
        .filter(|(_, at)| *at > crate::db::now() - 600)
        .map(|(text, _)| text);
    let addon = host.addon_settings(ADDON_ID).await?;
    let settings = StoreSettings::from_addon(&addon);
    let needs_code = form.form == ProfileForm::Account
        && stored.is_some()
        && form
            .account
            .as_ref()
            .is_some_and(|a| settings.active_for(a.role));
    let typed: Option<PhoneFields> = values.map(|v| v.read());
    let (country, phone) = match &typed {
        // What was typed; a valid number in its tidy national form (a
        // pasted "+44 …" becomes the United Kingdom and "07400 123456").
        Some(f) => match PhoneNumber::parse(&f.tfa_country, &f.tfa_phone) {
            Ok(p) => (p.region().to_string(), p.national_display()),
            Err(_) => (f.tfa_country.trim().into(), f.tfa_phone.trim().into()),
        },
        None => match &stored {
            Some(s) => (s.phone.region().to_string(), s.phone.national_display()),
            None => (
                countries::store_country(addon.text(STORE_COUNTRY)).to_string(),
                String::new(),
            ),
        },
    };
    let change = reads.and_then(|r| r.change.clone());
    let (change, change_notice) = match (&form.account, change) {
        (Some(account), Some(change)) if confirms_new_number(form) => {
            new_number_state(service, host, account, &form.ip, change, &recent_notice).await?
        }
        _ => (None, None),
    };
    // What the profile keeps saying: a notice just kept by the new
    // number's first code (`new_number_state`), else the one read.
    let notice = match &change {
        Some(_) => change_notice.clone(),
        None => recent_notice,
    }
    .filter(|_| form.account.is_some() && needs_code);
    // The gateway refused the stored number: say so beside the field,
    // unless the form already has something to say there.
    let mut errors = errors.clone();
    if stored.as_ref().is_some_and(|s| s.refused) && errors.get(F_PHONE).is_none() {
        errors.add(F_PHONE, match whose(form) {
            Whose::ThisUser => "Our text message service says this user's phone number is not valid, so no codes reach it. Enter a correct number.",
            Whose::Own => "Our text message service says this phone number is not valid, so no codes reach it. Enter a correct number.",
        });
    }
    let errors = &errors;
    let current_password = match &typed {
        Some(f) if errors.get(F_PASSWORD).is_none() => f.tfa_current_password.clone(),
        _ => String::new(),
    };
    let view = FieldsView {
        form: form.form,
        country_options: countries::options_html(&country),
        phone,
        stored_masked: stored.as_ref().map(|s| s.phone.masked()),
        stored_unconfirmed: stored.as_ref().is_some_and(|s| !s.confirmed),
        change_masked: change.map(|c| c.phone.masked()),
        new_phone_send_path: match form.form {
            ProfileForm::AdminUser => ADMIN_NEW_PHONE_SEND_PATH,
            _ => NEW_PHONE_SEND_PATH,
        },
        change_notice,
        whose: whose(form),
        current_password,
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

/// The new number waiting for its code, if any, and what to say about it.
/// The first time the profile shows it, its code is sent (once: a reload
/// never sends again). An expired one is forgotten, and said so once.
async fn new_number_state(
    service: &Service,
    host: &HostHandle,
    account: &crate::plugin::Account,
    ip: &str,
    change: phone_change::PhoneChange,
    recent_notice: &Option<String>,
) -> Result<(Option<phone_change::PhoneChange>, Option<String>), AddonError> {
    let id = account.id;
    if change.expired() {
        host.db()
            .transaction(move |c| phone_change::forget(c, id))
            .await?;
        return Ok((None, Some(phone_change::EXPIRED.to_string())));
    }
    let first = phone_change::send_first(service, host, account, ip)
        .await
        .map_err(|e| AddonError::Internal(e.to_string()))?;
    let notice = match first {
        // Kept as the profile's notice too, so that the next view (after a
        // wrong code, say) still says it, not what was said before.
        Some(text) => {
            let kept = text.clone();
            host.db()
                .transaction(move |conn| crate::two_factor::state::set_notice(conn, id, &kept))
                .await?;
            Some(text)
        }
        None => recent_notice.clone(),
    };
    Ok((Some(change), notice))
}

fn phone_error(errors: &mut FieldErrors, e: PhoneError, whose: Whose) {
    match (e, whose) {
        (PhoneError::UnknownCountry, Whose::ThisUser) => errors.add(
            F_COUNTRY,
            "Choose the country of this user's phone number, or type it with its country code (+44 …).",
        ),
        (e @ PhoneError::UnknownCountry, Whose::Own) => errors.add(F_COUNTRY, e.to_string()),
        (e, _) => errors.add(F_PHONE, e.to_string()),
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
                phone_error(&mut errors, e, whose(form));
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
    // The code of a new number waiting for it: that number becomes the
    // one on file (whether the phone field still shows the old number or
    // the new one again).
    let new_code = fields.tfa_new_phone_code.trim();
    if confirms_new_number(form) && !new_code.is_empty() {
        if let Some(account) = &form.account {
            let keeps_field = match (&stored, &new_phone) {
                (Some(s), Some(p)) => s.phone == *p,
                (None, None) => true,
                _ => false,
            };
            let change = phone_change::of(host.db(), account.id)
                .await
                .map_err(|e| internal(&e))?;
            let same_as_change = change
                .as_ref()
                .zip(new_phone.as_ref())
                .is_some_and(|(c, p)| c.phone == *p);
            if keeps_field || same_as_change {
                return confirm_new_number(service, host, form, account, change, new_code).await;
            }
        }
    }
    let unchanged = match (&stored, &new_phone) {
        (None, None) => true,
        (Some(s), Some(p)) => s.phone == *p,
        _ => false,
    };
    if unchanged {
        return Ok(None);
    }
    // While the store requires a second factor, one's own only phone stays.
    if let (ProfileForm::Account, Some(account), Some(_), None) =
        (form.form, &form.account, &stored, &new_phone)
    {
        use crate::two_factor::required::last_factor;
        if last_factor::phone_is_kept(host, account)
            .await
            .map_err(|e| internal(&e))?
        {
            errors.add(F_PHONE, last_factor::KEPT);
            return Err(errors);
        }
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
                        "Enter the code sent to your current phone ({}). Use “Send a code to my current phone” to get one.",
                        current.phone.masked()
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
    let own_change = confirms_new_number(form);
    // A changed or removed phone voids the account's sign-ins under way
    // (they started under the old factor); a new account has none, and a
    // new number waiting for its code changes nothing yet.
    let void = (form.form != ProfileForm::Registration && !(own_change && new_phone.is_some()))
        .then(|| host.clone());
    let save: ProfileSave = Box::new(move |conn, account_id| {
        if let Some(host) = &void {
            host.void_pending_sign_ins(conn, account_id)?;
        }
        let (outcome, detail) = match &new_phone {
            // One's own new number waits for the code sent to it; the
            // number on file stays in use until then.
            Some(phone) if own_change => {
                phone_change::start(conn, account_id, phone)?;
                (
                    "pending",
                    format!(
                        "new phone ending {} asked for {by}; waits for its code",
                        phone.last_two()
                    ),
                )
            }
            // Set by an admin for someone, or at registration: its owner
            // confirms it with the code at their next sign-in.
            Some(phone) => {
                store::save_unconfirmed_phone(conn, account_id, phone)?;
                (
                    "saved",
                    format!("phone ending {} {by}; unconfirmed", phone.last_two()),
                )
            }
            None => {
                store::delete_phone(conn, account_id)?;
                phone_change::forget(conn, account_id)?;
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

/// Checks the code sent to the new number waiting for it; when right, the
/// save makes it the number on file (once: the change is used up). The
/// attempt counts against the account like every code.
async fn confirm_new_number(
    service: &Service,
    host: &HostHandle,
    form: &ProfileContext,
    account: &crate::plugin::Account,
    change: Option<phone_change::PhoneChange>,
    raw: &str,
) -> Result<Option<ProfileSave>, FieldErrors> {
    let errors = FieldErrors::default();
    let refuse = |mut errors: FieldErrors, text: &str| {
        errors.add(F_NEW_CODE, text);
        Err(errors)
    };
    let Some(change) = change else {
        return refuse(
            errors,
            "No new phone number is waiting for a code. Enter the new number, then the code sent to it.",
        );
    };
    if change.expired() {
        return refuse(errors, phone_change::EXPIRED);
    }
    let settings = match service.settings(host).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "two-factor profile check failed");
            return refuse(errors, gateway_message(false));
        }
    };
    let code = OtpCode::parse_typed(raw, settings.code_lengths());
    let actor = Actor {
        account,
        interface: account.role.interface(),
        ip: &form.ip,
        purpose: NEW_PHONE_PURPOSE,
        initial: false,
        via_api: false,
    };
    let stored = change.as_stored(account.id);
    let outcome = match service
        .check_code(host, &settings, &actor, &stored, code.as_ref())
        .await
    {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "two-factor profile check failed");
            return refuse(errors, gateway_message(false));
        }
    };
    match outcome {
        Checked::Valid { .. } => {}
        Checked::Wrong | Checked::NoCodeSent => {
            return refuse(
                errors,
                "That code is not right. Check it, or send a new code to your new number.",
            );
        }
        Checked::Locked => return refuse(errors, GENERIC_AUTH_ERROR),
        Checked::GatewayFailed => return refuse(errors, gateway_message(false)),
        Checked::CodeEnded | Checked::TooManyTriesAtGateway => {
            return refuse(
                errors,
                "That code has expired or was already used. Send a new code to your new number.",
            );
        }
    }
    let host = host.clone();
    let e164 = change.phone.e164().to_string();
    let detail = format!(
        "phone ending {} confirmed with a code by the account holder",
        change.phone.last_two()
    );
    let confirmed = format!(
        "Your new number {} is confirmed: sign-in codes go to it from now on.",
        change.phone.masked()
    );
    let (ip, email, interface) = (
        form.ip.clone(),
        account.email.to_lowercase(),
        account.role.interface(),
    );
    Ok(Some(Box::new(move |conn, account_id| {
        if !phone_change::complete(conn, account_id, &e164)? {
            // Used or replaced since the check: nothing changes.
            return Err(crate::db::DbError::Query(
                diesel::result::Error::RollbackTransaction,
            ));
        }
        // Sign-ins under way started under the old number.
        host.void_pending_sign_ins(conn, account_id)?;
        // Replaces what was said about the old number's code.
        crate::two_factor::state::set_notice(conn, account_id, &confirmed)?;
        let mut ev = AuditEvent::new("phone_change", "saved")
            .interface(interface)
            .ip(&ip)
            .detail(detail.clone());
        ev.account_id = Some(account_id);
        ev.account_email = email.clone();
        audit::insert(conn, &ev)
    })))
}
