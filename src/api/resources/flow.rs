//! Flow control (`/v2/flowControl…`) and `GET /v2/globalParallelism`: every §4.9 field is
//! always present, counters included when 0.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::query::Query;
use crate::api::publish::upstash::parse_bool;
use crate::api::views::FlowInfoView;
use crate::api::AppState;
use crate::engine::limits::flow::parse_period;
use crate::engine::{Error, Result};

pub(crate) async fn list(State(s): State<AppState>, Auth(t): Auth, uri: Uri) -> Response {
    let q = Query::parse(uri.query());
    let search = q.one("search").filter(|v| !v.is_empty());
    let keys = s.engine.flow_list(t, search);
    Json(keys.iter().map(FlowInfoView::of).collect::<Vec<_>>()).into_response()
}

pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let info = s.engine.flow_info(t, &key)?;
    Ok(Json(FlowInfoView::of(&info)).into_response())
}

fn positive(q: &Query, name: &str) -> Result<Option<u32>> {
    match q.one(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(Error::bad(format!(
                "invalid {name} {v:?}: expected a positive integer"
            ))),
        },
    }
}

/// `POST /v2/flowControl/{key}/{action}`: pause, resume, pin, unpin, resetRate, reset.
pub(crate) async fn action(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path((key, action)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(uri.query());
    let e = &s.engine;
    match action.as_str() {
        "pause" => e.flow_pause(t, &key, true)?,
        "resume" => e.flow_pause(t, &key, false)?,
        "pin" => {
            let period = match q.one("period").map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => {
                    Some(parse_period(v).map_err(|m| Error::bad(format!("invalid period: {m}")))?)
                }
                None => None,
            };
            let (parallelism, rate) = (positive(&q, "parallelism")?, positive(&q, "rate")?);
            if parallelism.is_none() && rate.is_none() && period.is_none() {
                return Err(Error::bad("pin needs parallelism, rate or period").into());
            }
            e.flow_pin(t, &key, parallelism, rate, period)?
        }
        "unpin" => {
            let flag = |n: &str| parse_bool(n, q.one(n).unwrap_or("false"));
            e.flow_unpin(t, &key, flag("parallelism")?, flag("rate")?)?
        }
        "resetRate" | "reset" => e.flow_reset_rate(t, &key)?,
        other => {
            return Err(Error::not_found(format!("unknown flow control action {other:?}")).into())
        }
    }
    Ok(Json(json!({})))
}

pub(crate) async fn global(State(s): State<AppState>, Auth(t): Auth) -> Json<Value> {
    let (max, count) = s.engine.global_parallelism(t);
    Json(json!({ "parallelismMax": max, "parallelismCount": count }))
}
