//! The store admin's outbox page, mounted with `configure_admin` on a small
//! stand-in host (the real host renders the same template with its skin).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::http::StatusCode as ActixStatus;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use reqwest::StatusCode;
use storefront_2fa::authy_sandbox::admin::configure_admin;
use storefront_2fa::crypto::SecretKey;
use storefront_2fa::db::{Db, DbConn, DbError};
use storefront_2fa::plugin::{
    Account, AddonError, AddonSettings, Completion, HostError, HostHandle, HostServices, Interface,
    PendingLogin, Role,
};

use crate::helpers::TestDb;
use crate::sandbox::{json, read, Sandbox, PHONE, PHONE_DIGITS};

/// Admin when the request carries `X-Test-Admin: yes`; renders with Tera
/// and the skin variables the real host adds.
struct StandInHost {
    db: Db,
    key: SecretKey,
    tera: tera::Tera,
}

fn admin() -> Account {
    Account {
        id: 1,
        email: "admin@example.com".into(),
        name: "Admin".into(),
        role: Role::Admin,
        credential_generation: 0,
    }
}

#[async_trait::async_trait(?Send)]
impl HostServices for StandInHost {
    fn db(&self) -> &Db {
        &self.db
    }
    fn secret_key(&self) -> &SecretKey {
        &self.key
    }
    fn client_ip(&self, _req: &HttpRequest) -> String {
        "127.0.0.1".into()
    }
    async fn render(
        &self,
        _req: &HttpRequest,
        status: ActixStatus,
        template: &str,
        mut ctx: tera::Context,
    ) -> HttpResponse {
        ctx.insert("csrf_token", "csrf-test-token");
        ctx.insert("store_name", "Test store");
        ctx.insert("skin", "admin");
        ctx.insert("flash", &None::<String>);
        ctx.insert("current_account", &admin());
        match self.tera.render(template, &ctx) {
            Ok(html) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(e) => HttpResponse::InternalServerError().body(format!("{e:?}")),
        }
    }
    fn render_fragment(&self, template: &str, ctx: &tera::Context) -> Result<String, AddonError> {
        self.tera
            .render(template, ctx)
            .map_err(|e| AddonError::Internal(e.to_string()))
    }
    async fn addon_enabled(&self, _addon_id: &str) -> Result<bool, DbError> {
        Ok(true)
    }
    async fn addon_settings(&self, _addon_id: &str) -> Result<AddonSettings, DbError> {
        Ok(AddonSettings::default())
    }
    async fn current_account(&self, req: &HttpRequest) -> Option<Account> {
        (req.headers()
            .get("X-Test-Admin")
            .is_some_and(|v| v == "yes"))
        .then(admin)
    }
    async fn require_account(
        &self,
        req: &HttpRequest,
        _interface: Interface,
    ) -> Result<Account, HttpResponse> {
        self.require_admin(req).await
    }
    async fn require_admin(&self, req: &HttpRequest) -> Result<Account, HttpResponse> {
        self.current_account(req)
            .await
            .ok_or_else(|| HttpResponse::Forbidden().body("admins only"))
    }
    async fn find_account(&self, _account_id: i64) -> Result<Option<Account>, DbError> {
        Ok(None)
    }
    async fn verify_password(&self, _account_id: i64, _password: &str) -> bool {
        false
    }
    async fn pending_login(&self, _req: &HttpRequest) -> Option<PendingLogin> {
        None
    }
    async fn count_pending_attempt(&self, _pending_id: &str) -> Result<Option<i32>, DbError> {
        Ok(None)
    }
    async fn complete_pending_login(
        &self,
        _req: &HttpRequest,
        _pending_id: &str,
    ) -> Result<Completion, HostError> {
        Err(HostError::PendingLoginGone)
    }
    async fn cancel_pending_login(&self, _pending_id: &str) -> Result<(), DbError> {
        Ok(())
    }
    fn login_path(&self, _interface: Interface) -> &'static str {
        "/admin/login"
    }
    fn void_pending_sign_ins(&self, _conn: &mut DbConn, _account_id: i64) -> Result<(), DbError> {
        Ok(())
    }
}

#[tokio::test]
async fn admin_outbox_page_lists_messages_and_decides_push_requests() {
    let testdb = TestDb::fresh();
    let sb = Sandbox::start(&testdb.url, 1000).await;
    let id = sb.register(PHONE).await;
    assert_eq!(
        read(sb.get(&format!("/protected/json/sms/{id}")).await)
            .await
            .0,
        StatusCode::OK
    );
    let code = sb.latest_code(PHONE_DIGITS, 7).await;
    let (_, body) = read(
        sb.post_json(
            &format!("/onetouch/json/users/{id}/approval_requests"),
            serde_json::json!({"message": "Sign in to the admin"}),
        )
        .await,
    )
    .await;
    let uuid = json(&body)["approval_request"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();

    // The skins of the store's templates, and the page's own template.
    let tera = storefront_2fa::host::templates::load(
        None,
        storefront_2fa::authy_sandbox::admin::templates(),
    )
    .unwrap();
    let host: HostHandle = Arc::new(StandInHost {
        db: sb.db.clone(),
        key: SecretKey::generate(),
        tera,
    });
    let db = sb.db.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let (host, db) = (host.clone(), db.clone());
        App::new().configure(move |c| configure_admin(c, host, db))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = format!("{base}/admin/two-factor/sandbox");

    // Not an admin: the host's answer.
    let resp = http.get(&page).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = http
        .post(format!("{page}/approvals/{uuid}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let resp = http
        .get(&page)
        .header("X-Test-Admin", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let push = html
        .find("Push approval request: Sign in to the admin")
        .expect("push message listed");
    let sms = html.find(&code).expect("SMS code listed");
    assert!(push < sms, "newest first");
    assert!(html.contains(&format!(
        r#"action="/admin/two-factor/sandbox/approvals/{uuid}/approve""#
    )));
    assert!(html.contains(&format!(
        r#"action="/admin/two-factor/sandbox/approvals/{uuid}/deny""#
    )));
    assert!(html.contains(r#"name="csrf_token" value="csrf-test-token""#));
    assert!(html.contains("refreshes every 5 s"));

    let resp = http
        .post(format!("{page}/approvals/{uuid}/approve"))
        .header("X-Test-Admin", "yes")
        .form(&[("csrf_token", "csrf-test-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()["location"],
        "/admin/two-factor/sandbox?decided=approved"
    );
    let (_, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{uuid}"))
            .await,
    )
    .await;
    assert_eq!(json(&body)["approval_request"]["status"], "approved");

    // Deciding again: no longer pending; the page no longer offers buttons.
    let resp = http
        .post(format!("{page}/approvals/{uuid}/deny"))
        .header("X-Test-Admin", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["location"],
        "/admin/two-factor/sandbox?decided=gone"
    );
    let html = http
        .get(format!("{page}?decided=gone"))
        .header("X-Test-Admin", "yes")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&format!("{uuid}/approve")));
    assert!(html.contains("That push request is no longer pending."));
    let (_, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{uuid}"))
            .await,
    )
    .await;
    assert_eq!(json(&body)["approval_request"]["status"], "approved");

    handle.stop(true).await;
    sb.stop().await;
}
