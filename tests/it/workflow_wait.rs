//! waitForEvent, notify, wait timeouts and webhooks, driven over plain HTTP the way
//! `@upstash/workflow` 1.3.3 does it. Timeouts, on a frozen clock, are in `timeouts`.

use std::time::SystemTime;

use axum::http::Method;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::{spawn_app, Answer, App, Received, Receiver};

mod timeouts;

const FEATURES: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";

/// A workflow endpoint that answers like the SDK.
async fn endpoint() -> Receiver {
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).header("Upstash-Workflow-Sdk-Version", "1"));
    rx
}

/// Starts run `run_id` at `rx`'s `/wf` and waits for its first delivery.
async fn start_run(app: &App, rx: &Receiver, run_id: &str) {
    let url = rx.url("/wf");
    let n = rx.received().len() + 1;
    app.publish_ok(
        &url,
        &[
            ("Upstash-Workflow-Init", "true"),
            ("Upstash-Workflow-RunId", run_id),
            ("Upstash-Workflow-Url", &url),
            ("Upstash-Forward-Upstash-Workflow-Sdk-Version", "1"),
            ("Upstash-Feature-Set", FEATURES),
            ("Upstash-Forward-X-User", "u1"),
        ],
        r#"{"in":1}"#,
    )
    .await;
    rx.wait_for(n).await;
}

fn step(id: u64, ty: &str) -> Value {
    json!({"stepId": id, "stepName": format!("wait {id}"), "stepType": ty, "concurrent": 1})
}

/// `POST /v2/wait/{event}` as the SDK sends it.
async fn wait(app: &App, rx: &Receiver, run_id: &str, event: &str, timeout: &str, s: Value) -> u16 {
    let url = rx.url("/wf");
    let body = json!({
        "url": url,
        "timeout": timeout,
        "timeoutUrl": rx.url("/timeout"),
        "timeoutHeaders": {
            "Upstash-Workflow-Init": ["false"],
            "Upstash-Workflow-RunId": [run_id],
            "Upstash-Workflow-Runid": [run_id],
            "Upstash-Forward-Upstash-Workflow-Sdk-Version": ["1"],
            "content-type": ["application/json"],
        },
        "step": s,
    });
    let rb = app
        .req(Method::POST, &format!("/v2/wait/{event}"))
        .header("Upstash-Workflow-Init", "false")
        .header("Upstash-Workflow-RunId", run_id)
        .header("Upstash-Workflow-Url", &url)
        .header("Upstash-Feature-Set", FEATURES)
        .header("Upstash-Workflow-Sdk-Version", "1")
        .header("Upstash-Forward-Upstash-Workflow-Sdk-Version", "1")
        .header("Upstash-Workflow-CallType", "step")
        .header("Content-Type", "application/json")
        .body(body.to_string());
    let r = app.send(rb).await;
    assert!(r.status != 200 || r.body == json!({}), "{}", r.text);
    r.status
}

async fn post(app: &App, path: &str, body: &str) -> crate::support::Reply {
    app.send(app.req(Method::POST, path).body(body.to_string()))
        .await
}

/// The history a delivery carried and its last step, decoded.
fn last_step(r: &Received) -> (usize, Value) {
    let history: Vec<Value> = serde_json::from_slice(&r.body).expect("history array");
    let last = history.last().expect("a step");
    assert_eq!(last["callType"], "step");
    let raw = B64.decode(last["body"].as_str().unwrap()).unwrap();
    (
        history.len(),
        serde_json::from_slice(&raw).expect("step JSON"),
    )
}

fn decode_out(step: &Value) -> Vec<u8> {
    B64.decode(step["out"].as_str().expect("out")).unwrap()
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn notify_delivers_the_event_to_the_waiting_run_with_its_config() {
    let (app, rx) = (spawn_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_n").await;
    assert_eq!(
        wait(&app, &rx, "wfr_n", "evt-n", "30s", step(1, "Wait")).await,
        200
    );

    let w = app.get("/v2/waiters/evt-n").await;
    assert_eq!(w.status, 200);
    let w = &w.body[0];
    assert_eq!(w["url"], rx.url("/wf"));
    assert_eq!(w["timeoutUrl"], rx.url("/timeout"));
    let deadline = w["deadline"].as_u64().unwrap();
    assert!(deadline >= now_s() + 28 && deadline <= now_s() + 31, "{w}");
    assert_eq!(w["headers"]["Upstash-Workflow-Runid"], json!(["wfr_n"]));
    assert!(w["headers"].get("Authorization").is_none());
    assert_eq!(
        w["timeoutHeaders"]["Upstash-Workflow-Init"],
        json!(["false"])
    );

    let r = post(&app, "/v2/notify/evt-n", r#"{"hello":"ev"}"#).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let n = &r.body[0];
    assert!(n["messageId"].as_str().unwrap().starts_with("msg_"), "{n}");
    assert_eq!(n["error"], "");
    assert_eq!(n["workflowRunId"], "wfr_n");
    assert!(n["workflowCreatedAt"].as_u64().unwrap() > 0);
    assert_eq!(n["waiter"]["url"], rx.url("/wf"));

    let got = rx.wait_for(2).await;
    let d = &got[1];
    assert_eq!(d.path, "/wf");
    assert_eq!(
        d.header("upstash-workflow-sdk-version").as_deref(),
        Some("1")
    );
    assert_eq!(d.header("upstash-workflow-runid").as_deref(), Some("wfr_n"));
    assert_eq!(d.header("x-user").as_deref(), Some("u1"));
    let (len, s) = last_step(d);
    assert_eq!(len, 2);
    assert_eq!(decode_out(&s), br#"{"hello":"ev"}"#);
    assert_eq!(s["waitTimeout"], false);
    assert_eq!(s["waitEventId"], "evt-n");
    assert_eq!(s["stepId"], 1);
    assert_eq!(s["stepType"], "Wait");

    assert_eq!(app.get("/v2/waiters/evt-n").await.body, json!([]));
    let again = post(&app, "/v2/notify/evt-n", "x").await;
    assert_eq!((again.status, again.body), (201, json!([])));
    let history = app.get("/v2/workflows/runs/wfr_n").await;
    assert_eq!(history.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn notify_reaches_every_run_waiting_for_the_event() {
    let (app, rx) = (spawn_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_a").await;
    start_run(&app, &rx, "wfr_b").await;
    wait(&app, &rx, "wfr_a", "shared", "1h", step(1, "Wait")).await;
    wait(&app, &rx, "wfr_b", "shared", "1h", step(1, "Wait")).await;
    assert_eq!(
        app.get("/v2/waiters/shared")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = post(&app, "/v2/notify/shared", "data").await;
    let mut runs: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["workflowRunId"].as_str().unwrap())
        .collect();
    runs.sort();
    assert_eq!(runs, ["wfr_a", "wfr_b"]);
    rx.wait_for(4).await;
}

#[tokio::test]
async fn a_wait_registered_again_by_a_retried_delivery_is_notified_once() {
    let (app, rx) = (spawn_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_r").await;
    wait(&app, &rx, "wfr_r", "again", "1h", step(1, "Wait")).await;
    wait(&app, &rx, "wfr_r", "again", "1h", step(1, "Wait")).await;
    assert_eq!(
        app.get("/v2/waiters/again")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = post(&app, "/v2/notify/again", "once").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_safe_notify_before_the_wait_is_kept_until_the_run_waits() {
    let (app, rx) = (spawn_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_s").await;
    let r = post(&app, "/v2/notify/wfr_s/evt-s", "early").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["messageId"], "");
    assert_eq!(r.body["workflowRunId"], "wfr_s");
    // A broadcast notify does not consume or see it.
    assert_eq!(post(&app, "/v2/notify/evt-s", "x").await.body, json!([]));

    wait(&app, &rx, "wfr_s", "evt-s", "1h", step(1, "Wait")).await;
    let got = rx.wait_for(2).await;
    let (_, s) = last_step(&got[1]);
    assert_eq!(decode_out(&s), b"early");
    assert_eq!(app.get("/v2/waiters/evt-s").await.body, json!([]));

    wait(&app, &rx, "wfr_s", "evt-s", "1h", step(2, "Wait")).await;
    let r = post(&app, "/v2/notify/wfr_s/evt-s", "now").await;
    assert_eq!(r.status, 201);
    assert!(r.body["messageId"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(r.body["waiter"]["url"], rx.url("/wf"));
    let got = rx.wait_for(3).await;
    let (len, s) = last_step(&got[2]);
    assert_eq!((len, decode_out(&s)), (3, b"now".to_vec()));

    assert_eq!(
        post(&app, "/v2/notify/wfr_none/evt-s", "x").await.status,
        404
    );
}

/// Calls a webhook without a token.
async fn hook(app: &App, path: &str, method: Method, body: &str) -> u16 {
    let rb = app
        .http
        .request(method, app.url(path))
        .header("x-h", "hv")
        .header("content-type", "application/json")
        .body(body.to_string());
    rb.send().await.expect("hook reached").status().as_u16()
}

#[tokio::test]
async fn webhook_calls_queue_up_before_the_wait_and_reach_it_after() {
    let (app, rx) = (spawn_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_h").await;
    let path = "/v2/workflows/hooks/defaultUser/wfr_h/evt_hook";
    assert_eq!(
        hook(&app, &format!("{path}?z=1"), Method::PUT, r#"{"wh":1}"#).await,
        200
    );
    assert_eq!(hook(&app, path, Method::GET, "").await, 200);

    wait(
        &app,
        &rx,
        "wfr_h",
        "evt_hook",
        "10s",
        step(3, "WaitForWebhook"),
    )
    .await;
    let got = rx.wait_for(2).await;
    let (_, s) = last_step(&got[1]);
    assert_eq!(s["stepType"], "WaitForWebhook");
    let ev: Value = serde_json::from_slice(&decode_out(&s)).unwrap();
    assert_eq!(ev["method"], "PUT");
    assert_eq!(ev["proto"], "http");
    assert_eq!(ev["host"], app.server.addr.to_string());
    assert_eq!(ev["url"], format!("{path}?z=1"));
    assert_eq!(ev["header"]["X-H"], json!(["hv"]));
    assert_eq!(
        B64.decode(ev["body"].as_str().unwrap()).unwrap(),
        br#"{"wh":1}"#
    );

    wait(
        &app,
        &rx,
        "wfr_h",
        "evt_hook",
        "10s",
        step(4, "WaitForWebhook"),
    )
    .await;
    let got = rx.wait_for(3).await;
    let ev: Value = serde_json::from_slice(&decode_out(&last_step(&got[2]).1)).unwrap();
    assert_eq!(
        (ev["method"].as_str(), ev["body"].as_str()),
        (Some("GET"), Some(""))
    );

    wait(
        &app,
        &rx,
        "wfr_h",
        "evt_hook",
        "10s",
        step(5, "WaitForWebhook"),
    )
    .await;
    assert_eq!(hook(&app, path, Method::POST, "after").await, 200);
    let got = rx.wait_for(4).await;
    let ev: Value = serde_json::from_slice(&decode_out(&last_step(&got[3]).1)).unwrap();
    assert_eq!(B64.decode(ev["body"].as_str().unwrap()).unwrap(), b"after");

    let unknown_user = "/v2/workflows/hooks/nobody/wfr_h/evt_hook";
    assert_eq!(hook(&app, unknown_user, Method::POST, "").await, 404);
    let unknown_run = "/v2/workflows/hooks/defaultUser/wfr_zz/evt_hook";
    assert_eq!(hook(&app, unknown_run, Method::POST, "").await, 404);
}

#[tokio::test]
async fn a_wait_needs_a_run_id_a_valid_timeout_and_a_token() {
    let (app, rx) = (spawn_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_v").await;
    assert_eq!(
        wait(&app, &rx, "wfr_v", "e", "soon", step(1, "Wait")).await,
        400
    );
    assert_eq!(
        wait(&app, &rx, "wfr_unknown", "e", "1s", step(1, "Wait")).await,
        400
    );
    let r = post(&app, "/v2/wait/e", r#"{"url":"http://x","step":{}}"#).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let anon = app.http.post(app.url("/v2/notify/e")).send().await.unwrap();
    assert_eq!(anon.status().as_u16(), 401);
}
