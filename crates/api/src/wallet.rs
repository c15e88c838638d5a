//! The bodies of the invoice-status look-up (a challenge's holder asks whether its invoice was paid) and of the
//! development wallet's two routes.

use serde::{Deserialize, Serialize};

/// `POST /api/l402/invoice-status`: the challenge's macaroon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceStatusRequest {
    /// The challenge's macaroon, base64 (standard or URL-safe, padded or not).
    pub macaroon: String,
}

/// Where a challenge's invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceState {
    /// Not paid, still payable.
    Open,
    /// Paid.
    Paid,
    /// Not paid and no longer payable.
    Expired,
    /// The backend has no record of it.
    Unknown,
}

impl InvoiceState {
    /// Every state.
    pub const ALL: [InvoiceState; 4] =
        [InvoiceState::Open, InvoiceState::Paid, InvoiceState::Expired, InvoiceState::Unknown];

    /// The state's name on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            InvoiceState::Open => "open",
            InvoiceState::Paid => "paid",
            InvoiceState::Expired => "expired",
            InvoiceState::Unknown => "unknown",
        }
    }
}

/// The answer of `POST /api/l402/invoice-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceStatusAnswer {
    /// Whether it was paid.
    pub paid: bool,
    /// Where it stands.
    pub state: InvoiceState,
    /// Its payment hash (hex).
    pub payment_hash: String,
    /// Left out until paid; once paid, the preimage (hex), or null when the backend does not reveal it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preimage: Option<Option<String>>,
    /// Why a paid invoice comes without its preimage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /dev/pay`: the invoice the development wallet is to pay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevPayRequest {
    /// A BOLT11 invoice of the development wallet.
    pub invoice: String,
}

/// The answer of `POST /dev/pay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevPaid {
    /// The proof of payment (hex).
    pub preimage: String,
    /// The invoice's payment hash (hex).
    pub payment_hash: String,
}

/// `POST /dev/invoice`: the amount of the invoice the development wallet is to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevInvoiceRequest {
    /// Satoshis.
    pub amount_sats: u64,
}

/// The answer of `POST /dev/invoice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevInvoice {
    /// The BOLT11 invoice.
    pub invoice: String,
    /// Its payment hash (hex).
    pub payment_hash: String,
    /// When it expires (unix seconds).
    pub expires_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preimage_is_absent_until_paid_and_null_when_paid_but_withheld() {
        let open = InvoiceStatusAnswer {
            paid: false,
            state: InvoiceState::Open,
            payment_hash: "ab".into(),
            preimage: None,
            message: None,
        };
        let text = serde_json::to_string(&open).unwrap();
        assert_eq!(text, r#"{"paid":false,"state":"open","payment_hash":"ab"}"#);
        let withheld = InvoiceStatusAnswer { paid: true, state: InvoiceState::Paid, preimage: Some(None), ..open };
        let value = serde_json::to_value(&withheld).unwrap();
        assert!(value["preimage"].is_null() && value.as_object().unwrap().contains_key("preimage"), "{value}");
    }
}
