//! Where a request may come from, checked before anything else on every route (`/v2`, `/dev`,
//! the dashboard and its assets). The four test tokens are public, so a token proves nothing
//! about who sends a request; these checks keep web pages out:
//!
//! - **Host**: a page that re-points its own name at 127.0.0.1 (DNS rebinding) sends its own
//!   name as `Host`. Accepted are IP literals, `localhost` and `*.localhost`, single-label names
//!   (a compose or CI service such as `qstash`: no public name without a dot can be rebound),
//!   `host.docker.internal`, and the names of `-allowed-hosts` (a leading dot accepts a domain
//!   and its subdomains; `*` turns the check off).
//! - **Cross-site**: a browser names the page behind a request in `Origin` and, in current
//!   browsers, says `Sec-Fetch-Site: cross-site` when it is another site's. Such a request is
//!   refused unless its origin is the server's own (as `Host` names it) or is listed in
//!   `-allowed-origins` (`*` accepts every origin). SDKs, curl and server-side code send
//!   neither header and pass. A top-level navigation to the dashboard page (a link from another
//!   site) passes too: it reads nothing and changes nothing, and the page then talks to the API
//!   from its own origin.
//! - **CORS**: a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) gets
//!   grants only for an allowed origin; the answers to an allowed origin carry
//!   `Access-Control-Allow-Origin`.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

use crate::api::error::error_response;
use crate::config::Config;

/// Names accepted as `Host` besides IP literals, `localhost` and single labels.
/// The names Docker and Podman give the host inside a container.
const BUILT_IN_HOSTS: [&str; 3] = [
    "host.docker.internal",
    "gateway.docker.internal",
    "host.containers.internal",
];

/// The methods granted to an allowed origin's preflight.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/// How long a browser may cache a preflight's grant, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The accepted hosts and origins of one server, lower-cased once at start.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    /// `None` accepts every host (`-allowed-hosts='*'`).
    hosts: Option<Vec<String>>,
    /// `None` accepts every origin (`-allowed-origins='*'`).
    origins: Option<Vec<String>>,
}

/// What the guard decides about one request.
pub(crate) enum Verdict {
    Pass,
    /// Passes; the answer gets `Access-Control-Allow-Origin` with this origin.
    Cors(HeaderValue),
    /// Answered here: a refusal or a preflight's grant.
    Answer(Response),
}

impl Guard {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            hosts: list(&config.allowed_hosts, host_entry),
            origins: list(&config.allowed_origins, |o| o.trim_end_matches('/')),
        }
    }

    pub(crate) fn check(&self, req: &Request) -> Verdict {
        let headers = req.headers();
        // A `Host` that is not text is refused like any unknown name (an empty one is refused).
        let host = headers.get(header::HOST).map(|v| v.to_str().unwrap_or(""));
        // An absolute-form target (`GET http://name/ HTTP/1.1`) names a host too: both must pass.
        let target = req.uri().authority().map(|a| a.as_str());
        for name in [target, host].into_iter().flatten() {
            if !self.host_allowed(name) {
                return Verdict::Answer(host_refusal(name));
            }
        }
        let host = host.or(target);
        if is_webhook(req) && !preflight(req) {
            return Verdict::Pass;
        }
        let origin = headers.get(header::ORIGIN);
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        let Some(origin) = origin else {
            return match cross_site && !is_dashboard_navigation(req) {
                true => Verdict::Answer(origin_refusal("(none)")),
                false => Verdict::Pass,
            };
        };
        let text = origin.to_str().unwrap_or("").to_ascii_lowercase();
        if !cross_site && host.is_some_and(|h| is_own_origin(&text, h)) {
            return Verdict::Pass;
        }
        if !self.origin_allowed(&text) {
            return Verdict::Answer(origin_refusal(&text));
        }
        match preflight(req) {
            true => Verdict::Answer(grant(origin, headers)),
            false => Verdict::Cors(origin.clone()),
        }
    }

    fn host_allowed(&self, authority: &str) -> bool {
        let Some(allowed) = &self.hosts else {
            return true;
        };
        let name = host_name(authority);
        if name.parse::<IpAddr>().is_ok() || is_local_name(&name) {
            return true;
        }
        allowed.iter().any(|a| match a.strip_prefix('.') {
            Some(domain) => name == domain || name.ends_with(a.as_str()),
            None => name == *a,
        })
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.origins
            .as_ref()
            .is_none_or(|list| list.iter().any(|o| o == origin))
    }

    /// The banner's line on what is accepted.
    pub(crate) fn describe(&self) -> String {
        let hosts = match &self.hosts {
            None => "any (-allowed-hosts=*)".to_string(),
            Some(extra) => {
                let mut names = vec!["localhost", "IP addresses", "single-label names"];
                names.extend(BUILT_IN_HOSTS);
                names.extend(extra.iter().map(String::as_str));
                format!("{} (-allowed-hosts adds more)", names.join(", "))
            }
        };
        let origins = match &self.origins {
            None => "any (-allowed-origins=*)".to_string(),
            Some(list) => {
                let mut names = vec!["its own"];
                names.extend(list.iter().map(String::as_str));
                format!("{} (-allowed-origins adds more)", names.join(", "))
            }
        };
        format!("Accepted hosts: {hosts}; browser origins: {origins}")
    }
}

/// The entries of a list flag, lower-cased and trimmed; `None` when one of them is `*`.
fn list(entries: &[String], trim: impl Fn(&str) -> &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        if e == "*" {
            return None;
        }
        out.push(trim(e).to_ascii_lowercase());
    }
    Some(out)
}

/// An `-allowed-hosts` entry as the check compares it: lower-case, without a port or trailing
/// dot, and `*.example.com` read as `.example.com` (the domain and its subdomains).
fn host_entry(e: &str) -> &str {
    let e = e
        .strip_prefix('*')
        .filter(|r| r.starts_with('.'))
        .unwrap_or(e);
    let e = match e.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => e,
    };
    e.trim_end_matches('.')
}

/// The host of an authority, lower-case, without port, IPv6 brackets or a trailing dot.
fn host_name(authority: &str) -> String {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost`, `*.localhost`, a single label, or a built-in name.
fn is_local_name(name: &str) -> bool {
    let single_label = !name.is_empty() && !name.contains('.');
    single_label
        || name == "localhost"
        || name.ends_with(".localhost")
        || BUILT_IN_HOSTS.contains(&name)
}

/// Whether `origin` is `http://` or `https://` followed by the request's own `Host`.
fn is_own_origin(origin: &str, host: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|r| r.eq_ignore_ascii_case(host))
}

fn preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS && req.headers().contains_key("access-control-request-method")
}

/// A workflow webhook (`/v2/workflows/hooks/…`): called by third parties by design, from their
/// servers or from a link a user follows, and guarded by its unguessable event id rather than
/// by a token; so no origin is refused there (the page gets no CORS grant to read the answer).
fn is_webhook(req: &Request) -> bool {
    req.uri().path().starts_with("/v2/workflows/hooks/")
}

/// A link from another site to the dashboard page: a top-level `GET /` navigation.
fn is_dashboard_navigation(req: &Request) -> bool {
    let h = req.headers();
    let is = |name: &str, value: &str| h.get(name).is_some_and(|v| v == value);
    req.method() == Method::GET
        && req.uri().path() == "/"
        && is("sec-fetch-mode", "navigate")
        && is("sec-fetch-dest", "document")
}

/// A preflight's grant for an allowed origin: the methods, and the headers it asked for.
fn grant(origin: &HeaderValue, headers: &HeaderMap) -> Response {
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    // Chromium asks before a public page may reach a local address (Private Network Access).
    if headers.contains_key("access-control-request-private-network") {
        h.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

/// Adds the CORS headers of an allowed origin to an answer.
pub(crate) fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("*"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

fn host_refusal(authority: &str) -> Response {
    let name = host_name(authority);
    error_response(
        StatusCode::FORBIDDEN,
        format!(
            "host {authority:?} is not allowed (a web page may be rebinding its name to this \
             server); if you reach the server by that name, start it with \
             -allowed-hosts={name} (env QSTASH_DEV_ALLOWED_HOSTS)"
        ),
    )
}

fn origin_refusal(origin: &str) -> Response {
    error_response(
        StatusCode::FORBIDDEN,
        format!(
            "cross-site request from origin {origin} refused: web pages of other sites may not \
             call this server; to allow one, start it with -allowed-origins=<origin> \
             (env QSTASH_DEV_ALLOWED_ORIGINS)"
        ),
    )
}

#[cfg(test)]
mod tests;
