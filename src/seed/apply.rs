//! Applying a seed document to the engine, user by user, through the engine's own checks (and,
//! for schedules, the API's header parser: `api::resources::schedules::create_from`). An entry
//! equal to what the server holds is left alone, so a second start with the same seed (and
//! `-persist`) changes nothing. An error names the entry and the field.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;

use super::{Definitions, Document, FlowDef, QueueDef, ScheduleDef, UrlGroupDef};
use crate::api::resources::schedules::{create_from, Input};
use crate::config::TEST_USERS;
use crate::engine::limits::queues::QueueSettings;
use crate::engine::resources::topics::Endpoint;
use crate::engine::{Engine, TenantId};

/// Applies every user's definitions; stops at the first refusal.
pub(crate) fn apply(engine: &Engine, doc: &Document) -> Result<(), String> {
    for (user, defs) in &doc.users {
        let Some(i) = TEST_USERS.iter().position(|u| u.user_id == user) else {
            let known: Vec<&str> = TEST_USERS.iter().map(|u| u.user_id).collect();
            return Err(format!(
                "users.{user}: no such test user (the users are {})",
                known.join(", ")
            ));
        };
        apply_user(engine, TenantId(i), defs).map_err(|e| format!("users.{user}.{e}"))?;
    }
    Ok(())
}

fn apply_user(engine: &Engine, t: TenantId, defs: &Definitions) -> Result<(), String> {
    for (i, g) in defs.url_groups.iter().enumerate() {
        url_group(engine, t, g).map_err(|e| format!("urlGroups[{i}] ({}): {e}", g.name))?;
    }
    for (i, q) in defs.queues.iter().enumerate() {
        queue(engine, t, q).map_err(|e| format!("queues[{i}] ({}): {e}", q.name))?;
    }
    for (i, s) in defs.schedules.iter().enumerate() {
        schedule(engine, t, s).map_err(|e| format!("schedules[{i}] ({}): {e}", s.schedule_id))?;
    }
    for (i, f) in defs.flow_control.iter().enumerate() {
        flow(engine, t, f).map_err(|e| format!("flowControl[{i}] ({}): {e}", f.key))?;
    }
    Ok(())
}

/// Lower-case header names, as requests give them to the parser, in name order.
fn lower(headers: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    out.sort();
    out
}

fn url_group(engine: &Engine, t: TenantId, g: &UrlGroupDef) -> Result<(), String> {
    let endpoints: Vec<Endpoint> = g
        .endpoints
        .iter()
        .map(|e| Endpoint {
            name: e.name.clone(),
            url: e.url.clone(),
        })
        .collect();
    let headers = lower(&g.headers);
    crate::api::publish::upstash::parse(&headers).map_err(|e| format!("headers: {e}"))?;
    if let Ok(old) = engine.url_group(t, &g.name) {
        let has_all = endpoints.iter().all(|e| old.endpoints.contains(e));
        if has_all && old.headers == headers {
            return Ok(());
        }
    }
    engine
        .add_endpoints(t, &g.name, endpoints)
        .map_err(|e| format!("endpoints: {e}"))?;
    engine
        .set_url_group_headers(t, &g.name, headers)
        .map_err(|e| format!("headers: {e}"))
}

fn queue(engine: &Engine, t: TenantId, q: &QueueDef) -> Result<(), String> {
    if let Ok(old) = engine.queue(t, &q.name) {
        if old.parallelism == q.parallelism && old.paused == q.paused {
            return Ok(());
        }
    }
    let settings = QueueSettings {
        name: q.name.clone(),
        parallelism: Some(q.parallelism),
        paused: Some(q.paused),
    };
    engine.upsert_queue(t, settings).map_err(|e| e.to_string())
}

fn body(s: &ScheduleDef) -> Result<Bytes, String> {
    match (&s.body, &s.body_base64) {
        (Some(_), Some(_)) => Err("body and bodyBase64: give one of them".into()),
        (Some(text), None) => Ok(Bytes::from(text.clone())),
        (None, Some(b64)) => B64
            .decode(b64)
            .map(Bytes::from)
            .map_err(|e| format!("bodyBase64: {e}")),
        (None, None) => Ok(Bytes::new()),
    }
}

fn schedule(engine: &Engine, t: TenantId, s: &ScheduleDef) -> Result<(), String> {
    let body = body(s)?;
    let headers = lower(&s.headers);
    if let Ok(old) = engine.schedule(t, &s.schedule_id) {
        let mut old_headers = old.headers.clone();
        old_headers.sort();
        let same = old.cron.as_str() == s.cron
            && old.destination == s.destination
            && old.queue == s.queue_name
            && old_headers == headers
            && old.body == body;
        if same && old.paused == s.paused {
            return Ok(());
        }
    }
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = headers
        .into_iter()
        .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
        .collect();
    pairs.push(("upstash-cron".into(), Cow::Borrowed(&s.cron)));
    pairs.push(("upstash-schedule-id".into(), Cow::Borrowed(&s.schedule_id)));
    if let Some(q) = &s.queue_name {
        pairs.push(("upstash-queue-name".into(), Cow::Borrowed(q)));
    }
    let input = Input {
        destination: s.destination.clone(),
        pairs,
        body,
        caller_ip: "seed".into(),
    };
    let id = create_from(engine, t, input).map_err(|e| e.to_string())?;
    if s.paused {
        engine
            .set_schedule_paused(t, &id, true)
            .map_err(|e| format!("paused: {e}"))?;
    }
    Ok(())
}

fn flow(engine: &Engine, t: TenantId, f: &FlowDef) -> Result<(), String> {
    if f.rate.is_none() && f.period.is_some() {
        return Err("period: a period needs a rate".into());
    }
    let now = super::export::flow_pins(engine, t);
    let current = now.iter().find(|c| c.key == f.key);
    if current != Some(f) {
        let has_pin = f.parallelism.is_some() || f.rate.is_some();
        if has_pin {
            engine
                .flow_pin(t, &f.key, f.parallelism, f.rate, f.period)
                .map_err(|e| e.to_string())?;
        }
        engine
            .flow_pause(t, &f.key, f.paused)
            .map_err(|e| format!("paused: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::timer::Timer;

    const DOC: &str = r#"{"version": 1, "users": {"defaultUser": {
        "urlGroups": [{"name": "g", "endpoints": [{"url": "http://localhost:1/a"}], "headers": {"Upstash-Retries": "1"}}],
        "queues": [{"name": "q", "parallelism": 3, "paused": true}],
        "schedules": [{"scheduleId": "s", "cron": "0 9 * * *", "destination": "g", "headers": {"Upstash-Delay": "10s"}, "paused": true}],
        "flowControl": [{"key": "k", "rate": 5, "period": 60}]}}}"#;

    #[test]
    fn applying_the_same_seed_twice_changes_nothing() {
        let timer = Arc::new(Timer::new(Clock::frozen_at(1_800_000_000_000)));
        let engine = Engine::new(Arc::new(Config::default()), timer.clone());
        let doc = super::super::parse(DOC).unwrap();
        apply(&engine, &doc).unwrap();
        let t = TenantId(0);
        let generation = engine.schedule(t, "s").unwrap().generation();
        let (jobs, updated) = (timer.len(), engine.queue(t, "q").unwrap().updated_at);
        timer.clock().advance(std::time::Duration::from_secs(60));
        apply(&engine, &doc).unwrap();
        assert_eq!(engine.schedule(t, "s").unwrap().generation(), generation);
        assert_eq!(timer.len(), jobs, "no second firing armed");
        assert_eq!(engine.queue(t, "q").unwrap().updated_at, updated);
        let exported = crate::seed::export(&engine, &[t]);
        assert!(exported.users["defaultUser"].schedules[0].paused);
        assert_eq!(
            exported.users["defaultUser"].flow_control[0].period,
            Some(60)
        );
    }
}
