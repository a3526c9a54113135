//! A message's life: publishing it (checked, deduplicated, stored, logged), starting and
//! finishing its attempts (the delivery state machine, with retries, backoff and callbacks),
//! and managing what is pending (get, cancel) and what failed (the DLQ operations).

pub(crate) mod attempt;
pub(crate) mod backoff;
pub(crate) mod callback;
pub(crate) mod dedup;
pub(crate) mod manage;
pub(crate) mod message;
pub(crate) mod publish;
pub(crate) mod replay;
pub(crate) mod restore;
pub(crate) mod starter;
#[cfg(test)]
pub(crate) mod test_publish;
#[cfg(test)]
mod tests;
