//! What the HTTP backends share: secrets that never print, a client whose every call has a deadline (optionally
//! trusting exactly one pinned certificate), the mapping of transport failures to [`LnError`], bounded response
//! reading, and the check that an invoice a node returns is the one that was asked for.

use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;

use bitcoin::hashes::Hash;
use lightning_invoice::SignedRawBolt11Invoice;
use mesh402_l402::PaymentHash;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::de::DeserializeOwned;

use crate::{CreatedInvoice, InvoiceRequest, LnError};

/// The largest response body read from a node; invoices and lookups are a few kilobytes.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The longest a TCP connect may take, whatever the overall timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A credential (API key, macaroon, rune). Its `Debug` prints `***`, so it cannot leak through logs or panics.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential, trimming surrounding whitespace (secret files often end with a newline).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into().trim().to_owned())
    }

    /// The credential itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the credential is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Secret, Self::Err> {
        Ok(Secret::new(text))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Installs the ring crypto provider as the process default, once. reqwest is built without a default provider
/// (the default one, aws-lc, builds slowly), so a process must call this before building any HTTP client; the
/// backends here call it themselves.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Another part of the process may have installed one already; either way a provider is in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Builds a client whose every request ends within `timeout`. With `pinned_cert_pem`, the client trusts exactly
/// that certificate (a node's self-signed one) and nothing else; otherwise the platform's roots.
pub(crate) fn client(timeout: Duration, pinned_cert_pem: Option<&[u8]>) -> Result<reqwest::Client, LnError> {
    install_crypto_provider();
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        .user_agent(concat!("mesh402/", env!("CARGO_PKG_VERSION")))
        // A node's API never redirects; following one could send the credential elsewhere.
        .redirect(reqwest::redirect::Policy::none());
    let builder = match pinned_cert_pem {
        Some(pem) => builder.tls_backend_preconfigured(pinned_tls_config(pem)?),
        None => builder,
    };
    builder.build().map_err(|error| LnError::Unavailable(format!("cannot build the HTTP client: {error}")))
}

/// A rustls configuration that accepts exactly the certificate in `pem` (its first certificate).
pub(crate) fn pinned_tls_config(pem: &[u8]) -> Result<rustls::ClientConfig, LnError> {
    let certificate = CertificateDer::pem_slice_iter(pem)
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| LnError::Rejected("the TLS certificate file holds no PEM certificate".into()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        PinnedCertVerifier { pinned: certificate.into_owned(), algorithms: provider.signature_verification_algorithms };
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| LnError::Rejected(format!("TLS setup: {error}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// Accepts a server only if it presents exactly the pinned certificate, and checks the handshake signatures
/// against that certificate's key. Names are not checked: nodes' self-signed certificates often name only
/// `localhost`, and a byte-for-byte match is stronger than any name check.
#[derive(Debug)]
struct PinnedCertVerifier {
    pinned: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Maps a failure to send a request or read its answer: timeouts and connection failures mean the node is
/// unavailable; the error chain is kept in the message (it never contains headers, so no credential).
pub(crate) fn transport_error(error: reqwest::Error) -> LnError {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_timeout() {
        LnError::Unavailable(format!("timed out: {message}"))
    } else if error.is_decode() {
        LnError::BadResponse(message)
    } else {
        LnError::Unavailable(message)
    }
}

/// A response read whole (up to [`MAX_RESPONSE_BYTES`]).
pub(crate) struct Answer {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// Sends `request` and reads the answer, within the client's timeout.
    pub(crate) async fn fetch(request: reqwest::RequestBuilder) -> Result<Answer, LnError> {
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(LnError::BadResponse(format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }

    /// Parses the body as JSON of type `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, LnError> {
        serde_json::from_slice(&self.body)
            .map_err(|error| LnError::BadResponse(format!("HTTP {}: unreadable JSON: {error}", self.status.as_u16())))
    }

    /// A short, printable excerpt of the body for error messages.
    pub(crate) fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut excerpt: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
        if text.chars().count() > 200 {
            excerpt.push('…');
        }
        excerpt
    }

    /// The errors every backend maps the same way: refused credentials, and proxies reporting the node down.
    pub(crate) fn common_error(&self) -> Option<LnError> {
        match self.status.as_u16() {
            401 | 403 => Some(LnError::Unauthorized),
            502..=504 => Some(LnError::Unavailable(format!("HTTP {}: {}", self.status.as_u16(), self.excerpt()))),
            _ => None,
        }
    }
}

/// What mesh402 needs from a BOLT11 invoice, read leniently: the signature must be valid, but optional fields
/// some wallets omit (features, a payment secret: LNbits' FakeWallet writes neither) are not required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceFacts {
    /// The amount, when the invoice names one.
    pub amount_msat: Option<u64>,
    /// The payment hash it commits to.
    pub payment_hash: PaymentHash,
    /// How long it is payable after its timestamp.
    pub expiry: Duration,
    /// When it stops being payable, in unix seconds.
    pub expires_at: u64,
}

/// BOLT11's expiry when the invoice names none.
const DEFAULT_BOLT11_EXPIRY: Duration = Duration::from_secs(3600);

/// Why a text is not an invoice mesh402 can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// It is not BOLT11 text (the parser's reason).
    #[error("it is not a BOLT11 invoice: {0}")]
    Malformed(String),
    /// Its signature does not verify.
    #[error("its signature is invalid")]
    BadSignature,
    /// It commits to no payment hash.
    #[error("it has no payment hash")]
    NoPaymentHash,
}

/// Reads `bolt11` leniently (see [`InvoiceFacts`]); the error says what is wrong.
pub fn invoice_facts(bolt11: &str) -> Result<InvoiceFacts, InvoiceError> {
    let signed =
        SignedRawBolt11Invoice::from_str(bolt11).map_err(|error| InvoiceError::Malformed(error.to_string()))?;
    if !signed.check_signature() {
        return Err(InvoiceError::BadSignature);
    }
    let raw = signed.raw_invoice();
    let payment_hash = raw.payment_hash().ok_or(InvoiceError::NoPaymentHash)?;
    let expiry = raw.expiry_time().map_or(DEFAULT_BOLT11_EXPIRY, |expiry| *expiry.as_duration());
    // One millisatoshi is ten picobitcoin; an amount with a fraction of a millisatoshi is not one we asked for.
    let amount_msat = raw.amount_pico_btc().map(|pico| if pico.is_multiple_of(10) { pico / 10 } else { u64::MAX });
    let expires_at = raw.data.timestamp.as_unix_timestamp().saturating_add(expiry.as_secs());
    Ok(InvoiceFacts { amount_msat, payment_hash: PaymentHash(payment_hash.0.to_byte_array()), expiry, expires_at })
}

/// Checks that `bolt11` is a validly signed invoice for exactly the requested amount, with the payment hash the
/// node reported (when it reported one), and not expiring sooner than asked; returns what the caller hands out.
pub(crate) fn check_invoice(
    bolt11: &str,
    request: &InvoiceRequest,
    reported_hash: Option<&PaymentHash>,
) -> Result<CreatedInvoice, LnError> {
    let bolt11 = bolt11.trim();
    let facts = invoice_facts(bolt11)
        .map_err(|error| LnError::BadResponse(format!("the node returned an invalid BOLT11 invoice: {error}")))?;
    if facts.amount_msat != Some(request.amount.0) {
        return Err(LnError::BadResponse(format!(
            "the node's invoice is for {:?} msat, not the {} msat asked for",
            facts.amount_msat, request.amount.0
        )));
    }
    if let Some(reported) = reported_hash
        && *reported != facts.payment_hash
    {
        return Err(LnError::BadResponse("the node reported a payment hash its invoice does not carry".into()));
    }
    if facts.expiry < request.expiry {
        return Err(LnError::BadResponse(format!(
            "the node's invoice expires after {} s, sooner than the {} s asked for",
            facts.expiry.as_secs(),
            request.expiry.as_secs()
        )));
    }
    Ok(CreatedInvoice { bolt11: bolt11.to_owned(), payment_hash: facts.payment_hash, expires_at: facts.expires_at })
}

/// The unix time at which `bolt11` expires, if it parses.
pub(crate) fn invoice_expires_at(bolt11: &str) -> Option<u64> {
    invoice_facts(bolt11.trim()).ok().map(|facts| facts.expires_at)
}

/// A whole number of satoshis for `request`, for APIs that take satoshis.
pub(crate) fn whole_sats(request: &InvoiceRequest) -> Result<u64, LnError> {
    if request.amount.0 == 0 || !request.amount.0.is_multiple_of(1000) {
        return Err(LnError::Rejected(format!("{} msat is not a positive whole number of satoshis", request.amount.0)));
    }
    Ok(request.amount.0 / 1000)
}

/// `base_url` without trailing slashes, checked to be http(s).
pub(crate) fn base_url(name: &str, url: &str) -> Result<String, LnError> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(LnError::Rejected(format!("{name}: {url:?} must start with http:// or https://")));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("  hunter2\n");
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(secret)), "Some(***)");
    }

    #[test]
    fn urls_must_be_http() {
        assert_eq!(base_url("x", "http://a:1/").unwrap(), "http://a:1");
        assert!(base_url("x", "a:1").is_err());
    }
}
