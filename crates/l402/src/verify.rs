//! Verifying a credential: cheapest checks first, a typed reason for every failure.
//!
//! Order: identifier → `sha256(preimage) == payment_hash` → revocation → caveat count → root key(s) from the
//! keyring (current, then previous) → HMAC chain in constant time → caveats. Nothing here needs the
//! Lightning node, a clock (the time is a parameter) or storage (revocation is a callback).

use subtle::ConstantTimeEq;

use crate::caveat;
use crate::credential::Credential;
use crate::identifier::Identifier;
use crate::keyring::Keyring;
use crate::macaroon::Macaroon;
use crate::refusal::VerifyError;
use crate::types::{PaymentHash, Preimage, RequestBinding, RootKey, TokenId};

/// The most caveats a macaroon may carry to be verified. Tokens mesh402 mints carry four; the limit
/// leaves room for client-added caveats and bounds the HMAC work an unpaid request can cause.
pub const MAX_CAVEATS: usize = 64;

/// What a verification needs to know about the request being served.
#[derive(Clone, Copy)]
pub struct VerifyContext<'a> {
    /// The service being paid for; the token's `services` caveat must name it.
    pub service: &'a str,
    /// The current time in unix seconds; the token is valid while `now_unix < valid_until`.
    pub now_unix: u64,
    /// When set, the token must carry a `<service>_request_sha256` caveat equal to it. When unset,
    /// a binding caveat in the token is not checked (for routes that are not the paid request).
    pub request_binding: Option<RequestBinding>,
    /// Whether a token id has been revoked. `Sync`, so a context may be held across an `.await`.
    pub is_revoked: &'a (dyn Fn(&TokenId) -> bool + Sync),
}

/// A credential that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The payment hash all the credential's macaroons share.
    pub payment_hash: PaymentHash,
    /// The token id of the credential's first macaroon.
    pub token_id: TokenId,
    /// The earliest effective `<service>_valid_until` among the macaroons, if any carries one.
    pub valid_until: Option<u64>,
}

/// Verifies a credential against the keyring and the request.
///
/// Cheap-first order: identifier → `sha256(preimage) == payment_hash` → revocation → caveat count
/// ([`MAX_CAVEATS`]) → root key(s)
/// from the keyring (current, then previous) → constant-time HMAC chain → caveats (Aperture's
/// narrowing rules; unknown conditions skipped, so a client-added `preimage=` caveat is fine;
/// `now < valid_until` strictly; `services` must name `ctx.service`). Every comma-separated
/// macaroon must verify, and all must share the payment hash.
pub fn verify(
    credential: &Credential,
    keyring: &Keyring,
    ctx: &VerifyContext<'_>,
) -> Result<VerifiedToken, VerifyError> {
    verify_with(credential, ctx, |identifier| {
        [Some(keyring.root_key(identifier)), keyring.previous_root_key(identifier)]
    })
}

/// Verifies a macaroon as [`verify`] does, but without a preimage: the identifier, revocation, the signature
/// chain under the keyring and the caveats. It proves that this server minted the macaroon (and that nobody
/// widened it), not that it was paid: use it only to let the holder of a challenge ask about its own invoice,
/// never to grant what a payment buys.
pub fn verify_unpaid(
    macaroon: &Macaroon,
    keyring: &Keyring,
    ctx: &VerifyContext<'_>,
) -> Result<VerifiedToken, VerifyError> {
    check(std::slice::from_ref(macaroon), None, ctx, |identifier| {
        [Some(keyring.root_key(identifier)), keyring.previous_root_key(identifier)]
    })
}

/// [`verify`] with the candidate root keys of an identifier supplied by `root_keys`.
pub(crate) fn verify_with(
    credential: &Credential,
    ctx: &VerifyContext<'_>,
    root_keys: impl Fn(&Identifier) -> [Option<RootKey>; 2],
) -> Result<VerifiedToken, VerifyError> {
    check(&credential.macaroons, Some(&credential.preimage), ctx, root_keys)
}

/// The checks of [`verify`]; the proof of payment only when a preimage is given.
fn check(
    macaroons: &[Macaroon],
    preimage: Option<&Preimage>,
    ctx: &VerifyContext<'_>,
    root_keys: impl Fn(&Identifier) -> [Option<RootKey>; 2],
) -> Result<VerifiedToken, VerifyError> {
    let (first, rest) = macaroons.split_first().ok_or(VerifyError::NoMacaroon)?;

    // Identifiers, and one payment hash for all.
    let first_identifier = Identifier::decode(first.identifier()).map_err(VerifyError::BadIdentifier)?;
    let mut identifiers = Vec::with_capacity(macaroons.len());
    identifiers.push(first_identifier);
    for macaroon in rest {
        let identifier = Identifier::decode(macaroon.identifier()).map_err(VerifyError::BadIdentifier)?;
        if identifier.payment_hash != first_identifier.payment_hash {
            return Err(VerifyError::MixedPaymentHashes);
        }
        identifiers.push(identifier);
    }

    // Proof of payment.
    if let Some(preimage) = preimage {
        let paid: bool = preimage.hash().0.ct_eq(&first_identifier.payment_hash.0).into();
        if !paid {
            return Err(VerifyError::PreimageMismatch);
        }
    }

    if identifiers.iter().any(|identifier| (ctx.is_revoked)(&identifier.token_id)) {
        return Err(VerifyError::Revoked);
    }

    if macaroons.iter().any(|macaroon| macaroon.caveats().len() > MAX_CAVEATS) {
        return Err(VerifyError::TooManyCaveats);
    }

    // Signatures: each macaroon under the current secret, else the previous one.
    for (macaroon, identifier) in macaroons.iter().zip(&identifiers) {
        let signed =
            root_keys(identifier).iter().flatten().any(|root_key| macaroon.verify_signature(root_key.as_bytes()));
        if !signed {
            return Err(VerifyError::BadSignature);
        }
    }

    // Caveats.
    let mut valid_until: Option<u64> = None;
    for macaroon in macaroons {
        let allowed = caveat::narrow(macaroon.caveats(), ctx.service)?;
        let names_service = allowed.services.as_ref().is_some_and(|names| names.contains(&ctx.service));
        if !names_service {
            return Err(VerifyError::WrongService);
        }
        if let Some(until) = allowed.valid_until {
            if ctx.now_unix >= until {
                return Err(VerifyError::Expired { valid_until: until });
            }
            valid_until = Some(valid_until.map_or(until, |earlier| earlier.min(until)));
        }
        if let Some(expected) = ctx.request_binding {
            match allowed.request_binding {
                None => return Err(VerifyError::MissingRequestBinding),
                Some(bound) if bound != expected => return Err(VerifyError::RequestMismatch),
                Some(_) => {}
            }
        }
    }

    Ok(VerifiedToken { payment_hash: first_identifier.payment_hash, token_id: first_identifier.token_id, valid_until })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::{MintParams, mint};
    use crate::types::ServerSecret;

    fn minted(keyring: &Keyring) -> Macaroon {
        let identifier = Identifier { payment_hash: PaymentHash([3; 32]), token_id: TokenId([4; 32]) };
        let params = MintParams {
            service: "3d-model",
            tier: 0,
            capabilities: &[],
            valid_until: 1_000,
            request_binding: Some(RequestBinding([5; 32])),
        };
        mint(keyring, &identifier, &params)
    }

    fn context(now_unix: u64) -> VerifyContext<'static> {
        VerifyContext { service: "3d-model", now_unix, request_binding: None, is_revoked: &|_| false }
    }

    #[test]
    fn an_unpaid_macaroon_verifies_only_under_the_keyring_that_minted_it() {
        let keyring = Keyring::new(ServerSecret::from_bytes([1; 32]));
        let macaroon = minted(&keyring);
        let token = verify_unpaid(&macaroon, &keyring, &context(10)).expect("our own macaroon");
        assert_eq!(token.payment_hash, PaymentHash([3; 32]));
        assert_eq!(token.valid_until, Some(1_000));

        let other = Keyring::new(ServerSecret::from_bytes([2; 32]));
        assert_eq!(verify_unpaid(&macaroon, &other, &context(10)), Err(VerifyError::BadSignature));
        assert_eq!(verify_unpaid(&minted(&other), &keyring, &context(10)), Err(VerifyError::BadSignature));
        assert_eq!(
            verify_unpaid(&macaroon, &keyring, &context(1_000)),
            Err(VerifyError::Expired { valid_until: 1_000 })
        );

        // A holder may narrow a macaroon, never widen it.
        let mut widened = macaroon.clone();
        widened.add_first_party_caveat("3d-model_valid_until=2000");
        assert!(matches!(verify_unpaid(&widened, &keyring, &context(10)), Err(VerifyError::WidenedCaveat { .. })));
    }
}
