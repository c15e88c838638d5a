//! The credential: `Authorization: Payment <base64url of {"challenge": {…}, "payload": {"preimage": "…"}}>`.
//!
//! It is read as JSON, never compared as bytes: clients order and escape keys differently. The echoed challenge's
//! values are compared as the strings they are.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mesh402_l402::Preimage;
use serde::{Deserialize, Serialize};

use crate::challenge::{PaymentChallenge, SCHEME, decode_base64url};

/// The longest credential token read, in characters (64 KiB once decoded).
pub const MAX_CREDENTIAL_LEN: usize = 87_382;

/// A `Payment` credential: the echoed challenge and the proof of payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCredential {
    /// The challenge as the server sent it.
    pub challenge: PaymentChallenge,
    /// The proof.
    pub payload: ChargePayload,
    /// Who paid (a DID); optional and never required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The Lightning charge's proof: the invoice's preimage, 64 lowercase hex characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargePayload {
    /// The preimage.
    pub preimage: String,
}

impl std::fmt::Debug for ChargePayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChargePayload { preimage: *** }")
    }
}

/// Why an `Authorization: Payment` value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The scheme has no token.
    #[error("the Payment credential is empty")]
    Empty,
    /// The token is longer than [`MAX_CREDENTIAL_LEN`].
    #[error("the Payment credential is too long")]
    TooLong,
    /// The token is not base64url.
    #[error("the Payment credential is not base64url")]
    NotBase64url,
    /// The token is not a credential's JSON (a challenge and a payload).
    #[error("the Payment credential is not a credential")]
    NotCredential,
    /// The request carries two different `Payment` credentials.
    #[error("the request carries more than one Payment credential")]
    Several,
}

impl CredentialError {
    /// A stable snake_case name, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::Empty => "empty",
            CredentialError::TooLong => "too_long",
            CredentialError::NotBase64url => "not_base64url",
            CredentialError::NotCredential => "not_credential",
            CredentialError::Several => "several_credentials",
        }
    }
}

impl PaymentCredential {
    /// A credential answering `challenge` with the preimage the payment revealed.
    pub fn new(challenge: PaymentChallenge, preimage: &Preimage) -> PaymentCredential {
        PaymentCredential { challenge, payload: ChargePayload { preimage: preimage.to_hex() }, source: None }
    }

    /// The `Authorization` value: `Payment <base64url, no padding>`.
    pub fn header_value(&self) -> String {
        let json = serde_json::to_vec(self).expect("a credential is plain strings");
        format!("{SCHEME} {}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Reads a token (what follows `Payment `).
    pub fn decode(token: &str) -> Result<PaymentCredential, CredentialError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(CredentialError::Empty);
        }
        if token.len() > MAX_CREDENTIAL_LEN {
            return Err(CredentialError::TooLong);
        }
        let json = decode_base64url(token).ok_or(CredentialError::NotBase64url)?;
        serde_json::from_slice(&json).map_err(|_| CredentialError::NotCredential)
    }

    /// The preimage, if it is 64 lowercase hex characters.
    pub fn preimage(&self) -> Option<Preimage> {
        let text = &self.payload.preimage;
        if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        text.parse().ok()
    }

    /// Whether a body with this digest is the body the challenge was made for (always, when the challenge carried
    /// no digest).
    pub fn digest_matches(&self, body: &crate::BodyDigest) -> bool {
        self.challenge.digest.as_deref().is_none_or(|digest| digest == body.as_str())
    }
}

/// The `Payment` credential among a request's `Authorization` values: `Ok(None)` when none uses the scheme (its
/// name is matched in any case), an error when one does not read or two differ.
pub fn parse_authorization<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Option<PaymentCredential>, CredentialError> {
    let mut found: Option<PaymentCredential> = None;
    for value in values {
        let value = value.trim_start();
        let (scheme, token) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            continue;
        }
        let credential = PaymentCredential::decode(token)?;
        match &found {
            Some(previous) if *previous != credential => return Err(CredentialError::Several),
            Some(_) => {}
            None => found = Some(credential),
        }
    }
    Ok(found)
}
