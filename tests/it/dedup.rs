//! Deduplication: an explicit `Upstash-Deduplication-Id` or content-based dedup answers 202
//! with the first message's id and `deduplicated: true`, and nothing more is delivered, for the
//! ten minutes of the window on the server's clock.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_repeated_deduplication_id_answers_202_with_the_first_message_and_delivers_once() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let dest = rx.url("/dedup");
    let first = app
        .publish(&dest, &[("Upstash-Deduplication-Id", "order-42")], "one")
        .await;
    assert_eq!(first.status, 200);
    let id = first.body["messageId"].as_str().unwrap().to_string();
    let second = app
        .publish(&dest, &[("Upstash-Deduplication-Id", "order-42")], "two")
        .await;
    assert_eq!(second.status, 202, "{}", second.text);
    assert_eq!(
        second.body,
        json!({ "messageId": id, "url": dest, "deduplicated": true })
    );
    app.wait_for_state(&id, "DELIVERED").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let got = rx.received();
    assert_eq!(got.len(), 1, "only one delivery");
    assert_eq!(&got[0].body[..], b"one");
}

#[tokio::test]
async fn content_based_dedup_matches_same_body_and_destination_in_either_spelling() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let dest = rx.url("/cbd");
    let first = app
        .publish(
            &dest,
            &[("Upstash-Content-Based-Deduplication", "true")],
            "same",
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let id = first.body["messageId"].as_str().unwrap().to_string();
    for spelling in ["true", "True"] {
        let again = app
            .publish(
                &dest,
                &[("Upstash-Content-Based-Deduplication", spelling)],
                "same",
            )
            .await;
        assert_eq!(again.status, 202, "{spelling}: {}", again.text);
        assert_eq!(again.body["messageId"], json!(id));
        assert_eq!(again.body["deduplicated"], json!(true));
    }
    let other = app
        .publish(
            &dest,
            &[("Upstash-Content-Based-Deduplication", "True")],
            "different",
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    assert_ne!(other.body["messageId"], json!(id));
    assert_eq!(other.body.get("deduplicated"), None);
    let got = rx.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(rx.received().len(), 2, "{got:?}");
}

#[tokio::test]
async fn a_deduplication_id_is_remembered_for_ten_minutes_of_the_server_clock() {
    let app = spawn_frozen_app().await;
    let dedup = [("Upstash-Deduplication-Id", "window"), LATER];
    let first = app.publish_ok("https://example.com/w", &dedup, "a").await;
    app.advance_ms(10 * 60_000 - 1);
    let again = app.publish("https://example.com/w", &dedup, "b").await;
    assert_eq!(again.status, 202, "still within the window: {}", again.text);
    assert_eq!(again.body["messageId"], json!(first));
    app.advance_ms(1);
    let after = app.publish("https://example.com/w", &dedup, "c").await;
    assert_eq!(after.status, 200, "the window is over: {}", after.text);
    assert_ne!(after.body["messageId"], json!(first));
    assert_eq!(after.body.get("deduplicated"), None);
}
