//! The admin interface: dashboard, users, and the Addons page with each
//! addon's generic settings form.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;

use super::accounts::{self, AccountRow};
use super::admin_hooks::{self, Filtered};
use super::email::Email;
use super::profile_hooks;
use super::{bad_form, redirect, HostState, SavedQuery};
use crate::db::schema::{accounts as accounts_table, orders, products};
use crate::plugin::settings_form;
use crate::plugin::{FieldErrors, FormValues, Interface, ProfileContext, ProfileForm, Role};

const USERS_PER_PAGE: i64 = 20;

#[derive(serde::Deserialize)]
pub struct DashboardQuery {
    signed_out: Option<String>,
}

pub async fn dashboard(
    state: web::Data<HostState>,
    req: HttpRequest,
    q: web::Query<DashboardQuery>,
) -> HttpResponse {
    let account = match state.require(&req, Interface::Admin).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let counts = state
        .db
        .run(|conn| {
            let users: i64 = accounts_table::table.count().get_result(conn)?;
            let products: i64 = products::table.count().get_result(conn)?;
            let orders: i64 = orders::table.count().get_result(conn)?;
            Ok((users, products, orders))
        })
        .await
        .unwrap_or_default();
    let mut ctx = tera::Context::new();
    ctx.insert("users", &counts.0);
    ctx.insert("products", &counts.1);
    ctx.insert("orders", &counts.2);
    let is_admin = account.role() == Role::Admin;
    ctx.insert("is_admin", &is_admin);
    // Only administrators can act on them (the Users list is theirs).
    let notices = if is_admin {
        admin_hooks::dashboard_notices(&state.clone().into_inner()).await
    } else {
        Vec::new()
    };
    ctx.insert("notices", &notices);
    ctx.insert(
        "flash",
        &q.signed_out
            .as_ref()
            .map(|_| super::account_pages::SIGNED_OUT),
    );
    state
        .render_page(&req, StatusCode::OK, "host/admin/dashboard.html", ctx)
        .await
}

#[derive(serde::Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
    page: Option<i64>,
    /// `<addon id>.<key>`: a filter an addon offers (`admin_hooks::filter`).
    filter: Option<String>,
}

#[derive(Serialize)]
struct UserRowView {
    id: i64,
    email: String,
    name: String,
    role: String,
    must_change_password: bool,
    badges: Vec<crate::plugin::UserBadge>,
}

pub async fn users(
    state: web::Data<HostState>,
    req: HttpRequest,
    query: web::Query<UsersQuery>,
) -> HttpResponse {
    let state = state.into_inner();
    if let Err(res) = state.require_admin_row(&req).await {
        return res;
    }
    let filters = admin_hooks::filters(&state).await;
    let filter = query
        .filter
        .as_deref()
        .filter(|f| !f.is_empty())
        .map(|f| f.chars().take(100).collect::<String>());
    let (only, filter_notice) = match &filter {
        None => (None, None),
        Some(f) => match admin_hooks::filter(&state, f).await {
            Filtered::Only(ids) => (Some(ids), None),
            Filtered::Unknown => (
                None,
                Some("That filter is not available (is its addon enabled?); all accounts are listed."),
            ),
            Filtered::Failed => return HttpResponse::InternalServerError().finish(),
        },
    };
    let filter_label = filter.as_ref().and_then(|f| {
        filters
            .iter()
            .find(|l| &l.param == f)
            .map(|l| l.label.clone())
    });
    let q: String = query
        .q
        .clone()
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect();
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let search = q.trim().to_string();
    let Ok((rows, total)) = state
        .db
        .run(move |conn| {
            accounts::search_among(conn, &search, only.as_deref(), page, USERS_PER_PAGE)
        })
        .await
    else {
        return HttpResponse::InternalServerError().finish();
    };
    let pages = ((total + USERS_PER_PAGE - 1) / USERS_PER_PAGE).max(1);
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut badges = admin_hooks::badges(&state, &ids).await;
    let users: Vec<UserRowView> = rows
        .into_iter()
        .map(|r| UserRowView {
            badges: badges.remove(&r.id).unwrap_or_default(),
            id: r.id,
            email: r.email,
            name: r.name,
            role: r.role,
            must_change_password: r.must_change_password,
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("users", &users);
    ctx.insert("q", &q);
    ctx.insert("page", &page);
    ctx.insert("pages", &pages);
    ctx.insert("total", &total);
    // Addons that take part give every listed account its badges.
    let badge_column = users.iter().any(|u| !u.badges.is_empty());
    ctx.insert("badge_column", &badge_column);
    ctx.insert("filters", &filters);
    ctx.insert(
        "filter",
        &filter_notice
            .is_none()
            .then_some(filter.as_deref())
            .flatten(),
    );
    ctx.insert("filter_label", &filter_label);
    ctx.insert("filter_notice", &filter_notice);
    state
        .render_page(&req, StatusCode::OK, "host/admin/users.html", ctx)
        .await
}

async fn load_user(state: &HostState, id: i64) -> Option<AccountRow> {
    state
        .db
        .run(move |conn| accounts::by_id(conn, id))
        .await
        .ok()
        .flatten()
}

fn profile_context(
    state: &HostState,
    req: &HttpRequest,
    target: &AccountRow,
    actor: &AccountRow,
) -> ProfileContext {
    ProfileContext {
        form: ProfileForm::AdminUser,
        account: Some(target.to_account()),
        actor: Some(actor.to_account()),
        ip: state.client_ip_of(req),
        session_key: state.session_key_of(req),
    }
}

#[allow(clippy::too_many_arguments)]
async fn show_user(
    state: &Arc<HostState>,
    req: &HttpRequest,
    target: &AccountRow,
    actor: &AccountRow,
    values: Option<&FormValues>,
    errors: &FieldErrors,
    status: StatusCode,
    flash: Option<&str>,
) -> HttpResponse {
    let pc = profile_context(state, req, target, actor);
    let mut ctx = tera::Context::new();
    ctx.insert("user_id", &target.id);
    ctx.insert(
        "email",
        values.map(|v| v.text("email")).unwrap_or(&target.email),
    );
    ctx.insert(
        "name",
        values.map(|v| v.text("name")).unwrap_or(&target.name),
    );
    ctx.insert(
        "role",
        values.map(|v| v.text("role")).unwrap_or(&target.role),
    );
    ctx.insert(
        "must_change_password",
        &values
            .map(|v| v.checked("must_change_password"))
            .unwrap_or(target.must_change_password),
    );
    ctx.insert(
        "roles",
        &Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    );
    ctx.insert("errors", errors);
    let sections = admin_hooks::user_sections(state, req, target).await;
    let notices: Vec<&str> = flash
        .into_iter()
        .chain(sections.iter().filter_map(|s| s.notice.as_deref()))
        .collect();
    ctx.insert("notices", &notices);
    ctx.insert(
        "addon_fields",
        &profile_hooks::fields_html(state, &pc, values, errors).await,
    );
    ctx.insert(
        "addon_sections",
        &sections.iter().map(|s| s.html.as_str()).collect::<Vec<_>>(),
    );
    state
        .render_page(req, status, "host/admin/user_edit.html", ctx)
        .await
}

pub async fn user_page(
    state: web::Data<HostState>,
    req: HttpRequest,
    id: web::Path<i64>,
    q: web::Query<SavedQuery>,
) -> HttpResponse {
    let state = state.into_inner();
    let actor = match state.require_admin_row(&req).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let Some(target) = load_user(&state, id.into_inner()).await else {
        return HttpResponse::NotFound().finish();
    };
    let flash = q.saved.as_ref().map(|_| "The user was saved.");
    show_user(
        &state,
        &req,
        &target,
        &actor,
        None,
        &FieldErrors::default(),
        StatusCode::OK,
        flash,
    )
    .await
}

pub async fn user_submit(
    state: web::Data<HostState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let state = state.into_inner();
    let actor = match state.require_admin_row(&req).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let Some(target) = load_user(&state, id.into_inner()).await else {
        return HttpResponse::NotFound().finish();
    };
    let Ok(values) = FormValues::parse(&body) else {
        return bad_form(&state, &req, "The user form could not be read.").await;
    };
    let mut errors = FieldErrors::default();
    let email = Email::parse(values.text("email"))
        .map_err(|e| errors.add("email", e))
        .ok();
    let name = accounts::parse_name(values.text("name"))
        .map_err(|e| errors.add("name", e))
        .unwrap_or_default();
    let role = Role::parse(values.text("role"));
    if role.is_none() {
        errors.add("role", "Choose admin, vendor or customer.");
    }
    let must_change = values.checked("must_change_password");
    if let Some(email) = &email {
        let (e, tid) = (email.as_str().to_string(), target.id);
        if let Ok(true) = state
            .db
            .run(move |conn| accounts::email_taken(conn, &e, Some(tid)))
            .await
        {
            errors.add("email", "Another account uses this email.");
        }
    }
    let pc = profile_context(&state, &req, &target, &actor);
    let saves = match profile_hooks::validate(&state, &pc, &values).await {
        Ok(s) => Some(s),
        Err(e) => {
            errors.merge(e);
            None
        }
    };
    let (Some(email), Some(role), Some(saves), true) = (email, role, saves, errors.is_empty())
    else {
        return show_user(
            &state,
            &req,
            &target,
            &actor,
            Some(&values),
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        )
        .await;
    };
    let tid = target.id;
    let demotes_admin = target.role() == Role::Admin && role != Role::Admin;
    let saved = state
        .db
        .transaction(move |conn| {
            // The store must keep at least one admin.
            if demotes_admin && accounts::count_admins(conn)? <= 1 {
                return Ok(false);
            }
            accounts::admin_update(conn, tid, &email, &name, role, must_change)?;
            for save in saves {
                save(conn, tid)?;
            }
            Ok(true)
        })
        .await;
    match saved {
        Ok(true) => redirect(&format!("/admin/users/{tid}?saved=1")),
        Ok(false) => {
            errors.add(
                "role",
                "This is the only admin account; make another admin first.",
            );
            show_user(
                &state,
                &req,
                &target,
                &actor,
                Some(&values),
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "user save failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[derive(Serialize)]
struct AddonView {
    id: String,
    name: String,
    version: String,
    description: String,
    enabled: bool,
    has_settings: bool,
}

pub async fn addons(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    if let Err(res) = state.require_admin_row(&req).await {
        return res;
    }
    let Ok(enabled) = state.registry.enabled_ids(&state.db).await else {
        return HttpResponse::InternalServerError().finish();
    };
    let list: Vec<AddonView> = state
        .registry
        .all()
        .iter()
        .map(|a| AddonView {
            id: a.manifest.addon.id.clone(),
            name: a.manifest.addon.name.clone(),
            version: a.manifest.addon.version.clone(),
            description: a.manifest.addon.description.clone(),
            enabled: enabled.contains(&a.manifest.addon.id),
            has_settings: !a.manifest.settings.is_empty(),
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("addons", &list);
    state
        .render_page(&req, StatusCode::OK, "host/admin/addons.html", ctx)
        .await
}

async fn set_enabled(
    state: web::Data<HostState>,
    req: HttpRequest,
    id: String,
    on: bool,
) -> HttpResponse {
    let state = state.into_inner();
    let admin = match state.require_admin_row(&req).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let Some(installed) = state.registry.get(&id) else {
        return HttpResponse::NotFound().finish();
    };
    if state
        .registry
        .set_enabled(&state.db, &id, on)
        .await
        .is_err()
    {
        return HttpResponse::InternalServerError().finish();
    }
    // Told whether now on or off: the switch is the addon's own business.
    let by = admin_hooks::actor(&state, &req, &admin);
    installed
        .addon
        .enabled_changed(&state.handle_for(&id), on, &by)
        .await;
    redirect("/admin/addons")
}

pub async fn addon_enable(
    state: web::Data<HostState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    set_enabled(state, req, id.into_inner(), true).await
}

pub async fn addon_disable(
    state: web::Data<HostState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    set_enabled(state, req, id.into_inner(), false).await
}

async fn show_settings(
    state: &Arc<HostState>,
    req: &HttpRequest,
    id: &str,
    values: Option<&FormValues>,
    errors: &FieldErrors,
    status: StatusCode,
    flash: Option<&str>,
) -> HttpResponse {
    let Some(installed) = state.registry.get(id) else {
        return HttpResponse::NotFound().finish();
    };
    let Ok(current) = state.registry.settings(&state.db, &state.key, id).await else {
        return HttpResponse::InternalServerError().finish();
    };
    let enabled = state
        .registry
        .is_enabled(&state.db, id)
        .await
        .unwrap_or(false);
    let host = state.handle_for(id);
    let status_html = if enabled {
        installed.addon.settings_status(&host, req).await
    } else {
        None
    };
    let mut ctx = tera::Context::new();
    ctx.insert("addon_id", id);
    ctx.insert("addon_name", &installed.manifest.addon.name);
    ctx.insert("enabled", &enabled);
    ctx.insert(
        "fields",
        &settings_form::fields(&installed.manifest, &current, values, errors),
    );
    ctx.insert("status_html", &status_html);
    ctx.insert("flash", &flash);
    state
        .render_page(req, status, "host/admin/addon_settings.html", ctx)
        .await
}

pub async fn addon_settings_page(
    state: web::Data<HostState>,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<SavedQuery>,
) -> HttpResponse {
    let state = state.into_inner();
    if let Err(res) = state.require_admin_row(&req).await {
        return res;
    }
    let flash = q.saved.as_ref().map(|_| "The settings were saved.");
    show_settings(
        &state,
        &req,
        &id,
        None,
        &FieldErrors::default(),
        StatusCode::OK,
        flash,
    )
    .await
}

pub async fn addon_settings_submit(
    state: web::Data<HostState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let state = state.into_inner();
    let admin = match state.require_admin_row(&req).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let Some(installed) = state.registry.get(&id) else {
        return HttpResponse::NotFound().finish();
    };
    let Ok(values) = FormValues::parse(&body) else {
        return bad_form(&state, &req, "The settings form could not be read.").await;
    };
    let stored = match state.registry.settings(&state.db, &state.key, &id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "reading settings failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let checked = settings_form::validate(&installed.manifest, &values).and_then(|v| {
        let errors = installed.addon.check_settings(&v, &stored);
        if errors.is_empty() {
            Ok(v)
        } else {
            Err(errors)
        }
    });
    let validated = match checked {
        Ok(v) => v,
        Err(errors) => {
            return show_settings(
                &state,
                &req,
                &id,
                Some(&values),
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
    };
    let changed = match state
        .registry
        .save_settings(&state.db, &state.key, &id, validated)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "saving settings failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    if !changed.is_empty() {
        let host = state.handle_for(&id);
        let by = admin_hooks::actor(&state, &req, &admin);
        installed.addon.settings_changed(&host, &changed, &by).await;
    }
    redirect(&format!("/admin/addons/{id}/settings?saved=1"))
}
