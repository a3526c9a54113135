//! Definitions as a file: the URL groups (with their endpoints and default headers), queues,
//! schedules and flow-control pins of each test user, read at start from `-seed <file.json>`
//! ([`apply`]) and written by `GET /dev/export` ([`export`]) in the same format, so a user can
//! export once, commit the file, and start every server with it. Applying is idempotent: an
//! entry equal to what the server already holds changes nothing.
//!
//! ```json
//! { "version": 1,
//!   "users": { "defaultUser": {
//!     "urlGroups": [{ "name": "team", "endpoints": [{ "name": "billing", "url": "http://localhost:3000/b" }] }],
//!     "queues": [{ "name": "orders", "parallelism": 2 }],
//!     "schedules": [{ "scheduleId": "daily", "cron": "0 9 * * *", "destination": "http://localhost:3000/r",
//!                     "headers": { "Upstash-Retries": "2" }, "body": "{}" }],
//!     "flowControl": [{ "key": "tenant-7", "parallelism": 1, "rate": 10, "period": 60 }] } } }
//! ```

mod apply;
mod export;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) use apply::apply;
pub(crate) use export::export;

/// The format's version; a file of another version is refused.
pub const VERSION: u32 = 1;

/// A seed or export file. Fields are declared in the alphabetical order of their JSON names,
/// the order the API writes every object in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub version: u32,
    /// By user id (`defaultUser`, `testUser1`, …).
    #[serde(default)]
    pub users: BTreeMap<String, Definitions>,
}

/// One user's definitions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Definitions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flow_control: Vec<FlowDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url_groups: Vec<UrlGroupDef>,
}

impl Definitions {
    fn is_empty(&self) -> bool {
        self.url_groups.is_empty()
            && self.queues.is_empty()
            && self.schedules.is_empty()
            && self.flow_control.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlGroupDef {
    pub endpoints: Vec<EndpointDef>,
    /// Default headers of every publish to the group (`PATCH /v2/topics/{name}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDef {
    pub name: String,
    #[serde(default = "one")]
    pub parallelism: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
}

/// A schedule as `POST /v2/schedules/{destination}` creates it: `headers` are that request's
/// `Upstash-*` and `Content-Type` headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleDef {
    /// The body as text, or `bodyBase64` for one that is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    pub cron: String,
    pub destination: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    pub schedule_id: String,
}

/// A flow-control key's pinned configuration (`POST /v2/flowControl/{key}/pin`) and pause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowDef {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
}

fn one() -> u32 {
    1
}

fn is_false(b: &bool) -> bool {
    !b
}

/// Parses a seed document; the error names the entry and the field (`users.defaultUser.
/// schedules[1].cron: missing field`).
pub fn parse(text: &str) -> Result<Document, String> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let doc: Document = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." => e.inner().to_string(),
            _ => format!("{path}: {}", e.inner()),
        }
    })?;
    if doc.version != VERSION {
        return Err(format!(
            "version: this server reads version {VERSION}, the file says {}",
            doc.version
        ));
    }
    Ok(doc)
}

/// A seed file as `-seed` names it.
#[derive(Debug, Clone)]
pub struct Seed {
    pub path: std::path::PathBuf,
    pub doc: Document,
}

impl Seed {
    /// Reads and parses a seed file; the error starts with the path.
    pub fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let doc = parse(&text).map_err(|e| format!("{path}: {e}"))?;
        Ok(Self {
            path: path.into(),
            doc,
        })
    }

    /// `3 URL groups, 1 queue, 2 schedules, 0 flow-control keys` over every user.
    pub fn summary(&self) -> String {
        let sum = |f: fn(&Definitions) -> usize| self.doc.users.values().map(f).sum::<usize>();
        format!(
            "{} URL groups, {} queues, {} schedules, {} flow-control keys",
            sum(|d| d.url_groups.len()),
            sum(|d| d.queues.len()),
            sum(|d| d.schedules.len()),
            sum(|d| d.flow_control.len())
        )
    }
}
