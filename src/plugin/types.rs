//! Plain data that crosses the host/addon boundary.

/// The one message for a wrong password, an unknown user, a wrong or expired
/// code and a locked account, so that none of them tells an attacker which.
pub const GENERIC_AUTH_ERROR: &str =
    "Those sign-in details are not right, or the account is temporarily locked. Please try again.";

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Vendor,
    Customer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Vendor, Role::Customer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Vendor => "vendor",
            Role::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The interface an account of this role belongs to: admins and vendors
    /// use the admin interface. Policies (such as whether a second factor is
    /// asked for) follow this, never the form that was used.
    pub fn interface(self) -> Interface {
        match self {
            Role::Admin | Role::Vendor => Interface::Admin,
            Role::Customer => Interface::Customer,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    Customer,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Customer => "customer",
            Interface::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Interface> {
        match s {
            "customer" => Some(Interface::Customer),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Moves on with every password change, two-factor reset or disable and
    /// "sign out everywhere" (see `HostServices::void_pending_sign_ins`). A
    /// sign-in that started under an older generation must not complete.
    pub credential_generation: i64,
}

/// A login page being shown, for `Addon::login_page`.
#[derive(Clone, Debug)]
pub struct LoginPage {
    /// The admin login, or the customer or checkout login.
    pub interface: Interface,
    /// True on checkout's login step.
    pub at_checkout: bool,
    /// Safe local path to go to once signed in.
    pub target: String,
}

/// A login whose password was just verified.
#[derive(Clone, Debug)]
pub struct LoginAttempt {
    /// The id the host will give the pending login if an addon challenges.
    pub pending_id: String,
    pub account: Account,
    /// The interface whose form was used (policy must use `account.role`).
    pub interface: Interface,
    /// Safe local path to go to once signed in.
    pub target: String,
    pub ip: String,
    /// True when the user has just set a new password that an admin
    /// required; an addon may then insist on enrolment (a phone, say).
    pub password_just_changed: bool,
    /// The cookies the browser sent with the password, so that an addon can
    /// recognise a device it marked before (a trusted device). Empty for a
    /// sign-in that has no browser.
    pub cookies: RequestCookies,
}

/// The cookies of a request, by name. Debug shows the names only: values
/// are secrets (the session id, tokens).
#[derive(Clone, Default)]
pub struct RequestCookies(BTreeMap<String, String>);

impl RequestCookies {
    pub fn of(req: &actix_web::HttpRequest) -> RequestCookies {
        RequestCookies(
            req.cookies()
                .map(|all| {
                    all.iter()
                        .map(|c| (c.name().to_string(), c.value().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> RequestCookies {
        RequestCookies(pairs.into_iter().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl std::fmt::Debug for RequestCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginDecision {
    Continue,
    /// Keep a pending login and send the user to `redirect` (a local path).
    Challenge {
        redirect: String,
    },
}

/// Server-side state between a verified password and a completed login.
#[derive(Clone, Debug, Serialize)]
pub struct PendingLogin {
    pub id: String,
    pub account: Account,
    pub interface: Interface,
    pub target: String,
    pub addon_id: Option<String>,
    pub attempts: i32,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileForm {
    /// `/register`: no account yet.
    Registration,
    /// `/account`: the user's own profile.
    Account,
    /// `/admin/users/{id}`: an admin editing someone.
    AdminUser,
}

#[derive(Clone, Debug)]
pub struct ProfileContext {
    pub form: ProfileForm,
    /// The account being edited (None on registration).
    pub account: Option<Account>,
    /// Who is submitting (None on registration).
    pub actor: Option<Account>,
    pub ip: String,
    /// `HostServices::session_key` of the submitting session.
    pub session_key: Option<String>,
}

/// Submitted form fields in order; the first value wins for a repeated name.
#[derive(Clone, Debug, Default)]
pub struct FormValues(pub Vec<(String, String)>);

impl FormValues {
    pub fn parse(body: &[u8]) -> Result<FormValues, serde_urlencoded::de::Error> {
        Ok(FormValues(serde_urlencoded::from_bytes(body)?))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value trimmed, or "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or("")
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), Some("on" | "true" | "1" | "yes"))
    }

    /// The fields `T` names, read into `T` (text fields only; others are
    /// ignored). A field given twice makes the form unreadable: it reads as
    /// `T::default()`, the empty form.
    pub fn read<T: serde::de::DeserializeOwned + Default>(&self) -> T {
        let pairs = self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let de = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(pairs);
        T::deserialize(de).unwrap_or_default()
    }
}

/// Field name → message, shown next to the field.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
    pub fn merge(&mut self, other: FieldErrors) {
        for (k, v) in other.0 {
            self.0.entry(k).or_insert(v);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    /// Shown to the user as it is: no secrets in it.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("{0}")]
    Internal(String),
}

/// What completing a pending login led to.
#[derive(Debug)]
pub enum Completion {
    /// A new session; the response redirects to the sign-in's target.
    SignedIn(actix_web::HttpResponse),
    /// An admin required a new password: the response leads to that step,
    /// and the session starts after it. An addon must not send the user
    /// anywhere else in between.
    PasswordChangeNext(actix_web::HttpResponse),
}

impl Completion {
    pub fn into_response(self) -> actix_web::HttpResponse {
        match self {
            Completion::SignedIn(r) | Completion::PasswordChangeNext(r) => r,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the sign-in has expired; please sign in again")]
    PendingLoginGone,
    /// The account may not sign in here (gone, or the interface refuses
    /// its role); say no more than a wrong password would.
    #[error("this account cannot sign in here")]
    Refused,
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// A local path that is safe to redirect to after login: starts with one
/// `/`, no scheme, no backslash, no control characters. Anything else
/// becomes `fallback` (no open redirect).
pub fn safe_target(candidate: Option<&str>, fallback: &str) -> String {
    match candidate {
        Some(t)
            if t.starts_with('/')
                && !t.starts_with("//")
                && !t.contains('\\')
                && t.len() <= 512
                && !t.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            t.to_string()
        }
        _ => fallback.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_target;

    #[test]
    fn only_local_paths_are_targets() {
        assert_eq!(safe_target(Some("/checkout"), "/"), "/checkout");
        assert_eq!(safe_target(Some("/account?tab=1"), "/"), "/account?tab=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "/a\nb",
            "/%0a x",
        ] {
            assert_eq!(safe_target(Some(bad), "/"), "/", "{bad:?}");
        }
        assert_eq!(safe_target(None, "/admin"), "/admin");
    }
}
