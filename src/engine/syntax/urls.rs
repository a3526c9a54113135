//! Destination URLs: what a destination may be. A destination is an absolute http(s) URL
//! whose host is not link-local; [`check_url`] is the one check every path that takes a URL
//! to deliver to goes through (publish, enqueue, batch items, URL-group endpoints, schedules,
//! workflow triggers, callbacks and failure callbacks).

use std::net::Ipv6Addr;

use url::{Host, Url};

use crate::engine::Error;

/// The end of the error for a link-local destination.
const LINK_LOCAL: &str =
    "is a link-local address (169.254.0.0/16 or fe80::/10; cloud metadata endpoints are refused)";

/// Why a URL may not be a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not an absolute http(s) URL with a host.
    NotWeb,
    /// Its host is a link-local address.
    LinkLocal,
}

/// Why `u` may not be a destination, if it may not.
pub(crate) fn refusal(u: &Url) -> Option<Refusal> {
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Some(Refusal::NotWeb);
    }
    is_link_local(u).then_some(Refusal::LinkLocal)
}

/// Whether `u`'s host is a link-local IP literal: in 169.254.0.0/16 or fe80::/10, or an IPv6
/// address that carries such an IPv4 address (`::ffff:169.254.169.254`, `::169.254.169.254`).
/// The cloud metadata endpoints live there, and no local app a developer tests against does.
/// Loopback and private addresses stay allowed: delivering to them is what a development
/// server is for (so the few metadata addresses in private ranges, AWS's `fd00:ec2::254` or
/// Alibaba's `100.100.100.200`, are not refused). The URL parser has already turned
/// other spellings of an IPv4 host (`2852039166`, `0xA9.0xFE.0xA9.0xFE`, `0251.0376.0251.0376`,
/// a trailing dot) into the address itself.
///
/// Host names are not resolved here: a name is looked up again when each attempt connects, so
/// an answer at publish time would prove nothing; the delivery's resolver drops link-local
/// answers then (`delivery::resolve`).
pub(crate) fn is_link_local(u: &Url) -> bool {
    match u.host() {
        Some(Host::Ipv4(a)) => a.is_link_local(),
        Some(Host::Ipv6(a)) => v6_is_link_local(a),
        _ => false,
    }
}

/// Whether an address a name resolved to is link-local (see [`is_link_local`]).
pub(crate) fn is_link_local_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(a) => a.is_link_local(),
        std::net::IpAddr::V6(a) => v6_is_link_local(a),
    }
}

fn v6_is_link_local(a: Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80 || a.to_ipv4().is_some_and(|v4| v4.is_link_local())
}

/// Checks that `s` may be a destination; `what` names it in the error (`destination`,
/// `endpoint`, `Upstash-Callback`…).
pub(crate) fn check_url(s: &str, what: &str) -> crate::engine::Result<()> {
    let refused = Url::parse(s)
        .map(|u| refusal(&u))
        .map_err(|e| Error::bad(format!("invalid {what} url {s:?}: {e}")))?;
    match refused {
        None => Ok(()),
        Some(Refusal::NotWeb) => Err(Error::bad(format!(
            "invalid {what} url {s:?}: it must be an absolute http:// or https:// URL"
        ))),
        Some(Refusal::LinkLocal) => Err(link_local(s, what)),
    }
}

/// Refuses `s` only when it is a URL with a link-local host: for URLs the server delivers to
/// later that were never checked as destinations (a workflow's own URL, a wait's URLs).
pub(crate) fn check_not_link_local(s: &str, what: &str) -> crate::engine::Result<()> {
    match Url::parse(s).map(|u| is_link_local(&u)) {
        Ok(true) => Err(link_local(s, what)),
        _ => Ok(()),
    }
}

fn link_local(s: &str, what: &str) -> Error {
    Error::bad(format!("{what} url {s:?} {LINK_LOCAL}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_hosts_are_refused_however_they_are_spelled() {
        for s in [
            "http://169.254.169.254/latest/meta-data/",
            "https://169.254.0.1:8443/x?y=1",
            "http://169.254.255.255/",
            "http://169.254.169.254./",
            "http://2852039166/",
            "http://0xA9.0xFE.0xA9.0xFE/",
            "http://0251.0376.0251.0376/",
            "http://0xa9fea9fe/",
            "http://169.254.43518/",
            "http://[fe80::1]/",
            "http://[FE80::a9fe:a9fe]:8080/",
            "http://[febf:ffff::1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[::169.254.169.254]/",
        ] {
            let u = Url::parse(s).unwrap();
            assert_eq!(refusal(&u), Some(Refusal::LinkLocal), "{s} -> {u}");
            let e = check_url(s, "destination").unwrap_err().to_string();
            assert!(e.contains("is a link-local address"), "{e}");
            assert!(e.contains("cloud metadata endpoints are refused"), "{e}");
            assert!(check_not_link_local(s, "wait").is_err(), "{s}");
        }
    }

    #[test]
    fn loopback_private_and_named_hosts_stay_allowed() {
        for s in [
            "http://127.0.0.1:3000/x",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.20:8080/hook",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fec0::1]/",
            "http://[fd00:ec2::254]/",
            "http://169.253.255.255/",
            "http://169.255.0.0/",
            "http://localhost:3000/",
            "http://qstash/",
            // Names are not resolved.
            "http://metadata.google.internal/",
            "http://169.254.169.254.nip.io/",
        ] {
            assert_eq!(refusal(&Url::parse(s).unwrap()), None, "{s}");
            assert!(check_url(s, "destination").is_ok(), "{s}");
            assert!(check_not_link_local(s, "wait").is_ok(), "{s}");
        }
    }

    #[test]
    fn only_absolute_web_urls_are_destinations() {
        for s in ["ftp://example.com/x", "mailto:a@b.c", "file:///etc/passwd"] {
            let e = check_url(s, "endpoint").unwrap_err().to_string();
            assert!(
                e.contains("must be an absolute http:// or https:// URL"),
                "{e}"
            );
            assert!(
                check_not_link_local(s, "wait").is_ok(),
                "only the host is checked"
            );
        }
        assert!(check_url("not a url", "endpoint").is_err());
        assert!(check_not_link_local("", "wait").is_ok());
    }
}
