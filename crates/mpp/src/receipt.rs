//! The receipt of a served payment: `Payment-Receipt: <base64url of {"status":"success", …}>`, sent on successful
//! answers only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mesh402_l402::PaymentHash;
use serde::{Deserialize, Serialize};

use crate::challenge::{METHOD, decode_base64url, format_time};

/// The receipt header's name.
pub const RECEIPT_HEADER: &str = "payment-receipt";

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Always `success`.
    pub status: String,
    /// [`METHOD`].
    pub method: String,
    /// When (RFC 3339).
    pub timestamp: String,
    /// The payment hash, lowercase hex (never the preimage).
    pub reference: String,
    /// The id of the challenge that was paid.
    pub challenge_id: String,
}

impl Receipt {
    /// The receipt of the payment with `payment_hash`, for the challenge `challenge_id`, at `now_unix`.
    pub fn new(payment_hash: &PaymentHash, challenge_id: &str, now_unix: u64) -> Receipt {
        Receipt {
            status: "success".to_owned(),
            method: METHOD.to_owned(),
            timestamp: format_time(now_unix),
            reference: payment_hash.to_string(),
            challenge_id: challenge_id.to_owned(),
        }
    }

    /// The header's value: base64url without padding.
    pub fn header_value(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a receipt is plain strings"))
    }

    /// Reads a header's value.
    pub fn decode(value: &str) -> Option<Receipt> {
        serde_json::from_slice(&decode_base64url(value.trim())?).ok()
    }
}
