//! The documents of a paid request: the answer with the model, the status URL's and the event stream's
//! [`JobStatus`], the [`RefundStatus`] a failed job offers, and the [`ErrorDetail`] of every error body.

use std::collections::BTreeMap;

use mesh402_core::{Format, JobState, Stage};
use serde::{Deserialize, Serialize};

/// A paid request's answer, a job's status, one event of its stream, and (with `error`) the body of a paid
/// request that did not deliver. Every field but `stage` is left out when it has no value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The job's id (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Where the job stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// The stage last completed while running, else null.
    #[serde(default)]
    pub stage: Option<Stage>,
    /// Progress in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// Generation attempts so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The model's primary file, once succeeded.
    #[serde(rename = "modelUrl", default, skip_serializing_if = "Option::is_none")]
    pub model_url: Option<String>,
    /// Its format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// Its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Its SHA-256 (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Triangles in the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faces: Option<u32>,
    /// Vertices in the model's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertices: Option<u32>,
    /// The same model in every format it is stored in (the primary's included), each format's primary file, once
    /// succeeded. One payment buys them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<Format, String>>,
    /// A picture of the model (PNG, a three-quarter view on a transparent background), once succeeded, where the
    /// generator makes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    /// The refund a failed job offers, or its claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundStatus>,
    /// Why the job did not deliver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    /// Where the job's status is read (with the credential), while it runs or after it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url: Option<String>,
    /// Its event stream, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_url: Option<String>,
    /// How often to read the status, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
}

/// The body of a refund claim (`POST /api/l402/jobs/{job_id}/refund`): an invoice of the buyer's wallet for exactly
/// the refund's amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundClaim {
    /// A BOLT11 invoice.
    pub invoice: String,
}

/// The answer of a refund claim (`POST /api/l402/jobs/{job_id}/refund`): the job and where its refund stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundClaimed {
    /// The job's id (hex).
    pub job_id: String,
    /// The refund.
    pub refund: RefundStatus,
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Offered: claim it at `claim_url` with an invoice for exactly the amount, before `deadline`.
    Available,
    /// Claimed; the payment is under way or its outcome not yet known.
    Pending,
    /// Paid; `preimage` proves it.
    Paid,
}

impl RefundState {
    /// Every state, in the order of a refund's life.
    pub const ALL: [RefundState; 3] = [RefundState::Available, RefundState::Pending, RefundState::Paid];

    /// The state's name on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            RefundState::Available => "available",
            RefundState::Pending => "pending",
            RefundState::Paid => "paid",
        }
    }
}

/// A failed job's refund, as offered, claimed or paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundStatus {
    /// Where it stands.
    pub state: RefundState,
    /// The amount in satoshis, rounded up.
    pub amount_sats: u64,
    /// The amount in millisatoshis: an invoice for the refund must be for exactly this.
    pub amount_msat: u64,
    /// Where the refund is claimed.
    pub claim_url: String,
    /// Until when it can be claimed (unix seconds), while available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    /// Why an earlier claim's payment failed, while available again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// The payment hash of the invoice it is paid to (hex), once claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_payment_hash: Option<String>,
    /// When it was claimed (unix seconds), while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<u64>,
    /// The preimage the buyer's wallet revealed (hex), once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preimage: Option<String>,
    /// When it was paid (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<u64>,
}

/// The `error` object of every error body: `{"error": {"code", "message"}}`. The code is one of
/// [`crate::ErrorCode`] from a mesh402 server; a client reads it as text, so another server's codes read too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable snake_case code.
    pub code: String,
    /// One sentence a person understands.
    pub message: String,
}

/// Every error body: `{"error": {"code", "message"}}` (some carry more fields beside it, such as a failed job's
/// [`JobStatus`] fields or a 402's [`crate::PaymentRequired`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

impl ErrorDetail {
    /// The detail of an error of this server.
    pub fn new(code: crate::ErrorCode, message: impl Into<String>) -> ErrorDetail {
        ErrorDetail { code: code.as_str().to_owned(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_short_answer_reads_and_a_full_status_round_trips() {
        let seed: JobStatus = serde_json::from_str(r#"{"modelUrl":"https://x/m.glb"}"#).unwrap();
        assert_eq!(seed.model_url.as_deref(), Some("https://x/m.glb"));
        assert_eq!(seed.state, None);
        let full = JobStatus {
            job_id: Some("ab".into()),
            state: Some(JobState::Running),
            stage: Some(Stage::Heights),
            progress: Some(55),
            attempts: Some(1),
            ..JobStatus::default()
        };
        let text = serde_json::to_string(&full).unwrap();
        assert_eq!(text, r#"{"job_id":"ab","state":"running","stage":"heights","progress":55,"attempts":1}"#);
        assert_eq!(serde_json::from_str::<JobStatus>(&text).unwrap(), full);
        let done = JobStatus {
            model_url: Some("https://x/m.glb".into()),
            files: Some([(Format::ThreeMf, "https://x/m.3mf".into()), (Format::Glb, "https://x/m.glb".into())].into()),
            preview_url: Some("https://x/m/preview.png".into()),
            ..JobStatus::default()
        };
        let text = serde_json::to_string(&done).unwrap();
        assert_eq!(
            text,
            r#"{"stage":null,"modelUrl":"https://x/m.glb","files":{"glb":"https://x/m.glb","3mf":"https://x/m.3mf"},"preview_url":"https://x/m/preview.png"}"#,
            "files are keyed by the formats' names, in their order"
        );
        assert_eq!(serde_json::from_str::<JobStatus>(&text).unwrap(), done);
        let queued = serde_json::to_value(JobStatus { state: Some(JobState::Queued), ..JobStatus::default() }).unwrap();
        assert!(queued["stage"].is_null() && queued.as_object().unwrap().contains_key("stage"));
    }
}
