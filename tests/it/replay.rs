//! `POST /dev/messages/{messageId}/replay`: a logged message sent again as a new message, as it
//! was or with an edited destination, method, headers or body; from the log (delivered), from
//! the DLQ and while pending; bad edits are a 400 naming the field, an unknown id a 404.

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, Answer, App, Receiver, Reply};

async fn replay(app: &App, id: &str, edits: Option<Value>) -> Reply {
    let mut rb = app.req(Method::POST, &format!("/dev/messages/{id}/replay"));
    if let Some(e) = edits {
        rb = rb.json(&e);
    }
    app.send(rb).await
}

#[tokio::test]
async fn a_delivered_message_is_sent_again_as_it_was_or_edited() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let first = app
        .publish_ok(
            &rx.url("/orig"),
            &[
                ("Upstash-Forward-X-Kind", "a"),
                ("Content-Type", "text/plain"),
            ],
            "original",
        )
        .await;
    rx.wait_for(1).await;

    let r = replay(&app, &first, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let again = r.body["messageId"].as_str().unwrap().to_string();
    assert_ne!(again, first, "a new message");
    let got = rx.wait_for(2).await;
    assert_eq!(
        (got[1].path.as_str(), &got[1].body[..]),
        ("/orig", &b"original"[..])
    );
    assert_eq!(
        got[1].header("x-kind").as_deref(),
        Some("a"),
        "the same headers"
    );
    assert_eq!(
        got[1].header("upstash-message-id").as_deref(),
        Some(&*again)
    );

    let edits = json!({
        "destination": rx.url("/edited"),
        "method": "PUT",
        "headers": {"X-Kind": "b", "Content-Type": "application/json"},
        "body": "{\"edited\":true}",
    });
    let r = replay(&app, &first, Some(edits)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["url"], rx.url("/edited"));
    let got = rx.wait_for(3).await;
    let d = &got[2];
    assert_eq!((d.method.as_str(), d.path.as_str()), ("PUT", "/edited"));
    assert_eq!(&d.body[..], b"{\"edited\":true}");
    assert_eq!(d.header("x-kind").as_deref(), Some("b"));
    assert_eq!(
        d.header("content-type").as_deref(),
        Some("application/json")
    );
}

#[tokio::test]
async fn a_dead_lettered_message_is_replayed_with_a_new_body() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script([Answer::status(500)]);
    let failed = app
        .publish_ok(&rx.url("/dlq"), &[("Upstash-Retries", "0")], "broken")
        .await;
    rx.wait_for(1).await;
    let idle = app
        .send(app.req(Method::POST, "/dev/wait-idle?timeout=5s"))
        .await;
    assert_eq!(idle.status, 200, "{}", idle.text);
    let r = replay(&app, &failed, Some(json!({"body": "fixed"}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let got = rx.wait_for(2).await;
    assert_eq!(&got[1].body[..], b"fixed");
}

#[tokio::test]
async fn bad_edits_are_a_400_naming_the_field_and_an_unknown_id_a_404() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let id = app
        .publish_ok(&rx.url("/x"), &[("Upstash-Delay", "1h")], "later")
        .await;
    for (edits, says) in [
        (json!({"destination": "not a url"}), "destination"),
        (
            json!({"destination": "http://169.254.169.254/"}),
            "link-local",
        ),
        (json!({"method": "FETCH"}), "method"),
        (json!({"headers": {"Bad Name": "x"}}), "header"),
        (json!({"body": 1}), "body"),
        (json!({"other": 1}), "other"),
    ] {
        let r = replay(&app, &id, Some(edits.clone())).await;
        assert_eq!(r.status, 400, "{edits}: {}", r.text);
        assert!(
            r.body["error"].as_str().unwrap().contains(says),
            "{edits}: {}",
            r.text
        );
    }
    let r = replay(&app, &id, None).await;
    assert_eq!(r.status, 201, "a pending message replays too: {}", r.text);
    let r = replay(&app, "msg_unknown", None).await;
    assert_eq!(r.status, 404, "{}", r.text);
}
