//! The Host and Origin guard in front of every route: the attacks of a web page (a simple
//! cross-site publish with the public token in the query, DNS rebinding with a foreign `Host`)
//! are refused and change nothing, and every local way of reaching the server still works.

use std::time::Duration;

use axum::http::Method;
use qstash_dev::config::Config;
use qstash_dev::server::spawn;

use crate::support::*;

async fn spawn_guarded(hosts: &[&str], origins: &[&str]) -> App {
    init_logs();
    let config = Config {
        port: 0,
        allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
        allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
        ..Config::default()
    };
    App {
        server: spawn(config).await.expect("server binds port 0"),
        http: reqwest::Client::new(),
        token: TOKEN.to_string(),
    }
}

/// A request as a web page's browser sends it, with no `Authorization` header.
fn bare(
    app: &App,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let mut rb = app.http.request(method, app.url(path));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb
}

/// What the server stored: every log entry of the default user.
async fn log_len(app: &App) -> usize {
    let r = app.get("/v2/events?count=1000").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["events"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_cross_site_text_plain_publish_with_the_query_token_is_refused_and_nothing_happens() {
    let app = spawn_guarded(&[], &[]).await;
    let rx = Receiver::start().await;
    let path = format!("/v2/publish/{}?qstash_token={TOKEN}", rx.url("/anything"));
    let browsers: [&[(&str, &str)]; 3] = [
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        &[("origin", "https://evil.example")],
        &[("sec-fetch-site", "cross-site")],
    ];
    for headers in browsers {
        let mut all = vec![("content-type", "text/plain")];
        all.extend_from_slice(headers);
        let r = app
            .send(bare(&app, Method::POST, &path, &all).body("x"))
            .await;
        let e = assert_error(&r, 403);
        assert!(e.contains("-allowed-origins"), "names the flag: {e}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(log_len(&app).await, 0, "nothing stored");
    assert!(rx.received().is_empty(), "nothing delivered");
    // The same request without the browser's headers (curl, an SDK) goes through.
    let r = app
        .send(bare(&app, Method::POST, &path, &[("content-type", "text/plain")]).body("x"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    rx.wait_for(1).await;
}

#[tokio::test]
async fn a_rebound_host_is_refused_on_every_route_and_changes_nothing() {
    let app = spawn_guarded(&[], &[]).await;
    let kept = app.publish_ok("http://127.0.0.1:9/x", &[LATER], "x").await;
    for host in ["attacker.example:8080", "127.0.0.1.nip.io"] {
        for (method, path) in [
            (Method::GET, "/"),
            (Method::GET, "/dashboard/app.js"),
            (Method::GET, "/dashboard/users.json"),
            (Method::GET, "/v2/logs"),
            (Method::GET, "/v2/dlq"),
            (Method::GET, "/v2/keys"),
            (Method::POST, "/dev/reset?all=true"),
        ] {
            let rb = app.req(method.clone(), path).header("host", host);
            let r = app.send(rb).await;
            let e = assert_error(&r, 403);
            assert!(e.contains("-allowed-hosts="), "{host} {path}: {e}");
        }
    }
    let r = app.get(&format!("/v2/messages/{kept}")).await;
    assert_eq!(r.status, 200, "the reset was refused: {}", r.text);
}

#[tokio::test]
async fn local_names_ip_literals_service_names_and_configured_hosts_are_accepted() {
    let app = spawn_guarded(&["qstash.example.test", ".svc.test"], &[]).await;
    for host in [
        "localhost:8080",
        "127.0.0.1",
        "[::1]:8080",
        "qstash:8080",
        "app.localhost",
        "host.docker.internal:8080",
        "qstash.example.test",
        "api.svc.test:1234",
    ] {
        let r = app
            .send(app.req(Method::GET, "/v2/logs").header("host", host))
            .await;
        assert_eq!(r.status, 200, "{host}: {}", r.text);
        let r = app
            .send(bare(&app, Method::GET, "/", &[("host", host)]))
            .await;
        assert_eq!(r.status, 200, "{host}: the dashboard");
    }
    let r = app
        .send(
            app.req(Method::GET, "/v2/logs")
                .header("host", "other.example.test"),
        )
        .await;
    assert_error(&r, 403);
}

#[tokio::test]
async fn allowed_hosts_star_turns_the_host_check_off() {
    let app = spawn_guarded(&["*"], &[]).await;
    let r = app
        .send(
            app.req(Method::GET, "/v2/logs")
                .header("host", "attacker.example"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn the_servers_own_origin_passes_like_the_dashboard() {
    let app = spawn_guarded(&[], &[]).await;
    let own = app.server.url();
    let r = app
        .send(
            app.req(Method::POST, "/dev/reset")
                .header("origin", own.as_str())
                .header("sec-fetch-site", "same-origin"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    // A link from another site to the dashboard opens it; its API calls are then same-origin.
    let nav = [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-dest", "document"),
    ];
    let r = app.send(bare(&app, Method::GET, "/", &nav)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .send(bare(&app, Method::GET, "/dashboard/users.json", &nav))
        .await;
    assert_error(&r, 403);
}

#[tokio::test]
async fn a_configured_origin_gets_cors_grants_and_others_do_not() {
    let app = spawn_guarded(&[], &["http://localhost:3000"]).await;
    let preflight = |origin: &'static str| {
        bare(
            &app,
            Method::OPTIONS,
            "/v2/publish/http://127.0.0.1:9/x",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
        )
    };
    let r = app.send(preflight("http://localhost:3000")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        r.headers["access-control-allow-headers"],
        "authorization, content-type"
    );
    assert!(r.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let r = app.send(preflight("http://localhost:4000")).await;
    assert_error(&r, 403);
    assert!(r.headers.get("access-control-allow-origin").is_none());

    let r = app
        .send(
            app.req(Method::GET, "/v2/logs")
                .header("origin", "http://localhost:3000")
                .header("sec-fetch-site", "same-site"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let r = app
        .send(
            app.req(Method::GET, "/v2/logs")
                .header("origin", "http://localhost:4000"),
        )
        .await;
    assert_error(&r, 403);
}
