//! The flow-control API (§4.9, §5.11): get and list, pause and resume, pin and unpin,
//! resetRate and reset, and the "highest wins until the old ones are gone" rule as GET shows it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

async fn ok(app: &App, path: &str) {
    let r = post(app, path).await;
    assert_eq!(r.status, 200, "POST {path}: {}", r.text);
}

#[tokio::test]
async fn flow_control_info_shows_every_field_while_messages_wait() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).slow(Duration::from_millis(600)));
    let before = now_secs();
    for i in 0..3 {
        publish_fc(
            &app,
            &rx.url("/i"),
            "info",
            "parallelism=1, rate=10, period=1m",
            &i.to_string(),
        )
        .await;
    }
    let i = wait_info(&app, "info", |i| i["waitListSize"] == 2).await;
    let mut keys: Vec<&str> = i
        .as_object()
        .expect("object")
        .keys()
        .map(|k| &**k)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "flowControlKey",
            "isPaused",
            "isPinnedParallelism",
            "isPinnedRate",
            "parallelismCount",
            "parallelismMax",
            "rateCount",
            "rateMax",
            "ratePeriod",
            "ratePeriodStart",
            "waitListSize",
        ]
    );
    assert_eq!(i["flowControlKey"], "info");
    assert_eq!(
        (&i["parallelismMax"], &i["parallelismCount"]),
        (&json!(1), &json!(1)),
        "{i}"
    );
    assert_eq!(
        (&i["rateMax"], &i["rateCount"], &i["ratePeriod"]),
        (&json!(10), &json!(1), &json!(60)),
        "{i}"
    );
    let start = i["ratePeriodStart"].as_u64().expect("ratePeriodStart");
    assert!((before..=now_secs()).contains(&start), "Unix seconds: {i}");
    assert_eq!(
        (
            &i["isPaused"],
            &i["isPinnedParallelism"],
            &i["isPinnedRate"]
        ),
        (&json!(false), &json!(false), &json!(false))
    );

    let r = app.get("/v2/flowControl/nope").await;
    assert_error(&r, 404);
    app.publish_ok(
        &rx.url("/o"),
        &[(KEY, "other"), (VALUE, "rate=1"), LATER],
        "x",
    )
    .await;
    let all = app.get("/v2/flowControl").await;
    let names: Vec<&str> = all
        .body
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|k| k["flowControlKey"].as_str())
        .collect();
    assert_eq!(names, ["info", "other"], "{}", all.text);
    let found = app.get("/v2/flowControl?search=inf").await;
    assert_eq!(
        found.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        found.text
    );
    assert_eq!(found.body[0]["flowControlKey"], "info");
}

#[tokio::test]
async fn pause_holds_new_messages_and_resume_releases_them_in_order() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    ok(&app, "/v2/flowControl/hold/pause").await;
    assert_eq!(info(&app, "hold").await["isPaused"], true);
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(publish_fc(&app, &rx.url("/h"), "hold", "parallelism=5", &i.to_string()).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.received().is_empty(), "nothing goes out while paused");
    assert_eq!(info(&app, "hold").await["waitListSize"], 3);
    let r = app.delete(&format!("/v2/messages/{}", ids[1])).await;
    assert!((200..300).contains(&r.status), "cancel: {}", r.text);
    assert_eq!(
        info(&app, "hold").await["waitListSize"],
        2,
        "a cancelled one leaves"
    );
    ids.remove(1);

    ok(&app, "/v2/flowControl/hold/resume").await;
    rx.wait_for(2).await;
    app.wait_idle().await;
    assert_eq!(rx.received().len(), 2);
    assert_eq!(
        started(&app, "hold").await,
        ids,
        "released in publish order"
    );
    let i = info(&app, "hold").await;
    assert_eq!(
        (&i["isPaused"], &i["waitListSize"]),
        (&json!(false), &json!(0))
    );
}

#[tokio::test]
async fn a_pin_overrides_incoming_configs_and_unpin_releases_each_part() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let slow = Duration::from_millis(150);
    rx.always(Answer::status(200).slow(slow));
    ok(
        &app,
        "/v2/flowControl/pinned/pin?parallelism=1&rate=50&period=10",
    )
    .await;
    let pinned = json!([1, 50, 10, true, true]);
    let shown = |i: &Value| {
        json!([
            i["parallelismMax"],
            i["rateMax"],
            i["ratePeriod"],
            i["isPinnedParallelism"],
            i["isPinnedRate"]
        ])
    };
    assert_eq!(shown(&info(&app, "pinned").await), pinned);

    for i in 0..3 {
        publish_fc(
            &app,
            &rx.url("/p"),
            "pinned",
            "parallelism=5",
            &i.to_string(),
        )
        .await;
    }
    assert_eq!(
        shown(&info(&app, "pinned").await),
        pinned,
        "incoming configs are ignored"
    );
    let got = rx.wait_for(3).await;
    app.wait_idle().await;
    assert_eq!(max_in_flight(&got, slow), 1, "one at a time while pinned");
    assert_eq!(info(&app, "pinned").await["rateCount"], 3);
    ok(&app, "/v2/flowControl/pinned/pin?rate=50").await;
    assert_eq!(
        info(&app, "pinned").await["rateCount"],
        0,
        "pinning resets the rate count"
    );

    ok(&app, "/v2/flowControl/pinned/unpin?parallelism=true").await;
    let i = info(&app, "pinned").await;
    assert_eq!(
        shown(&i),
        json!([1, 50, 10, false, true]),
        "only parallelism unpinned; values stay"
    );
    ok(&app, "/v2/flowControl/pinned/unpin?rate=true").await;
    assert_eq!(
        shown(&info(&app, "pinned").await),
        json!([1, 50, 10, false, false])
    );
    publish_fc(&app, &rx.url("/p"), "pinned", "parallelism=5", "new").await;
    assert_eq!(
        shown(&info(&app, "pinned").await),
        json!([5, 0, 1, false, false]),
        "a new config applies"
    );

    ok(&app, "/v2/flowControl/both/pin?parallelism=2&rate=3").await;
    ok(
        &app,
        "/v2/flowControl/both/unpin?rate=true&parallelism=false",
    )
    .await;
    let i = info(&app, "both").await;
    assert_eq!(
        (&i["isPinnedParallelism"], &i["isPinnedRate"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(
        (&i["parallelismMax"], &i["rateMax"]),
        (&json!(2), &json!(3))
    );
}

#[tokio::test]
async fn reset_rate_and_reset_zero_the_rate_count() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    for i in 0..3 {
        publish_fc(
            &app,
            &rx.url("/r"),
            "count",
            "rate=10, period=1m",
            &i.to_string(),
        )
        .await;
    }
    rx.wait_for(3).await;
    app.wait_idle().await;
    assert_eq!(info(&app, "count").await["rateCount"], 3);
    let before = now_secs();
    ok(&app, "/v2/flowControl/count/resetRate").await;
    let i = info(&app, "count").await;
    assert_eq!(i["rateCount"], 0, "{i}");
    assert!(
        i["ratePeriodStart"].as_u64().expect("ratePeriodStart") >= before,
        "a new period: {i}"
    );

    for i in 0..2 {
        publish_fc(
            &app,
            &rx.url("/r"),
            "count",
            "rate=10, period=1m",
            &i.to_string(),
        )
        .await;
    }
    rx.wait_for(5).await;
    app.wait_idle().await;
    assert_eq!(info(&app, "count").await["rateCount"], 2);
    ok(&app, "/v2/flowControl/count/reset").await;
    assert_eq!(info(&app, "count").await["rateCount"], 0);
}

#[tokio::test]
async fn invalid_pin_and_unpin_values_are_rejected_with_400() {
    let app = spawn_app().await;
    for q in [
        "parallelism=0",
        "rate=x",
        "period=8d",
        "period=0",
        "rate=-2",
        "",
    ] {
        let r = post(&app, &format!("/v2/flowControl/bad/pin?{q}")).await;
        assert_error(&r, 400);
    }
    let r = post(&app, "/v2/flowControl/bad/unpin?parallelism=maybe").await;
    assert_error(&r, 400);
    let r = post(&app, "/v2/flowControl/bad/pin?period=1h30m3s&rate=2").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(info(&app, "bad").await["ratePeriod"], 5403);
}

/// Pauses `key`, publishes two messages with `first` and two with `then`; returns the
/// `parallelismMax` after the first two and after all four, then resumes and waits.
async fn mixed(app: &App, rx: &Receiver, key: &str, first: &str, then: &str) -> (Value, Value) {
    ok(app, &format!("/v2/flowControl/{key}/pause")).await;
    for i in 0..2 {
        publish_fc(app, &rx.url("/m"), key, first, &format!("old{i}")).await;
    }
    let old = info(app, key).await["parallelismMax"].clone();
    for i in 0..2 {
        publish_fc(app, &rx.url("/m"), key, then, &format!("new{i}")).await;
    }
    let mixed = info(app, key).await["parallelismMax"].clone();
    ok(app, &format!("/v2/flowControl/{key}/resume")).await;
    rx.wait_for(rx.received().len() + 4).await;
    app.wait_idle().await;
    (old, mixed)
}

#[tokio::test]
async fn the_highest_parallelism_wins_until_the_old_messages_are_gone() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let slow = Duration::from_millis(200);
    rx.always(Answer::status(200).slow(slow));
    let (old, both) = mixed(&app, &rx, "up", "parallelism=1", "parallelism=3").await;
    assert_eq!((old, both), (json!(1), json!(3)));
    assert_eq!(
        max_in_flight(&rx.received(), slow),
        3,
        "the higher limit is in effect"
    );
    assert_eq!(info(&app, "up").await["parallelismMax"], 3, "and stays");

    let rx = Receiver::start().await;
    let (old, both) = mixed(&app, &rx, "down", "parallelism=3", "parallelism=1").await;
    assert_eq!(
        (old, both),
        (json!(3), json!(3)),
        "the old, higher limit wins while pending"
    );
    assert_eq!(
        info(&app, "down").await["parallelismMax"],
        1,
        "the new one once they are gone"
    );
}
