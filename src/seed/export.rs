//! The definitions the server holds, as a seed document: what `GET /dev/export` answers.
//! Entries are sorted by name so that an export of an unchanged server is the same file.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::{Definitions, Document, EndpointDef, FlowDef, QueueDef, ScheduleDef, UrlGroupDef};
use crate::config::TEST_USERS;
use crate::engine::resources::schedules::Schedule;
use crate::engine::syntax::headers::canonical;
use crate::engine::{Engine, TenantId};

/// The definitions of `tenants`; users with none are left out.
pub(crate) fn export(engine: &Engine, tenants: &[TenantId]) -> Document {
    let users = tenants
        .iter()
        .map(|&t| (TEST_USERS[t.0].user_id.to_string(), definitions(engine, t)))
        .filter(|(_, d)| !d.is_empty())
        .collect();
    Document {
        version: super::VERSION,
        users,
    }
}

fn definitions(engine: &Engine, t: TenantId) -> Definitions {
    let mut url_groups: Vec<UrlGroupDef> = engine
        .url_groups(t)
        .into_iter()
        .map(|g| UrlGroupDef {
            name: g.name,
            endpoints: g
                .endpoints
                .into_iter()
                .map(|e| EndpointDef {
                    name: e.name,
                    url: e.url,
                })
                .collect(),
            headers: canonical_map(&g.headers),
        })
        .collect();
    url_groups.sort_by(|a, b| a.name.cmp(&b.name));
    let mut queues: Vec<QueueDef> = engine
        .queues(t)
        .into_iter()
        .map(|q| QueueDef {
            name: q.name,
            parallelism: q.parallelism,
            paused: q.paused,
        })
        .collect();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let mut schedules: Vec<ScheduleDef> = engine.schedules(t).iter().map(schedule).collect();
    schedules.sort_by(|a, b| a.schedule_id.cmp(&b.schedule_id));
    Definitions {
        url_groups,
        queues,
        schedules,
        flow_control: flow_pins(engine, t),
    }
}

fn canonical_map(headers: &[(String, String)]) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (canonical(k), v.clone()))
        .collect()
}

fn schedule(s: &Schedule) -> ScheduleDef {
    let (body, body_base64) = match std::str::from_utf8(&s.body) {
        _ if s.body.is_empty() => (None, None),
        Ok(text) => (Some(text.to_string()), None),
        Err(_) => (None, Some(B64.encode(&s.body))),
    };
    ScheduleDef {
        schedule_id: s.id.clone(),
        cron: s.cron.as_str().to_string(),
        destination: s.destination.clone(),
        queue_name: s.queue.clone(),
        headers: canonical_map(&s.headers),
        body,
        body_base64,
        paused: s.paused,
    }
}

/// The flow-control keys with something to keep: a pinned value or a pause, by key.
pub(super) fn flow_pins(engine: &Engine, t: TenantId) -> Vec<FlowDef> {
    engine.with(t, |cx| {
        let mut pins: Vec<FlowDef> = cx
            .st
            .flows
            .values()
            .filter(|k| k.paused || k.pinned_parallelism.is_some() || k.pinned_rate.is_some())
            .map(|k| FlowDef {
                key: k.key.clone(),
                parallelism: k.pinned_parallelism,
                rate: k.pinned_rate.map(|r| r.0),
                period: k.pinned_rate.map(|r| r.1),
                paused: k.paused,
            })
            .collect();
        pins.sort_by(|a, b| a.key.cmp(&b.key));
        pins
    })
}
