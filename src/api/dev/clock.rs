//! `/dev/clock`: the server's one clock, read and moved. The clock is the server's, shared by
//! every user: any user's token may move it. Moves go through [`catch_up`], so what falls due
//! on the way runs at its own time before the move answers; moves are serialised.

use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::query::Query;
use crate::api::AppState;
use crate::catch_up::{self, Report, Target};
use crate::clock::{rfc3339, Clock};
use crate::engine::syntax::duration::parse_duration;
use crate::engine::Error;

/// How long a move waits, by default, for what falls due on the way to finish.
const BUDGET: Duration = Duration::from_secs(30);
/// The longest `timeout` a move accepts.
const MAX_BUDGET: Duration = Duration::from_secs(600);

/// `{"now", "offsetMs", "frozen"}`.
fn state(clock: &Clock) -> Value {
    let s = clock.state();
    json!({ "now": s.now, "offsetMs": s.offset_ms, "frozen": s.frozen })
}

/// `GET /dev/clock`.
async fn get_clock(State(s): State<AppState>, _: Auth) -> Json<Value> {
    Json(state(s.engine.clock()))
}

/// `POST /dev/clock/advance?by=7d`.
async fn advance(State(s): State<AppState>, _: Auth, uri: Uri) -> ApiResult<Json<Value>> {
    let q = Query::parse(uri.query());
    let by = q
        .one("by")
        .ok_or_else(|| Error::bad("by is required, a duration such as 90s, 15m, 2h or 7d"))?;
    let by = parse_duration(by).map_err(|e| Error::bad(format!("invalid by: {e}")))?;
    move_clock(&s, Target::By(by), &q).await
}

/// `POST /dev/clock/set?to=<unix ms | RFC 3339>`: forward only.
async fn set(State(s): State<AppState>, _: Auth, uri: Uri) -> ApiResult<Json<Value>> {
    let q = Query::parse(uri.query());
    let to = q
        .one("to")
        .ok_or_else(|| Error::bad("to is required, Unix milliseconds or an RFC 3339 instant"))?;
    let to = crate::clock::parse_instant(to).map_err(|e| Error::bad(format!("invalid to: {e}")))?;
    move_clock(&s, Target::At(to), &q).await
}

/// Moves the clock and answers its state with what the move did; logs one line.
async fn move_clock(s: &AppState, target: Target, q: &Query) -> ApiResult<Json<Value>> {
    let budget = match q.one("timeout") {
        Some(t) => parse_duration(t).map_err(|e| Error::bad(format!("invalid timeout: {e}")))?,
        None => BUDGET,
    }
    .min(MAX_BUDGET);
    // On a task of its own, so a client that hangs up does not stop the move half-way.
    let (engine, moves) = (s.engine.clone(), s.clock_moves.clone());
    let task = tokio::spawn(async move {
        let _one_move = moves.lock_owned().await;
        catch_up::advance(&engine, target, budget).await
    });
    // A move that panicked is the server's fault, not the request's.
    let moved = task
        .await
        .map_err(|e| Error::Internal(format!("the clock move failed: {e}")))?;
    let r = moved.map_err(|e| Error::bad(e.to_string()))?;
    tracing::info!(target: "qstash::clock", "{}", line(&r));
    let mut body = state(s.engine.clock());
    body["from"] = json!(r.from);
    body["steps"] = json!(r.steps);
    body["deliveries"] = json!(r.deliveries);
    body["settled"] = json!(r.settled);
    Ok(Json(body))
}

/// `clock advanced by 7d → 2026-12-11T12:00:00Z; 9 deliveries due`.
fn line(r: &Report) -> String {
    let by = r.to - r.from;
    let mut out = format!(
        "clock advanced by {} → {}; {} deliveries due",
        human(by),
        rfc3339(r.to),
        r.deliveries
    );
    if !r.settled {
        out.push_str(" (some still running when the timeout passed)");
    }
    out
}

/// `7d`, `2h30m`, `90s`, `250ms`: the largest units that add up to `ms`.
fn human(ms: u64) -> String {
    let mut out = String::new();
    let mut rest = ms / 1000;
    for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= secs {
            out.push_str(&format!("{}{unit}", rest / secs));
            rest %= secs;
        }
    }
    if out.is_empty() {
        out = format!("{ms}ms");
    }
    out
}

/// `POST /dev/clock/freeze`.
async fn freeze(State(s): State<AppState>, _: Auth) -> Json<Value> {
    let _one_move = s.clock_moves.lock().await;
    let at = s.engine.clock().freeze();
    tracing::info!(target: "qstash::clock", "clock frozen at {}", rfc3339(at));
    Json(state(s.engine.clock()))
}

/// `POST /dev/clock/resume`: runs at real speed again from where it stands.
async fn resume(State(s): State<AppState>, _: Auth) -> Json<Value> {
    let _one_move = s.clock_moves.lock().await;
    let at = s.engine.clock().resume();
    tracing::info!(target: "qstash::clock", "clock runs from {}", rfc3339(at));
    Json(state(s.engine.clock()))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/clock", get(get_clock))
        .route("/dev/clock/advance", post(advance))
        .route("/dev/clock/set", post(set))
        .route("/dev/clock/freeze", post(freeze))
        .route("/dev/clock/resume", post(resume))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_reads_as_the_largest_units() {
        assert_eq!(human(7 * 86_400_000), "7d");
        assert_eq!(human(9_000_000), "2h30m");
        assert_eq!(human(90_000), "1m30s");
        assert_eq!(human(250), "250ms");
        assert_eq!(rfc3339(1_796_990_400_000), "2026-12-11T12:00:00Z");
    }
}
