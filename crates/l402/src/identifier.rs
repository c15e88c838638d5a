//! The L402 macaroon identifier, version 0: `u16 version ‖ payment_hash[32] ‖ token_id[32]`.

use crate::types::{PaymentHash, TokenId};

/// The only identifier version L402 defines.
const VERSION_0: u16 = 0;

/// The encoded length of a version 0 identifier.
pub const IDENTIFIER_LEN: usize = 66;

/// Why bytes are not a version 0 identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// The identifier is not exactly 66 bytes long.
    #[error("the identifier is {len} bytes long, expected 66")]
    Length {
        /// The length found.
        len: usize,
    },
    /// The version is not 0.
    #[error("unknown identifier version {0}")]
    UnknownVersion(u16),
}

impl IdentifierError {
    /// A stable snake_case name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            IdentifierError::Length { .. } => "identifier_length",
            IdentifierError::UnknownVersion(_) => "identifier_version",
        }
    }
}

/// A version 0 identifier: which payment unlocks the token and the token's stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// The hash of the invoice's payment preimage.
    pub payment_hash: PaymentHash,
    /// The token's id (32 random bytes chosen by the minting server).
    pub token_id: TokenId,
}

impl Identifier {
    /// Encodes as 66 bytes, big-endian: version 0, payment hash, token id.
    pub fn encode(&self) -> [u8; IDENTIFIER_LEN] {
        let mut out = [0u8; IDENTIFIER_LEN];
        out[..2].copy_from_slice(&VERSION_0.to_be_bytes());
        out[2..34].copy_from_slice(&self.payment_hash.0);
        out[34..].copy_from_slice(&self.token_id.0);
        out
    }

    /// Decodes exactly 66 bytes of version 0; any other length or version is rejected.
    pub fn decode(bytes: &[u8]) -> Result<Identifier, IdentifierError> {
        let bytes: &[u8; IDENTIFIER_LEN] =
            bytes.try_into().map_err(|_| IdentifierError::Length { len: bytes.len() })?;
        let version = u16::from_be_bytes([bytes[0], bytes[1]]);
        let (payment_hash, token_id) = bytes[2..].split_at(32);
        if version != VERSION_0 {
            return Err(IdentifierError::UnknownVersion(version));
        }
        // Both halves are exactly 32 bytes by construction of the 66-byte array.
        let payment_hash: [u8; 32] =
            payment_hash.try_into().map_err(|_| IdentifierError::Length { len: bytes.len() })?;
        let token_id: [u8; 32] = token_id.try_into().map_err(|_| IdentifierError::Length { len: bytes.len() })?;
        Ok(Identifier { payment_hash: PaymentHash(payment_hash), token_id: TokenId(token_id) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TV4: hash = bytes 1..=32, token = bytes 32..=1.
    fn tv4() -> Identifier {
        let mut hash = [0u8; 32];
        let mut token = [0u8; 32];
        for i in 0..32u8 {
            hash[usize::from(i)] = i + 1;
            token[usize::from(i)] = 32 - i;
        }
        Identifier { payment_hash: PaymentHash(hash), token_id: TokenId(token) }
    }

    #[test]
    fn tv4_encoding() {
        let expected = format!(
            "0000{}{}",
            (1..=32u8).map(|b| format!("{b:02x}")).collect::<String>(),
            (1..=32u8).rev().map(|b| format!("{b:02x}")).collect::<String>()
        );
        assert_eq!(hex::encode(tv4().encode()), expected);
        assert_eq!(Identifier::decode(&tv4().encode()), Ok(tv4()));
    }

    #[test]
    fn tv4_version_1_fails() {
        let mut bytes = tv4().encode();
        bytes[1] = 1;
        assert_eq!(Identifier::decode(&bytes), Err(IdentifierError::UnknownVersion(1)));
    }

    #[test]
    fn other_lengths_fail() {
        let bytes = tv4().encode();
        assert_eq!(Identifier::decode(&bytes[..65]), Err(IdentifierError::Length { len: 65 }));
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(Identifier::decode(&longer), Err(IdentifierError::Length { len: 67 }));
        assert_eq!(Identifier::decode(&[]), Err(IdentifierError::Length { len: 0 }));
        // boltwall-style: 132 ASCII hex characters instead of 66 bytes.
        let ascii_hex = hex::encode(bytes);
        assert_eq!(Identifier::decode(ascii_hex.as_bytes()), Err(IdentifierError::Length { len: 132 }));
    }
}
