//! Query strings as the API reads them: repeated keys and comma-separated values both give
//! several values; filters, counts and cursors are parsed here into engine types.

use crate::engine::store::filter::Filter;
use crate::engine::store::logs::State;
use crate::engine::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self(pairs)
    }

    pub fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, repeated or comma-separated, trimmed, empty ones dropped.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Adds a value, as if the query string ended with `&key=value`.
    pub(crate) fn push(&mut self, key: String, value: String) {
        self.0.push((key, value));
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub(crate) fn u64(&self, key: &str) -> Result<Option<u64>> {
        self.one(key)
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.trim().parse().map_err(|_| {
                    Error::bad(format!(
                        "invalid {key} {v:?}: expected a non-negative integer"
                    ))
                })
            })
            .transpose()
    }

    /// `count`, defaulting to `default` and clamped to `1..=max`.
    pub fn count(&self, default: usize, max: usize) -> Result<usize> {
        Ok(self
            .u64("count")?
            .map_or(default, |c| (c as usize).clamp(1, max)))
    }

    /// The filter fields shared by logs, bulk cancel and the DLQ.
    pub fn filter(&self) -> Result<Filter> {
        let mut f = Filter {
            message_ids: [self.all("messageId"), self.all("messageIds")].concat(),
            urls: self.all("url"),
            topic_names: self.all("topicName"),
            queue_names: self.all("queueName"),
            schedule_ids: self.all("scheduleId"),
            labels: self.all("label"),
            hosts: self.all("host"),
            paths: self.all("path"),
            caller_ips: [self.all("callerIp"), self.all("callerIP")].concat(),
            flow_control_keys: self.all("flowControlKey"),
            from_date: self.u64("fromDate")?,
            to_date: self.u64("toDate")?,
            ..Filter::default()
        };
        for s in self.all("state") {
            let states = State::parse_filter(&s)
                .ok_or_else(|| Error::bad(format!("invalid state {s:?}")))?;
            f.states.extend(states);
        }
        for s in self.all("responseStatus") {
            let status = s
                .parse()
                .map_err(|_| Error::bad(format!("invalid responseStatus {s:?}")))?;
            f.response_statuses.push(status);
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_comma_separated_values_both_count() {
        let q = Query::parse(Some("label=a&label=b,c&count=5&state=IN_PROGRESS"));
        assert_eq!(q.all("label"), vec!["a", "b", "c"]);
        assert_eq!(q.count(100, 1000).unwrap(), 5);
        let f = q.filter().unwrap();
        assert_eq!(f.states.len(), 3);
        assert!(Query::parse(Some("fromDate=x")).filter().is_err());
        assert!(Query::parse(Some("state=NOPE")).filter().is_err());
    }
}
