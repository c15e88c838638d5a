//! Reading credentials from request headers: `Authorization: L402 <macaroons>:<preimage>` and the
//! `Macaroon` / `Grpc-Metadata-Macaroon` hex form.
//!
//! Parsing is lenient where real clients differ (scheme case, spacing, hex case, base64 variants,
//! several macaroons) and strict everywhere else. A parsed credential is not yet trusted: pass it to
//! [`verify`](crate::verify()). Nothing here logs, and `Debug` of a [`Credential`] never prints the
//! preimage.

use std::fmt;

use crate::caveat::Caveat;
use crate::challenge::{is_l402_scheme, split_scheme};
use crate::macaroon::{DecodeError, Macaroon};
use crate::types::{HexError, Preimage, parse_hex32};

/// The most macaroons one credential may carry (they are comma-separated in the header).
pub const MAX_MACAROONS: usize = 16;

/// The condition of the caveat clients append to carry the preimage in the `Macaroon` header form.
pub const PREIMAGE_CONDITION: &str = "preimage";

/// Why a header value is not a usable credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The scheme is `L402`/`LSAT` but nothing follows it.
    #[error("the L402 credential is empty")]
    Empty,
    /// There is no `:` between the macaroons and the preimage.
    #[error("the L402 credential has no ':' between macaroon and preimage")]
    MissingSeparator,
    /// The preimage is not 64 hexadecimal characters.
    #[error("the preimage is not 64 hexadecimal characters")]
    BadPreimage(#[source] HexError),
    /// A macaroon in the comma-separated list is empty.
    #[error("the credential contains an empty macaroon")]
    EmptyMacaroon,
    /// More than [`MAX_MACAROONS`] macaroons.
    #[error("the credential carries too many macaroons")]
    TooManyMacaroons,
    /// A macaroon does not decode.
    #[error("a macaroon of the credential does not decode")]
    BadMacaroon(#[source] DecodeError),
    /// Several L402 `Authorization` values carry different credentials.
    #[error("several L402 authorization headers disagree")]
    Conflicting,
    /// A `Macaroon` header's macaroon carries no `preimage=` caveat.
    #[error("the macaroon carries no preimage caveat")]
    MissingPreimageCaveat,
    /// A `Macaroon` header's macaroon carries `preimage=` caveats that disagree.
    #[error("the macaroon carries preimage caveats that disagree")]
    ConflictingPreimageCaveats,
}

impl CredentialError {
    /// A stable snake_case name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::Empty => "empty_credential",
            CredentialError::MissingSeparator => "missing_separator",
            CredentialError::BadPreimage(_) => "bad_preimage",
            CredentialError::EmptyMacaroon => "empty_macaroon",
            CredentialError::TooManyMacaroons => "too_many_macaroons",
            CredentialError::BadMacaroon(_) => "bad_macaroon",
            CredentialError::Conflicting => "conflicting_credentials",
            CredentialError::MissingPreimageCaveat => "missing_preimage_caveat",
            CredentialError::ConflictingPreimageCaveats => "conflicting_preimage_caveats",
        }
    }
}

/// What a client presents: one or more macaroons and the preimage that proves payment.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The macaroons, in the order given (at least one when parsed from a header).
    pub macaroons: Vec<Macaroon>,
    /// The payment preimage.
    pub preimage: Preimage,
}

impl Credential {
    /// The `Authorization` value for this credential: `L402 <base64>[,<base64>…]:<hex preimage>`.
    /// It contains the secret preimage: never log it.
    pub fn to_header_value(&self) -> String {
        let macaroons: Vec<String> = self.macaroons.iter().map(Macaroon::to_base64).collect();
        format!("L402 {}:{}", macaroons.join(","), self.preimage.to_hex())
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential").field("macaroons", &self.macaroons).field("preimage", &self.preimage).finish()
    }
}

/// Parses all `Authorization` header values of a request.
///
/// Returns `Ok(None)` when no value uses the `L402` or `LSAT` scheme (e.g. only `Bearer`). Lenient
/// per the wire rules: the scheme in any case followed by one or more spaces; the token split on the
/// last `:`; the preimage as 64 hex characters in either case; macaroons in standard or URL-safe
/// base64, padded or not, comma-separated (at most [`MAX_MACAROONS`]). Several L402 values that
/// disagree, or any malformed L402 value, give an error.
pub fn parse_authorization<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Option<Credential>, CredentialError> {
    let mut found: Option<Credential> = None;
    for value in values {
        let Some(token) = l402_token(value)? else {
            continue;
        };
        let credential = parse_token(token)?;
        match &found {
            Some(previous) if *previous != credential => return Err(CredentialError::Conflicting),
            Some(_) => {}
            None => found = Some(credential),
        }
    }
    Ok(found)
}

/// The part after an `L402`/`LSAT` scheme; `Ok(None)` for other schemes.
fn l402_token(value: &str) -> Result<Option<&str>, CredentialError> {
    match split_scheme(value) {
        Some((scheme, token)) if is_l402_scheme(scheme) => Ok(Some(token)),
        Some(_) => Ok(None),
        None if is_l402_scheme(value.trim()) => Err(CredentialError::Empty),
        None => Ok(None),
    }
}

/// Parses `<macaroon>[,<macaroon>…]:<preimage>`.
fn parse_token(token: &str) -> Result<Credential, CredentialError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(CredentialError::Empty);
    }
    let (macaroons, preimage) = token.rsplit_once(':').ok_or(CredentialError::MissingSeparator)?;
    let preimage = Preimage(parse_hex32(preimage.trim()).map_err(CredentialError::BadPreimage)?);
    let mut parsed = Vec::new();
    for macaroon in macaroons.split(',') {
        let macaroon = macaroon.trim();
        if macaroon.is_empty() {
            return Err(CredentialError::EmptyMacaroon);
        }
        if parsed.len() == MAX_MACAROONS {
            return Err(CredentialError::TooManyMacaroons);
        }
        parsed.push(Macaroon::from_base64(macaroon).map_err(CredentialError::BadMacaroon)?);
    }
    Ok(Credential { macaroons: parsed, preimage })
}

/// Parses the `Macaroon:` / `Grpc-Metadata-Macaroon:` form: a hex-encoded macaroon (base64 is
/// accepted too) carrying a client-added `preimage=<hex>` caveat, which supplies the preimage. The
/// caveat stays in the macaroon; appending it kept the signature valid.
pub fn parse_macaroon_header(value: &str) -> Result<Credential, CredentialError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(CredentialError::Empty);
    }
    let macaroon = match hex::decode(value) {
        Ok(bytes) => Macaroon::from_bytes(&bytes),
        Err(_) => Macaroon::from_base64(value),
    }
    .map_err(CredentialError::BadMacaroon)?;

    let mut preimage: Option<Preimage> = None;
    for caveat in macaroon.caveats().iter().filter_map(|c| Caveat::parse(c)) {
        if caveat.condition != PREIMAGE_CONDITION {
            continue;
        }
        let found = Preimage(parse_hex32(caveat.value).map_err(CredentialError::BadPreimage)?);
        match &preimage {
            Some(previous) if *previous != found => {
                return Err(CredentialError::ConflictingPreimageCaveats);
            }
            Some(_) => {}
            None => preimage = Some(found),
        }
    }
    let preimage = preimage.ok_or(CredentialError::MissingPreimageCaveat)?;
    Ok(Credential { macaroons: vec![macaroon], preimage })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    /// Decodes base64 in any of the four variants.
    fn decode_any_base64(s: &str) -> Option<Vec<u8>> {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(s).ok())
    }

    fn macaroon(caveat: &str) -> Macaroon {
        let mut macaroon = Macaroon::new(b"key", b"id".to_vec(), Some(b"lsat".to_vec()));
        macaroon.add_first_party_caveat(caveat);
        macaroon
    }

    const PREIMAGE: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn expected(macaroons: Vec<Macaroon>) -> Credential {
        Credential { macaroons, preimage: PREIMAGE.parse().unwrap() }
    }

    #[test]
    fn the_canonical_form_parses() {
        let mac = macaroon("services=svc:0");
        let header = format!("L402 {}:{PREIMAGE}", mac.to_base64());
        let credential = parse_authorization([header.as_str()]).unwrap().unwrap();
        assert_eq!(credential, expected(vec![mac.clone()]));
        assert_eq!(credential.to_header_value(), header);
    }

    #[test]
    fn every_leniency_rule() {
        let mac = macaroon("services=svc:0");
        let bytes = mac.to_bytes();
        let upper = PREIMAGE.to_uppercase();
        let std = STANDARD.encode(&bytes);
        let cases = [
            format!("LSAT {std}:{PREIMAGE}"),
            format!("l402 {std}:{PREIMAGE}"),
            format!("lSaT {std}:{PREIMAGE}"),
            format!("L402    {std}:{PREIMAGE}"),
            format!("L402\t{std}:{PREIMAGE}"),
            format!("  L402 {std}:{PREIMAGE}  "),
            format!("L402 {std}:{upper}"),
            format!("L402 {}:{PREIMAGE}", STANDARD_NO_PAD.encode(&bytes)),
            format!("L402 {}:{PREIMAGE}", URL_SAFE.encode(&bytes)),
            format!("L402 {}:{PREIMAGE}", URL_SAFE_NO_PAD.encode(&bytes)),
        ];
        for header in &cases {
            assert_eq!(parse_authorization([header.as_str()]), Ok(Some(expected(vec![mac.clone()]))), "{header}");
        }
    }

    #[test]
    fn comma_separated_macaroons() {
        let first = macaroon("a=1");
        let second = macaroon("b=2");
        for separator in [",", ", "] {
            let header = format!("L402 {}{separator}{}:{PREIMAGE}", first.to_base64(), second.to_base64());
            assert_eq!(parse_authorization([header.as_str()]), Ok(Some(expected(vec![first.clone(), second.clone()]))));
        }
        let empty = format!("L402 {},:{PREIMAGE}", first.to_base64());
        assert_eq!(parse_authorization([empty.as_str()]), Err(CredentialError::EmptyMacaroon));
        let many = vec![first.to_base64(); MAX_MACAROONS + 1].join(",");
        let many = format!("L402 {many}:{PREIMAGE}");
        assert_eq!(parse_authorization([many.as_str()]), Err(CredentialError::TooManyMacaroons));
    }

    #[test]
    fn several_headers() {
        let mac = macaroon("a=1");
        let good = format!("L402 {}:{PREIMAGE}", mac.to_base64());
        let same_as_lsat = format!("LSAT {}:{PREIMAGE}", mac.to_base64());
        let other = format!("L402 {}:{PREIMAGE}", macaroon("a=2").to_base64());
        // The L402 value is picked among others.
        assert_eq!(
            parse_authorization(["Bearer abc", good.as_str(), "Basic Zm9vOmJhcg=="]),
            Ok(Some(expected(vec![mac.clone()])))
        );
        // Agreeing values are fine; disagreeing ones are not.
        assert_eq!(parse_authorization([good.as_str(), same_as_lsat.as_str()]), Ok(Some(expected(vec![mac]))));
        assert_eq!(parse_authorization([good.as_str(), other.as_str()]), Err(CredentialError::Conflicting));
        assert!(parse_authorization([good.as_str(), "L402 garbage"]).is_err());
    }

    #[test]
    fn garbage_is_rejected() {
        let mac = macaroon("a=1").to_base64();
        assert_eq!(parse_authorization([]), Ok(None));
        assert_eq!(parse_authorization([""]), Ok(None));
        assert_eq!(parse_authorization(["Bearer abc.def"]), Ok(None));
        assert_eq!(parse_authorization(["L402x abc:def"]), Ok(None));
        assert_eq!(parse_authorization(["L402"]), Err(CredentialError::Empty));
        assert_eq!(parse_authorization(["L402   "]), Err(CredentialError::Empty));
        let no_colon = format!("L402 {mac}{PREIMAGE}");
        assert_eq!(parse_authorization([no_colon.as_str()]), Err(CredentialError::MissingSeparator));
        let bad_hex = format!("L402 {mac}:{}", "zz".repeat(32));
        assert_eq!(parse_authorization([bad_hex.as_str()]), Err(CredentialError::BadPreimage(HexError::InvalidDigit)));
        let short = format!("L402 {mac}:{}", &PREIMAGE[..63]);
        assert_eq!(
            parse_authorization([short.as_str()]),
            Err(CredentialError::BadPreimage(HexError::Length { found: 63 }))
        );
        let no_macaroon = format!("L402 :{PREIMAGE}");
        assert_eq!(parse_authorization([no_macaroon.as_str()]), Err(CredentialError::EmptyMacaroon));
        let bad_base64 = format!("L402 ***:{PREIMAGE}");
        assert_eq!(parse_authorization([bad_base64.as_str()]), Err(CredentialError::BadMacaroon(DecodeError::Base64)));
        let mixed_alphabets = format!("L402 ab+_:{PREIMAGE}");
        assert_eq!(
            parse_authorization([mixed_alphabets.as_str()]),
            Err(CredentialError::BadMacaroon(DecodeError::Base64))
        );
    }

    #[test]
    fn the_spec_placeholder_token_is_rejected() {
        // 28 base64 characters plus "==" is not valid padding; lenient decoders read 21 bytes.
        let placeholder = "AGIAJEemVQUTEyNCR0exk7ek90Cg==";
        assert_eq!(decode_any_base64(placeholder), None);
        let header = format!("L402 {placeholder}:{PREIMAGE}");
        assert_eq!(parse_authorization([header.as_str()]), Err(CredentialError::BadMacaroon(DecodeError::Base64)));
        // Those 21 bytes are not a macaroon either.
        let bytes = hex::decode("0062002447a65505131323424747b193b7a4f740a0").unwrap();
        assert_eq!(Macaroon::from_bytes(&bytes), Err(DecodeError::UnknownVersion(0)));
    }

    #[test]
    fn macaroon_header_form() {
        let mut mac = macaroon("services=svc:0");
        mac.add_first_party_caveat(format!("preimage={PREIMAGE}"));
        let credential = parse_macaroon_header(&hex::encode(mac.to_bytes())).unwrap();
        assert_eq!(credential, expected(vec![mac.clone()]));
        let upper = hex::encode_upper(mac.to_bytes());
        assert_eq!(parse_macaroon_header(&upper).unwrap(), credential);
        assert_eq!(parse_macaroon_header(&mac.to_base64()).unwrap(), credential);

        let without = macaroon("services=svc:0");
        assert_eq!(
            parse_macaroon_header(&hex::encode(without.to_bytes())),
            Err(CredentialError::MissingPreimageCaveat)
        );
        let mut twice = mac.clone();
        twice.add_first_party_caveat(format!("preimage={}", "00".repeat(32)));
        assert_eq!(
            parse_macaroon_header(&hex::encode(twice.to_bytes())),
            Err(CredentialError::ConflictingPreimageCaveats)
        );
        assert_eq!(parse_macaroon_header(""), Err(CredentialError::Empty));
        assert!(matches!(parse_macaroon_header("zz"), Err(CredentialError::BadMacaroon(_))));
    }

    #[test]
    fn debug_hides_the_preimage() {
        let debug = format!("{:?}", expected(vec![macaroon("a=1")]));
        assert!(debug.contains("Preimage(***)"));
        assert!(!debug.contains(PREIMAGE));
        assert!(!debug.contains("0001020304"));
    }
}
