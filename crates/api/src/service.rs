//! The service's own small documents: the health check, the web page's configuration, and the last event of a
//! job's event stream.

use serde::{Deserialize, Serialize};

/// `GET /healthz`: the server runs, with this Lightning backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` (a server that cannot answer does not answer).
    pub status: String,
    /// The Lightning backend's name (`dev`, `lnbits`, `lnd`, `cln`, `nwc`).
    pub lightning: String,
}

/// `GET /api/page-config`: what the web page shows and checks before it sends anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageConfig {
    /// The Lightning backend's name.
    pub lightning: String,
    /// Whether the development wallet (and its pay button) is there.
    pub dev_wallet: bool,
    /// The price of a model.
    pub price_sats: u64,
    /// How long an invoice can be paid.
    pub invoice_expiry_secs: u64,
    /// The largest request body.
    pub max_body_bytes: usize,
    /// The media types of accepted pictures.
    pub image_types: Vec<String>,
    /// The most pixels of a picture.
    pub max_pixels: u64,
    /// The longest side of a picture.
    pub max_dimension: u32,
    /// The generation modes.
    pub modes: Vec<String>,
    /// The model formats, by file extension.
    pub formats: Vec<String>,
    /// The face budget's range and default.
    pub target_faces: FaceRange,
}

/// A range of face counts and its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceRange {
    /// The fewest.
    pub min: u32,
    /// The most.
    pub max: u32,
    /// What a request without `target_faces` gets.
    pub default: u32,
}

/// Why a job's event stream ended before the job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventsEnd {
    /// No news for `events_idle_timeout_secs`.
    Idle,
    /// The stream lasted `events_max_secs`.
    MaxDuration,
}

/// The data of the `timeout` event that ends a job's event stream early: poll the status URL (or listen again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsTimeout {
    /// Why the stream ended.
    pub reason: EventsEnd,
    /// Where the job's status is.
    pub status_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_event_reads_as_documented() {
        let event = EventsTimeout { reason: EventsEnd::MaxDuration, status_url: "https://x/jobs/1".into() };
        let text = serde_json::to_string(&event).expect("serialises");
        assert_eq!(text, r#"{"reason":"max_duration","status_url":"https://x/jobs/1"}"#);
        assert_eq!(serde_json::from_str::<EventsTimeout>(&text).expect("reads"), event);
    }
}
