//! Name resolution for deliveries: the system's resolver, as the HTTP client uses by default,
//! with link-local addresses (169.254.0.0/16, fe80::/10: the cloud metadata endpoints) dropped.
//! Publishing refuses those addresses written out; this refuses them behind a name
//! (`metadata.google.internal`), behind a redirect to a name, and after a name is re-pointed,
//! since every connection resolves again. IP literals never reach a resolver (the redirect
//! policy and the publish check cover them).

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::engine::syntax::urls::is_link_local_ip;

/// The system resolver without link-local answers.
pub(crate) struct NoLinkLocal;

impl Resolve for NoLinkLocal {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let kept = usable(&host, found)?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `host` a delivery may connect to: all but the link-local ones, and an
/// error when those were all it had.
fn usable(host: &str, found: impl Iterator<Item = SocketAddr>) -> Result<Vec<SocketAddr>, String> {
    let (refused, kept): (Vec<_>, Vec<_>) = found.partition(|a| is_link_local_ip(a.ip()));
    match (kept.is_empty(), refused.first()) {
        (true, Some(a)) => Err(format!(
            "{host} resolves to the link-local address {} (cloud metadata endpoints are refused)",
            a.ip()
        )),
        _ => Ok(kept),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn link_local_answers_are_dropped_and_a_name_with_only_those_is_refused() {
        let mixed = addrs(&["169.254.169.254:0", "127.0.0.1:0", "[fe80::1]:0", "[::1]:0"]);
        assert_eq!(
            usable("both", mixed.into_iter()).unwrap(),
            addrs(&["127.0.0.1:0", "[::1]:0"])
        );
        let e = usable(
            "metadata.google.internal",
            addrs(&["169.254.169.254:0"]).into_iter(),
        )
        .unwrap_err();
        assert!(
            e.contains(
                "metadata.google.internal resolves to the link-local address 169.254.169.254"
            ),
            "{e}"
        );
        let mapped = addrs(&["[::ffff:169.254.169.254]:0"]);
        assert!(usable("mapped", mapped.into_iter()).is_err());
        assert_eq!(usable("none", std::iter::empty()).unwrap(), addrs(&[]));
    }

    #[tokio::test]
    async fn localhost_still_resolves() {
        let got = NoLinkLocal
            .resolve("localhost".parse().unwrap())
            .await
            .expect("localhost resolves");
        assert!(got.into_iter().all(|a| a.ip().is_loopback()));
    }
}
