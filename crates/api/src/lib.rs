//! mesh402's HTTP API as types, so that the server writes and the clients (the `generate` command, the MCP
//! server) read the same thing: the route [`paths`], every [`ErrorCode`], the unpaid path's
//! [`PaymentRequired`] and [`Quote`], the invoice-status look-up and the development wallet's routes, the health
//! check, the web page's configuration, a request's [`ModelOptions`], and the documents of a paid request (with the event stream's last event):
//! a job's [`JobStatus`] (its state is `mesh402-core`'s `JobState`), its [`RefundStatus`], an [`ErrorDetail`].
//!
//! JSON fields are snake_case; `modelUrl` keeps the seed API's spelling (contract §1), the one exception. The
//! reading side is lenient where the seed's own answers are shorter (`{"modelUrl": …}` alone reads as a status
//! with only the model's URL).
#![deny(missing_docs)]

mod error_code;
mod job;
mod options;
pub mod paths;
mod quote;
mod service;
mod wallet;

pub use error_code::ErrorCode;
pub use job::{ErrorBody, ErrorDetail, JobStatus, RefundClaim, RefundClaimed, RefundState, RefundStatus};
pub use options::ModelOptions;
pub use quote::{PaymentRequired, Quote, QuoteLimits, QuotedImage};
pub use service::{EventsEnd, EventsTimeout, FaceRange, Health, PageConfig};
pub use wallet::{
    DevInvoice, DevInvoiceRequest, DevPaid, DevPayRequest, InvoiceState, InvoiceStatusAnswer, InvoiceStatusRequest,
};
