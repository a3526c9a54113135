//! Seed and export: `GET /dev/export` writes a user's URL groups, queues, schedules and
//! flow-control pins in the format `-seed` reads; a server started with that file holds the
//! same definitions (export → seed → export gives the same document), and a bad file is refused
//! with the entry and the field named.

use axum::http::Method;
use qstash_dev::clock::Clock;
use qstash_dev::config::Config;
use qstash_dev::seed::{parse, Seed};
use serde_json::{json, Value};

use crate::support::*;

async fn seeded(doc: &str) -> Result<App, String> {
    let doc = parse(doc)?;
    let config = Config {
        port: 0,
        seed: Some(std::sync::Arc::new(Seed {
            path: "seed.json".into(),
            doc,
        })),
        ..Config::default()
    };
    let server = qstash_dev::server::spawn_with_clock(config, Clock::real())
        .await
        .map_err(|e| e.to_string())?;
    Ok(App {
        server,
        http: reqwest::Client::new(),
        token: TOKEN.to_string(),
    })
}

async fn export(app: &App, query: &str) -> Value {
    let r = app.get(&format!("/dev/export{query}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn build_definitions(app: &App) {
    let json = ("Content-Type", "application/json");
    let send = |m: Method, path: &str, headers: &[(&str, &str)], body: &str| {
        let mut rb = app.req(m, path).body(body.to_string());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        app.send(rb)
    };
    let eps = json!({"endpoints": [{"name": "billing", "url": "http://localhost:3000/b"}, {"url": "http://localhost:3000/c"}]});
    assert_eq!(
        send(
            Method::POST,
            "/v2/topics/team/endpoints",
            &[json],
            &eps.to_string()
        )
        .await
        .status,
        200
    );
    let defaults = json!({"headers": {"Upstash-Retries": "1"}});
    assert_eq!(
        send(
            Method::PATCH,
            "/v2/topics/team",
            &[json],
            &defaults.to_string()
        )
        .await
        .status,
        200
    );
    let q = json!({"queueName": "orders", "parallelism": 2});
    assert_eq!(
        send(Method::POST, "/v2/queues", &[json], &q.to_string())
            .await
            .status,
        200
    );
    assert_eq!(
        send(Method::POST, "/v2/queues/orders/pause", &[], "")
            .await
            .status,
        200
    );
    let headers = [
        ("Upstash-Cron", "CRON_TZ=Europe/Berlin 0 9 * * 1-5"),
        ("Upstash-Schedule-Id", "daily-report"),
        ("Upstash-Retries", "2"),
        ("Upstash-Forward-X-Team", "core"),
        ("Upstash-Callback", "http://localhost:3000/cb"),
        ("Content-Type", "application/json"),
    ];
    let r = send(
        Method::POST,
        "/v2/schedules/http://localhost:3000/report",
        &headers,
        r#"{"full":true}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let to_group = [
        ("Upstash-Cron", "*/5 * * * *"),
        ("Upstash-Schedule-Id", "ping"),
    ];
    assert_eq!(
        send(Method::POST, "/v2/schedules/team", &to_group, "")
            .await
            .status,
        200
    );
    assert_eq!(
        send(Method::PATCH, "/v2/schedules/ping/pause", &[], "")
            .await
            .status,
        200
    );
    assert_eq!(
        send(
            Method::POST,
            "/v2/flowControl/tenant-7/pin?parallelism=2&rate=10&period=60",
            &[],
            ""
        )
        .await
        .status,
        200
    );
    assert_eq!(
        send(Method::POST, "/v2/flowControl/tenant-8/pause", &[], "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn export_then_seed_then_export_gives_the_same_document() {
    let app = spawn_app().await;
    assert_eq!(export(&app, "").await, json!({"version": 1, "users": {}}));
    build_definitions(&app).await;
    let first = export(&app, "").await;
    let user = &first["users"]["defaultUser"];
    assert_eq!(
        user["queues"],
        json!([{"name": "orders", "parallelism": 2, "paused": true}])
    );
    assert_eq!(
        user["urlGroups"][0]["headers"],
        json!({"Upstash-Retries": "1"})
    );
    let report = &user["schedules"][0];
    assert_eq!(report["scheduleId"], "daily-report");
    assert_eq!(report["cron"], "CRON_TZ=Europe/Berlin 0 9 * * 1-5");
    assert_eq!(report["headers"]["Upstash-Forward-X-Team"], "core");
    assert_eq!(report["body"], r#"{"full":true}"#);
    assert_eq!(user["schedules"][1]["paused"], true);
    assert_eq!(
        user["flowControl"],
        json!([{"key": "tenant-7", "parallelism": 2, "rate": 10, "period": 60}, {"key": "tenant-8", "paused": true}])
    );

    let fresh = seeded(&first.to_string())
        .await
        .expect("the export seeds a server");
    assert_eq!(export(&fresh, "").await, first);
    let s = fresh.get("/v2/schedules/daily-report").await.body;
    assert_eq!(
        (s["retries"].as_u64(), &s["callback"]),
        (Some(2), &json!("http://localhost:3000/cb"))
    );
    assert_eq!(fresh.get("/v2/schedules/ping").await.body["isPaused"], true);
    let all = export(&fresh, "?all=true").await;
    assert_eq!(
        all["users"].as_object().unwrap().len(),
        1,
        "users with nothing are left out"
    );
}

#[tokio::test]
async fn a_bad_seed_names_the_entry_and_the_field() {
    let cases = [
        (
            json!({"version": 2}),
            "version: this server reads version 1",
        ),
        (
            json!({"version": 1, "users": {"nobody": {}}}),
            "users.nobody: no such test user",
        ),
        (
            json!({"version": 1, "users": {"defaultUser": {"schedules": [{"scheduleId": "a", "crn": "x", "destination": "http://l/x"}]}}}),
            "users.defaultUser.schedules[0]",
        ),
        (
            json!({"version": 1, "users": {"defaultUser": {"schedules": [{"scheduleId": "a", "cron": "every day", "destination": "http://l/x"}]}}}),
            "users.defaultUser.schedules[0] (a):",
        ),
        (
            json!({"version": 1, "users": {"defaultUser": {"queues": [{"name": "q", "parallelism": "two"}]}}}),
            "users.defaultUser.queues[0].parallelism",
        ),
        (
            json!({"version": 1, "users": {"testUser1": {"urlGroups": [{"name": "g", "endpoints": [{"url": "not a url"}]}]}}}),
            "users.testUser1.urlGroups[0] (g): endpoints:",
        ),
    ];
    for (doc, expected) in cases {
        let err = match seeded(&doc.to_string()).await {
            Ok(_) => panic!("{doc} was accepted"),
            Err(e) => e,
        };
        assert!(err.contains(expected), "{doc}: {err}");
    }
}
