//! `GET /v2/keys` (also the SDKs' dev-server health check) and key rotation
//! (`POST /v2/keys/rotate`, and `POST /v2/rotate` as the Go SDK spells it).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::api::extract::auth::Auth;
use crate::api::AppState;
use crate::engine::SigningKeys;

fn view(k: SigningKeys) -> Json<Value> {
    Json(json!({ "current": &*k.current, "next": &*k.next }))
}

pub(crate) async fn get(State(s): State<AppState>, Auth(t): Auth) -> Json<Value> {
    view(s.engine.keys(t))
}

pub(crate) async fn rotate(State(s): State<AppState>, Auth(t): Auth) -> Json<Value> {
    view(s.engine.rotate_keys(t))
}
