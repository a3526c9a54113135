//! Integration tests: the real server in-process on port 0, driven over HTTP.

mod auth;
mod batch;
mod callbacks;
mod cli;
mod dashboard;
mod dedup;
mod delivery;
mod dev;
mod dlq;
mod errors;
mod flow_control;
mod hardening;
mod isolation;
mod keep_alive;
mod logs;
mod messages;
mod publish;
mod queues;
mod quotas;
mod schedules;
mod signature;
mod support;
mod url_groups;
mod workflow_runs;
mod workflow_runs_dlq;
mod workflow_wait;
