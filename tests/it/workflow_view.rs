//! The dashboard's run view (`GET /dev/workflows/runs/{id}`): where a run is and why, in plain
//! words, for each way a run goes on or stops, against receivers that answer like the workflow
//! SDK (or fail to); and a workflow step's message timeline, which shows the run's history as
//! the body delivered.

use axum::http::Method;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::{assert_error, dead_url, spawn_app, spawn_frozen_app, Answer, App, Receiver};
use crate::workflow_runs::{run_step, sdk_ok, steps};

const DETECT: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";
const NO_DETECT: &str = "LazyFetch,InitialBody,WF_TriggerOnConfig";

/// Starts run `run` at `url` as the SDK does; returns the first message's id.
async fn start(app: &App, url: &str, run: &str, features: &str, extra: &[(&str, &str)]) -> String {
    let mut headers = vec![
        ("Upstash-Workflow-Init", "true"),
        ("Upstash-Workflow-RunId", run),
        ("Upstash-Workflow-Url", url),
        ("Upstash-Forward-Upstash-Workflow-Sdk-Version", "1"),
        ("Upstash-Feature-Set", features),
    ];
    headers.extend_from_slice(extra);
    app.publish_ok(url, &headers, r#"{"in":1}"#).await
}

async fn view(app: &App, run: &str) -> Value {
    let r = app.get(&format!("/dev/workflows/runs/{run}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// The run's view once its status has `code`.
async fn status_is(app: &App, run: &str, code: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..500 {
        last = view(app, run).await;
        if last["status"]["code"] == code {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("run {run} never got status {code}: {last:#}");
}

fn message(v: &Value) -> &str {
    v["status"]["message"].as_str().unwrap_or_default()
}

async fn receiver(answer: Answer) -> Receiver {
    let rx = Receiver::start().await;
    rx.always(answer);
    rx
}

#[tokio::test]
async fn an_endpoint_answering_200_without_the_protocol_is_named_as_the_reason() {
    let app = spawn_app().await;
    let rx = receiver(Answer::status(200).body("hello")).await;
    let url = rx.url("/api/not-workflow");
    let first = start(&app, &url, "wfr_plain", NO_DETECT, &[]).await;
    let v = status_is(&app, "wfr_plain", "notWorkflowResponse").await;
    assert_eq!(v["status"]["stopped"], true);
    assert_eq!(v["status"]["messageId"], first);
    assert_eq!(v["run"]["workflowState"], "RUN_STARTED");
    let m = message(&v);
    assert!(
        m.contains("without the workflow protocol's response"),
        "{m}"
    );
    assert!(
        m.contains(&url) && m.contains("the run's first delivery"),
        "{m}"
    );
    assert_eq!(v["messages"][&first]["state"], "DELIVERED");
    assert_eq!(v["messages"][&first]["responseStatus"], 200);
}

#[tokio::test]
async fn with_detect_trigger_the_same_answer_fails_the_run_and_says_it_is_no_workflow() {
    let app = spawn_app().await;
    let rx = receiver(Answer::status(200)).await;
    start(&app, &rx.url("/plain"), "wfr_detect", DETECT, &[]).await;
    let v = status_is(&app, "wfr_detect", "nonWorkflowDestination").await;
    assert_eq!(v["run"]["workflowState"], "RUN_FAILED");
    assert!(
        message(&v).contains("it is not a workflow endpoint"),
        "{}",
        message(&v)
    );
}

#[tokio::test]
async fn an_sdk_speaking_another_protocol_version_is_named_with_its_version() {
    let app = spawn_app().await;
    let old = Answer::status(200)
        .header("Upstash-Workflow-Sdk-Version", "0")
        .header("Upstash-Workflow-Sdk", "v0.2.9");
    let rx = receiver(old).await;
    start(&app, &rx.url("/wf"), "wfr_old", DETECT, &[]).await;
    let v = status_is(&app, "wfr_old", "oldProtocol").await;
    let m = message(&v);
    assert!(
        m.contains("protocol version 0") && m.contains("(v0.2.9)"),
        "{m}"
    );
    assert!(m.contains("speaks protocol 1"), "{m}");
}

#[tokio::test]
async fn an_sdk_answer_with_no_next_step_and_no_end_is_a_stalled_run() {
    let app = spawn_app().await;
    let rx = receiver(sdk_ok()).await;
    let url = rx.url("/wf");
    start(&app, &url, "wfr_stall", DETECT, &[]).await;
    let r = steps(&app, &url, "wfr_stall", &[run_step(1, "first", "\"1\"", 1)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = status_is(&app, "wfr_stall", "noNextStep").await;
    let m = message(&v);
    assert!(m.contains("the result of step 'first'"), "{m}");
    assert!(m.contains("published no next step"), "{m}");
}

/// A run whose every delivery gets `answer`, with no retries (and no `WF_DetectTrigger`, which
/// would fail it first on an answer without the SDK's header): its view once it failed.
async fn failed_with(answer: Answer, code: &str) -> Value {
    let app = spawn_app().await;
    let rx = receiver(answer).await;
    let retries = [("Upstash-Retries", "0")];
    start(&app, &rx.url("/wf"), "wfr_f", NO_DETECT, &retries).await;
    let v = status_is(&app, "wfr_f", code).await;
    assert_eq!(v["run"]["workflowState"], "RUN_FAILED");
    assert_eq!(v["status"]["stopped"], true);
    let dlq = v["run"]["dlqId"].as_str().expect("a DLQ entry");
    assert!(
        message(&v).contains(&format!("from the DLQ ({dlq})")),
        "{v:#}"
    );
    v
}

fn sdk_error(status: u16, message: &str) -> Answer {
    let body = json!({"error": "WorkflowError", "message": message}).to_string();
    Answer::status(status)
        .header("Upstash-Workflow-Sdk-Version", "1")
        .header("Content-Type", "application/json")
        .body(&body)
}

#[tokio::test]
async fn a_rejected_signature_is_named_with_the_keys_to_check() {
    let why =
        "Failed to verify that the Workflow request comes from QStash: Error: invalid signature";
    let v = failed_with(sdk_error(500, why), "signatureRejected").await;
    let m = message(&v);
    assert!(m.contains("rejected the request's signature"), "{m}");
    assert!(m.contains("QSTASH_CURRENT_SIGNING_KEY"), "{m}");
}

#[tokio::test]
async fn a_plain_receiver_refusing_the_signature_with_401_is_a_rejected_signature_too() {
    let answer = Answer::status(401).body("Invalid signature");
    failed_with(answer, "signatureRejected").await;
}

#[tokio::test]
async fn a_protocol_mismatch_and_an_auth_failure_are_told_apart() {
    let why = "Incompatible workflow sdk protocol version. Expected 1, got 2 from the request.";
    let v = failed_with(sdk_error(500, why), "protocolMismatch").await;
    assert!(message(&v).contains("Expected 1, got 2"), "{}", message(&v));
    let why = "Failed to authenticate Workflow request. If this is unexpected, see the caveat";
    let v = failed_with(sdk_error(400, why), "authFailed").await;
    assert!(
        message(&v).contains("code outside context.run"),
        "{}",
        message(&v)
    );
}

#[tokio::test]
async fn a_failing_step_is_named_with_its_answer() {
    let answer = sdk_error(500, "card declined").header("Upstash-Error-Step-Name", "charge");
    let v = failed_with(answer, "stepFailed").await;
    let m = message(&v);
    assert!(
        m.starts_with(
            "Step 'charge' failed (1 attempt); the last answer was HTTP 500: card declined."
        ),
        "{m}"
    );
    let non_retryable = sdk_error(489, "nope").header("Upstash-NonRetryable-Error", "true");
    let v = failed_with(non_retryable, "nonRetryableError").await;
    assert!(
        message(&v).contains("non-retryable error (HTTP 489: nope)"),
        "{}",
        message(&v)
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named_with_the_error() {
    let app = spawn_app().await;
    let url = dead_url().await;
    start(&app, &url, "wfr_dead", DETECT, &[("Upstash-Retries", "0")]).await;
    let v = status_is(&app, "wfr_dead", "unreachable").await;
    let m = message(&v);
    assert!(
        m.starts_with(&format!(
            "The run's first delivery could not reach {url} (1 attempt): "
        )),
        "{m}"
    );
}

#[tokio::test]
async fn a_run_waiting_for_an_event_says_which_since_when_and_until_when() {
    let app = spawn_app().await;
    let rx = receiver(sdk_ok()).await;
    let url = rx.url("/wf");
    start(&app, &url, "wfr_wait", DETECT, &[]).await;
    rx.wait_for(1).await;
    let before = app.now_ms();
    let body = json!({"url": url, "timeout": "1h", "timeoutUrl": url, "timeoutHeaders": {},
        "step": {"stepId": 1, "stepName": "await-payment", "stepType": "Wait", "concurrent": 1}});
    let rb = app
        .req(Method::POST, "/v2/wait/payment-42")
        .header("Upstash-Workflow-RunId", "wfr_wait")
        .header("Content-Type", "application/json")
        .body(body.to_string());
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = status_is(&app, "wfr_wait", "waitingForEvent").await;
    assert_eq!(v["status"]["stopped"], false);
    let since = v["status"]["at"].as_u64().expect("since");
    let until = v["status"]["until"].as_u64().expect("deadline");
    assert!(since >= before && until == since + 3_600_000, "{v:#}");
    let m = message(&v);
    assert!(
        m.starts_with("Waits for event 'payment-42' (step 'await-payment') since "),
        "{m}"
    );
    assert_eq!(v["waiters"][0]["eventId"], "payment-42");
    assert_eq!(v["waiters"][0]["deadline"], until);
}

#[tokio::test]
async fn a_sleeping_run_and_a_retrying_delivery_say_until_when() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    rx.script([sdk_ok(), Answer::status(503).body("busy")]);
    rx.always(sdk_ok());
    let url = rx.url("/wf");
    start(&app, &url, "wfr_nap", DETECT, &[]).await;
    rx.wait_for(1).await;
    let nap = json!({"stepId": 1, "stepName": "nap", "stepType": "SleepFor", "sleepFor": 3600, "concurrent": 1});
    let item = json!([{"destination": url, "body": nap.to_string(), "headers": {
        "upstash-workflow-init": "false", "upstash-workflow-runid": "wfr_nap",
        "upstash-workflow-url": url, "upstash-delay": "3600s",
        "upstash-forward-upstash-workflow-sdk-version": "1"}}]);
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&item))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let nap_id = r.body[0]["messageId"].as_str().expect("the step's id");
    let v = status_is(&app, "wfr_nap", "sleeping").await;
    assert_eq!(v["status"]["until"], app.now_ms() + 3_600_000);
    assert_eq!(v["status"]["messageId"], nap_id);
    assert_eq!(v["messages"][nap_id]["dueAt"], app.now_ms() + 3_600_000);
    assert_eq!(v["messages"][nap_id]["state"], "CREATED");
    assert!(
        message(&v).starts_with("Step 'nap' sleeps until "),
        "{}",
        message(&v)
    );

    app.advance("3600s").await;
    let v = status_is(&app, "wfr_nap", "retrying").await;
    let m = message(&v);
    assert!(
        m.contains("the result of step 'nap'") && m.contains("failed 1 time;"),
        "{m}"
    );
    assert!(m.contains("last: HTTP 503: busy"), "{m}");
    assert!(v["status"]["until"].as_u64() > Some(app.now_ms()), "{v:#}");
}

#[tokio::test]
async fn finished_and_canceled_runs_say_when_and_what_it_returned() {
    let app = spawn_app().await;
    let rx = receiver(sdk_ok()).await;
    start(&app, &rx.url("/wf"), "wfr_done", DETECT, &[]).await;
    let rb = app
        .req(Method::DELETE, "/v2/workflows/runs/wfr_done?cancel=false")
        .body("\"all good\"");
    assert_eq!(app.send(rb).await.status, 200);
    let v = status_is(&app, "wfr_done", "finished").await;
    assert!(
        message(&v).ends_with("It returned \"all good\"."),
        "{}",
        message(&v)
    );
    assert_eq!(v["status"]["stopped"], false);

    start(&app, &rx.url("/wf"), "wfr_cancel", DETECT, &[]).await;
    assert_eq!(
        app.delete("/v2/workflows/runs/wfr_cancel?cancel=true")
            .await
            .status,
        200
    );
    let v = status_is(&app, "wfr_cancel", "canceled").await;
    assert!(message(&v).starts_with("Canceled at "), "{}", message(&v));
}

#[tokio::test]
async fn an_unknown_run_is_a_404_and_the_view_needs_a_token() {
    let app = spawn_app().await;
    let r = app.get("/dev/workflows/runs/wfr_nope").await;
    assert!(assert_error(&r, 404).contains("wfr_nope"));
    let anon = reqwest::get(app.url("/dev/workflows/runs/wfr_nope"))
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
}

#[tokio::test]
async fn a_step_message_timeline_shows_the_history_and_run_headers_delivered() {
    let app = spawn_app().await;
    let rx = receiver(sdk_ok()).await;
    let url = rx.url("/wf");
    let first = start(&app, &url, "wfr_tl", DETECT, &[]).await;
    let r = steps(&app, &url, "wfr_tl", &[run_step(1, "first", "\"one\"", 1)]).await;
    let step = r.body[0]["messageId"]
        .as_str()
        .expect("step id")
        .to_string();
    rx.wait_for(2).await;
    let v = status_is(&app, "wfr_tl", "noNextStep").await;
    assert_eq!(v["status"]["messageId"], step);
    let tl = app.get(&format!("/dev/messages/{step}/timeline")).await;
    assert_eq!(tl.status, 200, "{}", tl.text);
    let req = &tl.body["attempts"][0]["request"];
    assert_eq!(req["headers"]["Upstash-Workflow-RunId"], json!(["wfr_tl"]));
    let body = B64.decode(req["body"].as_str().unwrap()).unwrap();
    let history: Value = serde_json::from_slice(&body).expect("a history array");
    assert_eq!(history[0]["messageId"], first);
    assert_eq!(history[1]["messageId"], step);
    let delivered = rx.received().pop().expect("the step's delivery");
    assert_eq!(
        delivered.body, body,
        "the timeline shows the body that was delivered"
    );
}

#[tokio::test]
async fn a_reused_run_id_shows_each_run_by_its_creation_time() {
    let app = spawn_frozen_app().await;
    let rx = receiver(sdk_ok()).await;
    let url = rx.url("/wf");
    start(&app, &url, "wfr_again", DETECT, &[]).await;
    let r = steps(&app, &url, "wfr_again", &[run_step(1, "old", "\"1\"", 1)]).await;
    let old_step = r.body[0]["messageId"]
        .as_str()
        .expect("step id")
        .to_string();
    rx.wait_for(2).await;
    let old_at = view(&app, "wfr_again").await["run"]["workflowRunCreatedAt"].clone();
    assert_eq!(
        app.delete("/v2/workflows/runs/wfr_again?cancel=true")
            .await
            .status,
        200
    );
    app.advance("1s").await;
    start(&app, &url, "wfr_again", DETECT, &[]).await;
    rx.wait_for(3).await;

    let newest = view(&app, "wfr_again").await;
    assert_eq!(newest["run"]["workflowState"], "RUN_STARTED");
    assert_ne!(newest["run"]["workflowRunCreatedAt"], old_at);
    let old = app
        .get(&format!("/dev/workflows/runs/wfr_again?createdAt={old_at}"))
        .await;
    assert_eq!(
        old.body["run"]["workflowState"], "RUN_CANCELED",
        "{}",
        old.text
    );
    assert_eq!(old.body["status"]["code"], "canceled");
    let bad = app
        .get("/dev/workflows/runs/wfr_again?createdAt=soon")
        .await;
    assert_error(&bad, 400);

    // The old run's step still shows the history it carried, not the new run's.
    let tl = app.get(&format!("/dev/messages/{old_step}/timeline")).await;
    let body = B64
        .decode(tl.body["attempts"][0]["request"]["body"].as_str().unwrap())
        .unwrap();
    let history: Value = serde_json::from_slice(&body).expect("a history array");
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history:#}");
}

#[tokio::test]
async fn a_cancelled_step_message_is_why_a_run_stalls() {
    let app = spawn_app().await;
    let rx = receiver(sdk_ok()).await;
    let url = rx.url("/wf");
    start(&app, &url, "wfr_cut", DETECT, &[]).await;
    rx.wait_for(1).await;
    let later = json!([{"destination": url, "body": run_step(1, "later", "\"x\"", 1).to_string(),
        "headers": {"upstash-workflow-init": "false", "upstash-workflow-runid": "wfr_cut",
        "upstash-workflow-url": url, "upstash-delay": "1h"}}]);
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&later))
        .await;
    let id = r.body[0]["messageId"]
        .as_str()
        .expect("step id")
        .to_string();
    assert_eq!(app.delete(&format!("/v2/messages/{id}")).await.status, 202);
    let v = status_is(&app, "wfr_cut", "stepCanceled").await;
    assert_eq!(v["status"]["messageId"], id);
    assert!(
        message(&v).starts_with("The result of step 'later' was cancelled at "),
        "{v:#}"
    );
}

#[tokio::test]
async fn a_retrying_delivery_already_says_the_signature_is_rejected() {
    let app = spawn_frozen_app().await;
    let why = "Failed to verify that the Workflow request comes from QStash: bad";
    let rx = receiver(sdk_error(500, why)).await;
    start(
        &app,
        &rx.url("/wf"),
        "wfr_keys",
        NO_DETECT,
        &[("Upstash-Retries", "3")],
    )
    .await;
    let v = status_is(&app, "wfr_keys", "retrying").await;
    let m = message(&v);
    assert!(m.contains("failed 1 time; the next attempt is at "), "{m}");
    assert!(
        m.contains("rejected the request's signature") && m.contains("QSTASH_CURRENT_SIGNING_KEY"),
        "{m}"
    );
}

#[tokio::test]
async fn after_a_resume_the_failed_run_no_longer_offers_its_dlq_entry() {
    let app = spawn_app().await;
    let rx = receiver(sdk_error(500, "down")).await;
    start(
        &app,
        &rx.url("/wf"),
        "wfr_once",
        NO_DETECT,
        &[("Upstash-Retries", "0")],
    )
    .await;
    let v = status_is(&app, "wfr_once", "stepFailed").await;
    assert_eq!(v["inDlq"], true);
    let dlq = v["run"]["dlqId"].as_str().expect("dlq id").to_string();
    let r = app
        .send(app.req(Method::POST, &format!("/v2/workflows/dlq/resume/{dlq}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let at = &v["run"]["workflowRunCreatedAt"];
    let old = app
        .get(&format!("/dev/workflows/runs/wfr_once?createdAt={at}"))
        .await;
    assert_eq!(old.body["inDlq"], false, "{}", old.text);
    assert!(
        !old.body["status"]["message"]
            .as_str()
            .unwrap()
            .contains("DLQ"),
        "{}",
        old.text
    );
}

#[tokio::test]
async fn a_parent_waits_for_the_run_it_invoked() {
    let app = spawn_app().await;
    let rx = receiver(sdk_ok()).await;
    let parent_url = rx.url("/parent");
    start(&app, &parent_url, "wfr_parent", DETECT, &[]).await;
    rx.wait_for(1).await;
    let created = view(&app, "wfr_parent").await["run"]["workflowRunCreatedAt"].clone();
    let invoke = json!({"body": "{}", "headers": {}, "workflowRunId": "wfr_parent",
        "workflowRunCreatedAt": created, "workflowUrl": parent_url,
        "step": {"stepId": 1, "stepName": "call-child", "stepType": "Invoke", "concurrent": 1}});
    let child = [
        ("Upstash-Workflow-RunId", "wfr_child"),
        ("Upstash-Workflow-Init", "true"),
        ("Upstash-Workflow-Invoke", "true"),
        ("Upstash-Feature-Set", DETECT),
        ("Upstash-Forward-Upstash-Workflow-Sdk-Version", "1"),
    ];
    app.publish_ok(&rx.url("/child"), &child, &invoke.to_string())
        .await;
    let v = status_is(&app, "wfr_parent", "waitingForInvokedRun").await;
    assert!(
        message(&v).starts_with("Waits for the run it invoked, wfr_child at "),
        "{v:#}"
    );
    assert_eq!(v["status"]["stopped"], false);
}
