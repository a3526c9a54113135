//! Publishing: check a request against the quota, resolve its destination, build the message,
//! deduplicate, store it, log CREATED and schedule its first attempt.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::config::{Limits, DEFAULT_RETRIES};
use crate::engine::lifecycle::dedup;
use crate::engine::lifecycle::message::{Kind, Message, MessageSpec, Origin};
use crate::engine::persister::{Change, Pending};
use crate::engine::resources::topics::Topics;
use crate::engine::syntax::options::{CallbackOptions, PublishOptions};
use crate::engine::workflow::Prepared;
use crate::engine::{Engine, Error, Locked, LogExtra, Result, State, TenantId};

/// A publish-family request after HTTP parsing.
#[derive(Debug, Clone)]
pub(crate) struct PublishRequest {
    /// The raw destination: a URL, or the name of a URL group.
    pub(crate) destination: String,
    pub(crate) options: PublishOptions,
    pub(crate) body: Bytes,
    pub(crate) caller_ip: String,
    /// Enqueue into this queue (created if missing).
    pub(crate) queue: Option<String>,
    /// Set when a schedule produces the message.
    pub(crate) schedule_id: Option<String>,
}

/// The outcome of one publish, as §4.1 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Published {
    pub(crate) message_id: Arc<str>,
    pub(crate) url: Option<String>,
    pub(crate) deduplicated: bool,
}

pub(crate) use crate::engine::syntax::urls::check_url;

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
pub(crate) fn check_options(o: &PublishOptions, limits: &Limits, now: u64) -> Result<()> {
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
pub(crate) fn first_delivery(o: &PublishOptions, now: u64) -> u64 {
    match (o.not_before_s, o.delay) {
        (Some(nb), _) => nb.saturating_mul(1000),
        (None, Some(d)) => now.saturating_add(d.as_millis() as u64),
        (None, None) => now,
    }
}

/// The specification of a message to `url` from the options of a request.
pub(crate) fn build_spec(
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
        method: crate::engine::syntax::method::Method(o.method.unwrap_or("POST")),
        header,
        body,
        max_retries: o.retries.unwrap_or(DEFAULT_RETRIES.min(limits.max_retries)),
        retry_delay: o.retry_delay.map(Box::new),
        timeout: o.timeout,
        callback: o.callback.map(Box::new),
        failure_callback: o.failure_callback.map(Box::new),
        labels: o.labels.unwrap_or_default(),
        caller_ip,
        redact: o.redact.filter(|r| !r.is_empty()).map(Box::new),
        kind: Kind::Normal,
        origin: None,
        flow: o.flow.map(Box::new),
        workflow: None,
    }
}

/// Where one message of a publish goes.
struct Target {
    url: String,
    topic: Option<String>,
    endpoint: Option<String>,
}

/// The result of a publish: one message for a URL, one per endpoint for a URL group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublishOutcome {
    One(Published),
    Group(Vec<Published>),
}

impl PublishOutcome {
    pub(crate) fn messages(&self) -> &[Published] {
        match self {
            Self::One(p) => std::slice::from_ref(p),
            Self::Group(v) => v,
        }
    }
}

/// The dedup key of a request (`Some("")` stands for content-based, computed per target).
fn dedup_key(o: &PublishOptions) -> Option<String> {
    match (&o.dedup_id, o.content_dedup) {
        (Some(id), _) => Some(dedup::id_key(id)),
        (None, true) => Some(String::new()),
        (None, false) => None,
    }
}

/// A URL, or the endpoints of a URL group.
fn targets(topics: &Topics, dest: &str) -> Result<(Vec<Target>, bool)> {
    // Anything with a scheme is a URL (a URL group name cannot contain ':' or '/'), so
    // `ftp://x` is a bad URL rather than an unknown group.
    if dest.contains("://") {
        check_url(dest, "destination")?;
        let t = Target {
            url: dest.to_string(),
            topic: None,
            endpoint: None,
        };
        return Ok((vec![t], false));
    }
    let group = topics
        .get(dest)
        .ok_or_else(|| Error::not_found(format!("topic {dest} not found")))?;
    let targets = group
        .endpoints
        .iter()
        .map(|e| Target {
            url: e.url.clone(),
            topic: Some(group.name.clone()),
            endpoint: e.name.clone(),
        })
        .collect();
    Ok((targets, true))
}

impl Engine {
    /// Publishes to a URL or fans out to a URL group, into a queue when `req.queue` is set.
    pub(crate) fn publish(&self, t: TenantId, req: PublishRequest) -> Result<PublishOutcome> {
        self.with(t, |cx| cx.publish(req))
    }
}

impl Locked<'_> {
    /// [`Engine::publish`] within a transition (schedules fire through this). Takes the
    /// request by value: its options, body and caller IP move into the last (usually the
    /// only) message instead of being copied.
    pub(crate) fn publish(&mut self, req: PublishRequest) -> Result<PublishOutcome> {
        let (limits, now) = (self.limits(), self.now);
        let PublishRequest {
            destination,
            mut options,
            mut body,
            mut caller_ip,
            queue,
            schedule_id,
        } = req;
        let dest = destination.trim();
        if dest.is_empty() {
            return Err(Error::bad("a non-empty destination must be provided"));
        }
        check_options(&options, limits, now)?;
        let key = dedup_key(&options);
        let not_before = first_delivery(&options, now);
        let window = limits.dedup_window.as_millis() as u64;
        let (targets, is_group) = targets(&self.st.topics, dest)?;
        let max_pending = self.engine.config().max_pending_messages();
        self.st
            .check_pending(limits, max_pending, targets.len(), body.len())?;
        if let Some(q) = queue.as_deref().filter(|q| self.st.queues.get(q).is_none()) {
            self.st.queues.ensure(q, Some(limits), now)?;
            self.definitions_changed();
        }
        let mut link = None;
        if let (Some(wf), false) = (options.workflow.clone(), is_group) {
            match self
                .st
                .runs
                .prepare(&wf, &mut options, &mut body, dest, &caller_ip, now)?
            {
                Prepared::Duplicate(id) => {
                    let p = Published {
                        message_id: id,
                        url: Some(dest.to_string()),
                        deduplicated: true,
                    };
                    return Ok(PublishOutcome::One(p));
                }
                Prepared::Message(l) => link = Some(l),
            }
        }
        let n = targets.len();
        let mut out = Vec::with_capacity(n);
        for (i, target) in targets.into_iter().enumerate() {
            // The last message takes the request's parts; the others copy them. A workflow
            // step's body is still needed below.
            let (o, b, ip) = match i + 1 == n {
                true => (
                    std::mem::take(&mut options),
                    match link {
                        None => std::mem::take(&mut body),
                        Some(_) => body.clone(),
                    },
                    std::mem::take(&mut caller_ip),
                ),
                false => (options.clone(), body.clone(), caller_ip.clone()),
            };
            let mut spec = build_spec(target.url, o, b, ip, limits);
            spec.set_origin(Origin {
                topic_name: target.topic,
                endpoint_name: target.endpoint,
                queue_name: queue.clone(),
                schedule_id: schedule_id.clone(),
            });
            spec.workflow = link.clone().map(Box::new);
            let key = key.as_ref().map(|k| match (k.is_empty(), is_group) {
                (true, _) => dedup::content_key(&spec.url, &spec.body, &spec.header),
                (false, true) => format!("{k}|{}", spec.url),
                (false, false) => k.clone(),
            });
            let url = spec.url.clone();
            if let Some(existing) = key.as_ref().and_then(|k| self.st.dedup.check(k, now)) {
                out.push(Published {
                    message_id: existing,
                    url: Some(url),
                    deduplicated: true,
                });
                continue;
            }
            let id = self.enqueue(Arc::new(spec), not_before);
            if let Some(l) = &link {
                self.st.runs.append(l, &id, &body, now);
            }
            if let Some(k) = key {
                self.st.dedup.insert(k, id.clone(), now, window);
            }
            out.push(Published {
                message_id: id,
                url: Some(url),
                deduplicated: false,
            });
        }
        Ok(match (is_group, out.pop()) {
            (false, Some(one)) => PublishOutcome::One(one),
            (_, last) => {
                out.extend(last);
                PublishOutcome::Group(out)
            }
        })
    }

    /// Stores a new message, logs CREATED, adds it to its queue and schedules its first attempt.
    pub(crate) fn enqueue(&mut self, spec: Arc<MessageSpec>, not_before: u64) -> Arc<str> {
        let now = self.now;
        let id = crate::ids::shared_message_id();
        let msg = Message {
            id: id.clone(),
            spec,
            created_at: now,
            not_before,
            retried: 0,
            active: false,
            cancel_requested: false,
            woken: false,
            slot: None,
        };
        self.log(State::Created, &msg, LogExtra::default());
        if let Some((q, _)) = msg.slot_key() {
            self.st.queues.push(&q, id.clone(), now);
        }
        if let Some(f) = &msg.spec.flow {
            self.st.flows.register(f, now);
        }
        let plain =
            msg.slot_key().is_none() && msg.spec.flow.is_none() && msg.spec.workflow.is_none();
        self.journal(|| Change::Kept(Pending::of(&msg, true)));
        self.st.store_message(msg);
        // Due now while others wait for the tenant's global parallelism: its first attempt
        // would only find the line and join it, so it joins at once (one job less per message
        // under load); its turn wakes it like any other in line.
        let max = self.limits().global_parallelism as usize;
        if plain && not_before <= now && self.st.line.busy(max) {
            self.st.line.push(&id);
            return id;
        }
        // Due now and nothing in the way: the first attempt starts here, exactly as its
        // timer job would start it a moment later. Only plain messages: a workflow step is set
        // up by the caller after this returns, and queued or flow-controlled messages keep
        // their single admission path, the timer job. (A callback's queue slot, also set by
        // the caller, plays no part in the callback's own admission.)
        if self
            .engine
            .starter
            .get()
            .is_some_and(|s| plain && not_before <= now && s.open())
        {
            if let Some(attempt) = self.start(&id) {
                // Sent once the tenant's lock is released (`Engine::with`).
                self.st.started.push(attempt);
            }
            return id;
        }
        // A delay counts from the publish's instant, which lies somewhere within the
        // millisecond `now` (and `not_before` = `now` + delay): the first attempt waits until
        // that millisecond of `not_before` is over, so it never comes early, not even by a
        // fraction of a millisecond. `notBefore` as shown stays `createdAt` + delay. (An
        // absolute `Upstash-Not-Before`, whole seconds, waits that one millisecond too.) On a
        // frozen clock the publish happened at `now` exactly: due at `not_before` itself, so
        // an advance by the delay delivers.
        let at = if not_before > now && !self.engine.clock().is_frozen() {
            not_before.saturating_add(1)
        } else {
            not_before
        };
        self.deliver_at(at, id.clone());
        id
    }
}
