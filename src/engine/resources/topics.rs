//! URL groups (the API calls them topics): named sets of endpoints. A group is created by its
//! first endpoint and removed with its last one. Publishing to a group fans out one message per
//! endpoint; the group's default headers (set with PATCH) apply under the request's own.

use std::collections::BTreeMap;

use crate::config::Limits;
use crate::engine::lifecycle::publish::check_url;
use crate::engine::resources::names::check_name;
use crate::engine::syntax::headers::Headers;
use crate::engine::{Engine, Error, Result, TenantId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) name: Option<String>,
    pub(crate) url: String,
}

#[derive(Debug, Clone)]
pub(crate) struct UrlGroup {
    pub(crate) name: String,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    pub(crate) endpoints: Vec<Endpoint>,
    /// Default `Upstash-*` (and other) headers, lower-case names, applied to every publish.
    pub(crate) headers: Headers,
}

/// An endpoint to remove: by name, by URL, or both.
#[derive(Debug, Clone, Default)]
pub(crate) struct EndpointRef {
    pub(crate) name: Option<String>,
    pub(crate) url: Option<String>,
}

impl EndpointRef {
    fn matches(&self, e: &Endpoint) -> bool {
        let name_ok = self
            .name
            .as_ref()
            .is_none_or(|n| e.name.as_ref() == Some(n));
        let url_ok = self.url.as_ref().is_none_or(|u| *u == e.url);
        name_ok && url_ok
    }
}

/// The URL groups of a tenant by name.
#[derive(Debug, Default)]
pub(crate) struct Topics(BTreeMap<String, UrlGroup>);

fn topic_not_found(name: &str) -> Error {
    Error::not_found(format!("topic {name} not found"))
}

impl Topics {
    pub(crate) fn get(&self, name: &str) -> Option<&UrlGroup> {
        self.0.get(name)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &UrlGroup> {
        self.0.values()
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.0.remove(name);
    }

    fn get_mut(&mut self, name: &str) -> Result<&mut UrlGroup> {
        self.0.get_mut(name).ok_or_else(|| topic_not_found(name))
    }

    /// Adds checked endpoints within the quota's bounds, creating the group if needed. An
    /// endpoint whose URL is already in the group replaces it (so its name can be changed).
    fn add(
        &mut self,
        name: &str,
        endpoints: Vec<Endpoint>,
        limits: &Limits,
        now: u64,
    ) -> Result<()> {
        if !self.0.contains_key(name) && self.0.len() >= limits.max_url_groups as usize {
            return Err(Error::QuotaExceeded(format!(
                "url group limit reached: the quota allows {} url groups",
                limits.max_url_groups
            )));
        }
        let group = self.0.entry(name.to_string()).or_insert_with(|| UrlGroup {
            name: name.to_string(),
            created_at: now,
            updated_at: now,
            endpoints: Vec::new(),
            headers: Vec::new(),
        });
        let mut merged = group.endpoints.clone();
        for e in endpoints {
            merged.retain(|old| old.url != e.url);
            merged.push(e);
        }
        if merged.len() > limits.max_endpoints_per_group as usize {
            if group.endpoints.is_empty() {
                self.0.remove(name);
            }
            return Err(Error::QuotaExceeded(format!(
                "endpoint limit reached: the quota allows {} endpoints per url group",
                limits.max_endpoints_per_group
            )));
        }
        group.endpoints = merged;
        group.updated_at = now;
        Ok(())
    }

    /// Removes matching endpoints; the group goes with its last endpoint.
    fn remove_endpoints(&mut self, name: &str, refs: &[EndpointRef], now: u64) -> Result<()> {
        let group = self.get_mut(name)?;
        group
            .endpoints
            .retain(|e| !refs.iter().any(|r| r.matches(e)));
        group.updated_at = now;
        if group.endpoints.is_empty() {
            self.0.remove(name);
        }
        Ok(())
    }

    fn set_headers(&mut self, name: &str, headers: Headers, now: u64) -> Result<()> {
        let group = self.get_mut(name)?;
        group.headers = headers;
        group.updated_at = now;
        Ok(())
    }
}

impl Engine {
    /// Adds endpoints, creating the group if needed (see [`Topics`]).
    pub(crate) fn add_endpoints(
        &self,
        t: TenantId,
        name: &str,
        endpoints: Vec<Endpoint>,
    ) -> Result<()> {
        check_name("url group", name)?;
        if endpoints.is_empty() {
            return Err(Error::bad("at least one endpoint is required"));
        }
        for e in &endpoints {
            check_url(&e.url, "endpoint")?;
            if let Some(n) = &e.name {
                check_name("endpoint", n)?;
            }
        }
        let limits = self.limits();
        self.with(t, |cx| {
            cx.definitions_changed();
            cx.st.topics.add(name, endpoints, limits, cx.now)
        })
    }

    /// Removes matching endpoints; the group goes with its last endpoint.
    pub(crate) fn remove_endpoints(
        &self,
        t: TenantId,
        name: &str,
        refs: &[EndpointRef],
    ) -> Result<()> {
        if refs.iter().any(|r| r.name.is_none() && r.url.is_none()) {
            return Err(Error::bad("each endpoint to remove needs a name or a url"));
        }
        self.with(t, |cx| {
            cx.definitions_changed();
            cx.st.topics.remove_endpoints(name, refs, cx.now)
        })
    }

    pub(crate) fn url_group(&self, t: TenantId, name: &str) -> Result<UrlGroup> {
        self.with(t, |cx| cx.st.topics.get(name).cloned())
            .ok_or_else(|| topic_not_found(name))
    }

    pub(crate) fn url_groups(&self, t: TenantId) -> Vec<UrlGroup> {
        self.with(t, |cx| cx.st.topics.all().cloned().collect())
    }

    /// Deletes a group; deleting one that does not exist succeeds, as with the hosted service.
    /// Messages already published keep going.
    pub(crate) fn delete_url_group(&self, t: TenantId, name: &str) {
        self.with(t, |cx| {
            cx.definitions_changed();
            cx.st.topics.remove(name)
        });
    }

    /// Replaces the group's default headers (lower-case names).
    pub(crate) fn set_url_group_headers(
        &self,
        t: TenantId,
        name: &str,
        headers: Headers,
    ) -> Result<()> {
        self.with(t, |cx| {
            cx.definitions_changed();
            cx.st.topics.set_headers(name, headers, cx.now)
        })
    }

    /// The default headers of a group, if it exists.
    pub(crate) fn url_group_headers(&self, t: TenantId, name: &str) -> Option<Headers> {
        self.with(t, |cx| cx.st.topics.get(name).map(|g| g.headers.clone()))
    }
}
