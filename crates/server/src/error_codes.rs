//! The catalogue of every error code the API answers with: the one source of `GET /api/error-codes`, of the
//! codes the OpenAPI document lists, and of the tables in `docs/ERRORS.md` (a test checks that file shows exactly
//! these rows).

use serde::Serialize;

/// One error code: the HTTP status it comes with and when it is sent.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ErrorCode {
    /// The HTTP status.
    pub status: u16,
    /// The stable snake_case code (`error.code` in the body, `X-Error-Code` in the headers).
    pub code: &'static str,
    /// When it is sent and what to do, in Markdown.
    pub when: &'static str,
}

/// A group of codes that belong to one part of the API, in the order `docs/ERRORS.md` shows them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ErrorGroup {
    /// What the group covers.
    pub title: &'static str,
    /// The codes.
    pub codes: &'static [ErrorCode],
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
    let mut codes: Vec<&'static str> = CATALOGUE.iter().flat_map(|g| g.codes.iter().map(|c| c.code)).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// The group's Markdown table, as `docs/ERRORS.md` shows it.
pub fn markdown_table(group: &ErrorGroup) -> String {
    let mut table = String::from("| status | code | when |\n|---|---|---|\n");
    for code in group.codes {
        table.push_str(&format!("| {} | `{}` | {} |\n", code.status, code.code, code.when));
    }
    table
}

/// Requests for a model, their jobs and downloads.
pub const MODEL: &[ErrorCode] = &[
    ErrorCode {
        status: 402,
        code: "payment_required",
        when: "No credential, or one that is invalid, expired, unpaid, revoked or for another request. The body also has `macaroon`, `invoice`, `payment_hash`, `amount_sats`, `expires_at`. Pay and repeat the identical request.",
    },
    ErrorCode { status: 400, code: "invalid_json", when: "The body is not a JSON object." },
    ErrorCode { status: 400, code: "missing_image", when: "No `image` field (and no `prompt`)." },
    ErrorCode { status: 400, code: "image_and_prompt", when: "Both an `image` and a `prompt`: send one of them." },
    ErrorCode { status: 400, code: "invalid_image_field", when: "`image` is not a string." },
    ErrorCode { status: 400, code: "invalid_data_uri", when: "`image` is not a `data:<type>;base64,<data>` URI." },
    ErrorCode { status: 400, code: "invalid_base64", when: "The data is not valid standard base64." },
    ErrorCode { status: 400, code: "body_unreadable", when: "The body could not be read." },
    ErrorCode {
        status: 408,
        code: "body_timeout",
        when: "The body did not arrive within `body_read_timeout_secs` (default 60) of the headers; the connection is closed.",
    },
    ErrorCode { status: 413, code: "body_too_large", when: "The body is over the limit (default 32 MiB)." },
    ErrorCode {
        status: 413,
        code: "image_too_large",
        when: "The image declares more pixels or a larger side than the generator accepts (checked before decoding).",
    },
    ErrorCode {
        status: 415,
        code: "unsupported_image_type",
        when: "The data URI's type is not `image/png`, `image/jpeg` or `image/webp`.",
    },
    ErrorCode { status: 415, code: "unsupported_content_type", when: "The request's `Content-Type` is not JSON." },
    ErrorCode { status: 422, code: "image_empty", when: "The image has no data or no pixels." },
    ErrorCode { status: 422, code: "image_too_small", when: "The image is too small to find an object in." },
    ErrorCode {
        status: 422,
        code: "image_decode_failed",
        when: "The bytes are not a decodable image (truncated, corrupt).",
    },
    ErrorCode {
        status: 422,
        code: "image_kind_mismatch",
        when: "The bytes are another kind of image than the data URI declares.",
    },
    ErrorCode {
        status: 422,
        code: "no_object_found",
        when: "The picture shows no object: blank, one colour, fully transparent or noise (refused before any invoice); or, rarely, a paid picture in which segmentation found nothing to model (then the job ends with `generation_rejected`). The message says what works.",
    },
    ErrorCode { status: 422, code: "invalid_option", when: "An unknown option, or a value out of range." },
    ErrorCode {
        status: 422,
        code: "invalid_prompt",
        when: "`prompt` is not a string, is blank, is over 1000 bytes or holds control characters.",
    },
    ErrorCode {
        status: 422,
        code: "prompt_unsupported",
        when: "A `prompt` for a server whose generator makes models from pictures only (the embedded one); only a Hunyuan3D-2 model server makes models from text. Refused before any invoice.",
    },
    ErrorCode {
        status: 422,
        code: "generation_rejected",
        when: "A paid job failed because of its input (for the embedded generator, mostly `object_unclear`: the object could not be told from its background with confidence, so no model was made rather than a wrong one); the credential stays good until it expires and the refund it offers can be claimed.",
    },
    ErrorCode {
        status: 503,
        code: "generation_failed",
        when: "A paid job failed after its retries because of a server fault (in the generator: `segmentation_failed`, `mesh_check_failed` or `encode_failed`; with a Hunyuan3D-2 model server, `generator_unavailable` or `mesh_check_failed` for a model that failed its check; recorded with the job); the payment is still good: repeat the request with the same credential. `Retry-After` is set.",
    },
    ErrorCode {
        status: 503,
        code: "lightning_unavailable",
        when: "The Lightning backend could not make an invoice in time. `Retry-After` is set. Paid requests are unaffected.",
    },
    ErrorCode {
        status: 503,
        code: "server_busy",
        when: "The server is reading as many request bodies as it takes at once (`max_inflight_body_bytes`), or its unpaid checks are queued full; refused before the body is read. `Retry-After` is set.",
    },
    ErrorCode {
        status: 503,
        code: "too_many_uploads",
        when: "This client already has as many unpaid bodies being read as it may (`max_inflight_body_bytes_per_client`); refused before the body is read. `Retry-After` is set.",
    },
    ErrorCode {
        status: 429,
        code: "rate_limited",
        when: "Too many unpaid model requests (`challenges_per_minute`) or requests without a valid credential (`unpaid_requests_per_minute`) from this client. `Retry-After` says when the next one is allowed; the answer comes after a pause of up to 1 s. Requests with a valid credential are never limited.",
    },
    ErrorCode {
        status: 409,
        code: "refund_pending",
        when: "The credential's job is being refunded (its claim is recorded, the payment under way); it redeems nothing more. The body's `refund` says where the refund stands.",
    },
    ErrorCode {
        status: 409,
        code: "payment_refunded",
        when: "The credential's job was refunded; it redeems nothing more. The body's `refund` has the refund's `preimage`. Pay a new invoice to try again.",
    },
    ErrorCode { status: 404, code: "not_found", when: "Unknown URL or model id." },
    ErrorCode {
        status: 404,
        code: "job_not_found",
        when: "The job status or events URL was asked without the credential that paid for that job (or the job does not exist: the two are not told apart).",
    },
    ErrorCode { status: 405, code: "method_not_allowed", when: "Known URL, wrong method." },
    ErrorCode {
        status: 500,
        code: "internal_error",
        when: "A server fault; details are in the server's log, never in the response.",
    },
];

/// `POST /api/l402/jobs/{job_id}/refund`.
pub const REFUND: &[ErrorCode] = &[
    ErrorCode { status: 400, code: "invalid_json", when: "The body is not `{\"invoice\": \"<bolt11>\"}`." },
    ErrorCode {
        status: 403,
        code: "refund_credential_invalid",
        when: "No credential, or one that does not prove payment: a macaroon without its preimage (the payment hash alone is not proof), a wrong preimage, a forged or expired macaroon.",
    },
    ErrorCode {
        status: 403,
        code: "refund_credential_mismatch",
        when: "The credential is valid but paid for another job.",
    },
    ErrorCode { status: 404, code: "job_not_found", when: "There is no job with this id." },
    ErrorCode {
        status: 409,
        code: "refund_not_owed",
        when: "The job delivered its model, is still being worked on, or its credential has expired: no refund is owed.",
    },
    ErrorCode {
        status: 409,
        code: "refunds_not_offered",
        when: "This server's Lightning backend cannot pay (an LNbits backend without its admin key, or LND, Core Lightning or NWC without `refunds = true`), so it offers no refunds; the credential can still retry the job.",
    },
    ErrorCode {
        status: 422,
        code: "refund_invoice_invalid",
        when: "The invoice is not a validly signed BOLT11 invoice, or is the invoice the job was paid with.",
    },
    ErrorCode {
        status: 422,
        code: "refund_amount_mismatch",
        when: "The invoice is not for exactly the refundable amount (or has no amount); the body's `amount_msat` says what it must be. Nothing was recorded.",
    },
    ErrorCode {
        status: 422,
        code: "refund_invoice_expired",
        when: "The invoice has expired or expires within a minute.",
    },
    ErrorCode {
        status: 502,
        code: "refund_payment_failed",
        when: "The server's wallet refused to pay the invoice (no route, a wrong network): nothing was paid, the refund is offered again; claim with another invoice.",
    },
    ErrorCode {
        status: 429,
        code: "rate_limited",
        when: "Too many requests without a valid credential from this client (`unpaid_requests_per_minute`). `Retry-After` is set.",
    },
];

/// The development wallet's `POST /dev/pay` and `POST /dev/invoice`.
pub const DEV_PAY: &[ErrorCode] = &[
    ErrorCode {
        status: 400,
        code: "invalid_json",
        when: "The body is not `{\"invoice\": …}` (`/dev/pay`) or `{\"amount_sats\": …}` (`/dev/invoice`).",
    },
    ErrorCode { status: 422, code: "invalid_option", when: "`amount_sats` is zero or more than 21 million bitcoin." },
    ErrorCode { status: 422, code: "invoice_malformed", when: "Not a BOLT11 invoice." },
    ErrorCode { status: 422, code: "invoice_wrong_network", when: "Not a regtest invoice." },
    ErrorCode { status: 422, code: "invoice_unknown", when: "Issued by another node." },
    ErrorCode { status: 422, code: "invoice_no_amount", when: "The invoice has no amount." },
    ErrorCode { status: 410, code: "invoice_expired", when: "The invoice has expired." },
    ErrorCode { status: 409, code: "invoice_already_paid", when: "The invoice was paid before." },
    ErrorCode { status: 500, code: "wallet_ledger_failed", when: "The payment could not be recorded." },
];

/// `POST /api/l402/invoice-status`.
pub const INVOICE_STATUS: &[ErrorCode] = &[
    ErrorCode { status: 400, code: "invalid_json", when: "The body is not `{\"macaroon\": \"…\"}`." },
    ErrorCode {
        status: 404,
        code: "invoice_not_found",
        when: "The macaroon does not decode, was not minted by this server (forged, foreign, altered or widened) or has expired.",
    },
    ErrorCode {
        status: 429,
        code: "rate_limited",
        when: "Too many invoice lookups on this server (20 a second, 40 at once, all clients together, counted only for macaroons that verify), besides the per-client limits on unpaid requests. `Retry-After` is set.",
    },
    ErrorCode {
        status: 503,
        code: "lightning_unavailable",
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
            assert!(group.codes.iter().all(|c| (400..600).contains(&c.status)), "{}", group.title);
        }
    }
}
