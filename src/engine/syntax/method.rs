//! HTTP methods a message may be delivered with: one of a few names, held as [`Method`] (a
//! `&'static str` underneath, so a spec holds no string of its own), written by name in
//! `-persist`'s files.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub(crate) const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The known method named `m` (any case).
pub(crate) fn known(m: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(m.trim()))
        .copied()
}

/// A known method. A newtype rather than `&'static str` so that a type holding one can be
/// deserialized from a borrowed buffer (serde makes `'de: 'static` of a `&'static str` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Method(pub(crate) &'static str);

impl Method {
    pub(crate) const POST: Method = Method("POST");

    /// `m` when it is a known method name.
    pub(crate) fn of(m: &str) -> Option<Self> {
        known(m).map(Self)
    }

    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = String::deserialize(d)?;
        Self::of(&m).ok_or_else(|| serde::de::Error::custom(format!("unknown method {m}")))
    }
}
