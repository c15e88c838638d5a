//! Newtypes for the values L402 passes around: hashes, preimages, token ids, amounts and secrets.
//!
//! Each type carries its precondition (32 bytes, a non-negative amount) so that functions taking one
//! never re-check it. Secrets (`Preimage`, `ServerSecret`, `RootKey`) never print their bytes in `Debug`.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a hexadecimal string could not be read as 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HexError {
    /// The string does not have exactly 64 characters.
    #[error("expected 64 hexadecimal characters, found {found}")]
    Length {
        /// The number of bytes found in the string.
        found: usize,
    },
    /// A character is not a hexadecimal digit.
    #[error("the string contains a character that is not a hexadecimal digit")]
    InvalidDigit,
}

/// Reads exactly 64 hexadecimal characters (either case) into 32 bytes.
pub(crate) fn parse_hex32(s: &str) -> Result<[u8; 32], HexError> {
    if s.len() != 64 {
        return Err(HexError::Length { found: s.len() });
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| HexError::InvalidDigit)?;
    Ok(out)
}

/// Implements `Display`, `Debug` (both lowercase hex) and `FromStr` (hex, either case) for a public
/// 32-byte newtype.
macro_rules! public_hex_newtype {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = HexError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex32(s).map($name)
            }
        }
    };
}

/// The SHA-256 hash of a Lightning payment's preimage: what the invoice commits to and what the
/// identifier of every token carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentHash(pub [u8; 32]);
public_hex_newtype!(PaymentHash);

/// A token's stable id: 32 bytes chosen by the minting server (at random, or [derived from the
/// payment hash](TokenId::of_payment)), the last part of the identifier. Revocation and bookkeeping
/// refer to a token by this id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub [u8; 32]);
public_hex_newtype!(TokenId);

impl TokenId {
    /// The token id of the one token sold for an invoice: `SHA-256("mesh402 token id" ‖ payment hash)`. A server
    /// that offers one invoice through several payment schemes gives every credential for it this id, so the
    /// payment is counted once whichever scheme presents it. Part of the stored format: never change it.
    pub fn of_payment(payment_hash: &PaymentHash) -> TokenId {
        let mut hasher = Sha256::new();
        hasher.update(b"mesh402 token id");
        hasher.update(payment_hash.0);
        TokenId(hasher.finalize().into())
    }
}

/// The SHA-256 digest of the server's canonical encoding of a request (the image bytes and the
/// options, independent of JSON formatting). A token minted with a binding is good for that request
/// only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestBinding(pub [u8; 32]);
public_hex_newtype!(RequestBinding);

impl RequestBinding {
    /// Hashes a canonical request encoding into a binding. What goes into `canonical` is the
    /// server's decision; this crate only commits to the digest.
    pub fn digest(canonical: &[u8]) -> RequestBinding {
        RequestBinding(Sha256::digest(canonical).into())
    }
}

/// The secret a payer learns by paying the invoice. `Debug` never prints it; equality is checked in
/// constant time.
#[derive(Clone)]
pub struct Preimage(pub [u8; 32]);

impl Preimage {
    /// The payment hash this preimage opens: `sha256(preimage)`.
    pub fn hash(&self) -> PaymentHash {
        PaymentHash(Sha256::digest(self.0).into())
    }

    /// The preimage as 64 lowercase hexadecimal characters (what a credential carries).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Preimage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Preimage(***)")
    }
}

impl PartialEq for Preimage {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Preimage {}

impl FromStr for Preimage {
    type Err = HexError;

    /// Reads 64 hexadecimal characters, either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s).map(Preimage)
    }
}

/// An amount in millisatoshis (1 sat = 1000 msat), the unit of BOLT11 amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Msat(pub u64);

impl Msat {
    /// Converts whole satoshis into millisatoshis, saturating at `u64::MAX` msat.
    pub fn from_sats(sats: u64) -> Msat {
        Msat(sats.saturating_mul(1000))
    }

    /// The amount in whole satoshis, rounded down.
    pub fn sats(&self) -> u64 {
        self.0 / 1000
    }
}

impl fmt::Display for Msat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} msat", self.0)
    }
}

/// The server's long-lived secret from which every token's root key is derived (see
/// [`Keyring`](crate::Keyring)). Loading and storing it is the server's business; `Debug` prints
/// `***`.
#[derive(Clone)]
pub struct ServerSecret([u8; 32]);

impl ServerSecret {
    /// Wraps 32 secret bytes (they should come from a cryptographically secure random source).
    pub fn from_bytes(bytes: [u8; 32]) -> ServerSecret {
        ServerSecret(bytes)
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for ServerSecret {
    type Err = HexError;

    /// Reads 64 hexadecimal characters, either case (a convenient form for a key file).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s.trim()).map(ServerSecret)
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The root key of one macaroon: derived per token from a [`ServerSecret`] and the identifier, so
/// it is never stored. `Debug` prints `***`.
#[derive(Clone)]
pub struct RootKey([u8; 32]);

impl RootKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> RootKey {
        RootKey(bytes)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_id_of_a_payment_is_pinned() {
        // Part of the stored format: jobs are keyed by it.
        let id = TokenId::of_payment(&PaymentHash([0; 32]));
        assert_eq!(id.to_string(), "e0feae1a249ff483c6e219ae7f02694ae2734d9db18cccc01b2c7f6a85cc581b");
        assert_ne!(TokenId::of_payment(&PaymentHash([1; 32])), id);
    }

    #[test]
    fn payment_hash_hex_round_trip_either_case() {
        let upper = "630DCD2966C4336691125448BBB25B4FF412A49C732DB2C8ABC1B8581BD710DD";
        let hash: PaymentHash = upper.parse().unwrap();
        assert_eq!(hash.to_string(), upper.to_lowercase());
        assert_eq!(format!("{hash:?}"), upper.to_lowercase());
    }

    #[test]
    fn preimage_hashes_to_tv2_payment_hash_and_hides_itself() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let preimage = Preimage(bytes);
        assert_eq!(preimage.hash().to_string(), "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd");
        assert_eq!(format!("{preimage:?}"), "Preimage(***)");
        assert_eq!(preimage.to_hex().parse::<Preimage>().unwrap(), preimage);
    }

    #[test]
    fn hex_parsing_rejects_wrong_length_and_digits() {
        assert_eq!("ab".repeat(31).parse::<TokenId>(), Err(HexError::Length { found: 62 }));
        let sixty_three = "a".repeat(63);
        assert_eq!(sixty_three.parse::<Preimage>(), Err(HexError::Length { found: 63 }));
        assert_eq!("zz".repeat(32).parse::<PaymentHash>(), Err(HexError::InvalidDigit));
        // A multi-byte character must not be mistaken for two hex digits.
        let tricky = format!("{}é", "a".repeat(62));
        assert!(tricky.parse::<PaymentHash>().is_err());
    }

    #[test]
    fn msat_conversions() {
        assert_eq!(Msat::from_sats(10), Msat(10_000));
        assert_eq!(Msat(10_999).sats(), 10);
        assert_eq!(Msat::from_sats(u64::MAX), Msat(u64::MAX));
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", ServerSecret::from_bytes([7; 32])), "***");
        assert_eq!(format!("{:?}", RootKey::from_bytes([7; 32])), "***");
    }
}
