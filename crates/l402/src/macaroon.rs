//! Macaroons as go-macaroon and libmacaroons define them: the HMAC-SHA256 signature chain, the V2
//! binary format (V1 accepted on input) and the base64 forms found on the wire.
//!
//! # Why this module is written here rather than taken from a crate
//!
//! Every L402 client in the wild speaks go-macaroon's format, so the bytes and the signatures must
//! match it exactly. The `macaroon` crate on crates.io does not: it writes URL-safe base64 where
//! clients expect standard padded base64, its `MacaroonKey::from` uses the root key directly and
//! skips the key-derivation step (`HMAC("macaroons-key-generator", root_key)`) so its signatures
//! differ from go-macaroon's, it compares signatures in non-constant time, and it builds a bundled
//! libsodium. The format is small (a signature chain and a tag-length-value encoding), so it is
//! implemented here on `hmac`, `sha2` and `subtle`, pinned by the test vectors of `L402.md`.
//!
//! Only first-party caveats exist here: mesh402 never issues third-party caveats, and a macaroon
//! carrying one is rejected when decoded.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The key of the derivation step go-macaroon and libmacaroons apply to every root key.
const KEY_GENERATOR: &[u8] = b"macaroons-key-generator";

/// Field types of the V2 binary format.
const FIELD_EOS: u64 = 0;
const FIELD_LOCATION: u64 = 1;
const FIELD_IDENTIFIER: u64 = 2;
const FIELD_VERIFICATION_ID: u64 = 4;
const FIELD_SIGNATURE: u64 = 6;

/// The version byte that starts a V2 binary macaroon.
const V2: u8 = 2;

/// Standard alphabet, padding optional on input.
const BASE64_STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe alphabet, padding optional on input.
const BASE64_URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why bytes or text could not be decoded into a [`Macaroon`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// There were no bytes at all.
    #[error("the macaroon is empty")]
    Empty,
    /// The first byte is neither the V2 version byte nor an ASCII hex digit (V1).
    #[error("unknown macaroon format version byte {0:#04x}")]
    UnknownVersion(u8),
    /// The data ends in the middle of a field.
    #[error("the macaroon is truncated")]
    Truncated,
    /// A length or field type is not a valid varint (too long to fit in 64 bits).
    #[error("the macaroon contains an invalid varint")]
    BadVarint,
    /// A field type is unknown or appears where it may not (fields come in increasing type order).
    #[error("unexpected field of type {0} in the macaroon")]
    UnexpectedField(u64),
    /// The header or a caveat has no identifier field.
    #[error("the macaroon or one of its caveats has no identifier")]
    MissingIdentifier,
    /// A caveat carries a location or verification id: a third-party caveat, which is not supported.
    #[error("the macaroon carries a third-party caveat, which is not supported")]
    ThirdPartyCaveat,
    /// The signature is missing or is not 32 bytes long.
    #[error("the macaroon signature is missing or not 32 bytes long")]
    BadSignature,
    /// Bytes follow the signature.
    #[error("{0} unexpected bytes follow the macaroon")]
    TrailingBytes(usize),
    /// The text is not base64 (standard or URL-safe, padded or not).
    #[error("the macaroon is not valid base64")]
    Base64,
    /// A V1 (libmacaroons text packet) macaroon is malformed.
    #[error("the V1 macaroon is malformed")]
    MalformedV1,
}

impl DecodeError {
    /// A stable snake_case name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::UnknownVersion(_) => "unknown_version",
            DecodeError::Truncated => "truncated",
            DecodeError::BadVarint => "bad_varint",
            DecodeError::UnexpectedField(_) => "unexpected_field",
            DecodeError::MissingIdentifier => "missing_identifier",
            DecodeError::ThirdPartyCaveat => "third_party_caveat",
            DecodeError::BadSignature => "bad_signature_field",
            DecodeError::TrailingBytes(_) => "trailing_bytes",
            DecodeError::Base64 => "bad_base64",
            DecodeError::MalformedV1 => "malformed_v1",
        }
    }
}

/// HMAC-SHA256 of `msg` under `key`.
///
/// HMAC pads keys shorter than the hash's 64-byte block with zeros and first hashes longer ones, so
/// building the padded block here gives the same result as the library's slice constructor while
/// leaving no error case to handle.
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        let digest: [u8; 32] = Sha256::digest(key).into();
        block[..32].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// A first-party-only macaroon: an optional location (not signed), an identifier, caveats in order
/// and the signature that chains them.
///
/// Equality compares the signature in constant time. `Debug` prints the location, the identifier in
/// hex and the number of caveats, never the signature.
#[derive(Clone)]
pub struct Macaroon {
    location: Option<Vec<u8>>,
    identifier: Vec<u8>,
    caveats: Vec<Vec<u8>>,
    signature: [u8; 32],
}

impl Macaroon {
    /// Creates a macaroon with no caveats: `sig0 = HMAC(HMAC("macaroons-key-generator", root_key),
    /// identifier)`, the derivation step included as go-macaroon does.
    pub fn new(root_key: &[u8], identifier: Vec<u8>, location: Option<Vec<u8>>) -> Macaroon {
        let signature = hmac_sha256(&derive_key(root_key), &identifier);
        Macaroon { location, identifier, caveats: Vec::new(), signature }
    }

    /// Appends a first-party caveat and chains the signature: `sig = HMAC(sig, caveat)`. Anyone holding
    /// the macaroon can do this; it only ever restricts what the macaroon allows.
    pub fn add_first_party_caveat(&mut self, caveat: impl AsRef<[u8]>) {
        let caveat = caveat.as_ref();
        self.signature = hmac_sha256(&self.signature, caveat);
        self.caveats.push(caveat.to_vec());
    }

    /// The location hint, if any. It is not covered by the signature; clients ignore it.
    pub fn location(&self) -> Option<&[u8]> {
        self.location.as_deref()
    }

    /// The identifier (for L402 tokens, the 66-byte [`Identifier`](crate::Identifier) encoding).
    pub fn identifier(&self) -> &[u8] {
        &self.identifier
    }

    /// The first-party caveats, in the order they were added.
    pub fn caveats(&self) -> &[Vec<u8>] {
        &self.caveats
    }

    /// The signature at the end of the chain.
    pub fn signature(&self) -> [u8; 32] {
        self.signature
    }

    /// Recomputes the signature chain from `root_key` and compares it with the macaroon's signature
    /// in constant time.
    pub fn verify_signature(&self, root_key: &[u8]) -> bool {
        let mut signature = hmac_sha256(&derive_key(root_key), &self.identifier);
        for caveat in &self.caveats {
            signature = hmac_sha256(&signature, caveat);
        }
        signature.ct_eq(&self.signature).into()
    }

    /// Serializes into the V2 binary format, byte for byte as go-macaroon does (except that an empty
    /// location is written when one is set, where go-macaroon drops it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let caveat_bytes: usize = self.caveats.iter().map(|c| c.len() + 12).sum();
        let mut out = Vec::with_capacity(64 + self.identifier.len() + caveat_bytes);
        out.push(V2);
        if let Some(location) = &self.location {
            put_field(&mut out, FIELD_LOCATION, location);
        }
        put_field(&mut out, FIELD_IDENTIFIER, &self.identifier);
        put_varint(&mut out, FIELD_EOS);
        for caveat in &self.caveats {
            put_field(&mut out, FIELD_IDENTIFIER, caveat);
            put_varint(&mut out, FIELD_EOS);
        }
        put_varint(&mut out, FIELD_EOS);
        put_field(&mut out, FIELD_SIGNATURE, &self.signature);
        out
    }

    /// Decodes the V2 binary format, or V1 when the first byte is an ASCII hex digit. Third-party
    /// caveats, unknown fields and trailing bytes are rejected. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Macaroon, DecodeError> {
        match bytes.first() {
            None => Err(DecodeError::Empty),
            Some(&V2) => decode_v2(bytes),
            Some(b) if b.is_ascii_hexdigit() => decode_v1(bytes),
            Some(&b) => Err(DecodeError::UnknownVersion(b)),
        }
    }

    /// The V2 bytes in standard base64 with padding, the form L402 challenges carry.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_bytes())
    }

    /// Decodes base64 (standard or URL-safe alphabet, padded or not; one alphabet per string), then
    /// the binary format as [`Macaroon::from_bytes`].
    pub fn from_base64(s: &str) -> Result<Macaroon, DecodeError> {
        let engine = if s.contains(['-', '_']) { &BASE64_URL_SAFE_LENIENT } else { &BASE64_STANDARD_LENIENT };
        let bytes = engine.decode(s).map_err(|_| DecodeError::Base64)?;
        Macaroon::from_bytes(&bytes)
    }
}

impl PartialEq for Macaroon {
    fn eq(&self, other: &Self) -> bool {
        let signature_equal: bool = self.signature.ct_eq(&other.signature).into();
        signature_equal
            && self.location == other.location
            && self.identifier == other.identifier
            && self.caveats == other.caveats
    }
}

impl Eq for Macaroon {}

impl fmt::Debug for Macaroon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Macaroon")
            .field("location", &self.location.as_deref().map(String::from_utf8_lossy))
            .field("identifier", &hex::encode(&self.identifier))
            .field("caveats", &self.caveats.len())
            .finish_non_exhaustive()
    }
}

/// The derivation step: the key actually used for `sig0`.
fn derive_key(root_key: &[u8]) -> [u8; 32] {
    hmac_sha256(KEY_GENERATOR, root_key)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_field(out: &mut Vec<u8>, field: u64, data: &[u8]) {
    put_varint(out, field);
    put_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// A cursor over untrusted bytes; every read is bounds-checked.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.rest.split_first().ok_or(DecodeError::Truncated)?;
        self.rest = rest;
        Ok(first)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let low = u64::from(byte & 0x7f);
            // The tenth byte may only contribute the top bit of a u64.
            if shift == 63 && low > 1 {
                return Err(DecodeError::BadVarint);
            }
            value |= low << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::BadVarint)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        if len > self.rest.len() {
            return Err(DecodeError::Truncated);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    /// Reads one field: `None` for the end-of-section marker, else its type and data.
    fn field(&mut self) -> Result<Option<(u64, &'a [u8])>, DecodeError> {
        let field = self.varint()?;
        if field == FIELD_EOS {
            return Ok(None);
        }
        let len = self.varint()?;
        Ok(Some((field, self.take(len)?)))
    }

    /// Reads a section up to its end marker: optional location, identifier, optional verification
    /// id, in that order.
    fn section(&mut self) -> Result<Section<'a>, DecodeError> {
        let mut section = Section::default();
        let mut last_field = FIELD_EOS;
        while let Some((field, data)) = self.field()? {
            if field <= last_field {
                return Err(DecodeError::UnexpectedField(field));
            }
            match field {
                FIELD_LOCATION => section.location = Some(data),
                FIELD_IDENTIFIER => section.identifier = Some(data),
                FIELD_VERIFICATION_ID => section.verification_id = Some(data),
                _ => return Err(DecodeError::UnexpectedField(field)),
            }
            last_field = field;
        }
        Ok(section)
    }
}

#[derive(Default)]
struct Section<'a> {
    location: Option<&'a [u8]>,
    identifier: Option<&'a [u8]>,
    verification_id: Option<&'a [u8]>,
}

fn decode_v2(bytes: &[u8]) -> Result<Macaroon, DecodeError> {
    let mut reader = Reader { rest: bytes };
    reader.byte()?; // the version byte, already checked

    let header = reader.section()?;
    if header.verification_id.is_some() {
        return Err(DecodeError::UnexpectedField(FIELD_VERIFICATION_ID));
    }
    let identifier = header.identifier.ok_or(DecodeError::MissingIdentifier)?;

    let mut caveats = Vec::new();
    loop {
        match reader.rest.first() {
            None => return Err(DecodeError::Truncated),
            Some(0) => {
                reader.byte()?;
                break;
            }
            Some(_) => {}
        }
        let section = reader.section()?;
        if section.location.is_some() || section.verification_id.is_some() {
            return Err(DecodeError::ThirdPartyCaveat);
        }
        let caveat = section.identifier.ok_or(DecodeError::MissingIdentifier)?;
        caveats.push(caveat.to_vec());
    }

    let signature = match reader.field()? {
        Some((FIELD_SIGNATURE, data)) => <[u8; 32]>::try_from(data).map_err(|_| DecodeError::BadSignature)?,
        _ => return Err(DecodeError::BadSignature),
    };
    if !reader.rest.is_empty() {
        return Err(DecodeError::TrailingBytes(reader.rest.len()));
    }
    Ok(Macaroon { location: header.location.map(<[u8]>::to_vec), identifier: identifier.to_vec(), caveats, signature })
}

/// Decodes libmacaroons' V1 format: packets of four hex digits (the packet's whole length), a key,
/// a space, the value and a newline. Keys in order: `location`, `identifier`, `cid`*, `signature`.
fn decode_v1(bytes: &[u8]) -> Result<Macaroon, DecodeError> {
    let mut packets = V1Packets { rest: bytes };
    let mut location = None;
    let mut identifier = None;
    let mut caveats = Vec::new();
    let mut signature = None;
    for packet in &mut packets {
        let (key, value) = packet?;
        match (key, &identifier, &signature) {
            (b"location", None, None) if location.is_none() && caveats.is_empty() => {
                location = Some(value.to_vec());
            }
            (b"identifier", None, None) => identifier = Some(value.to_vec()),
            (b"cid", Some(_), None) => caveats.push(value.to_vec()),
            (b"vid" | b"cl", Some(_), None) => return Err(DecodeError::ThirdPartyCaveat),
            (b"signature", Some(_), None) => {
                signature = Some(<[u8; 32]>::try_from(value).map_err(|_| DecodeError::BadSignature)?);
            }
            _ => return Err(DecodeError::MalformedV1),
        }
    }
    match (identifier, signature) {
        (Some(identifier), Some(signature)) => Ok(Macaroon { location, identifier, caveats, signature }),
        (None, _) => Err(DecodeError::MissingIdentifier),
        (Some(_), None) => Err(DecodeError::BadSignature),
    }
}

/// Iterates over the `(key, value)` packets of a V1 macaroon.
struct V1Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for V1Packets<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = self.next_packet();
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

impl<'a> V1Packets<'a> {
    fn next_packet(&mut self) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
        let header = self.rest.get(..4).ok_or(DecodeError::MalformedV1)?;
        let header = std::str::from_utf8(header).map_err(|_| DecodeError::MalformedV1)?;
        if !header.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DecodeError::MalformedV1);
        }
        let len = usize::from_str_radix(header, 16).map_err(|_| DecodeError::MalformedV1)?;
        let packet = self.rest.get(4..len).ok_or(DecodeError::MalformedV1)?;
        let (&last, body) = packet.split_last().ok_or(DecodeError::MalformedV1)?;
        if last != b'\n' {
            return Err(DecodeError::MalformedV1);
        }
        let space = body.iter().position(|&b| b == b' ').ok_or(DecodeError::MalformedV1)?;
        let (key, value) = body.split_at(space);
        let value = value.get(1..).ok_or(DecodeError::MalformedV1)?;
        self.rest = self.rest.get(len..).ok_or(DecodeError::MalformedV1)?;
        Ok((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TV1_KEY: &[u8] = b"this is our super secret key; only we should know it";

    fn tv1() -> Macaroon {
        Macaroon::new(TV1_KEY, b"we used our secret key".to_vec(), Some(b"http://mybank/".to_vec()))
    }

    #[test]
    fn tv1_signature_chain() {
        let mut macaroon = tv1();
        assert_eq!(
            hex::encode(macaroon.signature()),
            "e3d9e02908526c4c0039ae15114115d97fdd68bf2ba379b342aaf0f617d0552f"
        );
        macaroon.add_first_party_caveat("account = 3735928559");
        assert_eq!(
            hex::encode(macaroon.signature()),
            "1efe4763f290dbce0c1d08477367e11f4eee456a64933cf662d79772dbb82128"
        );
        assert!(macaroon.verify_signature(TV1_KEY));
        assert!(!macaroon.verify_signature(b"this is not the key"));
    }

    #[test]
    fn tv1_v2_bytes() {
        let mut macaroon = tv1();
        macaroon.add_first_party_caveat("account = 3735928559");
        let expected = hex::decode(concat!(
            "02",
            "010e",
            "687474703a2f2f6d7962616e6b2f",
            "0216",
            "77652075736564206f757220736563726574206b6579",
            "00",
            "0214",
            "6163636f756e74203d2033373335393238353539",
            "00",
            "00",
            "0620",
            "1efe4763f290dbce0c1d08477367e11f4eee456a64933cf662d79772dbb82128",
        ))
        .unwrap();
        assert_eq!(macaroon.to_bytes(), expected);
        assert_eq!(Macaroon::from_bytes(&expected).unwrap(), macaroon);
    }

    #[test]
    fn tv1_v1_decodes_to_the_same_macaroon() {
        let mut macaroon = tv1();
        macaroon.add_first_party_caveat("account = 3735928559");
        let mut v1 = Vec::new();
        let mut packet = |key: &[u8], value: &[u8]| {
            let len = 4 + key.len() + 1 + value.len() + 1;
            v1.extend_from_slice(format!("{len:04x}").as_bytes());
            v1.extend_from_slice(key);
            v1.push(b' ');
            v1.extend_from_slice(value);
            v1.push(b'\n');
        };
        packet(b"location", b"http://mybank/");
        packet(b"identifier", b"we used our secret key");
        packet(b"cid", b"account = 3735928559");
        packet(b"signature", &macaroon.signature());
        let decoded = Macaroon::from_bytes(&v1).unwrap();
        assert_eq!(decoded, macaroon);
        assert!(decoded.verify_signature(TV1_KEY));
        // libmacaroons ships V1 as URL-safe base64.
        let text = base64::engine::general_purpose::URL_SAFE.encode(&v1);
        assert_eq!(Macaroon::from_base64(&text).unwrap(), macaroon);
        // A V1 third-party caveat is refused.
        let mut third_party = v1.clone();
        let vid = b"000avid x\n";
        let signature_at = third_party.len() - (4 + 10 + 32 + 1);
        third_party.splice(signature_at..signature_at, vid.iter().copied());
        assert_eq!(Macaroon::from_bytes(&third_party), Err(DecodeError::ThirdPartyCaveat));
    }

    #[test]
    fn base64_variants_are_accepted() {
        let mut macaroon = tv1();
        macaroon.add_first_party_caveat("account = 3735928559");
        let bytes = macaroon.to_bytes();
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        for text in [
            STANDARD.encode(&bytes),
            STANDARD_NO_PAD.encode(&bytes),
            URL_SAFE.encode(&bytes),
            URL_SAFE_NO_PAD.encode(&bytes),
        ] {
            assert_eq!(Macaroon::from_base64(&text).unwrap(), macaroon, "{text}");
        }
        assert_eq!(macaroon.to_base64(), STANDARD.encode(&bytes));
        assert_eq!(Macaroon::from_base64("not base64!"), Err(DecodeError::Base64));
        assert_eq!(Macaroon::from_base64(""), Err(DecodeError::Empty));
    }

    #[test]
    fn structural_errors() {
        let mut macaroon = tv1();
        macaroon.add_first_party_caveat("account = 3735928559");
        let bytes = macaroon.to_bytes();
        for cut in 0..bytes.len() {
            assert!(Macaroon::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(Macaroon::from_bytes(&trailing), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(Macaroon::from_bytes(&[0x03]), Err(DecodeError::UnknownVersion(3)));
        // A caveat section with a verification id is a third-party caveat.
        let third_party =
            hex::decode("02020161000201630401760000062000000000000000000000000000000000000000000000000000000000000000")
                .unwrap();
        assert_eq!(Macaroon::from_bytes(&third_party), Err(DecodeError::ThirdPartyCaveat));
        // Fields out of order.
        let out_of_order = hex::decode("020201610101620000").unwrap();
        assert_eq!(Macaroon::from_bytes(&out_of_order), Err(DecodeError::UnexpectedField(1)));
        // A varint longer than 64 bits.
        let long_varint = hex::decode("02ffffffffffffffffffff01").unwrap();
        assert_eq!(Macaroon::from_bytes(&long_varint), Err(DecodeError::BadVarint));
        // A signature of the wrong length.
        let short_signature = hex::decode("020201610000061f").unwrap();
        assert!(Macaroon::from_bytes(&short_signature).is_err());
    }

    #[test]
    fn debug_hides_the_signature() {
        let macaroon = tv1();
        let debug = format!("{macaroon:?}");
        assert!(debug.contains("http://mybank/"));
        assert!(!debug.contains(&hex::encode(macaroon.signature())));
        assert!(!debug.contains(&hex::encode(&macaroon.signature()[..4])));
    }

    #[test]
    fn long_keys_match_the_hmac_definition() {
        let key = [0x5a; 100];
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"message");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(hmac_sha256(&key, b"message"), expected);
    }
}
