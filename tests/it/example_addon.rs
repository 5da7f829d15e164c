//! A second factor written against the public addon API only: "type the
//! word the page shows". It proves a foreign addon can challenge logins of
//! every role, add profile fields and own routes, without touching the host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use async_trait::async_trait;
use storefront_2fa::plugin::{
    Addon, AddonError, FieldErrors, FormValues, HostHandle, LoginAttempt, LoginDecision, Manifest,
    ProfileContext, ProfileSave,
};
use storefront_2fa::startup::{AddonContext, AddonList};

pub const MANIFEST: &str = r#"
[addon]
id = "word_check"
name = "Word check"
version = "1.0.0"
description = "Asks for the word shown on the page after the password."
hooks = ["after_password_verified", "profile_fields", "on_logout", "routes"]
route_prefixes = ["/word-check"]

[[settings]]
key = "greeting"
type = "text"
label = "Greeting"
help = "Shown above the word."
default = "Type the word"
"#;

const WORDS: &[&str] = &[
    "apple", "river", "copper", "meadow", "lantern", "pepper", "harbor", "violet",
];

#[derive(Default)]
pub struct WordCheck {
    /// Favourite words saved through the profile hooks (test-only memory).
    pub favourites: Arc<Mutex<HashMap<i64, String>>>,
    pub logouts: Arc<Mutex<Vec<i64>>>,
}

/// The word for a pending login, derived from its id with the host's key.
pub fn word_for(host: &HostHandle, pending_id: &str) -> &'static str {
    let sig = host.secret_key().sign("word-check", pending_id.as_bytes());
    WORDS[sig.bytes().map(usize::from).sum::<usize>() % WORDS.len()]
}

struct Routes {
    host: HostHandle,
}

async fn page(routes: web::Data<Routes>, req: HttpRequest) -> HttpResponse {
    let Some(pending) = routes.host.pending_login(&req).await else {
        return HttpResponse::SeeOther()
            .insert_header(("Location", "/login"))
            .finish();
    };
    let settings = routes
        .host
        .addon_settings("word_check")
        .await
        .unwrap_or_default();
    let mut ctx = tera::Context::new();
    ctx.insert("word", word_for(&routes.host, &pending.id));
    ctx.insert("greeting", settings.text("greeting"));
    ctx.insert("error", &None::<String>);
    routes
        .host
        .render(&req, StatusCode::OK, "word_check/page.html", ctx)
        .await
}

async fn submit(routes: web::Data<Routes>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(pending) = routes.host.pending_login(&req).await else {
        return HttpResponse::SeeOther()
            .insert_header(("Location", "/login"))
            .finish();
    };
    let values = FormValues::parse(&body).unwrap_or_default();
    let attempts = routes
        .host
        .count_pending_attempt(&pending.id)
        .await
        .ok()
        .flatten()
        .unwrap_or(99);
    if attempts > 3 {
        let _ = routes.host.cancel_pending_login(&pending.id).await;
        return HttpResponse::SeeOther()
            .insert_header(("Location", "/login"))
            .finish();
    }
    if values.text("word") == word_for(&routes.host, &pending.id) {
        return match routes.host.complete_pending_login(&req, &pending.id).await {
            Ok(done) => done.into_response(),
            Err(_) => HttpResponse::SeeOther()
                .insert_header(("Location", "/login"))
                .finish(),
        };
    }
    let mut ctx = tera::Context::new();
    ctx.insert("word", word_for(&routes.host, &pending.id));
    ctx.insert("greeting", "Type the word");
    ctx.insert("error", "That is not the word.");
    routes
        .host
        .render(&req, StatusCode::UNAUTHORIZED, "word_check/page.html", ctx)
        .await
}

#[async_trait(?Send)]
impl Addon for WordCheck {
    fn id(&self) -> &'static str {
        "word_check"
    }

    fn templates(&self) -> Vec<(String, String)> {
        vec![
            (
                "word_check/page.html".into(),
                r#"{% extends "skins/customer.html" %}{% block title %}Word check{% endblock title %}
{% block content %}<h1>{{ greeting }}</h1><p>The word is <strong id="word">{{ word }}</strong>.</p>
{% if error %}<p class="alert" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/word-check"><input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<label for="w">Word</label><input id="w" name="word" autofocus><button>Continue</button></form>{% endblock content %}"#
                    .into(),
            ),
            (
                "word_check/field.html".into(),
                r#"<div class="field"><label for="f-favourite_word">Favourite word</label><input id="f-favourite_word" name="favourite_word" value="{{ value }}">{% if error %}<p class="error">{{ error }}</p>{% endif %}</div>"#.into(),
            ),
        ]
    }

    fn configure_routes(&self, cfg: &mut web::ServiceConfig, host: HostHandle) {
        cfg.app_data(web::Data::new(Routes { host }))
            .route("/word-check", web::get().to(page))
            .route("/word-check", web::post().to(submit));
    }

    async fn after_password_verified(
        &self,
        _host: &HostHandle,
        _attempt: &LoginAttempt,
    ) -> Result<LoginDecision, AddonError> {
        Ok(LoginDecision::Challenge {
            redirect: "/word-check".into(),
        })
    }

    async fn profile_fields(
        &self,
        host: &HostHandle,
        form: &ProfileContext,
        values: Option<&FormValues>,
        errors: &FieldErrors,
    ) -> Result<String, AddonError> {
        let stored = form
            .account
            .as_ref()
            .and_then(|a| self.favourites.lock().unwrap().get(&a.id).cloned())
            .unwrap_or_default();
        let mut ctx = tera::Context::new();
        ctx.insert(
            "value",
            &values
                .map(|v| v.text("favourite_word").to_string())
                .unwrap_or(stored),
        );
        ctx.insert("error", &errors.get("favourite_word"));
        host.render_fragment("word_check/field.html", &ctx)
    }

    async fn validate_profile(
        &self,
        _host: &HostHandle,
        _form: &ProfileContext,
        values: &FormValues,
    ) -> Result<Option<ProfileSave>, FieldErrors> {
        let word = values.text("favourite_word").to_string();
        if !word.chars().all(|c| c.is_ascii_alphabetic()) || word.len() > 20 {
            let mut e = FieldErrors::default();
            e.add("favourite_word", "Use up to 20 letters.");
            return Err(e);
        }
        let favourites = self.favourites.clone();
        Ok(Some(Box::new(move |_conn, account_id| {
            favourites.lock().unwrap().insert(account_id, word);
            Ok(())
        })))
    }

    async fn on_logout(&self, _host: &HostHandle, account: &storefront_2fa::plugin::Account) {
        self.logouts.lock().unwrap().push(account.id);
    }
}

/// Installs only the word-check addon; returns it so tests can look inside.
pub fn only_word_check() -> (Arc<WordCheck>, impl FnOnce(&AddonContext<'_>) -> AddonList) {
    let addon = Arc::new(WordCheck::default());
    let handle = addon.clone();
    (handle, move |_ctx: &AddonContext<'_>| -> AddonList {
        vec![(Manifest::parse(MANIFEST).unwrap(), addon as Arc<dyn Addon>)]
    })
}
