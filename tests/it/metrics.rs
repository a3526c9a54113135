//! `GET /metrics`, parsed with a Prometheus text-format parser (`prometheus-parse`): the
//! counters, gauges and histogram match what the test did; a token shows its user only, no
//! token is a 401, and `-metrics-public` shows every user without one.

use axum::http::Method;
use prometheus_parse::{Sample, Scrape, Value};
use qstash_dev::config::{Config, TEST_USERS};

use crate::support::{spawn_app, spawn_app_configured, Answer, App, Receiver};
use crate::workflow_runs::{endpoint, start};

async fn scrape(app: &App, token: Option<&str>) -> (u16, Scrape) {
    let mut rb = app.http.get(format!("{}/metrics", app.server.url()));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    if status == 200 {
        assert_eq!(
            kind.as_deref(),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
    }
    let scrape =
        Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the Prometheus text format");
    (status, scrape)
}

fn sample<'a>(s: &'a Scrape, name: &str, user: &str, extra: Option<(&str, &str)>) -> &'a Sample {
    s.samples
        .iter()
        .find(|x| {
            x.metric == name
                && x.labels.get("user") == Some(user)
                && extra.is_none_or(|(k, v)| x.labels.get(k) == Some(v))
        })
        .unwrap_or_else(|| panic!("no {name} for {user}"))
}

fn number(s: &Scrape, name: &str, user: &str) -> f64 {
    match sample(s, name, user, None).value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{name} is {other:?}"),
    }
}

#[tokio::test]
async fn the_figures_match_what_happened() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.always(Answer::status(500));
    app.publish_ok(&rx.url("/ok"), &[], "ok").await;
    let retry = [("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "10")];
    app.publish_ok(&failing.url("/fail"), &retry, "fails").await;
    let create = app
        .req(Method::POST, &format!("/v2/schedules/{}", rx.url("/cron")))
        .header("Upstash-Cron", "0 0 1 1 *")
        .header("Upstash-Schedule-Id", "yearly");
    assert_eq!(app.send(create).await.status, 200);
    assert_eq!(
        app.send(app.req(Method::POST, "/dev/schedules/yearly/trigger"))
            .await
            .status,
        200
    );
    let wf = endpoint().await;
    let run = start(&app, &wf.url("/wf"), &[]).await;
    wf.wait_for(1).await;
    let end = app.req(
        Method::DELETE,
        &format!("/v2/workflows/runs/{run}?cancel=false"),
    );
    assert_eq!(app.send(end).await.status, 200);
    let idle = app
        .send(app.req(Method::POST, "/dev/wait-idle?timeout=10s"))
        .await;
    assert_eq!(idle.status, 200, "{}", idle.text);

    let (status, s) = scrape(&app, Some(&app.token)).await;
    assert_eq!(status, 200);
    let me = TEST_USERS[0].user_id;
    let expect = [
        ("qstash_messages_published_total", 4.0),
        ("qstash_messages_delivered_total", 3.0),
        ("qstash_messages_retried_total", 1.0),
        ("qstash_messages_failed_total", 1.0),
        ("qstash_messages_cancelled_total", 0.0),
        ("qstash_messages_pending", 0.0),
        ("qstash_dlq_messages", 1.0),
        ("qstash_schedules_fired_total", 1.0),
        ("qstash_workflow_runs_started_total", 1.0),
        ("qstash_workflow_runs_active", 0.0),
    ];
    for (name, want) in expect {
        assert_eq!(number(&s, name, me), want, "{name}");
    }
    let ended = sample(
        &s,
        "qstash_workflow_runs_ended_total",
        me,
        Some(("state", "RUN_SUCCESS")),
    );
    assert!(
        matches!(ended.value, Value::Counter(v) if v == 1.0),
        "{ended:?}"
    );
    let Value::Histogram(ref buckets) =
        sample(&s, "qstash_delivery_duration_seconds", me, None).value
    else {
        panic!("a histogram");
    };
    let counts: Vec<f64> = buckets.iter().map(|b| b.count).collect();
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "cumulative: {counts:?}"
    );
    assert_eq!(
        counts.last().copied(),
        Some(5.0),
        "five attempts: ok, fail twice, cron, workflow"
    );
    assert!(
        s.samples.iter().all(|x| x.labels.get("user") == Some(me)),
        "only the token's user"
    );
}

#[tokio::test]
async fn no_token_is_a_401_and_metrics_public_shows_every_user() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/metrics", app.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (_, other) = scrape(&app, Some(TEST_USERS[2].token)).await;
    assert_eq!(
        number(
            &other,
            "qstash_messages_published_total",
            TEST_USERS[2].user_id
        ),
        0.0
    );

    let public = spawn_app_configured(Config {
        metrics_public: true,
        ..Config::default()
    })
    .await;
    let (status, s) = scrape(&public, None).await;
    assert_eq!(status, 200);
    for u in TEST_USERS {
        assert_eq!(
            number(&s, "qstash_messages_pending", u.user_id),
            0.0,
            "{}",
            u.user_id
        );
    }
}
