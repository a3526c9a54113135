//! Integration tests: the real server in-process on port 0, driven over HTTP.

mod auth;
mod callbacks;
mod cli;
mod dedup;
mod delivery;
mod dlq;
mod errors;
mod logs;
mod messages;
mod publish;
mod signature;
mod support;
