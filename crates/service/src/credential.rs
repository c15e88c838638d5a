//! A paid request's credential, whichever scheme carries it: an L402 token (`Authorization: L402 …`) or a
//! `Payment` credential (`Authorization: Payment …`, the Lightning charge). Both prove the payment of one invoice
//! (the 402 offers the same invoice in both), so both lead to one token id, derived from the payment hash
//! ([`TokenId::of_payment`]): one payment buys one job whichever scheme presents it, and never a second through
//! the other.

use std::fmt;
use std::str::FromStr;

use mesh402_l402::{TokenId, VerifiedToken};

/// A credential as the HTTP layer read it.
#[derive(Debug, Clone)]
pub enum Credential {
    /// Macaroons and a preimage.
    L402(mesh402_l402::Credential),
    /// An echoed `Payment` challenge and a preimage.
    Payment(Box<mesh402_mpp::PaymentCredential>),
}

impl Credential {
    /// The scheme that carries it.
    pub fn scheme(&self) -> Scheme {
        match self {
            Credential::L402(_) => Scheme::L402,
            Credential::Payment(_) => Scheme::Payment,
        }
    }
}

/// An HTTP authentication scheme a buyer may pay through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `L402` (and its legacy name `LSAT`).
    L402,
    /// `Payment` with the Lightning charge.
    Payment,
}

/// The schemes a server offers in its 402 and accepts credentials of. `both` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OfferedSchemes {
    /// L402 only.
    L402,
    /// `Payment` only.
    Payment,
    /// Both: the L402 challenge first, then the `Payment` one, for the same invoice.
    #[default]
    Both,
}

impl OfferedSchemes {
    /// Every value, in the order the setting documents them.
    pub const ALL: [OfferedSchemes; 3] = [OfferedSchemes::L402, OfferedSchemes::Payment, OfferedSchemes::Both];

    /// Whether `scheme` is offered.
    pub fn offers(self, scheme: Scheme) -> bool {
        matches!(
            (self, scheme),
            (OfferedSchemes::Both, _)
                | (OfferedSchemes::L402, Scheme::L402)
                | (OfferedSchemes::Payment, Scheme::Payment)
        )
    }

    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferedSchemes::L402 => "l402",
            OfferedSchemes::Payment => "payment",
            OfferedSchemes::Both => "both",
        }
    }
}

impl fmt::Display for OfferedSchemes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OfferedSchemes {
    type Err = mesh402_core::UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        mesh402_core::UnknownName::find(&OfferedSchemes::ALL, |schemes| schemes.as_str(), text, "payment schemes")
    }
}

/// Why a credential was refused: every reason is answered with a fresh 402.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The L402 token does not verify.
    #[error(transparent)]
    L402(#[from] mesh402_l402::VerifyError),
    /// The `Payment` credential does not verify.
    #[error(transparent)]
    Payment(#[from] mesh402_mpp::VerifyError),
    /// The credential's scheme is not offered by this server.
    #[error("this server does not take {0:?} credentials")]
    NotOffered(Scheme),
    /// The request has no credential at all.
    #[error("no credential")]
    Missing,
}

impl Rejection {
    /// A stable snake_case name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::L402(reason) => reason.code(),
            Rejection::Payment(reason) => reason.code(),
            Rejection::NotOffered(_) => "scheme_not_offered",
            Rejection::Missing => "no_credential",
        }
    }

    /// The problem type the `Payment` scheme names for it.
    pub fn problem(&self) -> mesh402_mpp::Problem {
        match self {
            Rejection::Payment(reason) => reason.problem(),
            Rejection::L402(mesh402_l402::VerifyError::PreimageMismatch) => mesh402_mpp::Problem::VerificationFailed,
            Rejection::L402(mesh402_l402::VerifyError::Expired { .. }) => mesh402_mpp::Problem::PaymentExpired,
            Rejection::L402(_) | Rejection::NotOffered(_) | Rejection::Missing => mesh402_mpp::Problem::PaymentRequired,
        }
    }
}

/// The token a verified `Payment` credential stands for: the token id its invoice's L402 macaroon carries.
pub(crate) fn payment_token(charge: &mesh402_mpp::VerifiedCharge) -> VerifiedToken {
    VerifiedToken {
        payment_hash: charge.payment_hash,
        token_id: TokenId::of_payment(&charge.payment_hash),
        valid_until: Some(charge.valid_until),
    }
}
