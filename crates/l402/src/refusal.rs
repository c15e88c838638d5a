//! Why a credential is refused: [`VerifyError`], shared by the caveat rules that narrow a token and the verifier
//! that checks it whole.

use crate::identifier::IdentifierError;

/// Why a credential was refused. The server answers every one of them with a fresh 402; the
/// reason is for logs and metrics (see [`VerifyError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The credential carries no macaroon.
    #[error("the credential carries no macaroon")]
    NoMacaroon,
    /// A macaroon's identifier is not a version 0 L402 identifier.
    #[error("the macaroon identifier is not an L402 identifier")]
    BadIdentifier(#[source] IdentifierError),
    /// The credential's macaroons are for different payments.
    #[error("the credential's macaroons have different payment hashes")]
    MixedPaymentHashes,
    /// The preimage does not hash to the identifier's payment hash (the invoice was not paid).
    #[error("the preimage does not match the payment hash")]
    PreimageMismatch,
    /// A macaroon carries more than [`MAX_CAVEATS`](crate::MAX_CAVEATS) caveats.
    #[error("the macaroon carries too many caveats")]
    TooManyCaveats,
    /// The token id has been revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// The signature chain does not verify under any of the keyring's secrets.
    #[error("the macaroon signature is invalid")]
    BadSignature,
    /// The token's validity ended.
    #[error("the token expired at {valid_until}")]
    Expired {
        /// The effective expiry, unix seconds.
        valid_until: u64,
    },
    /// The token does not name the service (or names no service at all).
    #[error("the token is not valid for this service")]
    WrongService,
    /// The token is bound to a different request.
    #[error("the token is bound to a different request")]
    RequestMismatch,
    /// The request must be bound but the token carries no binding.
    #[error("the token carries no request binding")]
    MissingRequestBinding,
    /// A caveat of a known condition has a value that does not parse.
    #[error("the caveat {condition} is malformed")]
    MalformedCaveat {
        /// The caveat's condition.
        condition: String,
    },
    /// A later caveat of a known condition is less restrictive than an earlier one.
    #[error("the caveat {condition} widens an earlier one")]
    WidenedCaveat {
        /// The caveat's condition.
        condition: String,
    },
}

impl VerifyError {
    /// A stable snake_case name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::NoMacaroon => "no_macaroon",
            VerifyError::BadIdentifier(_) => "bad_identifier",
            VerifyError::MixedPaymentHashes => "mixed_payment_hashes",
            VerifyError::PreimageMismatch => "preimage_mismatch",
            VerifyError::TooManyCaveats => "too_many_caveats",
            VerifyError::Revoked => "revoked",
            VerifyError::BadSignature => "bad_signature",
            VerifyError::Expired { .. } => "expired",
            VerifyError::WrongService => "wrong_service",
            VerifyError::RequestMismatch => "request_mismatch",
            VerifyError::MissingRequestBinding => "missing_request_binding",
            VerifyError::MalformedCaveat { .. } => "malformed_caveat",
            VerifyError::WidenedCaveat { .. } => "widened_caveat",
        }
    }
}
