//! `GET/DELETE /v2/messages/{id}` and bulk cancel `DELETE /v2/messages`, which takes its
//! selection from the query (ids, filters, `count`) or from a legacy JSON body
//! (`{"messageIds": [...]}` and old filter fields); with neither it cancels everything.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Auth;
use super::error::ApiResult;
use super::query::Query;
use super::{body, views, AppState};
use crate::engine::filter::Filter;

pub async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(views::message(&s.engine.message(t, &id)?)))
}

pub async fn cancel(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.cancel(t, &id)?;
    Ok(Json(json!({ "cancelled": 1 })))
}

/// The legacy JSON body of bulk cancel. Unknown fields are refused: a misspelt field must not
/// fall through to "cancel everything".
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    message_ids: Vec<String>,
    queue_name: Option<String>,
    url: Option<String>,
    topic_name: Option<String>,
    schedule_id: Option<String>,
    #[serde(alias = "callerIP")]
    caller_ip: Option<String>,
    from_date: Option<u64>,
    to_date: Option<u64>,
}

impl CancelBody {
    fn into_filter(self) -> (Vec<String>, Filter) {
        let v = |o: Option<String>| o.into_iter().collect::<Vec<_>>();
        let f = Filter {
            queue_names: v(self.queue_name),
            urls: v(self.url),
            topic_names: v(self.topic_name),
            schedule_ids: v(self.schedule_id),
            caller_ips: v(self.caller_ip),
            from_date: self.from_date,
            to_date: self.to_date,
            ..Filter::default()
        };
        (self.message_ids, f)
    }
}

pub async fn cancel_many(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(uri.query());
    let bytes = body::read(&headers, raw, 1024 * 1024).await?;
    let (ids, filter) = match body::json::<CancelBody>(&bytes)? {
        Some(b) => b.into_filter(),
        None => {
            let mut f = q.filter()?;
            (std::mem::take(&mut f.message_ids), f)
        }
    };
    let count = q.u64("count")?.map(|c| c as usize);
    let cancelled = s.engine.cancel_many(t, &ids, &filter, count);
    Ok(Json(json!({ "cancelled": cancelled })))
}
