//! When attempts happen, on a frozen server clock moved by the test: a delay or not-before is
//! waited to the millisecond and not a millisecond less; retry delay expressions, the default
//! backoff ladder and retry-after hints space the attempts exactly, as the log's times show.

use super::*;

/// When the attempts of message `id` started (its ACTIVE log times), oldest first.
async fn starts(app: &App, id: &str) -> Vec<u64> {
    let log = app.timeline(id).await.into_iter();
    log.filter(|(s, _)| s == "ACTIVE").map(|(_, t)| t).collect()
}

/// Log entries as `timeline` gives them.
fn at(entries: &[(&str, u64)]) -> Vec<(String, u64)> {
    entries.iter().map(|(s, t)| (s.to_string(), *t)).collect()
}

#[tokio::test]
async fn a_delayed_message_is_delivered_when_the_clock_reaches_its_not_before_and_not_sooner() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let t0 = app.now_ms();
    let id = app
        .publish_ok(&rx.url("/later"), &[("Upstash-Delay", "1s")], "d")
        .await;
    let m = message(&app, &id).await;
    assert_eq!(m["createdAt"], json!(t0), "createdAt is ms: {m}");
    assert_eq!(m["notBefore"], json!(t0 + 1000), "{m}");

    app.advance_ms(999);
    assert_eq!(
        app.timer_jobs(),
        1,
        "still waiting 1 ms before its not-before"
    );
    assert!(rx.received().is_empty());
    app.advance_ms(1);
    rx.wait_for(1).await;
    app.wait_for_state(&id, "DELIVERED").await;
    assert_eq!(
        app.timeline(&id).await,
        at(&[
            ("CREATED", t0),
            ("ACTIVE", t0 + 1000),
            ("DELIVERED", t0 + 1000)
        ])
    );
}

#[tokio::test]
async fn not_before_wins_over_delay() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let nb_s = app.now_ms() / 1000 + 2;
    let nb = nb_s.to_string();
    let id = app
        .publish_ok(
            &rx.url("/nb"),
            &[
                ("Upstash-Not-Before", nb.as_str()),
                ("Upstash-Delay", "10m"),
            ],
            "n",
        )
        .await;
    let m = message(&app, &id).await;
    assert_eq!(m["notBefore"], json!(nb_s * 1000), "{m}");

    app.set_clock(nb_s * 1000 - 1);
    assert_eq!(
        app.timer_jobs(),
        1,
        "still waiting 1 ms before its not-before"
    );
    app.advance_ms(1);
    rx.wait_for(1).await;
    app.wait_for_state(&id, "DELIVERED").await;
    assert_eq!(
        starts(&app, &id).await,
        [nb_s * 1000],
        "not at the 10 minutes of the delay"
    );
}

#[tokio::test]
async fn the_retry_delay_expression_sees_retried_and_spaces_the_attempts() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(2, 503);
    let t0 = app.now_ms();
    let id = app
        .publish_ok(
            &rx.url("/expr"),
            &[("Upstash-Retry-Delay", "100 * (1 + retried)")],
            "e",
        )
        .await;
    for (n, delay) in [(1, 100), (2, 200)] {
        app.wait_for_count(&id, "RETRY", n).await;
        app.advance_ms(delay - 1);
        assert_eq!(app.timer_jobs(), 1, "retry {n} waits its {delay} ms");
        assert_eq!(rx.received().len(), n);
        app.advance_ms(1);
    }
    app.wait_for_state(&id, "DELIVERED").await;
    assert_eq!(rx.received().len(), 3);
    assert_eq!(starts(&app, &id).await, [t0, t0 + 100, t0 + 300]);
    let next: Vec<Value> = events(&app, &id, "RETRY")
        .await
        .iter()
        .map(|e| e["nextDeliveryTime"].clone())
        .collect();
    assert_eq!(next, [json!(t0 + 300), json!(t0 + 100)], "newest first");
    let e = &events(&app, &id, "DELIVERED").await[0];
    assert_eq!(e["retryDelayExpr"], json!("100 * (1 + retried)"));
}

#[tokio::test]
async fn the_default_backoff_and_a_retry_after_hint_are_waited_on_the_server_clock() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    rx.script([
        Answer::status(500),
        Answer::status(429).header("Retry-After", "3"),
    ]);
    let t0 = app.now_ms();
    let id = app.publish_ok(&rx.url("/ladder"), &[], "b").await;

    app.wait_for_count(&id, "RETRY", 1).await;
    let first = events(&app, &id, "RETRY").await[0]["nextDeliveryTime"]
        .as_u64()
        .expect("nextDeliveryTime");
    // The first step of the documented ladder: e^2.5 s, about 12 s.
    assert!(
        (t0 + 12_000..=t0 + 12_200).contains(&first),
        "first retry {} ms after the attempt",
        first - t0
    );
    app.set_clock(first - 1);
    assert_eq!(app.timer_jobs(), 1, "the backoff is not over");
    app.advance_ms(1);

    app.wait_for_count(&id, "RETRY", 2).await;
    let second = events(&app, &id, "RETRY").await[0]["nextDeliveryTime"].clone();
    assert_eq!(
        second,
        json!(first + 3000),
        "Retry-After: 3 replaces the ladder"
    );
    app.advance_ms(2999);
    assert_eq!(app.timer_jobs(), 1, "the hinted wait is not over");
    app.advance_ms(1);

    app.wait_for_state(&id, "DELIVERED").await;
    assert_eq!(retried(&rx.received()), ["0", "1", "2"]);
    assert_eq!(starts(&app, &id).await, [t0, first, first + 3000]);
}

#[tokio::test]
async fn a_retry_after_zero_hint_replaces_the_default_backoff() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    rx.script([Answer::status(429).header("Retry-After", "0")]);
    // No Upstash-Retry-Delay: without the hint the retry would wait the default 12 s, which
    // never comes on a frozen clock.
    let id = app.publish_ok(&rx.url("/limited"), &[], "h").await;
    let got = tokio::time::timeout(Duration::from_secs(2), rx.wait_for(2))
        .await
        .expect("retried at once");
    assert_eq!(retried(&got), ["0", "1"]);
    app.wait_for_state(&id, "DELIVERED").await;
}
