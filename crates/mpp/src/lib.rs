//! The `Payment` HTTP authentication scheme (the Machine Payments Protocol, IETF draft
//! `draft-ryan-httpauth-payment`) with its Lightning `charge` method, for both sides of a sale.
//!
//! The crate is pure: no I/O, no clock (the time is a parameter), no randomness, no storage (a challenge's id is an
//! HMAC of its parameters, so a server verifies the echo of a challenge it never recorded).
//!
//! # The flow
//!
//! 1. A request arrives without a credential. The server makes an invoice and answers 402 with
//!    `WWW-Authenticate: Payment …` ([`PaymentChallenge::issue`], [`PaymentChallenge::header_value`]); mesh402
//!    sends it beside its L402 challenge, for the same invoice.
//! 2. The client reads it ([`parse_challenges`], [`PaymentChallenge::from_parsed`]), pays the invoice in
//!    [`PaymentChallenge::charge`] and retries with `Authorization: Payment …` ([`PaymentCredential::new`],
//!    [`PaymentCredential::header_value`]).
//! 3. The server reads it ([`parse_authorization`]), checks it ([`verify`]) and answers with a
//!    `Payment-Receipt` ([`Receipt`]).
//!
//! ```
//! use mesh402_l402::{Preimage, RequestBinding};
//! use mesh402_mpp::{
//!     Binding, ChallengeKey, ChallengeParts, ChargeRequest, PaymentChallenge, PaymentCredential, VerifyContext,
//!     parse_authorization, parse_challenges, verify,
//! };
//!
//! let key = ChallengeKey::from_bytes([7; 32]);
//! let preimage = Preimage([1; 32]);
//! let request = RequestBinding::digest(b"the request");
//! let charge = ChargeRequest::new(100, "lnbcrt1u1...", preimage.hash(), Some("one model"));
//! let binding = Binding { request, valid_until: 1_700_086_400 };
//! let parts = ChallengeParts {
//!     realm: "models.example",
//!     request: &charge,
//!     expires_unix: 1_700_000_600,
//!     digest: None,
//!     binding,
//!     description: None,
//! };
//! let header = PaymentChallenge::issue(&key, &parts)?.header_value();
//!
//! // The client reads the challenge, pays the invoice and sends the preimage back.
//! let parsed = parse_challenges(&header);
//! let challenge = PaymentChallenge::from_parsed(&parsed[0]).expect("a Payment challenge")?;
//! assert_eq!(challenge.charge()?.method_details.invoice, "lnbcrt1u1...");
//! let authorization = PaymentCredential::new(challenge, &preimage).header_value();
//!
//! let credential = parse_authorization([authorization.as_str()])?.expect("a Payment credential");
//! let context = VerifyContext { realm: "models.example", now_unix: 1_700_000_000, request_binding: Some(request) };
//! let charge = verify(&credential, &[key], &context)?;
//! assert_eq!(charge.payment_hash, preimage.hash());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod accept;
mod challenge;
mod credential;
mod params;
mod receipt;
mod verify;

#[cfg(test)]
mod vectors;

pub use accept::accepts;
pub use challenge::{
    Binding, BodyDigest, CURRENCY, ChallengeError, ChallengeKey, ChallengeParts, ChargeRequest, INTENT,
    MAX_REQUEST_LEN, METHOD, MethodDetails, Network, PaymentChallenge, SCHEME, format_time, parse_time,
};
pub use credential::{ChargePayload, CredentialError, MAX_CREDENTIAL_LEN, PaymentCredential, parse_authorization};
pub use params::{ParsedChallenge, parse_challenges};
pub use receipt::{RECEIPT_HEADER, Receipt};
pub use verify::{Problem, VerifiedCharge, VerifyContext, VerifyError, verify};
