//! Bulk actions: a filter-based bulk cancel is recorded as an action (`kind` cancel,
//! `FINISHED` at once here, every match processed, the filter as given) and listed under
//! `/v2/bulkActions` (messages) or `/v2/workflows/bulkActions` (runs); `async=true` answers
//! 202 with its `actionId`. A cancel by ids is not an action.

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;
use crate::workflow_runs::{endpoint, start};

async fn delayed(app: &App, rx: &Receiver, label: &str) -> String {
    let h = [("Upstash-Delay", "1h"), ("Upstash-Label", label)];
    app.publish_ok(&rx.url("/d"), &h, "x").await
}

fn actions(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["bulkActions"]
        .as_array()
        .expect("bulkActions")
        .clone()
}

#[tokio::test]
async fn an_async_filter_cancel_answers_its_action_which_is_listed_and_got() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    for label in ["a", "a", "b"] {
        delayed(&app, &rx, label).await;
    }
    let r = app.delete("/v2/messages?label=a&async=true").await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["cancelled"], 2);
    let id = r.body["actionId"].as_str().expect("actionId").to_string();

    let got = app.get(&format!("/v2/bulkActions/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let a = &got.body;
    assert_eq!(
        (a["kind"].clone(), a["state"].clone()),
        (json!("cancel"), json!("FINISHED"))
    );
    assert_eq!(
        (a["total"].clone(), a["processed"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(a["filter"], json!({"label": ["a"]}));
    assert!(a["createdAt"].is_u64() && a["completedAt"].is_u64());

    // A sync filter cancel is an action too; a cancel by ids is not.
    let r = app.delete("/v2/messages?label=b").await;
    assert_eq!(
        (r.status, r.body.clone()),
        (202, json!({"cancelled": 1})),
        "{}",
        r.text
    );
    let one = delayed(&app, &rx, "c").await;
    app.delete(&format!("/v2/messages?messageIds={one}")).await;
    let listed = actions(&app.get("/v2/bulkactions").await);
    assert_eq!(listed.len(), 2, "any case, newest first: {listed:?}");
    assert_eq!(listed[1]["actionId"], id.as_str());
    let page = app.get("/v2/bulkActions?count=1").await;
    assert_eq!(actions(&page).len(), 1);
    let next = page.body["cursor"].as_str().expect("cursor");
    assert_eq!(
        actions(&app.get(&format!("/v2/bulkActions?cursor={next}")).await)[0]["actionId"],
        id.as_str()
    );
    assert!(actions(&app.get("/v2/bulkActions?state=IN_PROGRESS").await).is_empty());
    assert_eq!(app.get("/v2/bulkActions?state=DONE").await.status, 400);
    assert_eq!(app.get("/v2/bulkActions/act_nope").await.status, 404);
    assert!(
        actions(&app.get("/v2/workflows/bulkActions").await).is_empty(),
        "lists are apart"
    );
}

#[tokio::test]
async fn a_workflow_run_cancel_by_filter_is_a_workflow_bulk_action() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let url = rx.url("/wf");
    start(&app, &url, &[]).await;
    let r = app
        .send(
            app.req(Method::DELETE, "/v2/workflows/runs")
                .header("Content-Type", "application/json")
                .body(json!({"workflowUrl": url, "async": true}).to_string()),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["cancelled"], 1);
    let id = r.body["actionId"].as_str().expect("actionId");
    let got = app.get(&format!("/v2/workflows/bulkActions/{id}")).await;
    assert_eq!(
        got.body["filter"],
        json!({"workflowUrl": [url]}),
        "{}",
        got.text
    );
    assert_eq!(app.get(&format!("/v2/bulkActions/{id}")).await.status, 404);
}
