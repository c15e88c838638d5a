//! Verifying a credential, statelessly and cheapest checks first: method and intent → realm → the id's HMAC (in
//! constant time, under each key) → the charge's fields → the preimage against the payment hash → the binding
//! (how long the credential is good, and for which request). Nothing here needs the Lightning node, a clock (the
//! time is a parameter) or storage: that a payment redeems one job is the caller's to enforce.

use mesh402_l402::{PaymentHash, RequestBinding};
use subtle::ConstantTimeEq;

use crate::challenge::{Binding, CURRENCY, ChallengeKey, INTENT, METHOD};
use crate::credential::PaymentCredential;

/// What a verification needs to know about the request being served.
#[derive(Debug, Clone, Copy)]
pub struct VerifyContext<'a> {
    /// This server's realm; a challenge of another realm is foreign.
    pub realm: &'a str,
    /// The current time, unix seconds.
    pub now_unix: u64,
    /// When set, the credential must have been bought for this request.
    pub request_binding: Option<RequestBinding>,
}

/// A credential that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCharge {
    /// The invoice's payment hash, whose preimage the credential holds.
    pub payment_hash: PaymentHash,
    /// The challenge's id (a receipt names it).
    pub challenge_id: String,
    /// Until when the credential is good, unix seconds.
    pub valid_until: u64,
    /// The amount the challenge asked for, in satoshis.
    pub amount_sats: u64,
}

/// Why a credential was refused, and which problem type (`https://paymentauth.org/problems/…`) says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Another method or intent than the Lightning charge.
    #[error("the credential is for another payment method or intent")]
    MethodUnsupported,
    /// The challenge is another realm's.
    #[error("the challenge is for another realm")]
    ForeignRealm,
    /// The id does not bind the echoed parameters under any of this server's keys (tampered, or not ours).
    #[error("the challenge's id does not verify")]
    BadId,
    /// The challenge carries no expiry, or one that does not read.
    #[error("the challenge has no valid expiry")]
    MissingExpiry,
    /// The charge's fields do not read, or are not a payment in satoshis with a payment hash.
    #[error("the challenge's request is not a Lightning charge in sats")]
    MalformedRequest,
    /// The binding in `opaque` is missing or does not read.
    #[error("the challenge carries no binding")]
    MissingBinding,
    /// The preimage is not 64 lowercase hex characters, or does not hash to the payment hash.
    #[error("the preimage does not match the payment hash")]
    PreimageMismatch,
    /// The credential's time is over.
    #[error("the credential expired at {valid_until}")]
    Expired {
        /// When, unix seconds.
        valid_until: u64,
    },
    /// The credential was bought for another request.
    #[error("the credential is bound to a different request")]
    RequestMismatch,
}

/// The problem types a refusal is answered with (the scheme's own, under `https://paymentauth.org/problems/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No credential, or one that is not for this request.
    PaymentRequired,
    /// The credential does not read.
    MalformedCredential,
    /// The challenge is unknown, tampered with or foreign.
    InvalidChallenge,
    /// The proof does not verify.
    VerificationFailed,
    /// The challenge has expired.
    PaymentExpired,
    /// Another method or intent.
    MethodUnsupported,
}

impl Problem {
    /// The problem's `type` URI.
    pub fn type_uri(&self) -> &'static str {
        match self {
            Problem::PaymentRequired => "https://paymentauth.org/problems/payment-required",
            Problem::MalformedCredential => "https://paymentauth.org/problems/malformed-credential",
            Problem::InvalidChallenge => "https://paymentauth.org/problems/invalid-challenge",
            Problem::VerificationFailed => "https://paymentauth.org/problems/verification-failed",
            Problem::PaymentExpired => "https://paymentauth.org/problems/payment-expired",
            Problem::MethodUnsupported => "https://paymentauth.org/problems/method-unsupported",
        }
    }

    /// The problem's `title`.
    pub fn title(&self) -> &'static str {
        match self {
            Problem::PaymentRequired => "Payment Required",
            Problem::MalformedCredential => "Malformed Credential",
            Problem::InvalidChallenge => "Invalid Challenge",
            Problem::VerificationFailed => "Verification Failed",
            Problem::PaymentExpired => "Payment Expired",
            Problem::MethodUnsupported => "Method Unsupported",
        }
    }
}

impl VerifyError {
    /// A stable snake_case name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MethodUnsupported => "method_unsupported",
            VerifyError::ForeignRealm => "foreign_realm",
            VerifyError::BadId => "bad_challenge_id",
            VerifyError::MissingExpiry => "missing_expiry",
            VerifyError::MalformedRequest => "malformed_charge",
            VerifyError::MissingBinding => "missing_binding",
            VerifyError::PreimageMismatch => "preimage_mismatch",
            VerifyError::Expired { .. } => "expired",
            VerifyError::RequestMismatch => "request_mismatch",
        }
    }

    /// The problem type the refusal is answered with.
    pub fn problem(&self) -> Problem {
        match self {
            VerifyError::MethodUnsupported => Problem::MethodUnsupported,
            VerifyError::ForeignRealm
            | VerifyError::BadId
            | VerifyError::MissingExpiry
            | VerifyError::MalformedRequest
            | VerifyError::MissingBinding => Problem::InvalidChallenge,
            VerifyError::PreimageMismatch => Problem::VerificationFailed,
            VerifyError::Expired { .. } => Problem::PaymentExpired,
            VerifyError::RequestMismatch => Problem::PaymentRequired,
        }
    }
}

/// Verifies `credential` against this server's keys (the current one first, then those still accepted after a
/// rotation).
///
/// The challenge's `expires` says until when its invoice can be paid; a paid credential is accepted until the
/// `valid_until` of its binding (as long as an L402 token of the same sale), because its preimage proves that the
/// invoice was paid in time: a buyer whose retry arrives after the invoice's expiry does not lose the payment.
pub fn verify(
    credential: &PaymentCredential,
    keys: &[ChallengeKey],
    context: &VerifyContext<'_>,
) -> Result<VerifiedCharge, VerifyError> {
    let challenge = &credential.challenge;
    if challenge.method != METHOD || challenge.intent != INTENT {
        return Err(VerifyError::MethodUnsupported);
    }
    if challenge.realm != context.realm {
        return Err(VerifyError::ForeignRealm);
    }
    let bound = keys.iter().fold(subtle::Choice::from(0), |found, key| {
        found | challenge.expected_id(key).as_bytes().ct_eq(challenge.id.as_bytes())
    });
    if !bool::from(bound) {
        return Err(VerifyError::BadId);
    }
    challenge.expires_unix().ok_or(VerifyError::MissingExpiry)?;
    let charge = challenge.charge().map_err(|_| VerifyError::MalformedRequest)?;
    let amount_sats = charge.amount_sats().ok_or(VerifyError::MalformedRequest)?;
    let payment_hash = charge.payment_hash().ok_or(VerifyError::MalformedRequest)?;
    if charge.currency != CURRENCY {
        return Err(VerifyError::MalformedRequest);
    }
    let preimage = credential.preimage().ok_or(VerifyError::PreimageMismatch)?;
    if !bool::from(preimage.hash().0.ct_eq(&payment_hash.0)) {
        return Err(VerifyError::PreimageMismatch);
    }
    let binding = challenge.opaque.as_deref().and_then(Binding::decode).ok_or(VerifyError::MissingBinding)?;
    if context.now_unix >= binding.valid_until {
        return Err(VerifyError::Expired { valid_until: binding.valid_until });
    }
    if context.request_binding.is_some_and(|request| request != binding.request) {
        return Err(VerifyError::RequestMismatch);
    }
    Ok(VerifiedCharge {
        payment_hash,
        challenge_id: challenge.id.clone(),
        valid_until: binding.valid_until,
        amount_sats,
    })
}
