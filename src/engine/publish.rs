//! Publishing: check a request against the quota, resolve its destination, build the message,
//! deduplicate, store it, log CREATED and schedule its first attempt.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::dedup;
use super::message::{Kind, Message, MessageSpec};
use super::options::{CallbackOptions, PublishOptions};
use super::{Engine, Error, Job, LogExtra, Result, State, TenantId, TenantState};
use crate::clock::now_ms;
use crate::config::{Limits, DEFAULT_RETRIES};

/// A publish-family request after HTTP parsing.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The raw destination: a URL, or the name of a URL group.
    pub destination: String,
    pub options: PublishOptions,
    pub body: Bytes,
    pub caller_ip: String,
}

/// The outcome of one publish, as §4.1 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: Arc<str>,
    pub url: Option<String>,
    pub deduplicated: bool,
}

/// Checks that `s` is an absolute http(s) URL with a host; `what` names it in the error.
pub fn check_url(s: &str, what: &str) -> Result<()> {
    let parsed =
        url::Url::parse(s).map_err(|e| Error::bad(format!("invalid {what} url {s:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::bad(format!(
            "invalid {what} url {s:?}: it must be an absolute http:// or https:// URL"
        )));
    }
    Ok(())
}

fn check_duration(d: Option<Duration>, max: Duration, header: &str) -> Result<()> {
    match d {
        Some(d) if d > max => Err(Error::bad(format!(
            "{header} of {}s exceeds the maximum of {}s allowed by the quota",
            d.as_secs(),
            max.as_secs()
        ))),
        _ => Ok(()),
    }
}

fn check_retries(r: Option<u32>, limits: &Limits, header: &str) -> Result<()> {
    match r {
        Some(r) if r > limits.max_retries => Err(Error::bad(format!(
            "{header} {r} exceeds the maximum of {} retries allowed by the quota",
            limits.max_retries
        ))),
        _ => Ok(()),
    }
}

fn check_callback(cb: Option<&CallbackOptions>, limits: &Limits, name: &str) -> Result<()> {
    let Some(cb) = cb else { return Ok(()) };
    check_url(&cb.url, name)?;
    check_retries(cb.retries, limits, &format!("Upstash-{name}-Retries"))?;
    check_duration(
        cb.timeout,
        limits.max_timeout,
        &format!("Upstash-{name}-Timeout"),
    )?;
    check_duration(cb.delay, limits.max_delay, &format!("Upstash-{name}-Delay"))
}

/// Checks every option against the quota preset.
pub fn check_options(o: &PublishOptions, limits: &Limits, now: u64) -> Result<()> {
    check_retries(o.retries, limits, "Upstash-Retries")?;
    check_duration(o.delay, limits.max_delay, "Upstash-Delay")?;
    check_duration(o.timeout, limits.max_timeout, "Upstash-Timeout")?;
    if let Some(nb) = o.not_before_s {
        let ahead = Duration::from_millis(nb.saturating_mul(1000).saturating_sub(now));
        check_duration(Some(ahead), limits.max_delay, "Upstash-Not-Before")?;
    }
    check_callback(o.callback.as_ref(), limits, "Callback")?;
    check_callback(o.failure_callback.as_ref(), limits, "Failure-Callback")
}

/// When the first attempt may start: not-before wins over delay.
pub fn first_delivery(o: &PublishOptions, now: u64) -> u64 {
    match (o.not_before_s, o.delay) {
        (Some(nb), _) => nb.saturating_mul(1000),
        (None, Some(d)) => now.saturating_add(d.as_millis() as u64),
        (None, None) => now,
    }
}

/// The specification of a message to `url` from the options of a request.
pub fn build_spec(
    url: String,
    o: PublishOptions,
    body: Bytes,
    caller_ip: String,
    limits: &Limits,
) -> MessageSpec {
    let mut header = Vec::with_capacity(o.forward.len() + 1);
    if let Some(ct) = o.content_type {
        header.push(("Content-Type".to_string(), ct));
    }
    header.extend(o.forward);
    MessageSpec {
        url,
        method: o.method.unwrap_or_else(|| "POST".to_string()),
        header,
        body,
        max_retries: o.retries.unwrap_or(DEFAULT_RETRIES.min(limits.max_retries)),
        retry_delay: o.retry_delay,
        timeout: o.timeout,
        callback: o.callback,
        failure_callback: o.failure_callback,
        labels: o.labels.unwrap_or_default(),
        caller_ip,
        redact: o.redact.unwrap_or_default(),
        kind: Kind::Normal,
        topic_name: None,
        endpoint_name: None,
        queue_name: None,
        schedule_id: None,
    }
}

impl Engine {
    /// Publishes one message to a URL destination (URL groups come with their own issue).
    pub fn publish(&self, t: TenantId, req: PublishRequest) -> Result<Published> {
        let now = now_ms();
        let limits = self.limits();
        let dest = req.destination.trim();
        if dest.is_empty() {
            return Err(Error::bad("a non-empty destination must be provided"));
        }
        // Anything with a scheme is a URL (a URL group name cannot contain ':' or '/'), so
        // `ftp://x` is a bad URL rather than an unknown group.
        if !dest.contains("://") {
            return Err(Error::not_found(format!("topic {dest} not found")));
        }
        check_url(dest, "destination")?;
        check_options(&req.options, limits, now)?;
        let dedup_key = match (&req.options.dedup_id, req.options.content_dedup) {
            (Some(id), _) => Some(dedup::id_key(id)),
            (None, true) => Some(String::new()),
            (None, false) => None,
        };
        let not_before = first_delivery(&req.options, now);
        let spec = build_spec(
            dest.to_string(),
            req.options,
            req.body,
            req.caller_ip,
            limits,
        );
        let dedup_key = dedup_key.map(|k| {
            if k.is_empty() {
                dedup::content_key(&spec.url, &spec.body, &spec.header)
            } else {
                k
            }
        });
        let window = limits.dedup_window.as_millis() as u64;
        let url = spec.url.clone();
        self.with(t, |st| {
            if let Some(key) = &dedup_key {
                if let Some(existing) = st.dedup.check(key, now) {
                    return Ok(Published {
                        message_id: existing,
                        url: Some(url),
                        deduplicated: true,
                    });
                }
            }
            let id = self.enqueue(t, st, Arc::new(spec), now, not_before);
            if let Some(key) = dedup_key {
                st.dedup.insert(key, id.clone(), now, window);
            }
            Ok(Published {
                message_id: id,
                url: Some(url),
                deduplicated: false,
            })
        })
    }

    /// Stores a new message, logs CREATED and schedules its first attempt.
    pub(crate) fn enqueue(
        &self,
        t: TenantId,
        st: &mut TenantState,
        spec: Arc<MessageSpec>,
        now: u64,
        not_before: u64,
    ) -> Arc<str> {
        let id: Arc<str> = crate::ids::message_id().into();
        let msg = Message {
            id: id.clone(),
            spec,
            created_at: now,
            not_before,
            retried: 0,
            active: false,
            cancel_requested: false,
        };
        st.log(now, State::Created, &msg, LogExtra::default());
        st.messages.insert(id.clone(), msg);
        self.timer.schedule(
            not_before,
            Job::Deliver {
                tenant: t,
                id: id.clone(),
            },
        );
        id
    }
}
