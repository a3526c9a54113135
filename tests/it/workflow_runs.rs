//! The workflow run API over plain HTTP, against a receiver that answers like the workflow SDK:
//! REST triggers (`/v2/trigger`, `/v2/batch/trigger`), bulk cancel and the workflow logs.
//! The DLQ side is in `workflow_runs_dlq`.

use std::time::Duration;

use axum::http::Method;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_frozen_app, Answer, App, Receiver, Reply};

pub const FEATURES: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";

/// What every SDK response carries.
pub fn sdk_ok() -> Answer {
    Answer::status(200).header("Upstash-Workflow-Sdk-Version", "1")
}

/// A workflow endpoint that answers like the SDK.
pub async fn endpoint() -> Receiver {
    let rx = Receiver::start().await;
    rx.always(sdk_ok());
    rx
}

/// `POST /v2/trigger/{url}` with `headers` and `body`.
pub async fn trigger(app: &App, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut rb = app
        .req(Method::POST, &format!("/v2/trigger/{url}"))
        .body(body.to_string());
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    app.send(rb).await
}

/// Triggers a run at `url` and returns its id.
pub async fn start(app: &App, url: &str, headers: &[(&str, &str)]) -> String {
    let r = trigger(app, url, headers, r#"{"in":1}"#).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["workflowRunId"]
        .as_str()
        .expect("run id")
        .to_string()
}

/// Publishes a step of `run` the way the SDK does (`/v2/batch`, one item per step).
pub async fn steps(app: &App, url: &str, run: &str, bodies: &[Value]) -> Reply {
    let items: Vec<Value> = bodies
        .iter()
        .map(|b| {
            json!({
                "destination": url,
                "headers": {
                    "upstash-workflow-init": "false",
                    "upstash-workflow-runid": run,
                    "upstash-workflow-url": url,
                    "upstash-feature-set": FEATURES,
                    "upstash-workflow-sdk-version": "1",
                    "upstash-forward-upstash-workflow-sdk-version": "1",
                    "upstash-method": "POST",
                    "content-type": "application/json",
                },
                "body": b.to_string(),
            })
        })
        .collect();
    app.send(app.req(Method::POST, "/v2/batch").json(&items))
        .await
}

pub fn run_step(id: u64, name: &str, out: &str, concurrent: u64) -> Value {
    json!({"stepId": id, "stepName": name, "stepType": "Run", "out": out, "concurrent": concurrent})
}

/// The run's log, once `ok` accepts it.
pub async fn run_log(app: &App, run: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let r = app
            .get(&format!(
                "/v2/workflows/events?groupBy=workflowRunId&workflowRunId={run}"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        last = r.body["runs"][0].clone();
        if !last.is_null() && ok(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run} never got there: {last:#}");
}

fn state_is(s: &'static str) -> impl Fn(&Value) -> bool {
    move |r| r["workflowState"] == s
}

/// The history a delivery carried, as `(messageId, decoded body)`.
fn history(body: &[u8]) -> Vec<(String, String)> {
    let steps: Vec<Value> = serde_json::from_slice(body).expect("history array");
    steps
        .iter()
        .map(|s| {
            let b = B64
                .decode(s["body"].as_str().unwrap_or(""))
                .expect("base64");
            (
                s["messageId"].as_str().unwrap_or("").to_string(),
                String::from_utf8(b).expect("utf-8"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_rest_trigger_starts_a_run_like_the_sdk_and_dedups_on_its_id() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let url = rx.url("/wf");
    let headers = [
        ("Upstash-Workflow-RunId", "wfr_custom"),
        ("Upstash-Forward-X-User", "u1"),
        ("Upstash-Label", "L1"),
    ];
    let r = trigger(&app, &url, &headers, "hello").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["workflowRunId"], "wfr_custom");
    let created = r.body["workflowCreatedAt"].as_u64().expect("a number");
    assert!(r.body.get("deduplicated").is_none());
    let got = rx.wait_for(1).await;
    let init = &got[0];
    assert_eq!(init.header("upstash-workflow-runid").unwrap(), "wfr_custom");
    assert_eq!(init.header("upstash-workflow-sdk-version").unwrap(), "1");
    assert_eq!(init.header("x-user").unwrap(), "u1");
    assert_eq!(init.header("upstash-label").unwrap(), "L1");
    assert_eq!(
        init.header("upstash-workflow-createdat").unwrap(),
        created.to_string()
    );
    let h = history(&init.body);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].1, "hello");

    let again = trigger(&app, &url, &headers, "hello").await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["deduplicated"], true);
    assert_eq!(again.body["workflowCreatedAt"], created);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.received().len(), 1, "no second run");

    let log = run_log(&app, "wfr_custom", state_is("RUN_STARTED")).await;
    assert_eq!(log["label"], "L1");
    assert_eq!(log["workflowRunCreatedAt"], created);
}

#[tokio::test]
async fn a_batch_trigger_starts_one_run_per_item() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let items = json!([
        {"destination": rx.url("/a"), "body": "one"},
        {"destination": rx.url("/b"), "body": {"two": 2}, "headers": {"Upstash-Workflow-RunId": "wfr_b"}},
    ]);
    let r = app
        .send(app.req(Method::POST, "/v2/batch/trigger").json(&items))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let runs = r.body.as_array().expect("array");
    assert_eq!(runs.len(), 2);
    assert!(runs[0]["workflowRunId"]
        .as_str()
        .unwrap()
        .starts_with("wfr_"));
    assert_eq!(runs[1]["workflowRunId"], "wfr_b");
    assert!(runs[1]["workflowCreatedAt"].is_u64());
    let got = rx.wait_for(2).await;
    let b = got.iter().find(|g| g.path == "/b").expect("b delivered");
    assert_eq!(history(&b.body)[0].1, r#"{"two":2}"#);
    assert_eq!(b.header("upstash-workflow-runid").unwrap(), "wfr_b");
}

#[tokio::test]
async fn logs_show_a_finished_run_with_one_group_per_step() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let url = rx.url("/wf");
    let run = start(&app, &url, &[("Upstash-Label", "L")]).await;
    rx.wait_for(1).await;
    let r = steps(&app, &url, &run, &[run_step(1, "first", "\"one\"", 1)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(2).await;
    assert_eq!(history(&got[1].body).len(), 2, "init and step 1");
    steps(&app, &url, &run, &[run_step(2, "second", "2", 1)]).await;
    rx.wait_for(3).await;
    let done = app
        .req(
            Method::DELETE,
            &format!("/v2/workflows/runs/{run}?cancel=false"),
        )
        .body("\"done\"");
    assert_eq!(app.send(done).await.status, 200);

    let log = run_log(&app, &run, state_is("RUN_SUCCESS")).await;
    assert_eq!(log["workflowUrl"], url.as_str());
    assert_eq!(log["workflowRunResponse"], "\"done\"");
    assert!(log["workflowRunCompletedAt"].is_u64());
    assert_eq!(log["labels"], json!(["L"]));
    let groups = log["steps"].as_array().expect("steps");
    assert_eq!(groups.len(), 3, "{log:#}");
    let init = &groups[0]["steps"][0];
    assert_eq!(groups[0]["type"], "sequential");
    assert_eq!(init["stepName"], "init");
    assert_eq!(init["stepType"], "Initial");
    assert_eq!(init["out"], r#"{"in":1}"#);
    assert_eq!(init["state"], "STEP_SUCCESS");
    for (g, (name, out)) in groups[1..]
        .iter()
        .zip([("first", "\"one\""), ("second", "2")])
    {
        assert_eq!(g["type"], "sequential");
        let s = &g["steps"][0];
        assert_eq!(s["stepName"], name);
        assert_eq!(s["out"], out);
        assert_eq!(s["state"], "STEP_SUCCESS");
        assert_eq!(s["callType"], "step");
        assert!(s["messageId"].as_str().unwrap().starts_with("msg_"));
    }
    assert!(groups.iter().all(|g| g["type"] != "next"));

    let by_state = app
        .get("/v2/workflows/logs?state=RUN_STARTED&count=10")
        .await;
    assert_eq!(by_state.body["runs"], json!([]));
}

#[tokio::test]
async fn logs_group_parallel_steps_and_show_the_message_in_delivery() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let url = rx.url("/wf");
    let run = start(&app, &url, &[]).await;
    rx.wait_for(1).await;
    let plan = |t: u64| json!({"stepId": 0, "stepName": format!("p{t}"), "stepType": "Run", "concurrent": 2, "targetStep": t});
    steps(&app, &url, &run, &[plan(1), plan(2)]).await;
    rx.wait_for(3).await;
    steps(&app, &url, &run, &[run_step(1, "p1", "\"a\"", 2)]).await;
    rx.wait_for(4).await;
    rx.always(
        Answer::status(500)
            .header("Upstash-Workflow-Sdk-Version", "1")
            .header("Upstash-Error-Step-Name", "p2"),
    );
    steps(&app, &url, &run, &[run_step(2, "p2", "\"b\"", 2)]).await;

    let log = run_log(&app, &run, |r| {
        r["steps"].as_array().is_some_and(|g| {
            g.last()
                .is_some_and(|l| l["type"] == "next" && l["steps"][0]["errors"].is_array())
        })
    })
    .await;
    let groups = log["steps"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{log:#}");
    assert_eq!(groups[1]["type"], "parallel");
    let par = groups[1]["steps"].as_array().unwrap();
    assert_eq!(par.len(), 2);
    assert_eq!(
        (par[0]["stepId"].as_u64(), par[1]["stepId"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(par
        .iter()
        .all(|s| s["state"] == "STEP_SUCCESS" && s["concurrent"] == 2));
    let next = &groups[2]["steps"][0];
    assert_eq!(next["stepName"], "p2");
    assert_eq!(next["errors"][0]["status"], 500);
    assert!(matches!(
        next["state"].as_str(),
        Some("STEP_RETRY" | "STEP_PROGRESS")
    ));
}

#[tokio::test]
async fn bulk_cancel_by_ids_by_filter_and_all() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let a = start(&app, &rx.url("/wf/a"), &[]).await;
    let b = start(&app, &rx.url("/wf/b"), &[("Upstash-Label", "lb")]).await;
    let c = start(&app, &rx.url("/wf/a/sub"), &[]).await;
    let d = start(&app, &rx.url("/wf/a2"), &[]).await;
    rx.wait_for(4).await;
    let cancel = |q: String| {
        let app = &app;
        async move { app.delete(&format!("/v2/workflows/runs?{q}")).await }
    };
    let r = cancel(format!("workflowRunIds={a}&workflowRunIds=wfr_unknown")).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"cancelled": 1})),
        "{}",
        r.text
    );
    assert_eq!(
        cancel(format!("workflowRunIds={a}")).await.body["cancelled"],
        0
    );

    let exact = format!(
        "workflowUrl={}&workflowUrlExactMatch=true&count=100",
        rx.url("/wf/a")
    );
    assert_eq!(
        cancel(exact).await.body["cancelled"],
        0,
        "a is already cancelled"
    );
    assert_eq!(
        cancel("label=lb&count=100".into()).await.body["cancelled"],
        1
    );
    let prefix = format!("workflowUrl={}&count=1", rx.url("/wf/a"));
    assert_eq!(
        cancel(prefix.clone()).await.body["cancelled"],
        2,
        "c and d match the prefix; count does not cap a filter"
    );
    assert_eq!(cancel(prefix).await.body["cancelled"], 0);
    assert_eq!(cancel("count=x".into()).await.status, 400);

    let e = start(&app, &rx.url("/wf/e"), &[]).await;
    let f = start(&app, &rx.url("/wf/f"), &[]).await;
    assert_eq!(cancel("count=100".into()).await.body["cancelled"], 2);
    for run in [&a, &b, &c, &d, &e, &f] {
        run_log(&app, run, state_is("RUN_CANCELED")).await;
    }
    let late = steps(&app, &rx.url("/wf/a"), &a, &[run_step(1, "s", "1", 1)]).await;
    assert_eq!(
        late.status, 400,
        "a step for a cancelled run fails its batch: {}",
        late.text
    );
    assert!(late.body["error"].is_string(), "{}", late.text);
}

#[tokio::test]
async fn logs_page_runs_newest_first_ten_at_a_time() {
    let app = spawn_frozen_app().await;
    let rx = endpoint().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(start(&app, &rx.url(&format!("/wf/{i}")), &[]).await);
        app.advance_ms(1);
    }
    let first = app.get("/v2/workflows/logs").await;
    let runs = first.body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 10);
    assert_eq!(runs[0]["workflowRunId"], ids[11].as_str());
    let cursor = first.body["cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let second = app
        .get(&format!("/v2/workflows/logs?cursor={cursor}&count=50"))
        .await;
    let rest: Vec<&str> = second.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["workflowRunId"].as_str().unwrap())
        .collect();
    assert_eq!(rest, [ids[1].as_str(), ids[0].as_str()]);
    assert_eq!(second.body["cursor"], "");
}
