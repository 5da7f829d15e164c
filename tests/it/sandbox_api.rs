//! Conformance suite, part two: push approvals, phone verification, app
//! details and stats, the outbox JSON, request bodies, and mounting.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use reqwest::StatusCode;
use serde_json::Value;
use storefront_2fa::authy_sandbox::{approvals, configure, outbox, SandboxPolicy, SandboxState};
use storefront_2fa::db::Db;

use crate::helpers::TestDb;
use crate::sandbox::{
    digit_run, error_parts, json, read, settings, Sandbox, INVALID_KEY_BODY, KEY, OTHER_PHONE,
    PHONE, PHONE_DIGITS, USER_NOT_FOUND_BODY,
};

// ---- push approvals ---------------------------------------------------------------

#[tokio::test]
async fn approval_requests_create_status_decide_expire() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let id = sb.register(PHONE).await;
    let path = format!("/onetouch/json/users/{id}/approval_requests");

    // Form body with details[] and logos[]; no seconds_to_expire.
    let (s, body) = read(
        sb.post_form(
            &path,
            &[
                ("message", "Log in to the store admin"),
                ("details[Email]", "shopper@example.com"),
                ("hidden_details[ip]", "10.0.0.1"),
                ("logos[][res]", "default"),
                ("logos[][url]", "https://example.com/logo.png"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let uuid = json(&body)["approval_request"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        body,
        format!(r#"{{"approval_request":{{"uuid":"{uuid}"}},"success":true}}"#)
    );
    assert_eq!(uuid.len(), 36);

    let (s, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{uuid}"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&body);
    let req = &v["approval_request"];
    let keys: Vec<&str> = req
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "_app_name",
            "_app_serial_id",
            "_authy_id",
            "_id",
            "_user_email",
            "app_id",
            "created_at",
            "notified",
            "processed_at",
            "seconds_to_expire",
            "status",
            "updated_at",
            "user_id",
            "uuid"
        ]
    );
    assert!(
        body.starts_with(r#"{"approval_request":{"_app_name":"#),
        "{body}"
    );
    assert!(body.ends_with(r#"},"success":true}"#), "{body}");
    assert_eq!(req["status"], "pending");
    assert_eq!(req["seconds_to_expire"], 86400);
    assert_eq!(req["_authy_id"], id);
    assert_eq!(req["_user_email"], "shopper@example.com");
    assert_eq!(req["notified"], false);
    assert_eq!(req["processed_at"], Value::Null);
    assert_eq!(req["uuid"], uuid.as_str());
    assert!(req["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(req["_id"].is_string() && req["app_id"].is_string() && req["user_id"].is_string());

    // The push went to the outbox.
    let messages = sb.outbox(&format!("?phone={PHONE_DIGITS}&limit=1")).await;
    assert_eq!(messages[0]["channel"], "push");
    assert!(messages[0]["text"]
        .as_str()
        .unwrap()
        .contains("Log in to the store admin"));

    // The admin's decision (the library call behind the outbox page's button).
    let decided = {
        let uuid = uuid.clone();
        sb.db
            .run(move |c| approvals::decide(c, &uuid, true))
            .await
            .unwrap()
    };
    assert!(decided);
    let (_, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{uuid}"))
            .await,
    )
    .await;
    let v = json(&body);
    assert_eq!(v["approval_request"]["status"], "approved");
    assert!(v["approval_request"]["processed_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let again = {
        let uuid = uuid.clone();
        sb.db
            .run(move |c| approvals::decide(c, &uuid, false))
            .await
            .unwrap()
    };
    assert!(!again, "a decided request cannot be decided again");

    // JSON body: null seconds_to_expire means the default; a number is kept; deny.
    let (s, body) = read(
        sb.post_json(
            &path,
            serde_json::json!({"message": "Pay", "seconds_to_expire": null}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let second = json(&body)["approval_request"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{second}"))
            .await,
    )
    .await;
    assert_eq!(json(&body)["approval_request"]["seconds_to_expire"], 86400);
    let pending = sb.db.run(|c| approvals::pending(c, 10)).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].uuid, second);
    let second_copy = second.clone();
    assert!(sb
        .db
        .run(move |c| approvals::decide(c, &second_copy, false))
        .await
        .unwrap());
    let (_, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{second}"))
            .await,
    )
    .await;
    assert_eq!(json(&body)["approval_request"]["status"], "denied");

    let (s, body) = read(
        sb.post_json(
            &path,
            serde_json::json!({"message": "Quick", "seconds_to_expire": 120}),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let third = json(&body)["approval_request"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{third}"))
            .await,
    )
    .await;
    assert_eq!(json(&body)["approval_request"]["seconds_to_expire"], 120);
    // Age it past its expiry.
    {
        use diesel::prelude::*;
        use storefront_2fa::authy_sandbox::schema::sandbox_approvals as ap;
        let third = third.clone();
        sb.db
            .run(move |c| {
                Ok(diesel::update(ap::table.filter(ap::uuid.eq(third)))
                    .set(ap::created_at.eq(storefront_2fa::db::now() - 121))
                    .execute(c)?)
            })
            .await
            .unwrap();
    }
    let (_, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{third}"))
            .await,
    )
    .await;
    assert_eq!(json(&body)["approval_request"]["status"], "expired");
    let third_copy = third.clone();
    assert!(
        !sb.db
            .run(move |c| approvals::decide(c, &third_copy, true))
            .await
            .unwrap(),
        "expired cannot be approved"
    );

    // Errors: missing message, unknown request, unknown user.
    let (s, body) = read(
        sb.post_json(&path, serde_json::json!({"details": {}}))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_parts(&body),
        (
            "Invalid parameter: message - Parameter is required".into(),
            "60004".into()
        )
    );
    let unknown = "0f0f0f0f-0000-4000-8000-000000000000";
    let (s, body) = read(
        sb.get(&format!("/onetouch/json/approval_requests/{unknown}"))
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        format!(
            r#"{{"message":"Approval request not found: {unknown}","success":false,"errors":{{"message":"Approval request not found: {unknown}"}},"error_code":"60049"}}"#
        )
    );
    let (s, body) = read(
        sb.post_json(
            &format!("/onetouch/json/users/{}/approval_requests", id + 50),
            serde_json::json!({"message": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::NOT_FOUND, USER_NOT_FOUND_BODY)
    );
    sb.stop().await;
}

// ---- phone verification -------------------------------------------------------------

#[tokio::test]
async fn phone_verification_start_and_check() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let start = "/protected/json/phones/verification/start";
    let check = "/protected/json/phones/verification/check";

    let (s, body) = read(
        sb.post_form(
            start,
            &[
                ("via", "sms"),
                ("country_code", "1"),
                ("phone_number", PHONE),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v = json(&body);
    let uuid = v["uuid"].as_str().unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"carrier":{},"is_cellphone":true,"is_ported":false,"message":"Text message sent to +1 201-555-0123.","seconds_to_expire":600,"uuid":"{uuid}","success":true}}"#,
            serde_json::to_string(&v["carrier"]).unwrap()
        )
    );
    let messages = sb.outbox(&format!("?phone={PHONE_DIGITS}&limit=1")).await;
    let text = messages[0]["text"].as_str().unwrap();
    let code = digit_run(text, 4).unwrap_or_else(|| panic!("a 4-digit code in {text}"));

    let wrong = if code == "0000" { "1111" } else { "0000" };
    let (s, body) = read(
        sb.get(&format!(
            "{check}?country_code=1&phone_number={PHONE_DIGITS}&verification_code={wrong}"
        ))
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_parts(&body),
        ("Verification code is incorrect".into(), "60022".into())
    );

    let query =
        format!("{check}?country_code=1&phone_number={PHONE_DIGITS}&verification_code={code}");
    let (s, body) = read(sb.get(&query).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"message":"Verification code is correct.","success":true}"#
    );

    // Used up: nothing pending any more.
    let (s, body) = read(sb.get(&query).await).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        r#"{"message":"No pending verifications for +1 201-555-0123 found.","success":false,"errors":{"message":"No pending verifications for +1 201-555-0123 found."},"error_code":"60023"}"#
    );

    // JSON body, a call, a longer code; checked with parameters in a GET body.
    let (s, body) = read(
        sb.post_json(start, serde_json::json!({"via": "call", "country_code": 1, "phone_number": OTHER_PHONE, "code_length": 6})).await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["message"], "Call to +1 201-555-0199 initiated.");
    let messages = sb.outbox("?phone=2015550199&limit=1").await;
    assert_eq!(messages[0]["channel"], "call");
    let code6 = digit_run(messages[0]["text"].as_str().unwrap(), 6).expect("a 6-digit code");
    let (s, body) = read(
        sb.http
            .get(sb.url(check))
            .header("X-Authy-API-Key", KEY)
            .json(&serde_json::json!({"country_code": "1", "phone_number": OTHER_PHONE, "verification_code": code6}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Errors.
    let (s, body) = read(
        sb.post_form(
            start,
            &[
                ("via", "sms"),
                ("country_code", "1"),
                ("phone_number", "555"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_parts(&body),
        ("Phone number is invalid".into(), "60033".into())
    );
    let (s, body) = read(
        sb.post_form(start, &[("via", "sms"), ("country_code", "1")])
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_parts(&body),
        (
            "Invalid parameter: phone_number - Parameter is required".into(),
            "60004".into()
        )
    );
    let (s, body) = read(
        sb.post_form(
            start,
            &[
                ("via", "sms"),
                ("country_code", "1"),
                ("phone_number", PHONE),
                ("code_length", "3"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_parts(&body).1, "60004");
    let (s, body) = read(
        sb.get(&format!(
            "{check}?country_code=1&phone_number={PHONE_DIGITS}"
        ))
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_parts(&body).0,
        "Invalid parameter: verification_code - Parameter is required"
    );
    sb.stop().await;
}

// ---- app details and stats ---------------------------------------------------------

#[tokio::test]
async fn app_details_and_monthly_stats() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let (s, body) = read(sb.get("/protected/json/app/details").await).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&body);
    let app_id = v["app"]["app_id"].as_i64().unwrap();
    let name = serde_json::to_string(&v["app"]["name"]).unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"app":{{"app_id":{app_id},"name":{name},"plan":"pay_as_you_go","sms_enabled":true,"onetouch_enabled":true}},"message":"Application information.","success":true}}"#
        )
    );

    let id = sb.register(PHONE).await;
    sb.register(OTHER_PHONE).await;
    for path in [
        format!("/protected/json/sms/{id}"),
        format!("/protected/json/sms/{id}"),
        format!("/protected/json/call/{id}"),
    ] {
        assert_eq!(read(sb.get(&path).await).await.0, StatusCode::OK);
    }
    let code = sb.latest_code(PHONE_DIGITS, 7).await;
    assert_eq!(
        read(sb.get(&format!("/protected/json/verify/{code}/{id}")).await)
            .await
            .0,
        StatusCode::OK
    );

    let (s, body) = read(sb.get("/protected/json/app/stats").await).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&body);
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted_top = top.clone();
    sorted_top.sort();
    assert_eq!(
        sorted_top,
        [
            "app_id",
            "count",
            "message",
            "stats",
            "success",
            "total_users"
        ]
    );
    assert!(
        body.starts_with(&format!(
            r#"{{"app_id":{app_id},"count":1,"message":"Monthly statistics.","stats":[{{"#
        )),
        "{body}"
    );
    assert!(
        body.ends_with(r#""total_users":2,"success":true}"#),
        "{body}"
    );
    let stats = v["stats"].as_array().unwrap();
    assert_eq!(stats.len(), 1);
    for entry in stats {
        let keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "api_calls_count",
                "auths_count",
                "calls_count",
                "month",
                "sms_count",
                "users_count",
                "year"
            ]
        );
    }
    let month = &stats[0];
    assert_eq!(month["sms_count"], 2);
    assert_eq!(month["calls_count"], 1);
    assert_eq!(month["users_count"], 2);
    assert_eq!(month["auths_count"], 1);
    assert!(month["api_calls_count"].as_i64().unwrap() >= 8);
    assert!(month["month"].is_string() && month["year"].as_i64().unwrap() >= 2024);
    sb.stop().await;
}

// ---- outbox ---------------------------------------------------------------------

#[tokio::test]
async fn outbox_json_newest_first_filter_and_limit() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let a = sb.register(PHONE).await;
    let b = sb.register(OTHER_PHONE).await;
    for id in [a, b, a, a, b] {
        assert_eq!(
            read(sb.get(&format!("/protected/json/sms/{id}")).await)
                .await
                .0,
            StatusCode::OK
        );
    }
    let all = sb.outbox("").await;
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["phone"], "2015550199", "newest first");
    for m in &all {
        let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["channel", "country_code", "phone", "sent_at", "text"]
        );
        let sent_at = m["sent_at"].as_str().unwrap();
        assert_eq!(sent_at.len(), 20, "{sent_at}");
        assert!(sent_at.ends_with('Z') && &sent_at[10..11] == "T");
    }
    let (_, raw) = read(sb.get("/outbox?limit=1").await).await;
    assert!(raw.starts_with(r#"[{"sent_at":""#) && raw.contains(r#"","channel":"sms","country_code":1,"phone":"2015550199","text":"Your verification code is "#), "{raw}");

    for filter in [
        "2015550123",
        "12015550123",
        "%2B1%20201-555-0123",
        "201-555-0123",
    ] {
        let mine = sb.outbox(&format!("?phone={filter}")).await;
        assert_eq!(mine.len(), 3, "{filter}");
        assert!(mine.iter().all(|m| m["phone"] == PHONE_DIGITS), "{filter}");
    }
    let two = sb.outbox("?limit=2").await;
    assert_eq!(two.len(), 2);
    assert_eq!(two[0], all[0]);
    assert_eq!(two[1], all[1]);
    let newest_of_a = sb.outbox("?phone=2015550123&limit=1").await;
    assert_eq!(newest_of_a.len(), 1);
    assert_eq!(newest_of_a[0], all[1]);
    assert!(sb.outbox("?phone=9999999").await.is_empty());

    // The library call behind the admin page agrees.
    let listed = sb
        .db
        .run(|c| outbox::list(c, Some("12015550123"), 2))
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].id > listed[1].id);
    assert!(listed
        .iter()
        .all(|m| m.phone == PHONE_DIGITS && m.country_code == 1));

    let (s, body) = read(sb.get("/outbox?limit=abc").await).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_parts(&body).1, "60004");
    let (s, body) = read(
        sb.http
            .get(sb.url("/outbox"))
            .header("X-Authy-API-Key", "wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::UNAUTHORIZED, INVALID_KEY_BODY)
    );
    sb.stop().await;
}

#[tokio::test]
async fn outbox_limit_defaults_to_50_and_caps_at_1000() {
    use diesel::prelude::*;
    use storefront_2fa::authy_sandbox::schema::sandbox_outbox as ob;

    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    sb.db
        .run(|c| {
            let rows: Vec<_> = (0..1100)
                .map(|i| {
                    (
                        ob::sent_at.eq(1_700_000_000i64 + i),
                        ob::channel.eq("sms"),
                        ob::country_code.eq(1),
                        ob::phone.eq(format!("20155{:05}", i % 7)),
                        ob::full_phone.eq(format!("120155{:05}", i % 7)),
                        ob::text.eq(format!("Your verification code is {:07}", i)),
                    )
                })
                .collect();
            c.transaction(|c| {
                for row in rows {
                    diesel::insert_into(ob::table).values(row).execute(c)?;
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    assert_eq!(sb.outbox("").await.len(), 50);
    let capped = sb.outbox("?limit=5000").await;
    assert_eq!(capped.len(), 1000);
    assert_eq!(capped[0]["text"], "Your verification code is 0001099");
    sb.stop().await;
}

// ---- bodies ---------------------------------------------------------------------

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let (s, body) = read(
        sb.http
            .post(sb.url("/protected/json/users/new"))
            .header("X-Authy-API-Key", KEY)
            .header("Content-Type", "application/json")
            .body(r#"{"user":{"email":"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_parts(&body).1, "60004");

    let big = format!("user[email]={}", "a".repeat(70 * 1024));
    let resp = sb
        .http
        .post(sb.url("/protected/json/users/new"))
        .header("X-Authy-API-Key", KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Still serving afterwards.
    assert_eq!(
        read(sb.get("/protected/json/app/details").await).await.0,
        StatusCode::OK
    );
    sb.stop().await;
}

// ---- mounting and availability ---------------------------------------------------------

struct Switch(bool);

#[async_trait::async_trait(?Send)]
impl SandboxPolicy for Switch {
    async fn accepted_keys(&self) -> Vec<String> {
        vec!["mounted-key".to_string()]
    }
    async fn is_available(&self) -> bool {
        self.0
    }
}

async fn mounted(db: &Db, available: bool) -> (String, actix_web::dev::ServerHandle) {
    let state = SandboxState::new(db.clone(), Arc::new(Switch(available)), settings(1000));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/sandbox/authy", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().service(web::scope("/sandbox/authy").configure(move |c| configure(c, state)))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (base, handle)
}

#[tokio::test]
async fn mounted_under_a_scope_and_404_everywhere_when_unavailable() {
    let testdb = TestDb::fresh();
    // The standalone start-up runs the migrations on this database.
    let sb = Sandbox::start(&testdb.url, 1000).await;
    let db = sb.db.clone();
    let http = reqwest::Client::new();

    let (base, on) = mounted(&db, true).await;
    let (s, body) = read(
        http.post(format!("{base}/protected/json/users/new"))
            .header("X-Authy-API-Key", "mounted-key")
            .form(&[
                ("user[email]", "m@example.com"),
                ("user[cellphone]", PHONE),
                ("user[country_code]", "1"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let id = json(&body)["user"]["id"].as_i64().unwrap();
    let (s, _) = read(
        http.get(format!("{base}/protected/json/sms/{id}"))
            .header("X-Authy-API-Key", "mounted-key")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = read(
        http.get(format!("{base}/protected/json/app/details"))
            .header("X-Authy-API-Key", KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::UNAUTHORIZED, INVALID_KEY_BODY),
        "the policy's keys only"
    );
    on.stop(true).await;

    let (base, off) = mounted(&db, false).await;
    for path in [
        "/protected/json/app/details".to_string(),
        "/protected/json/users/new".to_string(),
        format!("/protected/json/sms/{id}"),
        format!("/protected/json/verify/1234567/{id}"),
        "/protected/json/phones/verification/start".to_string(),
        "/onetouch/json/approval_requests/x".to_string(),
        "/outbox".to_string(),
    ] {
        let resp = http
            .get(format!("{base}{path}"))
            .header("X-Authy-API-Key", "mounted-key")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!resp.text().await.unwrap().contains("code"), "{path}");
    }
    off.stop(true).await;
    sb.stop().await;
}

#[tokio::test]
async fn build_standalone_refuses_an_empty_key() {
    let testdb = TestDb::fresh();
    let url = testdb.url.clone();
    let db = tokio::task::spawn_blocking(move || Db::connect(&url, 2))
        .await
        .unwrap()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let result =
        storefront_2fa::authy_sandbox::build_standalone(listener, db, "  ".into(), settings(10))
            .await;
    assert!(result.is_err());
}

// ---- outbox query plans (a million messages must not mean a scan) ---------------

#[derive(diesel::QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

#[derive(diesel::QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = "QUERY PLAN")]
    plan: String,
}

#[tokio::test]
async fn outbox_queries_walk_an_index_without_sorting() {
    use diesel::connection::SimpleConnection;
    use diesel::RunQueryDsl;
    use storefront_2fa::db::DbConn;

    let testdb = TestDb::fresh();
    let sb = Sandbox::start(&testdb.url, 1000).await;
    let queries = [
        "SELECT id, sent_at, channel, country_code, phone, text FROM sandbox_outbox WHERE phone = '2015550123' ORDER BY id DESC LIMIT 50",
        "SELECT id, sent_at, channel, country_code, phone, text FROM sandbox_outbox WHERE full_phone = '12015550123' ORDER BY id DESC LIMIT 50",
    ];
    let plans: Vec<String> = sb
        .db
        .run(move |conn| {
            let mut plans = Vec::new();
            for q in queries {
                let text = match conn {
                    DbConn::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {q}"))
                        .load::<SqlitePlanRow>(c)?
                        .into_iter()
                        .map(|r| r.detail)
                        .collect::<Vec<_>>()
                        .join("\n"),
                    DbConn::Pg(c) => {
                        // An empty table would be scanned whatever the indexes;
                        // ask what the planner does when it may not scan.
                        c.batch_execute("SET enable_seqscan = off; SET enable_bitmapscan = off")?;
                        diesel::sql_query(format!("EXPLAIN {q}"))
                            .load::<PgPlanRow>(c)?
                            .into_iter()
                            .map(|r| r.plan)
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                };
                plans.push(text);
            }
            if let DbConn::Pg(c) = conn {
                c.batch_execute("RESET enable_seqscan; RESET enable_bitmapscan")?;
            }
            Ok(plans)
        })
        .await
        .unwrap();
    for (plan, index) in plans
        .iter()
        .zip(["sandbox_outbox_phone", "sandbox_outbox_full_phone"])
    {
        assert!(plan.contains(index), "{plan}");
        assert!(
            !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
            "sorts: {plan}"
        );
        assert!(!plan.contains("Seq Scan"), "scans: {plan}");
    }
    sb.stop().await;
}

// ---- concurrency ------------------------------------------------------------------

/// The first registration of a phone, its first rate-limit window and its
/// first token are each created by whichever of several concurrent calls
/// comes first; the others must find the row, not fail (on PostgreSQL a
/// unique violation aborts the whole transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_calls_for_one_phone_all_succeed() {
    let db = TestDb::fresh();
    let sb = Sandbox::start(&db.url, 1000).await;
    let registrations = (0..8).map(|_| sb.register(PHONE));
    let ids = futures_util::future::join_all(registrations).await;
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let path = format!("/protected/json/sms/{}?force=true", ids[0]);
    let sends = (0..8).map(|_| async { read(sb.get(&path).await).await });
    for (status, body) in futures_util::future::join_all(sends).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    sb.stop().await;
}
