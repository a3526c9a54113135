//! The options of a workflow run's first message started over REST: the caller's headers
//! parsed once, with what the workflow SDK's `client.trigger` would add (the init protocol
//! headers, the forwarded SDK protocol version, and a failure callback to the workflow URL
//! carrying the run id and copies of the user headers and retry settings) set as typed values.
//! A setting the caller gave wins.

use crate::api::publish::upstash;
use crate::engine::limits::flow::FlowSpec;
use crate::engine::syntax::headers::canonical;
use crate::engine::syntax::options::{CallbackOptions, PublishOptions, WorkflowHeaders};
use crate::engine::Result;

/// The feature set `client.trigger` announces.
pub(crate) const FEATURES: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The caller's (lower-case) headers a trigger keeps: the workflow protocol's own, the method
/// and the feature set are the server's to set.
fn kept(caller: Vec<(String, String)>) -> Vec<(String, String)> {
    caller
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with("upstash-workflow-")
                && !matches!(
                    k.as_str(),
                    "upstash-feature-set" | "upstash-method" | "authorization"
                )
        })
        .collect()
}

/// The options of the run's first message: the caller's headers parsed once, with what the
/// workflow SDK's `client.trigger` adds set as typed values. A setting the caller gave wins.
pub(crate) fn trigger_options(url: &str, caller: Vec<(String, String)>) -> Result<PublishOptions> {
    let run_id = value(&caller, "upstash-workflow-runid")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map_or_else(|| format!("wfr_{}", crate::ids::base58(21)), String::from);
    let unknown_sdk = value(&caller, "upstash-workflow-unknown-sdk").map(String::from);
    let caller = kept(caller);
    let (mut o, mut fcb) = upstash::parse_parts(&caller)?;
    o.workflow = Some(WorkflowHeaders {
        run_id: run_id.clone(),
        init: true,
        url: Some(upstash::parse_workflow_url("upstash-workflow-url", url)?),
        call_type: None,
        feature_set: FEATURES.to_string(),
        invoke: false,
    });
    o.method = Some("POST");
    o.content_type
        .get_or_insert_with(|| "application/json".to_string());
    let forwarded = sdk_forwards(&caller, unknown_sdk);
    // After the caller's `Upstash-Forward-*` headers, before those `Upstash-Header-Forward` adds.
    let at = caller
        .iter()
        .filter(|(k, _)| k.starts_with("upstash-forward-"))
        .count()
        .min(o.forward.len());
    let added = forwarded.iter().map(|(k, v)| (canonical(k), v.clone()));
    o.forward.splice(at..at, added);
    if value(&caller, "upstash-failure-callback").is_none() {
        fcb.url = upstash::parse_url("upstash-failure-callback", url)?;
    }
    let failure = FailureCall {
        caller: &caller,
        run_id: &run_id,
        url,
    };
    failure.fill(&mut fcb, &forwarded, &o);
    fcb.flow = fcb.flow.filter(|f| !f.key.is_empty());
    o.failure_callback = Some(fcb);
    Ok(o)
}

/// The headers `client.trigger` forwards to the run (lower-case names without the
/// `upstash-forward-` prefix), where the caller forwards none of that name.
fn sdk_forwards(
    caller: &[(String, String)],
    unknown_sdk: Option<String>,
) -> Vec<(&'static str, String)> {
    let label = value(caller, "upstash-label").map(String::from);
    [
        ("upstash-workflow-sdk-version", Some("1".to_string())),
        ("upstash-workflow-unknown-sdk", unknown_sdk),
        ("upstash-label", label),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .filter(|(k, _)| value(caller, &format!("upstash-forward-{k}")).is_none())
    .collect()
}

/// What the failure callback to the workflow URL is given, unless the caller set it.
struct FailureCall<'a> {
    caller: &'a [(String, String)],
    run_id: &'a str,
    url: &'a str,
}

impl FailureCall<'_> {
    fn given(&self, rest: &str) -> bool {
        value(self.caller, &format!("upstash-failure-callback-{rest}")).is_some()
    }

    /// The protocol headers that mark the callback as the run's failure call, then the user
    /// headers forwarded to the run, then the run's retry and flow-control settings.
    fn fill(&self, fcb: &mut CallbackOptions, forwarded: &[(&str, String)], o: &PublishOptions) {
        let marks = [
            "upstash-workflow-is-failure",
            "upstash-workflow-failure-callback",
        ];
        for name in marks {
            if !self.given(&format!("forward-{name}")) {
                fcb.forward.push((canonical(name), "true".to_string()));
            }
        }
        for (rest, v) in [
            ("workflow-runid", self.run_id),
            ("workflow-init", "false"),
            ("workflow-url", self.url),
            ("workflow-calltype", "failureCall"),
        ] {
            if !self.given(rest) {
                fcb.forward
                    .push((canonical(&format!("upstash-{rest}")), v.to_string()));
            }
        }
        let user = self
            .caller
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("upstash-forward-")?, v.as_str())))
            .chain(forwarded.iter().map(|(k, v)| (*k, v.as_str())))
            .filter(|(k, _)| *k != "upstash-workflow-sdk-version");
        let mut seen: Vec<&str> = marks.to_vec();
        for (k, v) in user {
            if !seen.contains(&k) && !self.given(&format!("forward-{k}")) {
                fcb.forward.push((canonical(k), v.to_string()));
            }
            seen.push(k);
        }
        self.copy_settings(fcb, o);
    }

    /// The run's retries, retry delay and flow control, where the callback has none.
    fn copy_settings(&self, fcb: &mut CallbackOptions, o: &PublishOptions) {
        if !self.given("retries") && o.retries.is_some() {
            fcb.retries = o.retries;
        }
        if !self.given("retry-delay") && o.retry_delay.is_some() {
            fcb.retry_delay.clone_from(&o.retry_delay);
        }
        let Some(f) = &o.flow else { return };
        let empty = || FlowSpec {
            key: String::new(),
            parallelism: None,
            rate: None,
            period: 1,
        };
        if !self.given("flow-control-key") {
            fcb.flow.get_or_insert_with(empty).key.clone_from(&f.key);
        }
        if !self.given("flow-control-value") {
            let c = fcb.flow.get_or_insert_with(empty);
            (c.parallelism, c.rate, c.period) = (f.parallelism, f.rate, f.period);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The headers the workflow SDK's `client.trigger` sends, as a reference for the options.
    /// Settings copied onto the failure callback when it has none of its own.
    const COPIED: [&str; 4] = [
        "retries",
        "retry-delay",
        "flow-control-key",
        "flow-control-value",
    ];

    fn add(pairs: &mut Vec<(String, String)>, name: &str, v: &str) {
        if value(pairs, name).is_none() {
            pairs.push((name.to_string(), v.to_string()));
        }
    }

    /// The lower-case headers of the run's first message, from the caller's (lower-case) headers.
    fn synthesize(url: &str, caller: Vec<(String, String)>) -> Vec<(String, String)> {
        let run_id = value(&caller, "upstash-workflow-runid")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map_or_else(|| format!("wfr_{}", crate::ids::base58(21)), String::from);
        let unknown_sdk = value(&caller, "upstash-workflow-unknown-sdk").map(String::from);
        let mut p: Vec<(String, String)> = caller
            .into_iter()
            .filter(|(k, _)| {
                !k.starts_with("upstash-workflow-")
                    && !matches!(
                        k.as_str(),
                        "upstash-feature-set" | "upstash-method" | "authorization"
                    )
            })
            .collect();
        for (k, v) in [
            ("upstash-workflow-init", "true"),
            ("upstash-workflow-runid", run_id.as_str()),
            ("upstash-workflow-url", url),
            ("upstash-feature-set", FEATURES),
            ("upstash-forward-upstash-workflow-sdk-version", "1"),
            ("upstash-method", "POST"),
            ("content-type", "application/json"),
        ] {
            add(&mut p, k, v);
        }
        if let Some(v) = unknown_sdk {
            add(&mut p, "upstash-forward-upstash-workflow-unknown-sdk", &v);
        }
        if let Some(label) = value(&p, "upstash-label").map(String::from) {
            add(&mut p, "upstash-forward-upstash-label", &label);
        }
        add(&mut p, "upstash-failure-callback", url);
        let fc = |rest: &str| format!("upstash-failure-callback-{rest}");
        let user: Vec<(String, String)> = p
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("upstash-forward-")?, v)))
            .filter(|(k, _)| *k != "upstash-workflow-sdk-version")
            .map(|(k, v)| (fc(&format!("forward-{k}")), v.clone()))
            .collect();
        let copies: Vec<(String, String)> = COPIED
            .iter()
            .filter_map(|c| Some((fc(c), value(&p, &format!("upstash-{c}"))?.to_string())))
            .collect();
        for (k, v) in [
            ("forward-upstash-workflow-is-failure", "true"),
            ("forward-upstash-workflow-failure-callback", "true"),
            ("workflow-runid", run_id.as_str()),
            ("workflow-init", "false"),
            ("workflow-url", url),
            ("workflow-calltype", "failureCall"),
            ("feature-set", FEATURES),
        ] {
            add(&mut p, &fc(k), v);
        }
        for (k, v) in user.into_iter().chain(copies) {
            add(&mut p, &k, &v);
        }
        p
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The typed options equal parsing the headers `client.trigger` would send.
    fn same_as_the_sdk_headers(caller: &[(&str, &str)]) {
        same_for_url("http://h/wf", caller);
    }

    fn same_for_url(url: &str, caller: &[(&str, &str)]) {
        let mut caller = pairs(caller);
        caller.push(("upstash-workflow-runid".into(), "wfr_mine".into()));
        let typed = trigger_options(url, caller.clone()).map(|o| format!("{o:?}"));
        let text = upstash::parse(&synthesize(url, caller)).map(|o| format!("{o:?}"));
        assert_eq!(
            typed.map_err(|e| e.to_string()),
            text.map_err(|e| e.to_string())
        );
    }

    #[test]
    fn trigger_options_are_what_the_sdk_headers_say() {
        same_as_the_sdk_headers(&[]);
        same_as_the_sdk_headers(&[
            ("upstash-forward-x-user", "u"),
            ("upstash-forward-x-user", "v"),
            ("upstash-label", "L"),
            ("upstash-retries", "1"),
            ("upstash-retry-delay", "1000"),
            ("upstash-flow-control-key", "k"),
            (
                "upstash-flow-control-value",
                "parallelism=2, rate=3, period=4",
            ),
            ("upstash-workflow-unknown-sdk", "x"),
            ("content-type", "text/plain"),
            ("upstash-method", "PUT"),
        ]);
        same_as_the_sdk_headers(&[
            ("upstash-failure-callback", "http://h/fail"),
            ("upstash-failure-callback-retries", "5"),
            ("upstash-failure-callback-flow-control-key", "fk"),
            ("upstash-flow-control-key", "k"),
            ("upstash-flow-control-value", "rate=3"),
            ("upstash-failure-callback-forward-x-user", "own"),
            ("upstash-forward-x-user", "u"),
            ("upstash-forward-upstash-workflow-is-failure", "no"),
            ("upstash-failure-callback-workflow-runid", "wfr_other"),
            ("upstash-forward-upstash-label", "mine"),
            ("upstash-label", "L"),
        ]);
        same_as_the_sdk_headers(&[("upstash-failure-callback-flow-control-value", "rate=1")]);
        same_as_the_sdk_headers(&[("upstash-header-forward", "true"), ("x-plain", "p")]);
        same_as_the_sdk_headers(&[("upstash-retries", "x")]);
        same_as_the_sdk_headers(&[("upstash-flow-control-key", "k")]);
        same_as_the_sdk_headers(&[
            ("upstash-header-forward", "true"),
            ("x-plain", "p"),
            ("upstash-forward-x-a", "a"),
            ("upstash-label", "L"),
            ("upstash-flow-control-key", "k"),
            ("upstash-flow-control-value", "parallelism=1"),
            ("upstash-failure-callback-flow-control-value", "rate=9"),
            ("upstash-failure-callback-method", "PUT"),
            ("upstash-failure-callback-forward-upstash-label", "own"),
        ]);
        same_for_url("http://169.254.169.254/wf", &[]);
        same_for_url(
            "http://h/wf",
            &[("upstash-failure-callback", "http://169.254.1.1/")],
        );
    }

    #[test]
    fn a_trigger_gets_the_init_headers_and_a_failure_callback_to_the_workflow() {
        let caller = pairs(&[
            ("upstash-workflow-runid", "wfr_mine"),
            ("upstash-forward-x-user", "u"),
            ("upstash-label", "L"),
            ("upstash-retries", "1"),
        ]);
        let o = trigger_options("http://h/wf", caller).expect("valid");
        let wf = o.workflow.as_ref().expect("a workflow message");
        assert!(wf.init);
        assert_eq!(wf.run_id, "wfr_mine");
        let fcb = o.failure_callback.as_ref().expect("a failure callback");
        assert_eq!(fcb.url, "http://h/wf");
        assert_eq!(fcb.retries, Some(1));
        let fwd = |name: &str| {
            fcb.forward
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(fwd("Upstash-Workflow-Runid"), Some("wfr_mine"));
        assert_eq!(fwd("X-User"), Some("u"));
        assert_eq!(fwd("Upstash-Label"), Some("L"));
        assert_eq!(fwd("Upstash-Workflow-Sdk-Version"), None);
    }

    #[test]
    fn a_run_id_is_made_when_none_is_given() {
        let o = trigger_options("http://h/wf", Vec::new()).expect("valid");
        assert!(o
            .workflow
            .expect("a workflow message")
            .run_id
            .starts_with("wfr_"));
        assert_eq!(o.content_type.as_deref(), Some("application/json"));
    }
}
