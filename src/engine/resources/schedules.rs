//! Schedules: a cron expression and a publish request that runs at every firing. The timer
//! wakes exactly at the next firing (to the millisecond, not "within a minute"); each firing
//! publishes one message (or one per URL-group endpoint, or into a queue) carrying the schedule
//! id. A paused schedule keeps its `nextScheduleTime` and skips the firings due while paused.
//! Creating with an existing id overwrites every setting (the creation time is kept).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::cron::CronSchedule;
use crate::engine::lifecycle::publish::{check_options, PublishRequest};
use crate::engine::persister::{Change, ScheduleTimes};
use crate::engine::resources::names::check_name;
use crate::engine::syntax::options::PublishOptions;
use crate::engine::{Engine, Error, Job, Locked, Result, TenantId};

/// The state of one message of a schedule's last firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    InProgress,
    Success,
    Fail,
}

impl RunState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Success => "SUCCESS",
            Self::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub(crate) id: String,
    pub(crate) cron: CronSchedule,
    pub(crate) destination: String,
    pub(crate) options: PublishOptions,
    /// The `Upstash-*` and `Content-Type` headers it was created with (lower-case names, the
    /// cron, id and queue apart), for `/dev/export`: parsed again, they give `options`.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
    pub(crate) queue: Option<String>,
    pub(crate) caller_ip: String,
    pub(crate) created_at: u64,
    pub(crate) paused: bool,
    pub(crate) last_schedule_time: Option<u64>,
    pub(crate) next_schedule_time: Option<u64>,
    /// Messages of the last firing and how they ended so far.
    pub(crate) last_schedule_states: BTreeMap<Arc<str>, RunState>,
    /// Why the last firing published nothing (e.g. the URL group is gone).
    pub(crate) error: Option<String>,
    /// A fresh number on every create or overwrite, so timer jobs of an old version (or of a
    /// deleted schedule with the same id) are ignored.
    generation: u64,
}

impl Schedule {
    pub(crate) fn times(&self) -> ScheduleTimes {
        ScheduleTimes {
            id: self.id.clone(),
            created_at: self.created_at,
            last: self.last_schedule_time,
            next: self.next_schedule_time,
        }
    }

    /// The version of this schedule that its timer jobs carry (see `Engine::fire_schedule`).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// What `POST /v2/schedules/{destination}` asks for.
#[derive(Debug, Clone)]
pub struct ScheduleRequest {
    pub id: Option<String>,
    pub cron: String,
    pub destination: String,
    pub options: PublishOptions,
    /// The headers `options` were parsed from (see [`Schedule`]); empty when not kept.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub queue: Option<String>,
    pub caller_ip: String,
}

/// A tenant's schedules by id, and the counter that numbers their versions.
#[derive(Debug, Default)]
pub(crate) struct Schedules {
    by_id: BTreeMap<String, Schedule>,
    /// The last generation handed out. Never reused, not even after a delete, so the timer
    /// job of a deleted schedule stays stale when one with the same id is created.
    last_generation: u64,
    /// Firings so far, triggers included (`/metrics`).
    pub(crate) fired: u64,
}

impl Schedules {
    /// Forgets every schedule but keeps the generation counter, so the timer jobs of the old
    /// schedules stay stale (`/dev/reset`).
    pub(crate) fn clear(&mut self) {
        self.by_id.clear();
        self.fired = 0;
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Schedule> {
        self.by_id.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Schedule> {
        self.by_id.get_mut(id)
    }

    /// Stores `s` under a fresh generation within the quota's bound, keeping the creation
    /// and last firing times of the schedule it overwrites; returns the generation.
    fn insert(&mut self, mut s: Schedule, max: u32) -> Result<u64> {
        let old = self.by_id.get(&s.id);
        if old.is_none() && self.by_id.len() >= max as usize {
            return Err(Error::QuotaExceeded(format!(
                "schedule limit reached: the quota allows {max} schedules"
            )));
        }
        if let Some(o) = old {
            s.created_at = o.created_at;
            s.last_schedule_time = o.last_schedule_time;
        }
        self.last_generation += 1;
        s.generation = self.last_generation;
        self.by_id.insert(s.id.clone(), s);
        Ok(self.last_generation)
    }

    /// Records how a message of a schedule's last firing ended.
    pub(crate) fn record_outcome(&mut self, schedule_id: &str, msg: &Arc<str>, delivered: bool) {
        if let Some(state) = self
            .by_id
            .get_mut(schedule_id)
            .and_then(|s| s.last_schedule_states.get_mut(msg))
        {
            *state = if delivered {
                RunState::Success
            } else {
                RunState::Fail
            };
        }
    }

    /// Records a firing as of `fired_at` with what its publish gave.
    fn record_firing(&mut self, id: &str, fired_at: u64, result: Result<Vec<Arc<str>>>) {
        let Some(s) = self.by_id.get_mut(id) else {
            return;
        };
        self.fired += 1;
        s.last_schedule_time = Some(fired_at);
        s.last_schedule_states.clear();
        match result {
            Ok(ids) => {
                s.error = None;
                for m in ids {
                    s.last_schedule_states.insert(m, RunState::InProgress);
                }
            }
            Err(e) => s.error = Some(e.to_string()),
        }
    }
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("schedule {id} not found"))
}

impl Engine {
    /// Creates or overwrites a schedule; returns its id.
    pub fn create_schedule(&self, t: TenantId, req: ScheduleRequest) -> Result<String> {
        let now = self.now();
        let limits = self.limits();
        let cron = CronSchedule::parse(&req.cron).map_err(|e| Error::bad(e.to_string()))?;
        let destination = req.destination.trim().to_string();
        if destination.is_empty() {
            return Err(Error::bad("a non-empty destination must be provided"));
        }
        if destination.contains("://") {
            crate::engine::lifecycle::publish::check_url(&destination, "destination")?;
        }
        if req.options.not_before_s.is_some() {
            return Err(Error::bad(
                "Upstash-Not-Before is not supported for schedules; use Upstash-Delay",
            ));
        }
        check_options(&req.options, limits, now)?;
        // Deduplication would swallow every firing after the first.
        let mut options = req.options;
        options.dedup_id = None;
        options.content_dedup = false;
        let id = match req
            .id
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
        {
            Some(id) => {
                check_name("schedule id", &id)?;
                id
            }
            None => format!("scd_{}", crate::ids::base58(28)),
        };
        if let Some(q) = &req.queue {
            check_name("queue", q)?;
        }
        let schedule = Schedule {
            id: id.clone(),
            next_schedule_time: cron.next_after(now),
            cron,
            destination,
            options,
            headers: req.headers,
            body: req.body,
            queue: req.queue,
            caller_ip: req.caller_ip,
            created_at: now,
            paused: false,
            last_schedule_time: None,
            last_schedule_states: BTreeMap::new(),
            error: None,
            generation: 0,
        };
        self.with(t, |cx| {
            let dest = &schedule.destination;
            if !dest.contains("://") && !cx.st.topics.contains(dest) {
                return Err(Error::not_found(format!("topic {dest} not found")));
            }
            let next = schedule.next_schedule_time;
            let generation = cx.st.schedules.insert(schedule, limits.max_schedules)?;
            cx.definitions_changed();
            cx.journal_schedule(&id);
            if let Some(at) = next {
                cx.arm_firing(&id, at, generation);
            }
            Ok(id)
        })
    }

    pub fn schedule(&self, t: TenantId, id: &str) -> Result<Schedule> {
        self.with(t, |cx| cx.st.schedules.get(id).cloned())
            .ok_or_else(|| not_found(id))
    }

    pub(crate) fn schedules(&self, t: TenantId) -> Vec<Schedule> {
        self.with(t, |cx| cx.st.schedules.by_id.values().cloned().collect())
    }

    pub(crate) fn delete_schedule(&self, t: TenantId, id: &str) -> Result<()> {
        self.with(t, |cx| {
            cx.definitions_changed();
            cx.journal(|| Change::ScheduleGone(id.to_string()));
            cx.st.schedules.by_id.remove(id)
        })
        .map(drop)
        .ok_or_else(|| not_found(id))
    }

    pub(crate) fn set_schedule_paused(&self, t: TenantId, id: &str, paused: bool) -> Result<()> {
        self.with(t, |cx| {
            let s = cx
                .st
                .schedules
                .by_id
                .get_mut(id)
                .ok_or_else(|| not_found(id))?;
            s.paused = paused;
            cx.definitions_changed();
            Ok(())
        })
    }

    /// A timer firing: publishes unless paused, then arms the next firing. Stale jobs (from
    /// before an overwrite, or of a deleted schedule) do nothing.
    pub fn fire_schedule(&self, t: TenantId, id: &str, generation: u64) {
        self.with(t, |cx| cx.fire_schedule(id, generation));
    }

    /// Runs a schedule now, outside its cron (for tests and the dev tools); the next firing
    /// stays as it was. Returns the ids of the messages it published.
    pub fn trigger_schedule(&self, t: TenantId, id: &str) -> Result<Vec<Arc<str>>> {
        self.with(t, |cx| {
            if cx.st.schedules.get(id).is_none() {
                return Err(not_found(id));
            }
            let ids = cx.run_schedule(id, cx.now);
            cx.journal_schedule(id);
            Ok(ids)
        })
    }
}

impl Locked<'_> {
    fn arm_firing(&self, id: &str, at: u64, generation: u64) {
        let (tenant, schedule) = (self.t, id.into());
        self.schedule(
            at,
            Job::Fire {
                tenant,
                schedule,
                generation,
            },
        );
    }

    fn fire_schedule(&mut self, id: &str, generation: u64) {
        let now = self.now;
        let Some(s) = self.st.schedules.by_id.get_mut(id) else {
            return;
        };
        if s.generation != generation {
            return;
        }
        let fired_at = s.next_schedule_time.unwrap_or(now);
        s.next_schedule_time = s.cron.next_after(fired_at.max(now));
        let (next, paused) = (s.next_schedule_time, s.paused);
        if let Some(at) = next {
            self.arm_firing(id, at, generation);
        }
        if !paused {
            // A firing is recorded at its cron time, not when the job happened to run.
            self.run_schedule(id, fired_at.min(now));
        }
        self.journal_schedule(id);
    }

    /// Publishes the schedule's request now and records the firing as of `fired_at`.
    fn run_schedule(&mut self, id: &str, fired_at: u64) -> Vec<Arc<str>> {
        let Some(s) = self.st.schedules.get(id) else {
            return Vec::new();
        };
        let req = PublishRequest {
            destination: s.destination.clone(),
            options: s.options.clone(),
            body: s.body.clone(),
            caller_ip: s.caller_ip.clone(),
            queue: s.queue.clone(),
            schedule_id: Some(s.id.clone()),
        };
        let result = self.publish(req).map(|outcome| {
            let published = outcome.messages().iter();
            published.map(|p| p.message_id.clone()).collect::<Vec<_>>()
        });
        let ids = result.as_ref().map_or_else(|_| Vec::new(), Clone::clone);
        self.st.schedules.record_firing(id, fired_at, result);
        ids
    }

    /// Records the schedule's times for the persister.
    fn journal_schedule(&mut self, id: &str) {
        if let Some(s) = self.st.schedules.get(id) {
            let times = s.times();
            self.journal(|| Change::Schedule(times));
        }
    }
}
