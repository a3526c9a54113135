//! `GET /metrics`: each user's figures in the Prometheus text format (0.0.4), labelled
//! `user`: messages published, delivered, retried, failed, cancelled (counters), pending and in
//! the DLQ (gauges), schedule firings, workflow runs started, active and ended by state, and
//! the duration of delivery attempts as a histogram. Authenticated like `/dev` (the token's
//! user only) unless `-metrics-public`, which shows every user to anyone who can reach it.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;
use crate::api::extract::auth::Auth;
use crate::engine::store::logs::State as Logged;
use crate::engine::store::metrics::{Snapshot, BUCKETS};
use crate::engine::TenantId;

pub(crate) fn routes(public: bool) -> Router<AppState> {
    match public {
        true => Router::new().route("/metrics", get(everyone)),
        false => Router::new().route("/metrics", get(own)),
    }
}

async fn own(State(s): State<AppState>, Auth(t): Auth) -> Response {
    text(&s, &[t])
}

async fn everyone(State(s): State<AppState>) -> Response {
    let all: Vec<TenantId> = s.engine.tenant_ids().collect();
    text(&s, &all)
}

fn text(s: &AppState, tenants: &[TenantId]) -> Response {
    let snaps: Vec<Snapshot> = tenants.iter().map(|t| s.engine.metrics(*t)).collect();
    let body = render(&snaps);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

/// One metric family: its help and type lines, then a sample per snapshot.
fn family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    snaps: &[Snapshot],
    value: impl Fn(&Snapshot) -> u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for s in snaps {
        let _ = writeln!(out, "{name}{{user=\"{}\"}} {}", s.user, value(s));
    }
}

fn render(snaps: &[Snapshot]) -> String {
    let mut out = String::new();
    let counted: [(&str, &str, Logged); 5] = [
        (
            "published",
            "Messages published (one per URL-group endpoint, schedule firing and workflow step).",
            Logged::Created,
        ),
        (
            "delivered",
            "Messages delivered (the destination answered 2xx).",
            Logged::Delivered,
        ),
        (
            "retried",
            "Failed attempts followed by a retry.",
            Logged::Retry,
        ),
        (
            "failed",
            "Messages failed for good (retries used up; into the DLQ).",
            Logged::Failed,
        ),
        ("cancelled", "Messages cancelled.", Logged::Canceled),
    ];
    for (what, help, state) in counted {
        let name = format!("qstash_messages_{what}_total");
        family(&mut out, &name, "counter", help, snaps, |s| {
            s.metrics.logged(state)
        });
    }
    family(
        &mut out,
        "qstash_messages_pending",
        "gauge",
        "Messages waiting for an attempt or in delivery.",
        snaps,
        |s| s.pending as u64,
    );
    family(
        &mut out,
        "qstash_dlq_messages",
        "gauge",
        "Messages in the dead-letter queue.",
        snaps,
        |s| s.dlq as u64,
    );
    family(
        &mut out,
        "qstash_schedules_fired_total",
        "counter",
        "Schedule firings, triggers included.",
        snaps,
        |s| s.schedules_fired,
    );
    family(
        &mut out,
        "qstash_workflow_runs_started_total",
        "counter",
        "Workflow runs started.",
        snaps,
        |s| s.runs.started,
    );
    family(
        &mut out,
        "qstash_workflow_runs_active",
        "gauge",
        "Workflow runs in progress.",
        snaps,
        |s| s.runs_active as u64,
    );
    let _ = writeln!(out, "# HELP qstash_workflow_runs_ended_total Workflow runs ended, by how.\n# TYPE qstash_workflow_runs_ended_total counter");
    for s in snaps {
        for (state, n) in [
            ("RUN_SUCCESS", s.runs.success),
            ("RUN_FAILED", s.runs.failed),
            ("RUN_CANCELED", s.runs.canceled),
        ] {
            let _ = writeln!(
                out,
                "qstash_workflow_runs_ended_total{{user=\"{}\",state=\"{state}\"}} {n}",
                s.user
            );
        }
    }
    histogram(&mut out, snaps);
    out
}

fn histogram(out: &mut String, snaps: &[Snapshot]) {
    let name = "qstash_delivery_duration_seconds";
    let _ = writeln!(out, "# HELP {name} Delivery attempts, from sending the request to its answer.\n# TYPE {name} histogram");
    for s in snaps {
        let (cumulative, count, sum) = s.metrics.histogram();
        let bounds = BUCKETS
            .iter()
            .map(|b| b.to_string())
            .chain(["+Inf".to_string()]);
        for (le, n) in bounds.zip(cumulative) {
            let _ = writeln!(out, "{name}_bucket{{user=\"{}\",le=\"{le}\"}} {n}", s.user);
        }
        let _ = writeln!(
            out,
            "{name}_sum{{user=\"{}\"}} {sum}\n{name}_count{{user=\"{}\"}} {count}",
            s.user, s.user
        );
    }
}
