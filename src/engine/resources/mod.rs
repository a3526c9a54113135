//! What a tenant defines and names: URL groups (topics) and schedules, and the rules for
//! their names.

pub(crate) mod names;
pub mod schedules;
pub(crate) mod topics;
