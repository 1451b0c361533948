//! Versioned bytes for split state, enumerator state, writer state and committables.
//!
//! Flink stores these in its checkpoints through `SimpleVersionedSerializer`; Headrace's runner writes
//! them into its own checkpoint files. The version lets a newer connector read state written by an
//! older one.

use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Serialized state with the version of the serializer that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedBytes {
    /// Serializer version.
    pub version: u32,
    /// The bytes (base64 in JSON).
    #[serde(serialize_with = "ser_b64", deserialize_with = "de_b64")]
    pub bytes: Vec<u8>,
}

fn ser_b64<S: Serializer>(b: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
}

fn de_b64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(serde::de::Error::custom)
}

impl VersionedBytes {
    /// Serialize `value` (as JSON) with `version`.
    pub fn encode<T: Serialize>(version: u32, what: &str, value: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Serde {
            what: what.to_string(),
            reason: e.to_string(),
        })?;
        Ok(VersionedBytes { version, bytes })
    }

    /// Deserialize, refusing versions newer than `max_version`.
    pub fn decode<T: DeserializeOwned>(&self, max_version: u32, what: &str) -> Result<T> {
        if self.version > max_version {
            return Err(Error::StateVersion {
                what: what.to_string(),
                found: self.version,
                supported: max_version,
            });
        }
        serde_json::from_slice(&self.bytes).map_err(|e| Error::Serde {
            what: what.to_string(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let v = VersionedBytes::encode(2, "split", &vec![1u64, 2, 3]).unwrap();
        let back: Vec<u64> = v.decode(2, "split").unwrap();
        assert_eq!(back, vec![1, 2, 3]);
        let e = v.decode::<Vec<u64>>(1, "split").unwrap_err().to_string();
        assert!(e.contains("version 2"), "{e}");
        let json = serde_json::to_string(&v).unwrap();
        let v2: VersionedBytes = serde_json::from_str(&json).unwrap();
        assert_eq!(v, v2);
    }
}
