//! The guard's decisions, request by request.

use super::*;

fn guard(hosts: &[&str], origins: &[&str]) -> Guard {
    Guard::new(&Config {
        allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
        allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
        ..Config::default()
    })
}

fn req(host: &str, extra: &[(&str, &str)]) -> Request {
    let mut b = Request::builder().uri("/v2/logs").header("host", host);
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(axum::body::Body::empty()).expect("a valid request")
}

fn status(g: &Guard, r: Request) -> u16 {
    match g.check(&r) {
        Verdict::Pass | Verdict::Cors(_) => 200,
        Verdict::Answer(resp) => resp.status().as_u16(),
    }
}

#[test]
fn local_hosts_pass_and_public_names_are_refused() {
    let g = guard(&[], &[]);
    for ok in [
        "127.0.0.1:8080",
        "[::1]:8080",
        "10.1.2.3",
        "localhost:8080",
        "LOCALHOST",
        "app.localhost:1",
        "qstash:8080",
        "host.docker.internal:8080",
        "host.containers.internal",
        "localhost.",
    ] {
        assert_eq!(status(&g, req(ok, &[])), 200, "{ok}");
    }
    for bad in [
        "",
        "attacker.example:8080",
        "127.0.0.1.nip.io",
        "localhost.attacker.example",
        "host.docker.internal.evil.com",
    ] {
        assert_eq!(status(&g, req(bad, &[])), 403, "{bad}");
    }
}

#[test]
fn an_absolute_form_target_and_the_host_header_must_both_pass() {
    let g = guard(&[], &[]);
    let absolute = |target: &str, host: &str| {
        let r = Request::builder()
            .uri(target)
            .header("host", host)
            .body(axum::body::Body::empty())
            .expect("a valid request");
        status(&g, r)
    };
    assert_eq!(absolute("http://127.0.0.1:8080/v2/logs", "localhost"), 200);
    assert_eq!(
        absolute("http://attacker.example/v2/logs", "127.0.0.1"),
        403
    );
    assert_eq!(
        absolute("http://127.0.0.1/v2/logs", "attacker.example"),
        403
    );
}

#[test]
fn configured_hosts_pass_and_a_star_turns_the_check_off() {
    let g = guard(&["Qstash.Example.com:8080", "*.svc.test"], &[]);
    assert_eq!(status(&g, req("qstash.example.com:443", &[])), 200);
    assert_eq!(status(&g, req("a.b.svc.test", &[])), 200);
    assert_eq!(status(&g, req("svc.test", &[])), 200);
    assert_eq!(status(&g, req("other.example.com", &[])), 403);
    assert_eq!(status(&guard(&["*"], &[]), req("any.where.com", &[])), 200);
}

#[test]
fn foreign_origins_are_refused_unless_listed() {
    let g = guard(&[], &["https://console.upstash.com/"]);
    let own = [("origin", "http://127.0.0.1:8080")];
    assert_eq!(status(&g, req("127.0.0.1:8080", &own)), 200);
    let foreign = [("origin", "https://evil.example")];
    assert_eq!(status(&g, req("127.0.0.1:8080", &foreign)), 403);
    let listed = [("origin", "https://console.upstash.com")];
    assert!(matches!(
        g.check(&req("127.0.0.1:8080", &listed)),
        Verdict::Cors(_)
    ));
    let null = [("origin", "null")];
    assert_eq!(status(&g, req("127.0.0.1:8080", &null)), 403);
    let star = guard(&[], &["*"]);
    assert_eq!(status(&star, req("127.0.0.1:8080", &foreign)), 200);
}

#[test]
fn a_host_that_is_not_text_is_refused() {
    let r = Request::builder()
        .uri("/v2/logs")
        .header(
            "host",
            HeaderValue::from_bytes(b"\xffqstash")
                .expect("a header value may hold any byte but controls"),
        )
        .body(axum::body::Body::empty())
        .expect("a valid request");
    assert_eq!(status(&guard(&[], &[]), r), 403);
}

#[test]
fn a_webhook_takes_cross_site_calls_but_grants_no_preflight() {
    let g = guard(&[], &[]);
    let hook = |method: Method, extra: &[(&str, &str)]| {
        let mut b = Request::builder()
            .method(method)
            .uri("/v2/workflows/hooks/u/wfr_1/evt_1")
            .header("host", "127.0.0.1:8080");
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        status(
            &g,
            b.body(axum::body::Body::empty()).expect("a valid request"),
        )
    };
    let cross = [
        ("origin", "https://mail.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(hook(Method::POST, &cross), 200);
    assert_eq!(hook(Method::GET, &[("sec-fetch-site", "cross-site")]), 200);
    let ask = [
        ("origin", "https://mail.example"),
        ("access-control-request-method", "PUT"),
    ];
    assert_eq!(hook(Method::OPTIONS, &ask), 403);
}

#[test]
fn sec_fetch_site_cross_site_is_refused_without_an_origin() {
    let g = guard(&[], &[]);
    let cross = [("sec-fetch-site", "cross-site")];
    assert_eq!(status(&g, req("127.0.0.1:8080", &cross)), 403);
    let same = [("sec-fetch-site", "same-origin")];
    assert_eq!(status(&g, req("127.0.0.1:8080", &same)), 200);
}

#[test]
fn a_preflight_gets_grants_only_for_an_allowed_origin() {
    let g = guard(&[], &["http://localhost:3000"]);
    let ask = |origin: &str| {
        let r = Request::builder()
            .method(Method::OPTIONS)
            .uri("/v2/publish/x")
            .header("host", "localhost:8080")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization")
            .header("access-control-request-private-network", "true")
            .body(axum::body::Body::empty())
            .expect("a valid request");
        match g.check(&r) {
            Verdict::Answer(resp) => resp,
            _ => panic!("a preflight is answered by the guard"),
        }
    };
    let ok = ask("http://localhost:3000");
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
    assert_eq!(
        ok.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "authorization"
    );
    assert_eq!(ok.headers()["access-control-allow-private-network"], "true");
    let refused = ask("http://localhost:4000");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(!refused
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[test]
fn the_host_name_drops_port_brackets_and_trailing_dot() {
    assert_eq!(host_name("[::1]:8080"), "::1");
    assert_eq!(host_name("Example.COM.:80"), "example.com");
    assert_eq!(host_name("qstash"), "qstash");
}
