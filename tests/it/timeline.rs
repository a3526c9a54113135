//! `GET /dev/messages/{id}/timeline`: a message that failed twice and then succeeded shows three
//! attempts, each with the request it sent (retry count, signature and its claims), the answer,
//! its latency, the gap before it and the next due time; the callbacks it caused are listed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::support::{spawn_app, Receiver};

#[tokio::test]
async fn three_attempts_with_their_requests_answers_and_callbacks() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let cb = Receiver::start().await;
    rx.fail_times(2, 500);
    let url = rx.url("/flaky");
    let headers = [
        ("Upstash-Retries", "3"),
        ("Upstash-Retry-Delay", "20"),
        ("Upstash-Callback", &cb.url("/cb")),
    ];
    let id = app.publish_ok(&url, &headers, "payload").await;
    let idle = app
        .send(app.req(axum::http::Method::POST, "/dev/wait-idle?timeout=10s"))
        .await;
    assert_eq!(idle.status, 200, "{}", idle.text);

    let r = app.get(&format!("/dev/messages/{id}/timeline")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let tl = &r.body;
    assert_eq!(
        (tl["state"].as_str(), tl["url"].as_str()),
        (Some("DELIVERED"), Some(url.as_str()))
    );
    let attempts = tl["attempts"].as_array().unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["ERROR", "ERROR", "DELIVERED"]);
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(a["retried"], n);
        let h = &a["request"]["headers"];
        assert_eq!(h["Upstash-Retried"][0], n.to_string(), "{a}");
        assert_eq!(h["Upstash-Message-Id"][0], id.as_str());
        assert!(
            h["Upstash-Signature"][0]
                .as_str()
                .unwrap()
                .starts_with("ey"),
            "{a}"
        );
        assert_eq!(a["claims"]["sub"], url.as_str());
        assert_eq!(
            B64.decode(a["request"]["body"].as_str().unwrap()).unwrap(),
            b"payload"
        );
        let status = if n < 2 { 500 } else { 200 };
        assert_eq!(a["response"]["status"], status, "{a}");
        assert!(a["response"]["latencyMs"].is_u64(), "{a}");
        assert!(a["endedAt"].as_u64() >= a["startedAt"].as_u64());
    }
    assert!(attempts[0]["nextDeliveryTime"].is_u64() && attempts[2]["nextDeliveryTime"].is_null());
    assert!(
        attempts[1]["gapMs"].as_u64().unwrap() >= 20,
        "the retry delay: {}",
        attempts[1]
    );
    let callbacks = tl["callbacks"].as_array().unwrap();
    assert_eq!(
        callbacks.len(),
        3,
        "a callback for each answer: {callbacks:?}"
    );
    assert!(callbacks
        .iter()
        .all(|c| c["kind"] == "callback" && c["url"] == cb.url("/cb")));

    let r = app.get("/dev/messages/msg_nope/timeline").await;
    assert_eq!(r.status, 404, "{}", r.text);
}
