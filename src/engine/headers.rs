//! Header lists as the engine stores them: ordered `(name, value)` pairs with names in Go's
//! canonical form (`Content-Type`, `Test-Header`), which is how the hosted service echoes them.

use std::collections::BTreeMap;

/// Ordered header pairs; a name may repeat.
pub type Headers = Vec<(String, String)>;

/// `content-TYPE` -> `Content-Type`, like Go's `http.CanonicalHeaderKey`.
pub fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        match (c.is_ascii(), upper) {
            // Header names are ASCII; the Unicode mappings below are for odd input only.
            (true, true) => out.push(c.to_ascii_uppercase()),
            (true, false) => out.push(c.to_ascii_lowercase()),
            (false, true) => out.extend(c.to_uppercase()),
            (false, false) => out.extend(c.to_lowercase()),
        }
        upper = c == '-';
    }
    out
}

/// Groups pairs into the `{"Name": ["v1", "v2"]}` map of the JSON API, sorted by name.
pub fn to_map(headers: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers {
        map.entry(k.clone()).or_default().push(v.clone());
    }
    map
}

/// The first value of `name` (any case).
pub fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Replaces every value of the names in `overrides` and keeps the rest in order.
pub fn merge(base: &[(String, String)], overrides: &[(String, String)]) -> Headers {
    let mut out: Headers = base
        .iter()
        .filter(|(k, _)| !overrides.iter().any(|(o, _)| o.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    out.extend(overrides.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_follow_go() {
        assert_eq!(canonical("content-type"), "Content-Type");
        assert_eq!(canonical("X-CUSTOM-header"), "X-Custom-Header");
        assert_eq!(
            canonical("bypass-tunnel-reminder"),
            "Bypass-Tunnel-Reminder"
        );
    }

    #[test]
    fn map_groups_repeated_names() {
        let h = vec![
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "2".to_string()),
            ("A".to_string(), "3".to_string()),
        ];
        let m = to_map(&h);
        assert_eq!(m["A"], vec!["1", "3"]);
        assert_eq!(m["B"], vec!["2"]);
    }

    #[test]
    fn merge_replaces_by_name_in_any_case() {
        let base = vec![("A".into(), "1".into()), ("B".into(), "2".into())];
        let over = vec![("a".into(), "9".into())];
        assert_eq!(
            merge(&base, &over),
            vec![("B".into(), "2".into()), ("a".into(), "9".into())]
        );
    }
}
