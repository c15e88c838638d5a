//! The catalogue of every error code the API answers with: the one source of `GET /api/error-codes`, of the
//! codes the OpenAPI document lists, and of the tables in `docs/ERRORS.md` (a test checks that file shows exactly
//! these rows).

use mesh402_api::ErrorCode;
use serde::Serialize;

/// One error code of a part of the API and when that part sends it; serialised as `{status, code, when}`.
#[derive(Debug, Clone, Copy)]
pub struct CodeEntry {
    /// The code (its status is the code's own).
    pub code: ErrorCode,
    /// When it is sent and what to do, in Markdown.
    pub when: &'static str,
}

impl Serialize for CodeEntry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut entry = serializer.serialize_struct("CodeEntry", 3)?;
        entry.serialize_field("status", &self.code.status())?;
        entry.serialize_field("code", &self.code)?;
        entry.serialize_field("when", self.when)?;
        entry.end()
    }
}

/// A group of codes that belong to one part of the API, in the order `docs/ERRORS.md` shows them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ErrorGroup {
    /// What the group covers.
    pub title: &'static str,
    /// The codes.
    pub codes: &'static [CodeEntry],
}

/// Every group.
pub const CATALOGUE: &[ErrorGroup] = &[
    ErrorGroup { title: "Requests for a model, quotes, jobs and downloads", codes: MODEL },
    ErrorGroup { title: "Refund claims: POST /api/l402/jobs/{job_id}/refund", codes: REFUND },
    ErrorGroup { title: "The development wallet's POST /dev/pay and POST /dev/invoice", codes: DEV_PAY },
    ErrorGroup { title: "POST /api/l402/invoice-status", codes: INVOICE_STATUS },
];

/// Every distinct code with its status, over all groups.
pub fn all_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = CATALOGUE.iter().flat_map(|g| g.codes.iter().map(|c| c.code.as_str())).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// The group's Markdown table, as `docs/ERRORS.md` shows it.
pub fn markdown_table(group: &ErrorGroup) -> String {
    let mut table = String::from("| status | code | when |\n|---|---|---|\n");
    for code in group.codes {
        table.push_str(&format!("| {} | `{}` | {} |\n", code.code.status(), code.code, code.when));
    }
    table
}

/// Requests for a model, their jobs and downloads.
pub const MODEL: &[CodeEntry] = &[
    CodeEntry {
        code: ErrorCode::PaymentRequired,
        when: "No credential, or one that is invalid, expired, unpaid, revoked or for another request. The body also has `macaroon`, `invoice`, `payment_hash`, `amount_sats`, `expires_at`. Pay and repeat the identical request.",
    },
    CodeEntry { code: ErrorCode::InvalidJson, when: "The body is not a JSON object." },
    CodeEntry { code: ErrorCode::MissingImage, when: "No `image` field (and no `prompt`)." },
    CodeEntry { code: ErrorCode::ImageAndPrompt, when: "Both an `image` and a `prompt`: send one of them." },
    CodeEntry { code: ErrorCode::InvalidImageField, when: "`image` is not a string." },
    CodeEntry { code: ErrorCode::InvalidDataUri, when: "`image` is not a `data:<type>;base64,<data>` URI." },
    CodeEntry { code: ErrorCode::InvalidBase64, when: "The data is not valid standard base64." },
    CodeEntry { code: ErrorCode::BodyUnreadable, when: "The body could not be read." },
    CodeEntry {
        code: ErrorCode::BodyTimeout,
        when: "The body did not arrive within `body_read_timeout_secs` (default 60) of the headers; the connection is closed.",
    },
    CodeEntry { code: ErrorCode::BodyTooLarge, when: "The body is over the limit (default 32 MiB)." },
    CodeEntry {
        code: ErrorCode::ImageTooLarge,
        when: "The image declares more pixels or a larger side than the generator accepts (checked before decoding).",
    },
    CodeEntry {
        code: ErrorCode::UnsupportedImageType,
        when: "The data URI's type is not `image/png`, `image/jpeg` or `image/webp`.",
    },
    CodeEntry { code: ErrorCode::UnsupportedContentType, when: "The request's `Content-Type` is not JSON." },
    CodeEntry { code: ErrorCode::ImageEmpty, when: "The image has no data or no pixels." },
    CodeEntry { code: ErrorCode::ImageTooSmall, when: "The image is too small to find an object in." },
    CodeEntry { code: ErrorCode::ImageDecodeFailed, when: "The bytes are not a decodable image (truncated, corrupt)." },
    CodeEntry {
        code: ErrorCode::ImageKindMismatch,
        when: "The bytes are another kind of image than the data URI declares.",
    },
    CodeEntry {
        code: ErrorCode::NoObjectFound,
        when: "The picture shows no object: blank, one colour, fully transparent or noise (refused before any invoice); or, rarely, a paid picture in which segmentation found nothing to model (then the job ends with `generation_rejected`). The message says what works.",
    },
    CodeEntry { code: ErrorCode::InvalidOption, when: "An unknown option, or a value out of range." },
    CodeEntry {
        code: ErrorCode::InvalidPrompt,
        when: "`prompt` is not a string, is blank, is over 1000 bytes or holds control characters.",
    },
    CodeEntry {
        code: ErrorCode::PromptUnsupported,
        when: "A `prompt` for a server whose generator makes models from pictures only (the embedded one); only a Hunyuan3D-2 model server makes models from text. Refused before any invoice.",
    },
    CodeEntry {
        code: ErrorCode::GenerationRejected,
        when: "A paid job failed because of its input (for the embedded generator, mostly `object_unclear`: the object could not be told from its background with confidence, so no model was made rather than a wrong one); the credential stays good until it expires and the refund it offers can be claimed.",
    },
    CodeEntry {
        code: ErrorCode::GenerationFailed,
        when: "A paid job failed after its retries because of a server fault (in the generator: `segmentation_failed`, `mesh_check_failed` or `encode_failed`; with a Hunyuan3D-2 model server, `generator_unavailable` or `mesh_check_failed` for a model that failed its check; recorded with the job); the payment is still good: repeat the request with the same credential. `Retry-After` is set.",
    },
    CodeEntry {
        code: ErrorCode::LightningUnavailable,
        when: "The Lightning backend could not make an invoice in time. `Retry-After` is set. Paid requests are unaffected.",
    },
    CodeEntry {
        code: ErrorCode::StorageUnavailable,
        when: "The job records or the model files (the database, the bucket, the disk) could not be reached or written in time, for a request or a download; nothing was lost. A paid request's credential is still good: repeat it. `Retry-After` is set.",
    },
    CodeEntry {
        code: ErrorCode::ServerBusy,
        when: "The server is reading as many request bodies as it takes at once (`max_inflight_body_bytes`), or its unpaid checks are queued full; refused before the body is read. `Retry-After` is set.",
    },
    CodeEntry {
        code: ErrorCode::TooManyUploads,
        when: "This client already has as many unpaid bodies being read as it may (`max_inflight_body_bytes_per_client`); refused before the body is read. `Retry-After` is set.",
    },
    CodeEntry {
        code: ErrorCode::RateLimited,
        when: "Too many unpaid model requests (`challenges_per_minute`) or requests without a valid credential (`unpaid_requests_per_minute`) from this client. `Retry-After` says when the next one is allowed; the answer comes after a pause of up to 1 s. Requests with a valid credential are never limited.",
    },
    CodeEntry {
        code: ErrorCode::RefundPending,
        when: "The credential's job is being refunded (its claim is recorded, the payment under way); it redeems nothing more. The body's `refund` says where the refund stands.",
    },
    CodeEntry {
        code: ErrorCode::PaymentRefunded,
        when: "The credential's job was refunded; it redeems nothing more. The body's `refund` has the refund's `preimage`. Pay a new invoice to try again.",
    },
    CodeEntry { code: ErrorCode::NotFound, when: "Unknown URL or model id." },
    CodeEntry {
        code: ErrorCode::JobNotFound,
        when: "The job status or events URL was asked without the credential that paid for that job (or the job does not exist: the two are not told apart).",
    },
    CodeEntry { code: ErrorCode::MethodNotAllowed, when: "Known URL, wrong method." },
    CodeEntry {
        code: ErrorCode::InternalError,
        when: "A server fault; details are in the server's log, never in the response.",
    },
];

/// `POST /api/l402/jobs/{job_id}/refund`.
pub const REFUND: &[CodeEntry] = &[
    CodeEntry { code: ErrorCode::InvalidJson, when: "The body is not `{\"invoice\": \"<bolt11>\"}`." },
    CodeEntry {
        code: ErrorCode::RefundCredentialInvalid,
        when: "No credential, or one that does not prove payment: a macaroon without its preimage (the payment hash alone is not proof), a wrong preimage, a forged or expired macaroon.",
    },
    CodeEntry { code: ErrorCode::RefundCredentialMismatch, when: "The credential is valid but paid for another job." },
    CodeEntry { code: ErrorCode::JobNotFound, when: "There is no job with this id." },
    CodeEntry {
        code: ErrorCode::RefundNotOwed,
        when: "The job delivered its model, is still being worked on, or its credential has expired: no refund is owed.",
    },
    CodeEntry {
        code: ErrorCode::RefundsNotOffered,
        when: "This server's Lightning backend cannot pay (an LNbits backend without its admin key, or LND, Core Lightning or NWC without `refunds = true`), so it offers no refunds; the credential can still retry the job.",
    },
    CodeEntry {
        code: ErrorCode::RefundInvoiceInvalid,
        when: "The invoice is not a validly signed BOLT11 invoice, or is the invoice the job was paid with.",
    },
    CodeEntry {
        code: ErrorCode::RefundAmountMismatch,
        when: "The invoice is not for exactly the refundable amount (or has no amount); the body's `amount_msat` says what it must be. Nothing was recorded.",
    },
    CodeEntry { code: ErrorCode::RefundInvoiceExpired, when: "The invoice has expired or expires within a minute." },
    CodeEntry {
        code: ErrorCode::RefundPaymentFailed,
        when: "The server's wallet refused to pay the invoice (no route, a wrong network): nothing was paid, the refund is offered again; claim with another invoice.",
    },
    CodeEntry {
        code: ErrorCode::RateLimited,
        when: "Too many requests without a valid credential from this client (`unpaid_requests_per_minute`). `Retry-After` is set.",
    },
];

/// The development wallet's `POST /dev/pay` and `POST /dev/invoice`.
pub const DEV_PAY: &[CodeEntry] = &[
    CodeEntry {
        code: ErrorCode::InvalidJson,
        when: "The body is not `{\"invoice\": …}` (`/dev/pay`) or `{\"amount_sats\": …}` (`/dev/invoice`).",
    },
    CodeEntry { code: ErrorCode::InvalidOption, when: "`amount_sats` is zero or more than 21 million bitcoin." },
    CodeEntry { code: ErrorCode::InvoiceMalformed, when: "Not a BOLT11 invoice." },
    CodeEntry { code: ErrorCode::InvoiceWrongNetwork, when: "Not a regtest invoice." },
    CodeEntry { code: ErrorCode::InvoiceUnknown, when: "Issued by another node." },
    CodeEntry { code: ErrorCode::InvoiceNoAmount, when: "The invoice has no amount." },
    CodeEntry { code: ErrorCode::InvoiceExpired, when: "The invoice has expired." },
    CodeEntry { code: ErrorCode::InvoiceAlreadyPaid, when: "The invoice was paid before." },
    CodeEntry { code: ErrorCode::WalletLedgerFailed, when: "The payment could not be recorded." },
];

/// `POST /api/l402/invoice-status`.
pub const INVOICE_STATUS: &[CodeEntry] = &[
    CodeEntry { code: ErrorCode::InvalidJson, when: "The body is not `{\"macaroon\": \"…\"}`." },
    CodeEntry {
        code: ErrorCode::InvoiceNotFound,
        when: "The macaroon does not decode, was not minted by this server (forged, foreign, altered or widened) or has expired.",
    },
    CodeEntry {
        code: ErrorCode::RateLimited,
        when: "Too many invoice lookups on this server (`invoice_lookups_per_second`, default 20, and `invoice_lookup_burst`, default 40, all clients together, counted only for macaroons that verify), besides the per-client limits on unpaid requests. `Retry-After` is set.",
    },
    CodeEntry {
        code: ErrorCode::LightningUnavailable,
        when: "The Lightning backend did not answer in time. `Retry-After` is set.",
    },
];
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errors_document_shows_exactly_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ERRORS.md");
        let document = std::fs::read_to_string(path).expect("docs/ERRORS.md");
        for group in CATALOGUE {
            let table = markdown_table(group);
            assert!(document.contains(&table), "docs/ERRORS.md does not show this table:\n{table}");
        }
        let rows = document.lines().filter(|line| line.starts_with("| ") && line.contains(" | `")).count();
        let catalogued: usize = CATALOGUE.iter().map(|g| g.codes.len()).sum();
        assert_eq!(rows, catalogued, "docs/ERRORS.md has rows the catalogue does not");
    }

    #[test]
    fn codes_are_unique_within_a_group_and_statuses_are_errors() {
        for group in CATALOGUE {
            let mut codes: Vec<_> = group.codes.iter().map(|c| c.code).collect();
            codes.sort_unstable();
            let n = codes.len();
            codes.dedup();
            assert_eq!(codes.len(), n, "{}: a code appears twice", group.title);
        }
    }

    #[test]
    fn every_code_the_server_can_answer_with_is_catalogued() {
        let catalogued = all_codes();
        for code in ErrorCode::ALL {
            assert!(catalogued.contains(&code.as_str()), "{code} is in no group of the catalogue");
        }
    }
}
