//! `-persist` and Upstash Workflow: a run in progress survives a `kill -9` with its history, its
//! delayed step message and its waiter, and goes on after the restart as if nothing happened;
//! an ended run stays ended.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use qstash_dev::config::TEST_USERS;
use reqwest::Method;
use serde_json::{json, Value};

use super::{start_on, temp_db};
use crate::support::binary::*;
use crate::support::{Answer, Receiver};

const FEATURES: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";
const RUN: &str = "wfr_kept";

async fn send(
    url: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .request(method, format!("{url}{path}"))
        .header("Authorization", format!("Bearer {}", TEST_USERS[0].token))
        .body(body);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The headers of a step of the run, as the SDK publishes it.
fn step_headers(wf: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Upstash-Workflow-Init", "false".into()),
        ("Upstash-Workflow-RunId", RUN.into()),
        ("Upstash-Workflow-Url", wf.into()),
        ("Upstash-Feature-Set", FEATURES.into()),
        ("Upstash-Workflow-Sdk-Version", "1".into()),
        ("Upstash-Forward-Upstash-Workflow-Sdk-Version", "1".into()),
        ("Content-Type", "application/json".into()),
    ]
}

async fn state(url: &str) -> Value {
    let path = format!("/v2/workflows/events?groupBy=workflowRunId&workflowRunId={RUN}");
    let (status, body) = send(url, Method::GET, &path, &[], String::new()).await;
    assert_eq!(status, 200, "{body}");
    body["runs"][0]["workflowState"].clone()
}

/// The decoded bodies of the history a delivery carried.
fn history(body: &[u8]) -> Vec<String> {
    let steps: Vec<Value> = serde_json::from_slice(body).expect("history array");
    let decode = |s: &Value| B64.decode(s["body"].as_str().unwrap_or("")).unwrap();
    steps
        .iter()
        .map(|s| String::from_utf8(decode(s)).unwrap())
        .collect()
}

#[tokio::test]
async fn a_run_in_progress_goes_on_after_kill_9() {
    let db = temp_db("workflow");
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).header("Upstash-Workflow-Sdk-Version", "1"));
    let wf = rx.url("/wf");
    let (mut child, _, url) = start_on(&db);
    let trigger = format!("/v2/trigger/{wf}");
    let run_id = [("Upstash-Workflow-RunId", RUN)];
    let (status, body) = send(&url, Method::POST, &trigger, &run_id, "hello".into()).await;
    assert_eq!(status, 200, "{body}");
    rx.wait_for(1).await;
    let step = json!({"stepId": 1, "stepName": "first", "stepType": "Run", "out": "\"one\"", "concurrent": 1});
    let mut headers = step_headers(&wf);
    headers.push(("Upstash-Delay", "1h".into()));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = send(
        &url,
        Method::POST,
        &format!("/v2/publish/{wf}"),
        &h,
        step.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let step_id = body["messageId"].as_str().unwrap().to_string();
    let wait = json!({
        "url": wf, "timeout": "1h", "timeoutUrl": rx.url("/timeout"),
        "timeoutHeaders": {"Upstash-Workflow-RunId": [RUN]},
        "step": {"stepId": 2, "stepName": "evt", "stepType": "Wait", "concurrent": 1},
    });
    let headers = step_headers(&wf);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = send(
        &url,
        Method::POST,
        "/v2/wait/evt-kept",
        &h,
        wait.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, _, url) = start_on(&db);
    assert_eq!(state(&url).await, "RUN_STARTED");
    let (_, waiters) = send(
        &url,
        Method::GET,
        "/v2/waiters/evt-kept",
        &[],
        String::new(),
    )
    .await;
    assert_eq!(waiters.as_array().map(Vec::len), Some(1), "{waiters}");
    let deliver = format!("/dev/messages/{step_id}/deliver");
    let (status, body) = send(&url, Method::POST, &deliver, &[], String::new()).await;
    assert_eq!(status, 200, "{body}");
    let got = rx.wait_for(2).await;
    assert_eq!(
        got[1].header("upstash-workflow-runid").as_deref(),
        Some(RUN)
    );
    assert_eq!(
        history(&got[1].body),
        ["hello", step.to_string().as_str()],
        "the history came back"
    );
    let (status, body) = send(
        &url,
        Method::POST,
        "/v2/notify/evt-kept",
        &[],
        "{\"ok\":1}".into(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body[0]["workflowRunId"], RUN,
        "the waiter came back: {body}"
    );
    rx.wait_for(3).await;
    let end = format!("/v2/workflows/runs/{RUN}?cancel=false");
    let (status, body) = send(&url, Method::DELETE, &end, &[], "\"done\"".into()).await;
    assert_eq!(status, 200, "{body}");
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, _, url) = start_on(&db);
    assert_eq!(state(&url).await, "RUN_SUCCESS");
    let (status, _) = send(&url, Method::DELETE, &end, &[], String::new()).await;
    assert_eq!(status, 200, "ending it again is still fine");
    sigterm(&child);
    assert!(wait_exit(&mut child, std::time::Duration::from_secs(5)).is_some());
}
