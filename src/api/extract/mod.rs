//! What a handler takes from a request before the engine sees it: the tenant (auth), the body
//! within the quota's size limit, the query string's filters and cursors, and the selection of
//! a destructive bulk request.

pub(crate) mod auth;
pub mod body;
pub(crate) mod bulk;
pub mod query;
