//! Minting tokens and the `WWW-Authenticate` challenge that carries them.

use crate::caveat;
use crate::identifier::Identifier;
use crate::keyring::Keyring;
use crate::macaroon::{DecodeError, Macaroon};
use crate::types::RequestBinding;

/// The location Aperture writes into its macaroons (kept after the LSAT → L402 rename; clients
/// ignore it).
pub const LOCATION: &str = "lsat";

/// What a minted token allows.
///
/// `service` and `capabilities` are written into caveat text unescaped: they must not contain
/// `,`, `:` or `=` (names like `3d-model` are fine).
#[derive(Debug, Clone, Copy)]
pub struct MintParams<'a> {
    /// The service the token pays for, e.g. `3d-model`.
    pub service: &'a str,
    /// The service tier (Aperture uses 0).
    pub tier: u32,
    /// Capabilities granted; the `<service>_capabilities=` caveat is written even when empty.
    pub capabilities: &'a [&'a str],
    /// Unix seconds; the token is valid while `now < valid_until`.
    pub valid_until: u64,
    /// When set, the token is good only for the request with this digest.
    pub request_binding: Option<RequestBinding>,
}

/// Mints a token: a macaroon at location `lsat` whose root key the keyring derives from the
/// identifier, with caveats in this order: `services=<service>:<tier>`,
/// `<service>_capabilities=<list>`, `<service>_valid_until=<n>` and, if set,
/// `<service>_request_sha256=<hex>`.
pub fn mint(keyring: &Keyring, identifier: &Identifier, params: &MintParams<'_>) -> Macaroon {
    let root_key = keyring.root_key(identifier);
    let mut macaroon =
        Macaroon::new(root_key.as_bytes(), identifier.encode().to_vec(), Some(LOCATION.as_bytes().to_vec()));
    macaroon.add_first_party_caveat(caveat::services_caveat(params.service, params.tier));
    macaroon.add_first_party_caveat(caveat::capabilities_caveat(params.service, params.capabilities));
    macaroon.add_first_party_caveat(caveat::valid_until_caveat(params.service, params.valid_until));
    if let Some(binding) = &params.request_binding {
        macaroon.add_first_party_caveat(caveat::request_binding_caveat(params.service, binding));
    }
    macaroon
}

/// Why a `WWW-Authenticate` value is not an L402 challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The scheme is neither `L402` nor `LSAT`.
    #[error("the challenge does not use the L402 or LSAT scheme")]
    NotL402,
    /// The `macaroon="…"` parameter is missing.
    #[error("the challenge has no macaroon parameter")]
    MissingMacaroon,
    /// The `invoice="…"` parameter is missing.
    #[error("the challenge has no invoice parameter")]
    MissingInvoice,
    /// The macaroon parameter does not decode.
    #[error("the challenge's macaroon does not decode")]
    BadMacaroon(#[source] DecodeError),
}

impl ChallengeError {
    /// A stable snake_case name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ChallengeError::NotL402 => "not_l402",
            ChallengeError::MissingMacaroon => "missing_macaroon",
            ChallengeError::MissingInvoice => "missing_invoice",
            ChallengeError::BadMacaroon(_) => "bad_macaroon",
        }
    }
}

/// A 402 challenge: the token to pay for and the invoice that pays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The minted token.
    pub macaroon: Macaroon,
    /// The BOLT11 invoice whose preimage unlocks the token.
    pub invoice: String,
}

impl Challenge {
    /// The two `WWW-Authenticate` values: first `L402 macaroon="<b64>", invoice="<bolt11>"`, then
    /// the same with `LSAT`. The parameter order and the `", "` separator are what fixed-pattern
    /// clients match.
    pub fn header_values(&self) -> [String; 2] {
        let macaroon = self.macaroon.to_base64();
        ["L402", "LSAT"].map(|scheme| format!(r#"{scheme} macaroon="{macaroon}", invoice="{}""#, self.invoice))
    }

    /// Reads a `WWW-Authenticate` value (the client side): scheme `L402` or `LSAT` in any case,
    /// then `macaroon="…"` and `invoice="…"` parameters in any order; other parameters are
    /// ignored.
    pub fn parse(value: &str) -> Result<Challenge, ChallengeError> {
        let (scheme, params) = split_scheme(value).ok_or(ChallengeError::NotL402)?;
        if !is_l402_scheme(scheme) {
            return Err(ChallengeError::NotL402);
        }
        let mut macaroon = None;
        let mut invoice = None;
        let mut rest = params;
        while let Some((name, value, tail)) = next_param(rest) {
            if name.eq_ignore_ascii_case("macaroon") {
                macaroon.get_or_insert(value);
            } else if name.eq_ignore_ascii_case("invoice") {
                invoice.get_or_insert(value);
            }
            rest = tail;
        }
        let macaroon = macaroon.ok_or(ChallengeError::MissingMacaroon)?;
        let invoice = invoice.ok_or(ChallengeError::MissingInvoice)?;
        Ok(Challenge {
            macaroon: Macaroon::from_base64(macaroon).map_err(ChallengeError::BadMacaroon)?,
            invoice: invoice.to_owned(),
        })
    }
}

/// `L402` or `LSAT`, any case.
pub(crate) fn is_l402_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("L402") || scheme.eq_ignore_ascii_case("LSAT")
}

/// Splits `scheme<spaces>rest`; `None` when there is nothing after the scheme.
pub(crate) fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let value = value.trim();
    let (scheme, rest) = value.split_once([' ', '\t'])?;
    Some((scheme, rest.trim_start_matches([' ', '\t'])))
}

/// Reads one `name="value"` or `name=value` parameter followed by an optional comma; returns the
/// name, the value and the rest.
fn next_param(input: &str) -> Option<(&str, &str, &str)> {
    let input = input.trim_start_matches([' ', '\t', ',']);
    let (name, after) = input.split_once('=')?;
    let name = name.trim();
    let after = after.trim_start_matches([' ', '\t']);
    let (value, rest) = match after.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?,
        None => after.split_once(',').unwrap_or((after, "")),
    };
    Some((name, value.trim(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{PaymentHash, ServerSecret, TokenId};

    /// TV3: a real Aperture challenge.
    const TV3_MACAROON: &str = "AgEEbHNhdAJCAAAwpHpumws6ufQoDwiTLNcge0QPUIWA0+tVY+tKPYAJ/zSfmEGlIpNm3VzxuzCqLhEp5KGiyPLUM9L+kcB7uzS+AAIPc2VydmljZXM9bWVtZTowAAISbWVtZV9jYXBhYmlsaXRpZXM9AAAGILA1VCEIExukt4nG+XR9tX8WJ2BVMiHG3UNt1uYJ+NRD";
    const TV3_INVOICE: &str = "lnbcrt100n1p3qqkygpp5xzj85m5mpvatnapgpuyfxtxhypa5gr6sskqd8664v04550vqp8lsdq8f3f5z4qcqzpgsp5tpzvsq5pckqgln3ltpy3e9cf6tf2aj82ffa2tted77ltweuaweks9qyyssq0w5da3k40wtdukac7hp5s58hsxf8k8f52c5qneezu4xg3xh87xrnkl5jwtw098d2gjywx20nmkxl2y4vq9fr89kg5kzcwupv9xpdaggp4fc4ms";

    #[test]
    fn tv3_real_aperture_challenge() {
        let header = format!(r#"LSAT macaroon="{TV3_MACAROON}", invoice="{TV3_INVOICE}""#);
        let challenge = Challenge::parse(&header).unwrap();
        let macaroon = &challenge.macaroon;
        assert_eq!(macaroon.to_bytes().len(), 150);
        assert_eq!(macaroon.location(), Some(&b"lsat"[..]));
        let identifier = Identifier::decode(macaroon.identifier()).unwrap();
        assert_eq!(
            identifier.payment_hash.to_string(),
            "30a47a6e9b0b3ab9f4280f08932cd7207b440f508580d3eb5563eb4a3d8009ff"
        );
        assert_eq!(identifier.token_id.to_string(), "349f9841a5229366dd5cf1bb30aa2e1129e4a1a2c8f2d433d2fe91c07bbb34be");
        assert_eq!(macaroon.caveats(), &[b"services=meme:0".to_vec(), b"meme_capabilities=".to_vec()]);
        assert_eq!(
            hex::encode(macaroon.signature()),
            "b035542108131ba4b789c6f9747db57f162760553221c6dd436dd6e609f8d443"
        );
        assert_eq!(challenge.invoice, TV3_INVOICE);
        // Re-encoding gives Aperture's bytes back.
        assert_eq!(macaroon.to_base64(), TV3_MACAROON);
        // Our own header line round-trips through the parser.
        for line in challenge.header_values() {
            assert_eq!(Challenge::parse(&line).unwrap(), challenge);
        }
    }

    #[test]
    fn header_values_have_the_exact_shape() {
        let challenge =
            Challenge::parse(&format!(r#"l402   macaroon="{TV3_MACAROON}",invoice="{TV3_INVOICE}""#)).unwrap();
        let [l402, lsat] = challenge.header_values();
        assert_eq!(l402, format!(r#"L402 macaroon="{TV3_MACAROON}", invoice="{TV3_INVOICE}""#));
        assert_eq!(lsat, format!(r#"LSAT macaroon="{TV3_MACAROON}", invoice="{TV3_INVOICE}""#));
    }

    #[test]
    fn challenge_parse_errors() {
        assert_eq!(Challenge::parse(r#"Bearer realm="x""#), Err(ChallengeError::NotL402));
        assert_eq!(Challenge::parse("L402"), Err(ChallengeError::NotL402));
        assert_eq!(Challenge::parse(r#"L402 invoice="lnbc1""#), Err(ChallengeError::MissingMacaroon));
        assert_eq!(
            Challenge::parse(&format!(r#"L402 macaroon="{TV3_MACAROON}""#)),
            Err(ChallengeError::MissingInvoice)
        );
        assert!(matches!(
            Challenge::parse(r#"L402 macaroon="!!", invoice="lnbc1""#),
            Err(ChallengeError::BadMacaroon(_))
        ));
    }

    #[test]
    fn mint_writes_aperture_caveats_in_order() {
        let keyring = Keyring::new(ServerSecret::from_bytes([3; 32]));
        let identifier = Identifier { payment_hash: PaymentHash([4; 32]), token_id: TokenId([5; 32]) };
        let binding = RequestBinding([0xcd; 32]);
        let macaroon = mint(
            &keyring,
            &identifier,
            &MintParams {
                service: "3d-model",
                tier: 0,
                capabilities: &[],
                valid_until: 1_700_000_000,
                request_binding: Some(binding),
            },
        );
        assert_eq!(macaroon.location(), Some(&b"lsat"[..]));
        assert_eq!(macaroon.identifier(), &identifier.encode()[..]);
        let caveats: Vec<String> = macaroon.caveats().iter().map(|c| String::from_utf8(c.clone()).unwrap()).collect();
        assert_eq!(
            caveats,
            [
                "services=3d-model:0".to_owned(),
                "3d-model_capabilities=".to_owned(),
                "3d-model_valid_until=1700000000".to_owned(),
                format!("3d-model_request_sha256={}", "cd".repeat(32)),
            ]
        );
        assert!(macaroon.verify_signature(keyring.root_key(&identifier).as_bytes()));
    }
}
