//! The answers of the unpaid path: a `402 Payment Required` with its challenge, and a quote (the price and the
//! checks of a request, without an invoice).

use mesh402_core::{Format, MeshParams};
use serde::{Deserialize, Serialize};

use crate::ErrorDetail;

/// The body of a `402`: the error, the problem details (RFC 9457) the `Payment` scheme names, and the challenges
/// of the `WWW-Authenticate` lines again in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequired {
    /// `payment_required`, with what to do.
    pub error: ErrorDetail,
    /// The problem's type: `https://paymentauth.org/problems/payment-required`, or why the credential sent was
    /// refused (`invalid-challenge`, `verification-failed`, `payment-expired`, `malformed-credential`, …).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The problem's title.
    pub title: String,
    /// Always 402.
    pub status: u16,
    /// What to do, as `error.message` says it.
    pub detail: String,
    /// The L402 macaroon, base64 (absent when the server offers the `Payment` scheme only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macaroon: Option<String>,
    /// The BOLT11 invoice to pay.
    pub invoice: String,
    /// The invoice's payment hash (hex).
    pub payment_hash: String,
    /// The price in satoshis.
    pub amount_sats: u64,
    /// When the invoice expires (RFC 3339).
    pub expires_at: String,
    /// The `Payment` challenge for the same invoice (absent when the server offers L402 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<mesh402_mpp::PaymentChallenge>,
}

/// The answer of `POST /api/l402/quote`: what a request would cost and that it passed the checks made before an
/// invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// The price in satoshis.
    pub price_sats: u64,
    /// Always true: a request that would be refused gets its error instead.
    pub accepted: bool,
    /// The generator's options, defaults filled in.
    pub options: MeshParams,
    /// What the price buys: the model in these formats (the asked one, `modelUrl`'s, first; the others under the
    /// answer's `files`), from one generation and one payment.
    pub formats: Vec<Format>,
    /// Whether a preview picture (`preview_url`) comes with it.
    pub preview: bool,
    /// The limits a request and its credential live under.
    pub limits: QuoteLimits,
    /// The picture as the checks read it, for a request with an image checked whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<QuotedImage>,
    /// The prompt, for a request made from text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

/// The limits a quote states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLimits {
    /// The largest request body, in bytes.
    pub max_body_bytes: u64,
    /// How long an invoice can be paid, in seconds.
    pub invoice_expiry_secs: u64,
    /// How long a paid credential stays good, in seconds.
    pub token_lifetime_secs: u64,
}

/// A quoted picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotedImage {
    /// Its media type.
    pub media_type: String,
    /// Its width in pixels, after EXIF orientation.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}
