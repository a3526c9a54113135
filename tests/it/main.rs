//! Integration tests: the real server in-process on port 0, driven over HTTP.

mod auth;
mod batch;
mod bulk;
mod bulk_actions;
mod callbacks;
mod cli;
mod clock;
mod dashboard;
mod dedup;
mod delivery;
mod dev;
mod dlq;
mod dlq_multi;
mod errors;
// Signals, `sh` and `kill`: Unix only.
#[cfg(unix)]
mod exec;
mod flow_control;
mod hardening;
mod isolation;
mod json_errors;
mod keep_alive;
mod link_local;
mod logs;
mod messages;
mod metrics;
mod pages;
// Stops the server with SIGTERM and SIGKILL: Unix only.
#[cfg(unix)]
mod persist;
mod publish;
mod queues;
mod quotas;
mod region;
mod replay;
mod schedules;
mod security;
mod seed;
mod signature;
mod slow_clients;
mod support;
mod timeline;
mod url_groups;
mod verify;
mod workflow_end;
mod workflow_runs;
mod workflow_runs_dlq;
mod workflow_view;
mod workflow_wait;
