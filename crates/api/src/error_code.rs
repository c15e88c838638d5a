//! Every error code the API answers with, as one enum: the status each comes with and its stable name. The
//! server can answer with no other; the catalogue of when each is sent (`GET /api/error-codes`,
//! `docs/ERRORS.md`) is checked against it.

/// A stable snake_case error code (`error.code` in a body, `X-Error-Code` in the headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// 402: No credential, or one that is invalid, expired, unpaid, revoked or for another request.
    PaymentRequired,
    /// 400: The body is not a JSON object.
    InvalidJson,
    /// 400: No `image` field (and no `prompt`).
    MissingImage,
    /// 400: Both an `image` and a `prompt`: send one of them.
    ImageAndPrompt,
    /// 400: `image` is not a string.
    InvalidImageField,
    /// 400: `image` is not a `data:<type>;base64,<data>` URI.
    InvalidDataUri,
    /// 400: The data is not valid standard base64.
    InvalidBase64,
    /// 400: The body could not be read.
    BodyUnreadable,
    /// 408: The body did not arrive within `body_read_timeout_secs` (default 60) of the headers; the connection is closed.
    BodyTimeout,
    /// 413: The body is over the limit (default 32 MiB).
    BodyTooLarge,
    /// 413: The image declares more pixels or a larger side than the generator accepts (checked before decoding).
    ImageTooLarge,
    /// 415: The data URI's type is not `image/png`, `image/jpeg` or `image/webp`.
    UnsupportedImageType,
    /// 415: The request's `Content-Type` is not JSON.
    UnsupportedContentType,
    /// 422: The image has no data or no pixels.
    ImageEmpty,
    /// 422: The image is too small to find an object in.
    ImageTooSmall,
    /// 422: The bytes are not a decodable image (truncated, corrupt).
    ImageDecodeFailed,
    /// 422: The bytes are another kind of image than the data URI declares.
    ImageKindMismatch,
    /// 422: The picture shows no object: blank, one colour, fully transparent or noise (refused before any invoice); or, rarely, a paid picture in which segmentation found nothing to model (then the job ends with `generation_rejected`).
    NoObjectFound,
    /// 422: An unknown option, or a value out of range.
    InvalidOption,
    /// 422: `prompt` is not a string, is blank, is over 1000 bytes or holds control characters.
    InvalidPrompt,
    /// 422: A `prompt` for a server whose generator makes models from pictures only (the embedded one); only a Hunyuan3D-2 model server makes models from text.
    PromptUnsupported,
    /// 422: A paid job failed because of its input (for the embedded generator, mostly `object_unclear`: the object could not be told from its background with confidence, so no model was made rather than a wrong one); the credential stays good until it expires and the refund it offers can be claimed.
    GenerationRejected,
    /// 503: A paid job failed after its retries because of a server fault (in the generator: `segmentation_failed`, `mesh_check_failed` or `encode_failed`; with a Hunyuan3D-2 model server, `generator_unavailable` or `mesh_check_failed` for a model that failed its check; recorded with the job); the payment is still good: repeat the request with the same credential.
    GenerationFailed,
    /// 503: The Lightning backend could not make an invoice in time.
    LightningUnavailable,
    /// 503: The job records or the model files (the database, the bucket, the disk) could not be reached or written in time; nothing was lost, and a paid request's credential is still good: repeat the request later.
    StorageUnavailable,
    /// 503: The server is reading as many request bodies as it takes at once (`max_inflight_body_bytes`), or its unpaid checks are queued full; refused before the body is read.
    ServerBusy,
    /// 503: This client already has as many unpaid bodies being read as it may (`max_inflight_body_bytes_per_client`); refused before the body is read.
    TooManyUploads,
    /// 429: Too many unpaid model requests (`challenges_per_minute`) or requests without a valid credential (`unpaid_requests_per_minute`) from this client.
    RateLimited,
    /// 409: The credential's job is being refunded (its claim is recorded, the payment under way); it redeems nothing more.
    RefundPending,
    /// 409: The credential's job was refunded; it redeems nothing more.
    PaymentRefunded,
    /// 404: Unknown URL or model id.
    NotFound,
    /// 404: The job status or events URL was asked without the credential that paid for that job (or the job does not exist: the two are not told apart).
    JobNotFound,
    /// 405: Known URL, wrong method.
    MethodNotAllowed,
    /// 500: A server fault; details are in the server's log, never in the response.
    InternalError,
    /// 403: No credential, or one that does not prove payment: a macaroon without its preimage (the payment hash alone is not proof), a wrong preimage, a forged or expired macaroon.
    RefundCredentialInvalid,
    /// 403: The credential is valid but paid for another job.
    RefundCredentialMismatch,
    /// 409: The job delivered its model, is still being worked on, or its credential has expired: no refund is owed.
    RefundNotOwed,
    /// 409: This server's Lightning backend cannot pay (an LNbits backend without its admin key, or LND, Core Lightning or NWC without `refunds = true`), so it offers no refunds; the credential can still retry the job.
    RefundsNotOffered,
    /// 422: The invoice is not a validly signed BOLT11 invoice, or is the invoice the job was paid with.
    RefundInvoiceInvalid,
    /// 422: The invoice is not for exactly the refundable amount (or has no amount); the body's `amount_msat` says what it must be.
    RefundAmountMismatch,
    /// 422: The invoice has expired or expires within a minute.
    RefundInvoiceExpired,
    /// 502: The server's wallet refused to pay the invoice (no route, a wrong network): nothing was paid, the refund is offered again; claim with another invoice.
    RefundPaymentFailed,
    /// 422: Not a BOLT11 invoice.
    InvoiceMalformed,
    /// 422: Not a regtest invoice.
    InvoiceWrongNetwork,
    /// 422: Issued by another node.
    InvoiceUnknown,
    /// 422: The invoice has no amount.
    InvoiceNoAmount,
    /// 410: The invoice has expired.
    InvoiceExpired,
    /// 409: The invoice was paid before.
    InvoiceAlreadyPaid,
    /// 500: The payment could not be recorded.
    WalletLedgerFailed,
    /// 404: The macaroon does not decode, was not minted by this server (forged, foreign, altered or widened) or has expired.
    InvoiceNotFound,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 50] = [
        ErrorCode::PaymentRequired,
        ErrorCode::InvalidJson,
        ErrorCode::MissingImage,
        ErrorCode::ImageAndPrompt,
        ErrorCode::InvalidImageField,
        ErrorCode::InvalidDataUri,
        ErrorCode::InvalidBase64,
        ErrorCode::BodyUnreadable,
        ErrorCode::BodyTimeout,
        ErrorCode::BodyTooLarge,
        ErrorCode::ImageTooLarge,
        ErrorCode::UnsupportedImageType,
        ErrorCode::UnsupportedContentType,
        ErrorCode::ImageEmpty,
        ErrorCode::ImageTooSmall,
        ErrorCode::ImageDecodeFailed,
        ErrorCode::ImageKindMismatch,
        ErrorCode::NoObjectFound,
        ErrorCode::InvalidOption,
        ErrorCode::InvalidPrompt,
        ErrorCode::PromptUnsupported,
        ErrorCode::GenerationRejected,
        ErrorCode::GenerationFailed,
        ErrorCode::LightningUnavailable,
        ErrorCode::StorageUnavailable,
        ErrorCode::ServerBusy,
        ErrorCode::TooManyUploads,
        ErrorCode::RateLimited,
        ErrorCode::RefundPending,
        ErrorCode::PaymentRefunded,
        ErrorCode::NotFound,
        ErrorCode::JobNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::InternalError,
        ErrorCode::RefundCredentialInvalid,
        ErrorCode::RefundCredentialMismatch,
        ErrorCode::RefundNotOwed,
        ErrorCode::RefundsNotOffered,
        ErrorCode::RefundInvoiceInvalid,
        ErrorCode::RefundAmountMismatch,
        ErrorCode::RefundInvoiceExpired,
        ErrorCode::RefundPaymentFailed,
        ErrorCode::InvoiceMalformed,
        ErrorCode::InvoiceWrongNetwork,
        ErrorCode::InvoiceUnknown,
        ErrorCode::InvoiceNoAmount,
        ErrorCode::InvoiceExpired,
        ErrorCode::InvoiceAlreadyPaid,
        ErrorCode::WalletLedgerFailed,
        ErrorCode::InvoiceNotFound,
    ];

    /// The code's name on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::PaymentRequired => "payment_required",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::MissingImage => "missing_image",
            ErrorCode::ImageAndPrompt => "image_and_prompt",
            ErrorCode::InvalidImageField => "invalid_image_field",
            ErrorCode::InvalidDataUri => "invalid_data_uri",
            ErrorCode::InvalidBase64 => "invalid_base64",
            ErrorCode::BodyUnreadable => "body_unreadable",
            ErrorCode::BodyTimeout => "body_timeout",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::ImageTooLarge => "image_too_large",
            ErrorCode::UnsupportedImageType => "unsupported_image_type",
            ErrorCode::UnsupportedContentType => "unsupported_content_type",
            ErrorCode::ImageEmpty => "image_empty",
            ErrorCode::ImageTooSmall => "image_too_small",
            ErrorCode::ImageDecodeFailed => "image_decode_failed",
            ErrorCode::ImageKindMismatch => "image_kind_mismatch",
            ErrorCode::NoObjectFound => "no_object_found",
            ErrorCode::InvalidOption => "invalid_option",
            ErrorCode::InvalidPrompt => "invalid_prompt",
            ErrorCode::PromptUnsupported => "prompt_unsupported",
            ErrorCode::GenerationRejected => "generation_rejected",
            ErrorCode::GenerationFailed => "generation_failed",
            ErrorCode::LightningUnavailable => "lightning_unavailable",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::TooManyUploads => "too_many_uploads",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::RefundPending => "refund_pending",
            ErrorCode::PaymentRefunded => "payment_refunded",
            ErrorCode::NotFound => "not_found",
            ErrorCode::JobNotFound => "job_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::RefundCredentialInvalid => "refund_credential_invalid",
            ErrorCode::RefundCredentialMismatch => "refund_credential_mismatch",
            ErrorCode::RefundNotOwed => "refund_not_owed",
            ErrorCode::RefundsNotOffered => "refunds_not_offered",
            ErrorCode::RefundInvoiceInvalid => "refund_invoice_invalid",
            ErrorCode::RefundAmountMismatch => "refund_amount_mismatch",
            ErrorCode::RefundInvoiceExpired => "refund_invoice_expired",
            ErrorCode::RefundPaymentFailed => "refund_payment_failed",
            ErrorCode::InvoiceMalformed => "invoice_malformed",
            ErrorCode::InvoiceWrongNetwork => "invoice_wrong_network",
            ErrorCode::InvoiceUnknown => "invoice_unknown",
            ErrorCode::InvoiceNoAmount => "invoice_no_amount",
            ErrorCode::InvoiceExpired => "invoice_expired",
            ErrorCode::InvoiceAlreadyPaid => "invoice_already_paid",
            ErrorCode::WalletLedgerFailed => "wallet_ledger_failed",
            ErrorCode::InvoiceNotFound => "invoice_not_found",
        }
    }

    /// The HTTP status the code comes with.
    pub fn status(&self) -> u16 {
        match self {
            ErrorCode::PaymentRequired => 402,
            ErrorCode::InvalidJson => 400,
            ErrorCode::MissingImage => 400,
            ErrorCode::ImageAndPrompt => 400,
            ErrorCode::InvalidImageField => 400,
            ErrorCode::InvalidDataUri => 400,
            ErrorCode::InvalidBase64 => 400,
            ErrorCode::BodyUnreadable => 400,
            ErrorCode::BodyTimeout => 408,
            ErrorCode::BodyTooLarge => 413,
            ErrorCode::ImageTooLarge => 413,
            ErrorCode::UnsupportedImageType => 415,
            ErrorCode::UnsupportedContentType => 415,
            ErrorCode::ImageEmpty => 422,
            ErrorCode::ImageTooSmall => 422,
            ErrorCode::ImageDecodeFailed => 422,
            ErrorCode::ImageKindMismatch => 422,
            ErrorCode::NoObjectFound => 422,
            ErrorCode::InvalidOption => 422,
            ErrorCode::InvalidPrompt => 422,
            ErrorCode::PromptUnsupported => 422,
            ErrorCode::GenerationRejected => 422,
            ErrorCode::GenerationFailed => 503,
            ErrorCode::LightningUnavailable => 503,
            ErrorCode::StorageUnavailable => 503,
            ErrorCode::ServerBusy => 503,
            ErrorCode::TooManyUploads => 503,
            ErrorCode::RateLimited => 429,
            ErrorCode::RefundPending => 409,
            ErrorCode::PaymentRefunded => 409,
            ErrorCode::NotFound => 404,
            ErrorCode::JobNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::InternalError => 500,
            ErrorCode::RefundCredentialInvalid => 403,
            ErrorCode::RefundCredentialMismatch => 403,
            ErrorCode::RefundNotOwed => 409,
            ErrorCode::RefundsNotOffered => 409,
            ErrorCode::RefundInvoiceInvalid => 422,
            ErrorCode::RefundAmountMismatch => 422,
            ErrorCode::RefundInvoiceExpired => 422,
            ErrorCode::RefundPaymentFailed => 502,
            ErrorCode::InvoiceMalformed => 422,
            ErrorCode::InvoiceWrongNetwork => 422,
            ErrorCode::InvoiceUnknown => 422,
            ErrorCode::InvoiceNoAmount => 422,
            ErrorCode::InvoiceExpired => 410,
            ErrorCode::InvoiceAlreadyPaid => 409,
            ErrorCode::WalletLedgerFailed => 500,
            ErrorCode::InvoiceNotFound => 404,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = mesh402_core::UnknownName;

    /// Reads the name [`ErrorCode::as_str`] writes.
    fn from_str(name: &str) -> Result<ErrorCode, Self::Err> {
        mesh402_core::UnknownName::find(&ErrorCode::ALL, ErrorCode::as_str, name, "error code")
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_read_back_and_statuses_are_errors() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{code}");
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }
}
