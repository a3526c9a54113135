//! Names of URL groups, queues and schedule ids: alphanumerics, `-`, `_` and `.` only, as the
//! hosted service requires.

use crate::engine::{Error, Result};

/// Longest accepted name. The hosted service does not document one; this keeps ids readable.
pub(crate) const MAX_NAME_LEN: usize = 256;

/// Checks a name; `what` says which kind in the error ("url group", "queue", "schedule id").
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::bad(format!("{what} name must not be empty")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::bad(format!(
            "{what} name is longer than {MAX_NAME_LEN} characters"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(Error::bad(format!(
            "invalid {what} name {name:?}: {c:?} is not allowed (use letters, digits, '-', '_' and '.')"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_allow_alphanumerics_dash_underscore_and_dot_only() {
        assert!(check_name("queue", "my-queue_1.v2").is_ok());
        assert!(check_name("queue", "").is_err());
        assert!(check_name("queue", "a b").is_err());
        assert!(check_name("queue", "a/b")
            .unwrap_err()
            .to_string()
            .contains("'/'"));
        assert!(check_name("queue", &"x".repeat(300)).is_err());
    }
}
