//! The L402 protocol core of mesh402: macaroons, identifiers, caveats, challenges, credentials
//! and their verification, byte-compatible with Aperture, go-macaroon and the L402 clients in the
//! wild.
//!
//! The crate is pure: no I/O, no clock (the time is a parameter), no randomness (the caller picks
//! token ids), no storage (root keys are derived from a server secret, revocation is a callback).
//!
//! # The flow
//!
//! 1. A request arrives without a credential. The server picks a random [`TokenId`], creates an
//!    invoice whose payment hash goes into the [`Identifier`], [`mint`]s a macaroon and answers
//!    402 with [`Challenge::header_values`]. Nothing is stored: the macaroon's root key is derived
//!    from the [`Keyring`]'s secret and the identifier.
//! 2. The client pays and retries with `Authorization: L402 <macaroon>:<preimage>`.
//! 3. The server reads it with [`parse_authorization`] and checks it with [`verify`], which returns
//!    the token or a typed [`VerifyError`].
//!
//! ```
//! use mesh402_l402::{
//!     Challenge, Identifier, Keyring, MintParams, Preimage, RequestBinding, ServerSecret,
//!     TokenId, VerifyContext, VerifyError, mint, parse_authorization, verify,
//! };
//!
//! let keyring = Keyring::new(ServerSecret::from_bytes([7; 32]));
//!
//! // The invoice's preimage is known to the Lightning backend; the payer learns it by paying.
//! let preimage = Preimage([1; 32]);
//! let identifier = Identifier { payment_hash: preimage.hash(), token_id: TokenId([2; 32]) };
//! let binding = RequestBinding::digest(b"the server's canonical encoding of the request");
//! let macaroon = mint(
//!     &keyring,
//!     &identifier,
//!     &MintParams {
//!         service: "3d-model",
//!         tier: 0,
//!         capabilities: &[],
//!         valid_until: 1_700_000_600,
//!         request_binding: Some(binding),
//!     },
//! );
//! let challenge = Challenge { macaroon, invoice: "lnbcrt100n1...".to_owned() };
//! let [first, _legacy] = challenge.header_values();
//! assert!(first.starts_with("L402 macaroon=\""));
//!
//! // The client pays and sends the credential back.
//! let header = format!("L402 {}:{}", challenge.macaroon.to_base64(), preimage.to_hex());
//! let credential = parse_authorization([header.as_str()])?.expect("an L402 credential");
//!
//! let ctx = VerifyContext {
//!     service: "3d-model",
//!     now_unix: 1_700_000_000,
//!     request_binding: Some(binding),
//!     is_revoked: &|_| false,
//! };
//! let token = verify(&credential, &keyring, &ctx)?;
//! assert_eq!(token.token_id, identifier.token_id);
//!
//! // Ten minutes later the token has expired.
//! let later = VerifyContext { now_unix: 1_700_000_600, ..ctx };
//! assert!(matches!(verify(&credential, &keyring, &later), Err(VerifyError::Expired { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod caveat;
mod challenge;
mod credential;
mod identifier;
mod keyring;
mod macaroon;
mod refusal;
mod types;
mod verify;

#[cfg(test)]
mod vectors;

pub use challenge::{Challenge, ChallengeError, LOCATION, MintParams, mint};
pub use credential::{
    Credential, CredentialError, MAX_MACAROONS, PREIMAGE_CONDITION, parse_authorization, parse_macaroon_header,
};
pub use identifier::{IDENTIFIER_LEN, Identifier, IdentifierError};
pub use keyring::Keyring;
pub use macaroon::{DecodeError, Macaroon};
pub use refusal::VerifyError;
pub use types::{HexError, Msat, PaymentHash, Preimage, RequestBinding, RootKey, ServerSecret, TokenId};
pub use verify::{MAX_CAVEATS, VerifiedToken, VerifyContext, verify, verify_unpaid};
