//! The buyer's side of L402 (and of the `Payment` scheme's Lightning charge, when a server offers only that): send a
//! request, read the `402` challenge, decode its BOLT11 invoice, refuse to pay
//! above the budget (the amount comes from the invoice, never from the body), pay with an [`InvoicePayer`],
//! check that the preimage hashes to the invoice's payment hash before using it, repeat the identical request
//! with the credential, follow the asynchronous job if the server offers one, and download the model.
//!
//! Never twice: the purchase is saved in a [`Vault`] before it is paid and again with the preimage before the
//! paid request is sent, so a rerun after a crash, a timeout or a `503` resumes with the saved credential and
//! pays nothing. Works with any server that speaks mesh402's (the seed's) API: `POST` JSON with an `image` data
//! URI (or, where the server's generator reads text, a `prompt`), `{"modelUrl": …}` back.
//!
//! A paid job that fails for good may offer a [`Refund`] (on the error and in [`PurchaseStatus`]);
//! [`Buyer::claim_refund`] claims it with the saved credential and an invoice of the buyer's wallet, and checks the
//! refund's preimage against its invoice.
#![deny(missing_docs)]

mod vault;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use mesh402_api::{ErrorCode, JobStatus, ModelOptions, RefundClaim, RefundState, RefundStatus, paths};
use mesh402_core::{Format, JobState};
use mesh402_l402::{Challenge, Identifier, PaymentHash, Preimage};
pub use mesh402_ln::{DevPayEndpoint, InvoicePayer, LnError, LnbitsPayer, Secret};
#[cfg(feature = "lnd")]
pub use mesh402_ln::{Lnd as LndPayer, LndSettings, macaroon_hex};
#[cfg(feature = "nwc")]
pub use mesh402_ln::{Nwc as NwcPayer, NwcSettings};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
pub use vault::{Purchase, Vault};

/// The path of the paid endpoint on a mesh402 server.
pub const ENDPOINT: &str = paths::MODEL;

/// What a model is made of: a picture, or (for a server whose generator makes models from text) a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderInput {
    /// A picture file.
    Image {
        /// The image's bytes.
        bytes: Vec<u8>,
        /// `image/png`, `image/jpeg` or `image/webp`.
        media_type: String,
    },
    /// A text prompt, sent as `prompt`; servers whose generator cannot read refuse it before any invoice.
    Prompt(String),
}

/// What to buy: a picture or a prompt, and the generator's options.
#[derive(Debug, Clone)]
pub struct Order {
    /// What the model is made of.
    pub input: OrderInput,
    /// The generator's options, sent at the top level of the body (only those set).
    pub options: ModelOptions,
}

/// A request body: the picture as a data URI, or the prompt, beside the options.
#[derive(Serialize)]
struct RequestBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    #[serde(flatten)]
    options: &'a ModelOptions,
}

impl Order {
    /// An order for a model of a picture.
    pub fn image(bytes: Vec<u8>, media_type: impl Into<String>, options: ModelOptions) -> Order {
        Order { input: OrderInput::Image { bytes, media_type: media_type.into() }, options }
    }

    /// The request body: `{"image": "data:<type>;base64,…", …options}` or `{"prompt": "…", …options}`.
    pub fn body(&self) -> Vec<u8> {
        let (image, prompt) = match &self.input {
            OrderInput::Image { bytes, media_type } => {
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                (Some(format!("data:{media_type};base64,{data}")), None)
            }
            OrderInput::Prompt(prompt) => (None, Some(prompt.as_str())),
        };
        serde_json::to_vec(&RequestBody { image, prompt, options: &self.options }).unwrap_or_default()
    }
}

/// A step of a purchase, for progress displays.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Sending the request.
    Asking,
    /// The server quoted this many millisatoshis.
    Quoted(u64),
    /// Paying the invoice.
    Paying,
    /// Resuming a purchase paid earlier: no payment.
    Resuming,
    /// The model is being made: stage and percent, when the server reports them.
    Generating(String, u8),
    /// Downloading the model.
    Downloading,
}

/// What a finished purchase cost and gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Satoshis paid by this run: 0 when it resumed an earlier payment (or the server charged nothing).
    pub paid_sats: u64,
    /// The invoice's price in satoshis (rounded up).
    pub price_sats: u64,
    /// The payment hash, hex.
    pub payment_hash: String,
    /// The model's URL.
    pub model_url: String,
    /// The model's bytes.
    pub model: Vec<u8>,
    /// The same model in every format the server stored (the one bought included), to download without paying
    /// again; empty from a server that lists none.
    pub files: BTreeMap<Format, String>,
    /// A picture of the model (PNG), where the server made one.
    pub preview_url: Option<String>,
}

/// A refund a failed paid job offers, or where its claim stands: the server's `refund` object and the job it
/// belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The job the refund belongs to.
    pub job_id: String,
    /// Where the refund stands, its amount (an invoice for it must be for exactly `amount_msat`), its deadline,
    /// and once paid the preimage, checked against `invoice_payment_hash`.
    pub status: RefundStatus,
}

impl Refund {
    /// The `refund` object of an answer, with the answer's `job_id`.
    fn from_answer(document: &JobStatus) -> Option<Refund> {
        Some(Refund { job_id: document.job_id.clone()?, status: document.refund.clone()? })
    }
}

/// Where an earlier purchase of an order stands, as [`Buyer::check`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseStatus {
    /// Nothing was bought for this order from this server (with this vault).
    NotBought,
    /// A challenge was saved but no payment is known: the wallet has no record of paying it.
    Unpaid {
        /// The invoice's payment hash, hex.
        payment_hash: String,
    },
    /// Paid; the server's job is in `state`.
    Paid {
        /// The invoice's payment hash, hex.
        payment_hash: String,
        /// The job's state.
        state: JobState,
        /// The job's progress in percent.
        progress: u8,
        /// The model's URL once it is ready.
        model_url: Option<String>,
        /// The job's error, when it failed (`code: message`).
        error: Option<String>,
        /// The refund the failed job offers, or its claim.
        refund: Option<Box<Refund>>,
    },
}

/// Why a purchase stopped.
#[derive(Debug, thiserror::Error)]
pub enum BuyError {
    /// The invoice asks for more than the budget; nothing was paid.
    #[error("the price is {price_sats} sat, over the budget of {max_sats} sat; nothing was paid")]
    OverBudget {
        /// The invoice's amount, rounded up.
        price_sats: u64,
        /// The budget.
        max_sats: u64,
    },
    /// The wallet could not pay.
    #[error("the payment failed: {0}")]
    Payment(#[source] LnError),
    /// The wallet returned a preimage that does not hash to the invoice's payment hash; it was not sent.
    #[error("the wallet returned a preimage that does not match the invoice; it was not used")]
    WrongPreimage,
    /// The server refused the request or failed.
    #[error("the server answered {status}: {code}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The error code from the JSON error (or `http_error`).
        code: String,
        /// Its message.
        message: String,
        /// The refund a failed paid job offers (or its claim), when the answer carries one.
        refund: Option<Box<Refund>>,
    },
    /// The server's answer breaks the protocol (a bad challenge, an amountless invoice, a mismatched hash).
    #[error("the server's answer is not valid L402: {0}")]
    Protocol(String),
    /// The server could not be reached.
    #[error("the server could not be reached: {0}")]
    Transport(#[source] reqwest::Error),
    /// The vault could not be read or written (nothing is paid without it).
    #[error("the saved purchase could not be read or written: {0}")]
    Vault(#[source] std::io::Error),
}

/// A buyer: one server, one wallet, one budget per purchase.
#[derive(Debug, Clone)]
pub struct Buyer {
    server: String,
    http: reqwest::Client,
    payer: Arc<dyn InvoicePayer>,
    max_msat: u64,
    vault: Vault,
}

/// The invoice's facts the buyer checks before paying, and the challenge that offered it.
struct Quote {
    offered: Offered,
    invoice: String,
    amount_msat: u64,
    payment_hash: PaymentHash,
}

/// The challenge a quote comes from: L402 when the server offers it (first), else the `Payment` scheme's
/// Lightning charge.
enum Offered {
    L402(Challenge),
    Payment(Box<mesh402_mpp::PaymentChallenge>),
}

impl Buyer {
    /// A buyer from `server` (its base URL) paying with `payer`, at most `max_sats` per purchase, saving
    /// purchases in `vault`.
    pub fn new(server: &str, payer: Arc<dyn InvoicePayer>, max_sats: u64, vault: Vault) -> Result<Buyer, BuyError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(BuyError::Transport)?;
        Ok(Buyer {
            server: server.trim_end_matches('/').to_owned(),
            http,
            payer,
            max_msat: max_sats.saturating_mul(1000),
            vault,
        })
    }

    /// Buys one model for `order`, reporting steps to `progress`.
    pub async fn buy(&self, order: &Order, progress: &mut (dyn FnMut(Step) + Send)) -> Result<Receipt, BuyError> {
        let body = order.body();
        let key = self.purchase_key(&body);
        let url = format!("{}{ENDPOINT}", self.server);
        let saved = self.vault.load(&key).map_err(BuyError::Vault)?;
        let (purchase, paid_msat) = match saved {
            Some(purchase) if purchase.preimage.is_some() => {
                progress(Step::Resuming);
                (purchase, 0)
            }
            saved => {
                progress(Step::Asking);
                let quote = match saved {
                    // Saved before a payment that may or may not have happened: the wallet knows.
                    Some(purchase) => self.requote(&purchase)?,
                    None => match self.ask(&url, &body).await? {
                        Ok(quote) => quote,
                        Err(done) => return self.finish(done, 0, 0, String::new(), progress).await,
                    },
                };
                progress(Step::Quoted(quote.amount_msat));
                if quote.amount_msat > self.max_msat {
                    return Err(BuyError::OverBudget {
                        price_sats: quote.amount_msat.div_ceil(1000),
                        max_sats: self.max_msat / 1000,
                    });
                }
                let (macaroon, payment_challenge) = match quote.offered {
                    Offered::L402(challenge) => (challenge.macaroon.to_base64(), None),
                    Offered::Payment(challenge) => (String::new(), Some(*challenge)),
                };
                let mut purchase = Purchase {
                    macaroon,
                    payment_challenge,
                    invoice: quote.invoice.clone(),
                    payment_hash: quote.payment_hash.to_string(),
                    amount_msat: quote.amount_msat,
                    preimage: None,
                    job_id: None,
                };
                self.vault.save(&key, &purchase).map_err(BuyError::Vault)?;
                progress(Step::Paying);
                let (preimage, paid) = match self.payer.paid_preimage(&quote.payment_hash).await {
                    Ok(Some(preimage)) => (preimage, 0),
                    _ => (self.payer.pay(&purchase.invoice).await.map_err(BuyError::Payment)?, quote.amount_msat),
                };
                if preimage.hash() != quote.payment_hash {
                    return Err(BuyError::WrongPreimage);
                }
                purchase.preimage = Some(preimage.to_hex());
                self.vault.save(&key, &purchase).map_err(BuyError::Vault)?;
                (purchase, paid)
            }
        };
        let (response, authorization) = self.paid_request(&purchase, body).await?;
        let mut purchase = purchase;
        let done = match self.follow(response, &authorization, progress).await {
            Ok(done) => done,
            Err(BuyError::Server { status, code, message, refund: Some(refund) }) => {
                // Remember the job, so that a check or a refund claim need not send the request again.
                purchase.job_id = Some(refund.job_id.clone());
                self.vault.save(&key, &purchase).map_err(BuyError::Vault)?;
                return Err(BuyError::Server { status, code, message, refund: Some(refund) });
            }
            Err(error) => return Err(error),
        };
        let price_msat = purchase.amount_msat;
        self.finish(done, paid_msat, price_msat, purchase.payment_hash, progress).await
    }

    /// Where an earlier purchase of `order` stands, without paying or downloading anything: the saved purchase,
    /// the wallet's record of its payment, and the server's job (asked by sending the identical paid request with
    /// `Prefer: respond-async`, which answers at once and never charges again).
    pub async fn check(&self, order: &Order) -> Result<PurchaseStatus, BuyError> {
        let body = order.body();
        let key = self.purchase_key(&body);
        let Some(mut purchase) = self.vault.load(&key).map_err(BuyError::Vault)? else {
            return Ok(PurchaseStatus::NotBought);
        };
        if purchase.preimage.is_none() {
            let hash: PaymentHash = purchase
                .payment_hash
                .parse()
                .map_err(|_| BuyError::Protocol("the saved payment hash is not 64 hex digits".into()))?;
            match self.payer.paid_preimage(&hash).await {
                Ok(Some(preimage)) if preimage.hash() == hash => {
                    purchase.preimage = Some(preimage.to_hex());
                    self.vault.save(&key, &purchase).map_err(BuyError::Vault)?;
                }
                _ => return Ok(PurchaseStatus::Unpaid { payment_hash: purchase.payment_hash }),
            }
        }
        let response = match &purchase.job_id {
            // The job is known: read its status (sending the request again would retry a failed job).
            Some(job_id) => self
                .http
                .get(format!("{}{}", self.server, paths::fill(paths::JOB, &[job_id])))
                .header("Authorization", authorization(&purchase))
                .send()
                .await
                .map_err(BuyError::Transport)?,
            None => self.paid_request(&purchase, body).await?.0,
        };
        let (state, progress, model_url, error, refund) = match status_document(answer(response).await) {
            Ok(document) => {
                let unsaid = if document.model_url.is_some() { JobState::Succeeded } else { JobState::Queued };
                let state = document.state.unwrap_or(unsaid);
                (state, document.progress.unwrap_or(0).min(100), document.model_url, None, None)
            }
            Err(BuyError::Server { code, message, refund, .. }) if job_ended(&code) || refund.is_some() => {
                let state = match code.parse::<ErrorCode>() {
                    Ok(ErrorCode::RefundPending) => JobState::Refunding,
                    Ok(ErrorCode::PaymentRefunded) => JobState::Refunded,
                    _ => JobState::Failed,
                };
                (state, 0, None, Some(format!("{code}: {message}")), refund)
            }
            Err(error) => return Err(error),
        };
        Ok(PurchaseStatus::Paid { payment_hash: purchase.payment_hash, state, progress, model_url, error, refund })
    }

    /// Claims the refund a failed purchase of `order` offers, to `invoice` (a BOLT11 invoice of the buyer's wallet
    /// for exactly the refund's amount), with the saved credential. A claim made before (with any invoice) is
    /// answered with its outcome; nothing is paid twice. A paid refund's preimage is checked against its invoice.
    pub async fn claim_refund(&self, order: &Order, invoice: &str) -> Result<Refund, BuyError> {
        let body = order.body();
        let key = self.purchase_key(&body);
        let purchase = match self.vault.load(&key).map_err(BuyError::Vault)? {
            Some(purchase) if purchase.preimage.is_some() => purchase,
            _ => return Err(BuyError::Protocol("no paid purchase of this order is saved".into())),
        };
        let authorization = authorization(&purchase);
        let job_id = match purchase.job_id.clone() {
            Some(job_id) => job_id,
            None => {
                let (response, _) = self.paid_request(&purchase, body).await?;
                let job_id = match answer(response).await {
                    Ok(document) => document.job_id,
                    Err(BuyError::Server { refund: Some(refund), .. }) => Some(refund.job_id),
                    Err(error) => return Err(error),
                };
                job_id.ok_or_else(|| BuyError::Protocol("the server's answer names no job".into()))?
            }
        };
        // The claim goes to this server (never to a URL an answer names), under the job's path.
        let response = self
            .http
            .post(format!("{}{}", self.server, paths::fill(paths::JOB_REFUND, &[&job_id])))
            .header("Authorization", &authorization)
            .json(&RefundClaim { invoice: invoice.trim().to_owned() })
            .send()
            .await
            .map_err(BuyError::Transport)?;
        let document = answer(response).await?;
        let refund =
            Refund::from_answer(&document).ok_or_else(|| BuyError::Protocol("the answer has no refund".into()))?;
        if refund.status.state == RefundState::Paid {
            let proven = match (&refund.status.preimage, &refund.status.invoice_payment_hash) {
                (Some(preimage), Some(hash)) => preimage
                    .parse::<Preimage>()
                    .ok()
                    .zip(hash.parse::<PaymentHash>().ok())
                    .is_some_and(|(preimage, hash)| preimage.hash() == hash),
                _ => false,
            };
            if !proven {
                return Err(BuyError::Protocol("the refund's preimage does not open its invoice".into()));
            }
        }
        Ok(refund)
    }

    /// The vault's key for a request body to this server.
    fn purchase_key(&self, body: &[u8]) -> String {
        hex::encode(Sha256::new().chain_update(self.server.as_bytes()).chain_update(body).finalize())
    }

    /// Sends the identical request with the paid purchase's credential, asking for an answer at once (`202` with a
    /// status URL while the job runs); returns the answer and the `Authorization` value used.
    async fn paid_request(&self, purchase: &Purchase, body: Vec<u8>) -> Result<(reqwest::Response, String), BuyError> {
        let authorization = authorization(purchase);
        let response = self
            .http
            .post(format!("{}{ENDPOINT}", self.server))
            .header("Content-Type", "application/json")
            .header("Authorization", &authorization)
            .header("Prefer", "respond-async")
            .body(body)
            .send()
            .await
            .map_err(BuyError::Transport)?;
        Ok((response, authorization))
    }

    /// The price of `order` in millisatoshis, read from the invoice of the server's 402, without paying (the
    /// server makes an invoice that nobody pays). `None` when the server asks no payment.
    pub async fn quote(&self, order: &Order) -> Result<Option<u64>, BuyError> {
        let url = format!("{}{ENDPOINT}", self.server);
        Ok(self.ask(&url, &order.body()).await?.ok().map(|quote| quote.amount_msat))
    }

    /// The quote of a purchase saved before its payment.
    fn requote(&self, purchase: &Purchase) -> Result<Quote, BuyError> {
        if let Some(challenge) = &purchase.payment_challenge {
            return check_charge(challenge.clone());
        }
        let macaroon = mesh402_l402::Macaroon::from_base64(&purchase.macaroon)
            .map_err(|err| BuyError::Protocol(format!("the saved macaroon: {err}")))?;
        check_invoice(Challenge { macaroon, invoice: purchase.invoice.clone() })
    }

    /// Sends the unpaid request: a quote from its 402, or (when the server asks no payment) the final answer.
    async fn ask(&self, url: &str, body: &[u8]) -> Result<Result<Quote, JobStatus>, BuyError> {
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(BuyError::Transport)?;
        if response.status().as_u16() != 402 {
            return Ok(Err(answer(response).await?));
        }
        let lines: Vec<&str> =
            response.headers().get_all("WWW-Authenticate").iter().filter_map(|value| value.to_str().ok()).collect();
        if let Some(challenge) = lines.iter().find_map(|value| Challenge::parse(value).ok()) {
            return check_invoice(challenge).map(Ok);
        }
        let charge = lines
            .iter()
            .flat_map(|line| mesh402_mpp::parse_challenges(line))
            .filter_map(|parsed| mesh402_mpp::PaymentChallenge::from_parsed(&parsed)?.ok())
            .find(|challenge| challenge.method == mesh402_mpp::METHOD && challenge.intent == mesh402_mpp::INTENT)
            .ok_or_else(|| {
                BuyError::Protocol("the 402 has neither an L402 nor a Lightning Payment challenge".into())
            })?;
        check_charge(charge).map(Ok)
    }

    /// Reads a paid answer: the model's URL at once, or a job to follow until it is done.
    async fn follow(
        &self,
        response: reqwest::Response,
        authorization: &str,
        progress: &mut (dyn FnMut(Step) + Send),
    ) -> Result<JobStatus, BuyError> {
        if response.status().as_u16() == 402 {
            return Err(BuyError::Protocol("the server did not accept the paid credential (expired?)".into()));
        }
        let mut document = answer(response).await?;
        let mut status_url: Option<String> = None;
        loop {
            if document.model_url.is_some() {
                return Ok(document);
            }
            if let Some(url) = document.status_url.take() {
                status_url = Some(url);
            }
            let Some(status_url) = status_url.clone() else {
                return Err(BuyError::Protocol("the answer has neither modelUrl nor status_url".into()));
            };
            let stage = document.stage.map_or("queued", |stage| stage.name()).to_owned();
            progress(Step::Generating(stage, document.progress.unwrap_or(0).min(100)));
            let wait = document.poll_interval_ms.unwrap_or(1000).clamp(200, 10_000);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let url = if status_url.starts_with("http") { status_url } else { format!("{}{status_url}", self.server) };
            let response =
                self.http.get(&url).header("Authorization", authorization).send().await.map_err(BuyError::Transport)?;
            document = answer(response).await?;
            if document.state == Some(JobState::Failed) {
                return Err(job_failed(&document));
            }
        }
    }

    async fn finish(
        &self,
        done: JobStatus,
        paid_msat: u64,
        price_msat: u64,
        payment_hash: String,
        progress: &mut (dyn FnMut(Step) + Send),
    ) -> Result<Receipt, BuyError> {
        let model_url = done.model_url.ok_or_else(|| BuyError::Protocol("the answer has no modelUrl".into()))?;
        progress(Step::Downloading);
        let response = self.http.get(&model_url).send().await.map_err(BuyError::Transport)?;
        if !response.status().is_success() {
            return Err(BuyError::Server {
                status: response.status().as_u16(),
                code: "download_failed".into(),
                message: format!("the model could not be downloaded from {model_url}"),
                refund: None,
            });
        }
        let model = response.bytes().await.map_err(BuyError::Transport)?.to_vec();
        Ok(Receipt {
            paid_sats: paid_msat.div_ceil(1000),
            price_sats: price_msat.div_ceil(1000),
            payment_hash,
            model_url,
            model,
            files: done.files.unwrap_or_default(),
            preview_url: done.preview_url,
        })
    }
}

/// The `Authorization` value of a paid purchase: its `Payment` credential when it was bought through that scheme,
/// else its L402 credential.
fn authorization(purchase: &Purchase) -> String {
    let preimage = purchase.preimage.as_deref().unwrap_or_default();
    match (&purchase.payment_challenge, preimage.parse::<Preimage>()) {
        (Some(challenge), Ok(preimage)) => {
            mesh402_mpp::PaymentCredential::new(challenge.clone(), &preimage).header_value()
        }
        _ => format!("L402 {}:{preimage}", purchase.macaroon),
    }
}

/// Whether an error answer to a paid request says its job ended without a model (failed, or refunded).
fn job_ended(code: &str) -> bool {
    matches!(
        code.parse::<ErrorCode>(),
        Ok(ErrorCode::GenerationFailed
            | ErrorCode::GenerationRejected
            | ErrorCode::RefundPending
            | ErrorCode::PaymentRefunded)
    )
}

/// The error a status document of a job that did not deliver stands for.
fn job_failed(document: &JobStatus) -> BuyError {
    let (code, message) = match &document.error {
        Some(error) => (error.code.clone(), error.message.clone()),
        None => (ErrorCode::GenerationFailed.as_str().to_owned(), "the job failed".to_owned()),
    };
    BuyError::Server { status: 200, code, message, refund: Refund::from_answer(document).map(Box::new) }
}

/// A status document whose job did not deliver (it carries an `error`) as the error the paid request would get.
fn status_document(answer: Result<JobStatus, BuyError>) -> Result<JobStatus, BuyError> {
    let document = answer?;
    match (&document.error, &document.model_url) {
        (Some(_), None) => Err(job_failed(&document)),
        _ => Ok(document),
    }
}

/// Reads a JSON answer; an error status becomes [`BuyError::Server`] with the JSON error's code and message.
async fn answer(response: reqwest::Response) -> Result<JobStatus, BuyError> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(BuyError::Transport)?;
    if status >= 400 {
        // An error body of another shape still reports the status and the start of what was said.
        let document: JobStatus = serde_json::from_slice(&bytes).unwrap_or_default();
        let said = || String::from_utf8_lossy(&bytes).chars().take(200).collect();
        let (code, message) = match &document.error {
            Some(error) => (error.code.clone(), error.message.clone()),
            None => ("http_error".to_owned(), said()),
        };
        return Err(BuyError::Server { status, code, message, refund: Refund::from_answer(&document).map(Box::new) });
    }
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !value.is_object() {
        return Err(BuyError::Protocol(format!("HTTP {status} with a body that is not a JSON object")));
    }
    serde_json::from_value(value)
        .map_err(|err| BuyError::Protocol(format!("HTTP {status}: the answer does not read: {err}")))
}

/// Decodes the challenge's invoice: it must be validly signed, carry an amount, and commit to the payment hash
/// the macaroon's identifier holds.
fn check_invoice(challenge: Challenge) -> Result<Quote, BuyError> {
    // Read leniently, as the server side does: the signature must be valid, but fields some wallets omit
    // (features, a payment secret) are not required.
    let facts = mesh402_ln::invoice_facts(challenge.invoice.trim())
        .map_err(|err| BuyError::Protocol(format!("the invoice does not decode: {err}")))?;
    let amount_msat = facts.amount_msat.ok_or_else(|| BuyError::Protocol("the invoice has no amount".into()))?;
    let payment_hash = facts.payment_hash;
    let identifier = Identifier::decode(challenge.macaroon.identifier())
        .map_err(|err| BuyError::Protocol(format!("the macaroon's identifier: {err}")))?;
    if identifier.payment_hash != payment_hash {
        return Err(BuyError::Protocol("the invoice is not the one the macaroon was minted for".into()));
    }
    Ok(Quote { invoice: challenge.invoice.clone(), offered: Offered::L402(challenge), amount_msat, payment_hash })
}

/// Decodes a Lightning charge's invoice: validly signed, with an amount, in sats as the charge says, for the
/// amount the charge names and the payment hash it names (when it names one). The budget is checked against the
/// invoice's amount.
fn check_charge(challenge: mesh402_mpp::PaymentChallenge) -> Result<Quote, BuyError> {
    let charge = challenge.charge().map_err(|err| BuyError::Protocol(format!("the Payment challenge: {err}")))?;
    if charge.currency != mesh402_mpp::CURRENCY {
        return Err(BuyError::Protocol(format!("the charge is in {:?}, not sats", charge.currency)));
    }
    let invoice = charge.method_details.invoice.trim().to_owned();
    let facts = mesh402_ln::invoice_facts(&invoice)
        .map_err(|err| BuyError::Protocol(format!("the invoice does not decode: {err}")))?;
    let amount_msat = facts.amount_msat.ok_or_else(|| BuyError::Protocol("the invoice has no amount".into()))?;
    if charge.amount_sats().map(|sats| sats.saturating_mul(1000)) != Some(amount_msat) {
        return Err(BuyError::Protocol("the invoice's amount is not the charge's".into()));
    }
    if charge.method_details.payment_hash.is_some() && charge.payment_hash() != Some(facts.payment_hash) {
        return Err(BuyError::Protocol("the invoice is not the one the charge names".into()));
    }
    Ok(Quote { offered: Offered::Payment(Box::new(challenge)), invoice, amount_msat, payment_hash: facts.payment_hash })
}

/// Checks that `preimage` unlocks `payment_hash` (exposed for wallets' tests).
pub fn preimage_matches(preimage: &Preimage, payment_hash: &PaymentHash) -> bool {
    preimage.hash() == *payment_hash
}
