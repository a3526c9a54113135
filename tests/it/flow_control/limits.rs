//! Flow-control limits in action: parallelism per key (across URLs), rate per period, start
//! order, and the account-wide global parallelism of the quota preset.

use std::time::{Duration, Instant};

use qstash_dev::config::QuotaPreset;

use super::*;

const SLOW: Duration = Duration::from_millis(200);

fn bodies(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[tokio::test]
async fn parallelism_two_never_has_three_in_flight_and_starts_in_publish_order() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).slow(SLOW));
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(publish_fc(&app, &rx.url("/p"), "par2", "parallelism=2", &i.to_string()).await);
    }
    let got = rx.wait_for(6).await;
    app.wait_idle().await;
    assert_eq!(got.len(), 6, "each message delivered once");
    assert_eq!(max_in_flight(&got, SLOW), 2);
    let span = got[5].at - got[0].at;
    assert!(span >= 2 * SLOW, "three rounds of two take time: {span:?}");
    assert_eq!(started(&app, "par2").await, ids);
    let mut b = bodies(&got);
    b.sort();
    assert_eq!(b, ["0", "1", "2", "3", "4", "5"]);
    let i = info(&app, "par2").await;
    assert_eq!(
        (i["parallelismCount"].clone(), i["waitListSize"].clone()),
        (json!(0), json!(0))
    );
}

#[tokio::test]
async fn one_key_limits_deliveries_to_different_urls_together() {
    let app = spawn_app().await;
    let (a, b) = (Receiver::start().await, Receiver::start().await);
    a.always(Answer::status(200).slow(SLOW));
    b.always(Answer::status(200).slow(SLOW));
    for i in 0..3 {
        publish_fc(
            &app,
            &a.url("/a"),
            "shared",
            "parallelism=2",
            &format!("a{i}"),
        )
        .await;
        publish_fc(
            &app,
            &b.url("/b"),
            "shared",
            "parallelism=2",
            &format!("b{i}"),
        )
        .await;
    }
    let mut got = a.wait_for(3).await;
    got.extend(b.wait_for(3).await);
    app.wait_idle().await;
    assert_eq!(got.len(), 6);
    assert_eq!(
        max_in_flight(&got, SLOW),
        2,
        "the key's limit is shared by both URLs"
    );
}

#[tokio::test]
async fn rate_five_per_second_spreads_twenty_messages_over_four_periods_in_order() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let t0 = app.now_ms();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            publish_fc(
                &app,
                &rx.url("/r"),
                "rate5",
                "rate=5, period=1s",
                &i.to_string(),
            )
            .await,
        );
    }
    for period in 1..=4 {
        rx.wait_for(5 * period).await;
        if period == 4 {
            break;
        }
        wait_info(&app, "rate5", |i| i["waitListSize"] == 20 - 5 * period).await;
        app.advance_ms(999);
        assert_eq!(app.timer_jobs(), 1, "the period's end is 1 ms away");
        assert_eq!(started(&app, "rate5").await.len(), 5 * period);
        app.advance_ms(1);
    }
    app.wait_idle().await;
    assert_eq!(rx.received().len(), 20);
    assert_eq!(started(&app, "rate5").await, ids, "publish order kept");
    let mut starts = Vec::new();
    for id in &ids {
        let log = app.timeline(id).await;
        starts.extend(
            log.into_iter()
                .filter(|(s, _)| s == "ACTIVE")
                .map(|(_, t)| t),
        );
    }
    let expected: Vec<u64> = (0..20).map(|i| t0 + 1000 * (i / 5)).collect();
    assert_eq!(starts, expected, "five at the start of each period");
    assert_eq!(bodies(&rx.received()).len(), 20);
}

#[tokio::test]
async fn global_parallelism_reports_the_preset_maximum_and_deliveries_in_flight() {
    let app = spawn_app().await;
    let r = app.get("/v2/globalParallelism").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["parallelismMax"], 100);
    assert_eq!(r.body["parallelismCount"].as_u64().unwrap_or(0), 0);

    let rx = Receiver::start().await;
    rx.always(Answer::status(200).slow(Duration::from_millis(500)));
    for i in 0..3 {
        app.publish_ok(&rx.url("/g"), &[], &i.to_string()).await;
    }
    let mut seen = 0;
    for _ in 0..100 {
        let r = app.get("/v2/globalParallelism").await;
        seen = r.body["parallelismCount"].as_u64().unwrap_or(0);
        if seen == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen, 3, "three slow deliveries in flight");
    app.wait_idle().await;
    let r = app.get("/v2/globalParallelism").await;
    assert_eq!(r.body["parallelismCount"].as_u64().unwrap_or(0), 0);

    let pro = spawn_app_with(QuotaPreset::Pro).await;
    let r = pro.get("/v2/globalParallelism").await;
    assert_eq!(r.body["parallelismMax"], 1000, "{}", r.text);
}

#[tokio::test]
async fn more_than_one_hundred_slow_deliveries_never_exceed_global_parallelism() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let slow = Duration::from_millis(300);
    rx.always(Answer::status(200).slow(slow));
    let items: Vec<Value> = (0..120)
        .map(|i| json!({ "destination": rx.url("/many"), "body": i.to_string() }))
        .collect();
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&items))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let (mut peak, deadline) = (0, Instant::now() + Duration::from_secs(5));
    while rx.received().len() < 120 && Instant::now() < deadline {
        let r = app.get("/v2/globalParallelism").await;
        peak = peak.max(r.body["parallelismCount"].as_u64().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let got = rx.wait_for(120).await;
    app.wait_idle().await;
    assert_eq!(peak, 100, "the payg cap is reached and never passed");
    let most = max_in_flight(&got, slow);
    assert!(
        (50..=100).contains(&most),
        "max in flight at the receiver: {most}"
    );
    let mut b = bodies(&got);
    b.sort();
    b.dedup();
    assert_eq!(b.len(), 120, "every message delivered once");
}

#[tokio::test]
async fn a_message_held_by_its_paused_key_does_not_hold_up_the_global_line() {
    let app = spawn_app().await;
    let busy = Receiver::start().await;
    // Long enough that no slot frees while the last of the 100 connect (debug build, busy
    // machine) and the held message is published and paused.
    busy.always(Answer::status(200).slow(Duration::from_secs(2)));
    let items: Vec<Value> = (0..100)
        .map(|i| json!({ "destination": busy.url("/busy"), "body": i.to_string() }))
        .collect();
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&items))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    busy.wait_for(100).await;

    let rx = Receiver::start().await;
    publish_fc(&app, &rx.url("/held"), "held", "parallelism=1", "held").await;
    // Let it reach the global line (all 100 slots are taken), then pause its key.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = post(&app, "/v2/flowControl/held/pause").await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.publish_ok(&rx.url("/free"), &[], "free").await;

    let got = rx.wait_for(1).await;
    assert_eq!(bodies(&got), ["free"], "the message without a key goes out");
    assert_eq!(info(&app, "held").await["waitListSize"], 1);
    let r = post(&app, "/v2/flowControl/held/resume").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(2).await;
    assert_eq!(bodies(&got), ["free", "held"]);
}
