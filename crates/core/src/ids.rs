//! The ids of jobs, stored models and workers: random bytes, written as lowercase hex in URLs, file names and the
//! database.

use std::fmt;
use std::str::FromStr;

/// A string that is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {kind}: expected {hex_len} lowercase hex digits")]
pub struct InvalidId {
    /// The kind of id expected (`job id`, `model id`).
    pub kind: &'static str,
    /// How many hex digits that kind has.
    pub hex_len: usize,
}

/// Implements `Display`, `Debug` and `FromStr` (exactly `2 * len` lowercase hex digits) for an id. Fresh ids are
/// made where randomness is (the service, from the operating system's generator): this crate has none.
macro_rules! hex_id {
    ($name:ident, $len:literal, $kind:literal) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(text: &str) -> Result<$name, InvalidId> {
                let invalid = InvalidId { kind: $kind, hex_len: 2 * $len };
                // Lowercase only: one id has one spelling, in URLs and on disk alike.
                if text.len() != 2 * $len || !text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(invalid);
                }
                let mut bytes = [0u8; $len];
                hex::decode_to_slice(text, &mut bytes).map_err(|_| invalid)?;
                Ok($name(bytes))
            }
        }
    };
}

/// A job's id: 16 random bytes. It names the job in status URLs and its input file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub [u8; 16]);
hex_id!(JobId, 16, "job id");

/// A stored model's id: 32 random bytes. The download URL carries it, so it must be unguessable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId(pub [u8; 32]);
hex_id!(ModelId, 32, "model id");

/// A worker's id: 16 random bytes, new for every process that runs generations. It names the holder of a job's
/// lease (the store's `Lease`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(pub [u8; 16]);
hex_id!(WorkerId, 16, "worker id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_lowercase_hex_only() {
        let job_id = JobId([0x5a; 16]);
        assert_eq!(job_id.to_string().parse::<JobId>(), Ok(job_id));
        let model_id = ModelId([0xab; 32]);
        assert_eq!(model_id.to_string(), "ab".repeat(32));
        assert_eq!(format!("{model_id:?}"), format!("ModelId({})", "ab".repeat(32)));
        assert!("AB".repeat(32).parse::<ModelId>().is_err(), "uppercase is another spelling");
        assert!("ab".repeat(16).parse::<ModelId>().is_err(), "a job id is not a model id");
        assert!("../../etc/passwd".parse::<JobId>().is_err());
        assert!("zz".repeat(16).parse::<JobId>().is_err());
    }
}
