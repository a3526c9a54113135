//! The payg schedule limit (quotas.md): 1,000 schedules, the 1,001st is 412, and overwriting
//! an existing one at the limit still works.

use axum::body::Bytes;
use qstash_dev::engine::resources::schedules::ScheduleRequest;
use qstash_dev::engine::syntax::options::PublishOptions;

use super::*;

const YEARLY: (&str, &str) = ("Upstash-Cron", "0 0 1 1 *");

#[tokio::test]
async fn payg_allows_1000_schedules_and_the_1001st_is_412_but_overwrites_still_work() {
    let app = spawn_app().await;
    let t = tenant(&app);
    for i in 0..999 {
        let req = ScheduleRequest {
            id: Some(format!("s{i}")),
            cron: "0 0 1 1 *".into(),
            destination: "https://example.com/x".into(),
            options: PublishOptions::default(),
            headers: Vec::new(),
            body: Bytes::new(),
            queue: None,
            caller_ip: "127.0.0.1".into(),
        };
        app.server.engine.create_schedule(t, req).expect("create");
    }
    create_ok(&app, "https://example.com/x", &[YEARLY], "").await;
    let list = app.get("/v2/schedules").await.body;
    assert_eq!(list.as_array().expect("array").len(), 1000);

    let r = create(&app, "https://example.com/x", &[YEARLY], "").await;
    let e = assert_error(&r, 412);
    assert!(e.contains("1000"), "{e}");
    let custom = [YEARLY, ("Upstash-Schedule-Id", "one-too-many")];
    assert_error(
        &create(&app, "https://example.com/x", &custom, "").await,
        412,
    );

    let overwrite = [YEARLY, ("Upstash-Schedule-Id", "s7")];
    let id = create_ok(&app, "https://example.com/y", &overwrite, "").await;
    assert_eq!(id, "s7");
    assert_eq!(
        schedule(&app, "s7").await["destination"],
        "https://example.com/y"
    );
    let list = app.get("/v2/schedules").await.body;
    assert_eq!(list.as_array().expect("array").len(), 1000);
}
