//! The dashboard: the page at `/`, its embedded assets, the users it can switch between, and
//! `-dashboard=false`. The browser tests in `tests/e2e` drive the page itself.

use qstash_dev::config::{Config, TEST_USERS};
use qstash_dev::server::spawn;

use crate::support::*;

async fn fetch(url: &str) -> (u16, String, String, reqwest::header::HeaderMap) {
    let r = reqwest::get(url).await.expect("request reaches the server");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.text().await.expect("body"), headers)
}

#[tokio::test]
async fn the_page_is_served_at_the_root_without_a_token() {
    let app = spawn_app().await;
    let (status, ct, body, headers) = fetch(&app.url("/")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ct, "text/html; charset=utf-8");
    assert!(body.starts_with("<!doctype html>"));
    assert!(body.contains(r#"src="/dashboard/app.js""#));
    assert!(body.contains(r#"href="/dashboard/app.css""#));
    assert!(!body.contains("https://"), "no CDN or other origin");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
}

#[tokio::test]
async fn the_assets_are_served_with_their_content_types() {
    let app = spawn_app().await;
    let (status, ct, js, headers) = fetch(&app.url("/dashboard/app.js")).await;
    assert_eq!(
        (status, ct.as_str()),
        (200, "text/javascript; charset=utf-8")
    );
    assert!(js.contains("import "), "app.js is a module");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (status, ct, css, _) = fetch(&app.url("/dashboard/app.css")).await;
    assert_eq!((status, ct.as_str()), (200, "text/css; charset=utf-8"));
    assert!(css.contains(".vlist"));

    // Every module app.js imports, directly or not, is served too.
    let mut seen = vec!["app.js".to_string()];
    let mut todo = vec![js];
    while let Some(src) = todo.pop() {
        for line in src.lines().filter(|l| l.starts_with("import ")) {
            let name = line.split("from \"./").nth(1).unwrap().split('"').next();
            let name = name.unwrap().to_string();
            if seen.contains(&name) {
                continue;
            }
            let (status, ct, body, _) = fetch(&app.url(&format!("/dashboard/{name}"))).await;
            assert_eq!(
                (status, ct.as_str()),
                (200, "text/javascript; charset=utf-8")
            );
            seen.push(name);
            todo.push(body);
        }
    }
    assert!(seen.len() > 5, "{seen:?}");

    for missing in [
        "/dashboard/nope.js",
        "/dashboard/../Cargo.toml",
        "/dashboard/",
    ] {
        let (status, _, _, _) = fetch(&app.url(missing)).await;
        assert_eq!(status, 404, "{missing}");
    }
}

#[tokio::test]
async fn the_page_gets_the_four_test_users() {
    let app = spawn_app().await;
    let r = reqwest::get(app.url("/dashboard/users.json"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 4);
    for (u, want) in users.iter().zip(TEST_USERS.iter()) {
        assert_eq!(u["userId"], want.user_id);
        assert_eq!(u["token"], want.token);
    }
}

#[tokio::test]
async fn the_api_is_unchanged_beside_the_dashboard() {
    let app = spawn_app().await;
    assert_eq!(app.get("/v2/queues").await.status, 200);
    let r = reqwest::get(app.url("/v2/queues")).await.unwrap();
    assert_eq!(r.status(), 401, "the API still needs a token");
}

#[tokio::test]
async fn dashboard_false_serves_nothing() {
    let server = spawn(Config {
        port: 0,
        dashboard: false,
        ..Config::default()
    })
    .await
    .unwrap();
    for path in [
        "/",
        "/dashboard/app.js",
        "/dashboard/app.css",
        "/dashboard/users.json",
    ] {
        let (status, _, _, _) = fetch(&format!("{}{path}", server.url())).await;
        assert_eq!(status, 404, "{path}");
    }
    server.stop().await;
}
