use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const VALID: &str = r#"{"message":"Token is valid.","token":"is valid","success":"true"}"#;

#[test]
fn verify_is_valid_only_for_200_is_valid_and_success_true() {
    assert_eq!(check_verify(200, VALID.as_bytes()), Ok(TokenCheck::Valid));
    assert_eq!(
        check_verify(200, br#"{"token":"is valid","success":true}"#),
        Ok(TokenCheck::Valid)
    );
    let refused_200: &[&[u8]] = &[
        br#"{"token":"is invalid","success":"true"}"#,
        br#"{"token":"is valid","success":false}"#,
        br#"{"token":"is valid","success":"false"}"#,
        br#"{"token":"is valid"}"#,
        br#"{"success":true}"#,
        br#"{"token":"is valid ","success":true}"#,
        br#"{"token":"IS VALID","success":true}"#,
        br#"{"token":true,"success":true}"#,
        br#"{"token":"is valid","success":1}"#,
        br#"{"token":"is valid","success":"True"}"#,
    ];
    for body in refused_200 {
        assert_ne!(
            check_verify(200, body),
            Ok(TokenCheck::Valid),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Not JSON, or a key given twice: an error, not a verdict.
    for body in [
        &b""[..],
        b"is valid",
        b"<html>ok</html>",
        b"[\"token\",\"is valid\"]",
        br#"{"token":"is invalid","token":"is valid","success":true}"#,
    ] {
        assert_eq!(check_verify(200, body), Err(GatewayError::UnexpectedBody));
    }
    // A valid-looking body with any status but 200 is refused.
    for status in [201, 204, 301, 401, 403, 404, 500, 503] {
        assert_ne!(
            check_verify(status, VALID.as_bytes()),
            Ok(TokenCheck::Valid),
            "{status}"
        );
    }
}

#[test]
fn verify_tells_a_wrong_code_from_a_broken_gateway() {
    let wrong = br#"{"message":"Token is invalid","token":"is invalid","success":false,"errors":{"message":"Token is invalid"},"error_code":"60020"}"#;
    assert_eq!(check_verify(401, wrong), Ok(TokenCheck::Rejected));
    let used = br#"{"message":"Token is invalid. Token was used recently","success":false,"errors":{"message":"x"},"error_code":"60019"}"#;
    assert_eq!(check_verify(401, used), Ok(TokenCheck::Used));
    let bad_key = br#"{"message":"Invalid API key","success":false,"errors":{"message":"Invalid API key"},"error_code":"60001"}"#;
    assert_eq!(check_verify(401, bad_key), Err(GatewayError::BadApiKey));
    let unknown = br#"{"message":"User not found.","success":false,"errors":{"message":"User not found."},"error_code":"60026"}"#;
    assert_eq!(check_verify(404, unknown), Err(GatewayError::UnknownUser));
    assert_eq!(check_verify(429, b"{}"), Err(GatewayError::RateLimited));
    assert_eq!(check_verify(500, b"oops"), Err(GatewayError::Status(500)));
}

#[test]
fn send_register_and_details_checks() {
    assert_eq!(
        check_sent(
            200,
            br#"{"success":true,"message":"SMS token was sent","cellphone":"+1-XXX-XXX-XX34"}"#
        ),
        Ok(())
    );
    assert_eq!(check_sent(200, br#"{"success":"true"}"#), Ok(()));
    assert!(check_sent(200, br#"{"success":false}"#).is_err());
    assert!(check_sent(200, b"garbage").is_err());
    assert!(check_sent(503, br#"{"success":true}"#).is_err());

    assert_eq!(
        check_register(
            200,
            br#"{"message":"User created successfully.","user":{"id":42},"success":true}"#
        ),
        Ok(AuthyId(42))
    );
    for body in [
        &br#"{"user":{"id":42},"success":false}"#[..],
        br#"{"user":{"id":"42"},"success":true}"#,
        br#"{"user":{"id":0},"success":true}"#,
        br#"{"success":true}"#,
        b"null",
    ] {
        assert!(
            check_register(200, body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(
        check_register(400, br#"{"message":"User was not valid","success":false,"errors":{"cellphone":"is invalid"},"error_code":"60027"}"#),
        Err(GatewayError::InvalidUser)
    );

    let details = br#"{"app":{"app_id":1,"name":"Shop","plan":"pay_as_you_go","sms_enabled":true,"onetouch_enabled":true},"message":"Application information.","success":true}"#;
    assert_eq!(check_app_details(200, details).unwrap().name, "Shop");
    assert!(check_app_details(200, br#"{"success":true}"#).is_err());
}

#[test]
fn path_segments_are_percent_encoded() {
    let ep = Endpoint {
        base_url: "http://h/base/",
        api_key: "k",
    };
    assert_eq!(
        url(
            ep,
            &["protected", "json", "verify", "../sms", "1/2#"],
            "force=true"
        ),
        "http://h/base/protected/json/verify/..%2Fsms/1%2F2%23?force=true"
    );
}

/// What the fault-injecting server does with each request.
#[derive(Clone, Copy)]
enum Fault {
    Hang,
    Status500,
    Garbage,
    TokenInvalid,
    SuccessFalse,
    Valid,
    CloseEarly,
    Huge,
}

struct FaultServer {
    base_url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

/// A raw HTTP/1.1 server on 127.0.0.1:0 answering every request per `fault`
/// and recording each request's head.
async fn fault_server(fault: Fault) -> FaultServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf).into_owned());
                let reply = |status: &str, body: &[u8]| {
                    let mut out = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(body);
                    out
                };
                let out = match fault {
                    Fault::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    Fault::Status500 => reply(
                        "500 Internal Server Error",
                        br#"{"token":"is valid","success":true}"#,
                    ),
                    Fault::Garbage => b"\x00\xff\xfegarbage\r\n\r\n not http at all".to_vec(),
                    Fault::TokenInvalid => reply(
                        "200 OK",
                        br#"{"message":"Token is invalid","token":"is invalid","success":true}"#,
                    ),
                    Fault::SuccessFalse => reply(
                        "200 OK",
                        br#"{"message":"Token is valid.","token":"is valid","success":false}"#,
                    ),
                    Fault::Valid => reply("200 OK", VALID.as_bytes()),
                    Fault::CloseEarly => {
                        b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"token\":\"is valid\""
                            .to_vec()
                    }
                    Fault::Huge => {
                        let mut body = br#"{"token":"is valid","success":true,"pad":""#.to_vec();
                        body.extend(std::iter::repeat_n(b'x', 200_000));
                        body.extend_from_slice(b"\"}");
                        reply("200 OK", &body)
                    }
                };
                let _ = sock.write_all(&out).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    FaultServer {
        base_url: format!("http://{addr}"),
        requests,
    }
}

async fn verify_against(fault: Fault) -> (Result<TokenCheck, GatewayError>, FaultServer) {
    let server = fault_server(fault).await;
    let client = AuthyClient::new(Duration::from_millis(300));
    let ep = Endpoint {
        base_url: &server.base_url,
        api_key: "test-key",
    };
    let code = OtpCode::parse("1234567").unwrap();
    let result = client.verify(ep, AuthyId(7), &code).await;
    (result, server)
}

#[tokio::test]
async fn faults_are_all_refused() {
    let started = std::time::Instant::now();
    let (hang, _) = verify_against(Fault::Hang).await;
    assert_eq!(hang, Err(GatewayError::Timeout));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "timeout not applied"
    );

    assert_eq!(
        verify_against(Fault::Status500).await.0,
        Err(GatewayError::Status(500))
    );
    assert!(verify_against(Fault::Garbage).await.0.is_err());
    assert_eq!(
        verify_against(Fault::TokenInvalid).await.0,
        Ok(TokenCheck::Rejected)
    );
    assert_eq!(
        verify_against(Fault::SuccessFalse).await.0,
        Ok(TokenCheck::Rejected)
    );
    assert!(verify_against(Fault::CloseEarly).await.0.is_err());
    assert_eq!(
        verify_against(Fault::Huge).await.0,
        Err(GatewayError::UnexpectedBody)
    );
}

#[tokio::test]
async fn unreachable_gateway_is_refused() {
    // Bind then drop to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = AuthyClient::new(Duration::from_millis(500));
    let base = format!("http://127.0.0.1:{port}");
    let ep = Endpoint {
        base_url: &base,
        api_key: "k",
    };
    let result = client
        .verify(ep, AuthyId(1), &OtpCode::parse("123456").unwrap())
        .await;
    assert!(
        matches!(result, Err(GatewayError::Unreachable(_))),
        "{result:?}"
    );
    assert!(client
        .send_code(ep, AuthyId(1), Channel::Sms)
        .await
        .is_err());
    assert!(client.app_details(ep).await.is_err());
}

#[tokio::test]
async fn valid_answer_and_canonical_request() {
    let (result, server) = verify_against(Fault::Valid).await;
    assert_eq!(result, Ok(TokenCheck::Valid));
    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let head = &requests[0];
    assert!(
        head.starts_with("GET /protected/json/verify/1234567/7?force=true HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("x-authy-api-key: test-key\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn sms_call_and_register_requests() {
    let server = fault_server(Fault::Valid).await;
    let client = AuthyClient::new(Duration::from_millis(500));
    let ep = Endpoint {
        base_url: &server.base_url,
        api_key: "k",
    };
    // The Valid body has success "true": a send counts as done.
    client
        .send_code(ep, AuthyId(9), Channel::Sms)
        .await
        .unwrap();
    client
        .send_code(ep, AuthyId(9), Channel::Call)
        .await
        .unwrap();
    let phone = PhoneNumber::parse("US", "201-555-0123").unwrap();
    // No user.id in the answer: refused.
    assert_eq!(
        client.register_user(ep, "a@example.com", &phone).await,
        Err(GatewayError::UnexpectedBody)
    );
    let requests = server.requests.lock().unwrap().clone();
    assert!(requests[0].starts_with("GET /protected/json/sms/9?force=true "));
    assert!(requests[1].starts_with("GET /protected/json/call/9?force=true "));
    assert!(requests[2].starts_with("POST /protected/json/users/new "));
}

#[tokio::test]
async fn no_key_means_no_request() {
    let server = fault_server(Fault::Valid).await;
    let client = AuthyClient::new(Duration::from_millis(500));
    let ep = Endpoint {
        base_url: &server.base_url,
        api_key: "",
    };
    let result = client
        .verify(ep, AuthyId(1), &OtpCode::parse("123456").unwrap())
        .await;
    assert_eq!(result, Err(GatewayError::NoApiKey));
    assert!(server.requests.lock().unwrap().is_empty());
}
