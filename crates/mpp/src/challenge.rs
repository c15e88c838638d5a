//! The challenge: `WWW-Authenticate: Payment id=…, realm=…, method="lightning", intent="charge", request=…, …`.
//!
//! Its `id` is `base64url(HMAC-SHA256(key, realm|method|intent|request|expires|digest|opaque))` over the values as
//! they are on the wire, so the server verifies an echoed challenge with no record of having sent it. `request`
//! is the base64url of the charge's JSON in its canonical (RFC 8785) form, which clients re-encode when they echo
//! it; `opaque` carries what mesh402 binds the payment to (the request's digest and how long the credential is
//! good), protected by the same HMAC.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use mesh402_l402::{PaymentHash, RequestBinding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::params::{ParsedChallenge, push_quoted};

/// The scheme's name in `WWW-Authenticate` and `Authorization`.
pub const SCHEME: &str = "Payment";
/// The payment method this crate speaks.
pub const METHOD: &str = "lightning";
/// The intent this crate speaks: one payment for one request.
pub const INTENT: &str = "charge";
/// The only currency of the Lightning charge: amounts are whole satoshis.
pub const CURRENCY: &str = "sat";
/// The longest `request` parameter accepted from a challenge (what `mppx` accepts).
pub const MAX_REQUEST_LEN: usize = 16 * 1024;

/// The key that binds challenge ids. `Debug` prints `***`.
#[derive(Clone)]
pub struct ChallengeKey(Vec<u8>);

impl ChallengeKey {
    /// A key from its bytes (derive it from the server's secret; never send it).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> ChallengeKey {
        ChallengeKey(bytes.into())
    }

    fn id(&self, input: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(input.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The Bitcoin network of an invoice, as the Lightning charge names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// `lnbc…` invoices.
    Mainnet,
    /// `lnbcrt…` invoices.
    Regtest,
    /// `lntbs…` invoices.
    Signet,
}

impl Network {
    /// The network of a BOLT11 invoice, from its prefix; `None` for testnet (which the method does not name) and
    /// for what is not an invoice.
    pub fn of_invoice(bolt11: &str) -> Option<Network> {
        let lower = bolt11.get(..6).unwrap_or(bolt11).to_ascii_lowercase();
        if lower.starts_with("lnbcrt") {
            Some(Network::Regtest)
        } else if lower.starts_with("lntbs") {
            Some(Network::Signet)
        } else if lower.starts_with("lnbc") {
            Some(Network::Mainnet)
        } else {
            None
        }
    }
}

/// What the Lightning charge asks for: the `request` parameter, decoded. Field order is the canonical (RFC 8785)
/// key order, so serialising it gives the canonical form (every value is a string without characters that
/// canonical JSON escapes differently).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRequest {
    /// The amount in satoshis, as a decimal string.
    pub amount: String,
    /// Always [`CURRENCY`].
    pub currency: String,
    /// What is bought (also the invoice's description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The invoice and its payment hash.
    #[serde(rename = "methodDetails")]
    pub method_details: MethodDetails,
}

/// The Lightning part of a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodDetails {
    /// The BOLT11 invoice to pay.
    pub invoice: String,
    /// The invoice's network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// The invoice's payment hash, lowercase hex.
    #[serde(rename = "paymentHash", default, skip_serializing_if = "Option::is_none")]
    pub payment_hash: Option<String>,
}

impl ChargeRequest {
    /// A charge of `amount_sats` for `invoice`, whose payment hash is `payment_hash`.
    pub fn new(amount_sats: u64, invoice: &str, payment_hash: PaymentHash, description: Option<&str>) -> ChargeRequest {
        ChargeRequest {
            amount: amount_sats.to_string(),
            currency: CURRENCY.to_owned(),
            description: description.map(str::to_owned),
            method_details: MethodDetails {
                invoice: invoice.to_owned(),
                network: Network::of_invoice(invoice),
                payment_hash: Some(payment_hash.to_string()),
            },
        }
    }

    /// The amount in satoshis, if it is a positive decimal integer.
    pub fn amount_sats(&self) -> Option<u64> {
        let digits = self.amount.as_str();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return None;
        }
        digits.parse().ok()
    }

    /// The payment hash the request names, if it is 32 bytes of hex.
    pub fn payment_hash(&self) -> Option<PaymentHash> {
        self.method_details.payment_hash.as_deref()?.parse().ok()
    }

    /// The `request` parameter: base64url (no padding) of the canonical JSON.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a charge request is plain strings"))
    }

    /// Reads a `request` parameter (base64url, padded or not).
    pub fn decode(encoded: &str) -> Result<ChargeRequest, ChallengeError> {
        if encoded.len() > MAX_REQUEST_LEN {
            return Err(ChallengeError::TooLong);
        }
        let bytes = decode_base64url(encoded).ok_or(ChallengeError::BadRequestEncoding)?;
        serde_json::from_slice(&bytes).map_err(|_| ChallengeError::BadRequestJson)
    }
}

/// What mesh402 binds a payment to, carried in the HMAC-protected `opaque` parameter: the request's digest (the
/// same binding an L402 macaroon carries) and the time until which the paid credential is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The request the payment is for.
    pub request: RequestBinding,
    /// Until when (unix seconds) the credential redeems, fetches its job's status or claims its refund.
    pub valid_until: u64,
}

/// The `opaque` parameter's JSON: a flat map of strings in canonical key order.
#[derive(Serialize, Deserialize)]
struct OpaqueFields {
    binding: String,
    valid_until: String,
}

impl Binding {
    fn encode(&self) -> String {
        let fields = OpaqueFields { binding: self.request.to_string(), valid_until: self.valid_until.to_string() };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&fields).expect("two strings"))
    }

    pub(crate) fn decode(encoded: &str) -> Option<Binding> {
        let fields: OpaqueFields = serde_json::from_slice(&decode_base64url(encoded)?).ok()?;
        Some(Binding { request: fields.binding.parse().ok()?, valid_until: fields.valid_until.parse().ok()? })
    }
}

/// A request body's digest as RFC 9530 writes it: `sha-256=:<base64>:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyDigest(String);

impl BodyDigest {
    /// The digest of `body`.
    pub fn of(body: &[u8]) -> BodyDigest {
        BodyDigest(format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body))))
    }

    /// As it is written in the `digest` parameter.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A challenge's parameters as they are on the wire; a credential echoes them back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentChallenge {
    /// The HMAC that binds the other parameters.
    pub id: String,
    /// The protection space (mesh402 uses its public host).
    pub realm: String,
    /// [`METHOD`].
    pub method: String,
    /// [`INTENT`].
    pub intent: String,
    /// The base64url of the canonical [`ChargeRequest`].
    pub request: String,
    /// When the invoice can no longer be paid (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The request body's digest ([`BodyDigest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Server data echoed unchanged (mesh402: the [`Binding`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opaque: Option<String>,
    /// Text for people; not bound, never used to verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What a server puts into a challenge.
#[derive(Debug, Clone)]
pub struct ChallengeParts<'a> {
    /// The protection space.
    pub realm: &'a str,
    /// The charge.
    pub request: &'a ChargeRequest,
    /// When the invoice expires, unix seconds.
    pub expires_unix: u64,
    /// The request body's digest, when the request has a body.
    pub digest: Option<BodyDigest>,
    /// What the payment is bound to.
    pub binding: Binding,
    /// Text for people.
    pub description: Option<&'a str>,
}

/// Why a challenge could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// A required parameter is missing.
    #[error("the challenge has no {0} parameter")]
    Missing(&'static str),
    /// A parameter appears twice.
    #[error("the challenge repeats the {0} parameter")]
    Repeated(String),
    /// The `request` parameter is longer than [`MAX_REQUEST_LEN`].
    #[error("the challenge's request is too long")]
    TooLong,
    /// The `request` parameter is not base64url.
    #[error("the challenge's request is not base64url")]
    BadRequestEncoding,
    /// The `request` parameter is not a charge's JSON.
    #[error("the challenge's request is not a charge")]
    BadRequestJson,
    /// The realm holds `|`, which would make two different challenges bind alike.
    #[error("the realm may not contain '|'")]
    BadRealm,
}

impl PaymentChallenge {
    /// A new challenge for `parts`, its id bound by `key`.
    pub fn issue(key: &ChallengeKey, parts: &ChallengeParts<'_>) -> Result<PaymentChallenge, ChallengeError> {
        if parts.realm.contains('|') || parts.realm.is_empty() {
            return Err(ChallengeError::BadRealm);
        }
        let mut challenge = PaymentChallenge {
            id: String::new(),
            realm: parts.realm.to_owned(),
            method: METHOD.to_owned(),
            intent: INTENT.to_owned(),
            request: parts.request.encode(),
            expires: Some(format_time(parts.expires_unix)),
            digest: parts.digest.as_ref().map(|digest| digest.as_str().to_owned()),
            opaque: Some(parts.binding.encode()),
            description: parts.description.map(str::to_owned),
        };
        challenge.id = challenge.expected_id(key);
        Ok(challenge)
    }

    /// The id `key` gives these parameters.
    pub fn expected_id(&self, key: &ChallengeKey) -> String {
        let input = [
            self.realm.as_str(),
            &self.method,
            &self.intent,
            &self.request,
            self.expires.as_deref().unwrap_or(""),
            self.digest.as_deref().unwrap_or(""),
            self.opaque.as_deref().unwrap_or(""),
        ]
        .join("|");
        key.id(&input)
    }

    /// The `WWW-Authenticate` value: every parameter quoted, in the order `id, realm, method, intent, request,
    /// expires, digest, description, opaque`.
    pub fn header_value(&self) -> String {
        let mut out = format!("{SCHEME} ");
        push_quoted(&mut out, "id", &self.id);
        push_quoted(&mut out, "realm", &self.realm);
        push_quoted(&mut out, "method", &self.method);
        push_quoted(&mut out, "intent", &self.intent);
        push_quoted(&mut out, "request", &self.request);
        for (name, value) in [
            ("expires", &self.expires),
            ("digest", &self.digest),
            ("description", &self.description),
            ("opaque", &self.opaque),
        ] {
            if let Some(value) = value {
                push_quoted(&mut out, name, value);
            }
        }
        out
    }

    /// A challenge from what a client read ([`crate::parse_challenges`]); `None` when it is another scheme.
    pub fn from_parsed(parsed: &ParsedChallenge) -> Option<Result<PaymentChallenge, ChallengeError>> {
        if !parsed.scheme.eq_ignore_ascii_case(SCHEME) {
            return None;
        }
        Some(Self::from_params(&parsed.params))
    }

    fn from_params(params: &[(String, String)]) -> Result<PaymentChallenge, ChallengeError> {
        let mut seen: Vec<&str> = Vec::new();
        for (name, _) in params {
            if seen.contains(&name.as_str()) {
                return Err(ChallengeError::Repeated(name.clone()));
            }
            seen.push(name);
        }
        let get = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
        let required = |name: &'static str| get(name).filter(|v| !v.is_empty()).ok_or(ChallengeError::Missing(name));
        let request = required("request")?;
        if request.len() > MAX_REQUEST_LEN {
            return Err(ChallengeError::TooLong);
        }
        Ok(PaymentChallenge {
            id: required("id")?,
            realm: required("realm")?,
            method: required("method")?,
            intent: required("intent")?,
            request,
            expires: get("expires"),
            digest: get("digest"),
            opaque: get("opaque"),
            description: get("description"),
        })
    }

    /// The charge this challenge asks for.
    pub fn charge(&self) -> Result<ChargeRequest, ChallengeError> {
        ChargeRequest::decode(&self.request)
    }

    /// `expires` in unix seconds, if present and RFC 3339.
    pub fn expires_unix(&self) -> Option<u64> {
        parse_time(self.expires.as_deref()?)
    }
}

/// Unix seconds as RFC 3339 (`2026-09-01T12:15:00Z`).
pub fn format_time(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix)).to_string()
}

/// RFC 3339 (UTC, `Z`) as unix seconds.
pub fn parse_time(text: &str) -> Option<u64> {
    let time = humantime::parse_rfc3339_weak(text).ok()?;
    time.duration_since(std::time::UNIX_EPOCH).ok().map(|since| since.as_secs())
}

/// base64url with or without padding; the standard alphabet's `+` and `/` are refused.
pub(crate) fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}
