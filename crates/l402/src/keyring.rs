//! The server's secrets and the per-token root keys derived from them.
//!
//! A root key is `HMAC-SHA256(key = server secret, msg = "mesh402 root key" ‖ identifier)`, where
//! the identifier is its 66-byte encoding. Because the identifier carries a random token id, every
//! token gets its own root key, and because the key is recomputed on demand, issuing a challenge
//! stores nothing: an unpaid 402 costs no database row. Changing this derivation invalidates every
//! outstanding token, so it is part of the stored format.
//!
//! Rotation: a [`Keyring`] holds the current secret (used to mint) and optionally the previous one
//! (still accepted when verifying), so tokens minted before a rotation stay good until they expire.

use std::fmt;

use crate::identifier::Identifier;
use crate::macaroon::hmac_sha256;
use crate::types::{RootKey, ServerSecret};

/// The domain-separation prefix of the root-key derivation.
const ROOT_KEY_CONTEXT: &[u8] = b"mesh402 root key";

/// The server secrets that mint and verify tokens: the current one and, during a rotation, the
/// previous one. `Debug` prints `***`.
#[derive(Clone)]
pub struct Keyring {
    current: ServerSecret,
    previous: Option<ServerSecret>,
}

impl Keyring {
    /// A keyring that mints and verifies with `current` only.
    pub fn new(current: ServerSecret) -> Keyring {
        Keyring { current, previous: None }
    }

    /// Also accepts tokens minted under `previous` (the secret that `current` replaced).
    pub fn with_previous(self, previous: ServerSecret) -> Keyring {
        Keyring { previous: Some(previous), ..self }
    }

    /// The root key of the token with this identifier under the current secret: the key minting
    /// uses.
    pub fn root_key(&self, identifier: &Identifier) -> RootKey {
        derive_root_key(&self.current, identifier)
    }

    /// Keys for another purpose than macaroons, named by `context`: `HMAC-SHA256(key = secret, msg = context)` of
    /// the current secret, then of the previous one (during a rotation). `context` must differ from every other
    /// use of the secrets (it is never `"mesh402 root key"` followed by an identifier).
    pub fn derived_keys(&self, context: &[u8]) -> Vec<[u8; 32]> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(|secret| hmac_sha256(secret.as_bytes(), context))
            .collect()
    }

    /// The root key of the token with this identifier under the previous secret, if there is one.
    pub fn previous_root_key(&self, identifier: &Identifier) -> Option<RootKey> {
        self.previous.as_ref().map(|secret| derive_root_key(secret, identifier))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

fn derive_root_key(secret: &ServerSecret, identifier: &Identifier) -> RootKey {
    let mut message = [0u8; ROOT_KEY_CONTEXT.len() + crate::identifier::IDENTIFIER_LEN];
    let (context, encoded) = message.split_at_mut(ROOT_KEY_CONTEXT.len());
    context.copy_from_slice(ROOT_KEY_CONTEXT);
    encoded.copy_from_slice(&identifier.encode());
    RootKey::from_bytes(hmac_sha256(secret.as_bytes(), &message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{PaymentHash, TokenId};

    fn identifier(token: u8) -> Identifier {
        Identifier { payment_hash: PaymentHash([1; 32]), token_id: TokenId([token; 32]) }
    }

    #[test]
    fn root_keys_differ_per_token_and_per_secret() {
        let keyring = Keyring::new(ServerSecret::from_bytes([9; 32]));
        assert_ne!(keyring.root_key(&identifier(1)).as_bytes(), keyring.root_key(&identifier(2)).as_bytes());
        let other = Keyring::new(ServerSecret::from_bytes([8; 32]));
        assert_ne!(keyring.root_key(&identifier(1)).as_bytes(), other.root_key(&identifier(1)).as_bytes());
    }

    #[test]
    fn derivation_is_pinned() {
        // The derivation is part of the stored format: this value must never change.
        let keyring = Keyring::new(ServerSecret::from_bytes([0; 32]));
        assert_eq!(
            hex::encode(keyring.root_key(&identifier(1)).as_bytes()),
            "56d4c55bc87598e88e64221bf6059c84d0911d8421d50cc51f776ad6d1212442"
        );
    }

    #[test]
    fn derived_keys_are_pinned_and_follow_rotation() {
        let keyring = Keyring::new(ServerSecret::from_bytes([0; 32]));
        let [current] = keyring.derived_keys(b"mesh402 payment challenge").try_into().unwrap();
        assert_eq!(hex::encode(current), "0a7a95ebbea393f4d6e2269c5b07db0c1d32ad49ad1c10a521366412f9b6cada");
        assert_ne!(keyring.derived_keys(b"other")[0], current);
        let rotated = Keyring::new(ServerSecret::from_bytes([1; 32])).with_previous(ServerSecret::from_bytes([0; 32]));
        assert_eq!(rotated.derived_keys(b"mesh402 payment challenge")[1], current);
    }

    #[test]
    fn rotation_keeps_the_previous_secret() {
        let old = ServerSecret::from_bytes([1; 32]);
        let new = ServerSecret::from_bytes([2; 32]);
        let before = Keyring::new(old.clone());
        let after = Keyring::new(new).with_previous(old);
        assert_eq!(
            after.previous_root_key(&identifier(3)).unwrap().as_bytes(),
            before.root_key(&identifier(3)).as_bytes()
        );
        assert!(before.previous_root_key(&identifier(3)).is_none());
        assert_eq!(format!("{after:?}"), "***");
    }
}
