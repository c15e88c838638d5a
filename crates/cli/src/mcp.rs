//! `mesh402 mcp`: a Model Context Protocol server on stdio (the official Rust SDK, `rmcp`) with which AI agents buy
//! models the way `mesh402 generate` does: the same client crate, the same wallet arguments, never twice, and
//! within a per-call and a per-session budget that the agent cannot raise.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use clap::Args;
use mesh402_api::ModelOptions;
use mesh402_client::{Buyer, InvoicePayer, Order, OrderInput, PurchaseStatus, Vault};
use mesh402_core::{Format, Mode};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use serde_json::json;

use crate::generate::{Wallet, WalletArgs, claim_refund, media_type_of, payer, refund_json};

#[derive(Debug, Args)]
pub struct McpArgs {
    /// The server, the wallet and where purchases are saved.
    #[command(flatten)]
    wallet: WalletArgs,
    /// The most one tool call may pay, in satoshis.
    #[arg(long, default_value_t = 1_000)]
    max_sats_per_call: u64,
    /// The most this session (one run of the MCP server) may pay in all, in satoshis.
    #[arg(long, default_value_t = 5_000)]
    max_sats_per_session: u64,
    /// Where models are written when a call names no output path [default: the current directory].
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
}

/// The image of a tool call: a local file, or base64 bytes with their media type; or, for a server whose generator
/// reads text, a prompt instead.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ImageInput {
    /// Path of a local PNG, JPEG or WebP file. Give this, `image_base64` or `prompt`.
    #[serde(default)]
    image_path: Option<String>,
    /// The image's bytes in standard base64 (no data-URI prefix). Give this, `image_path` or `prompt`.
    #[serde(default)]
    image_base64: Option<String>,
    /// Instead of an image: what the model should show, in words. Only servers whose generator reads text accept
    /// it (their request schema lists `prompt`); the others refuse it with prompt_unsupported before any invoice.
    #[serde(default)]
    prompt: Option<String>,
    /// With `image_base64`: `image/png`, `image/jpeg` or `image/webp`.
    #[serde(default)]
    media_type: Option<String>,
    /// `inflate` (photos of objects, the default) or `extrude` (logos, flat art).
    #[serde(default)]
    mode: Option<String>,
    /// `glb` (default), `obj`, `stl`, `ply`, `3mf` or `usdz`: the file saved. The answer lists the same model in
    /// every format (`files`) and a picture of it (`preview_url`), all bought with the one payment.
    #[serde(default)]
    format: Option<String>,
    /// A hard cap on the model's triangles (500 to 200000; default 20000).
    #[serde(default)]
    target_faces: Option<u32>,
}

/// The claim_refund tool's arguments.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct RefundInput {
    /// The image and the generator's options, exactly as bought.
    #[serde(flatten)]
    image: ImageInput,
    /// A BOLT11 invoice of your wallet for exactly the refund's amount (check_job tells it); with the server's
    /// development wallet it may be left out.
    #[serde(default)]
    invoice: Option<String>,
}

/// The generate tool's arguments.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct GenerateInput {
    /// The image and the generator's options.
    #[serde(flatten)]
    image: ImageInput,
    /// Where to write the model; default: a file named after the payment hash in the server's output directory.
    #[serde(default)]
    output_path: Option<String>,
    /// The most this call may pay, in satoshis; it can only lower the server's per-call budget.
    #[serde(default)]
    max_sats: Option<u64>,
}

impl ImageInput {
    fn order(&self) -> Result<Order, String> {
        // Checked here against the generator's own names, so a typo is answered before any request.
        let mode = self.mode.as_deref().map(str::parse::<Mode>).transpose().map_err(|error| error.to_string())?;
        let format = self.format.as_deref().map(str::parse::<Format>).transpose().map_err(|error| error.to_string())?;
        let options = ModelOptions { mode, format, target_faces: self.target_faces, ..ModelOptions::default() };
        let input = match (&self.image_path, &self.image_base64, &self.prompt) {
            (Some(path), None, None) => {
                let path = std::path::Path::new(path);
                let media_type = media_type_of(path).map_err(|error| error.to_string())?.to_owned();
                OrderInput::Image {
                    bytes: std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?,
                    media_type,
                }
            }
            (None, Some(data), None) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|err| format!("image_base64 is not standard base64: {err}"))?;
                let media_type = self.media_type.clone().ok_or("image_base64 needs media_type")?;
                OrderInput::Image { bytes, media_type }
            }
            (None, None, Some(prompt)) => OrderInput::Prompt(prompt.clone()),
            _ => return Err("give exactly one of image_path, image_base64 and prompt".into()),
        };
        Ok(Order { input, options })
    }
}

/// The MCP server: one wallet, one budget for the session.
#[derive(Debug, Clone)]
pub struct Mesh402Mcp {
    server: String,
    /// Whether the wallet is the server's development wallet (it can make a refund's invoice).
    dev_wallet: bool,
    payer: Arc<dyn InvoicePayer>,
    vault: Vault,
    per_call_sats: u64,
    session_sats: u64,
    spent_sats: Arc<AtomicU64>,
    output_dir: PathBuf,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Mesh402Mcp {
    #[tool(description = "Ask a mesh402 server what a 3D model of an image costs, without paying. Returns the price \
                          in satoshis (from the Lightning invoice) and this session's remaining budget. The image is \
                          a local file path or base64 bytes; a good photo shows one object or a few (a product, a \
                          toy, a fruit, a logo) that stand out from their surroundings.")]
    async fn quote_model(&self, Parameters(input): Parameters<ImageInput>) -> Result<String, String> {
        let order = input.order()?;
        let buyer = Buyer::new(&self.server, self.payer.clone(), 0, self.vault.clone()).map_err(|e| e.to_string())?;
        let price = buyer.quote(&order).await.map_err(|err| err.to_string())?;
        Ok(json!({
            "price_sats": price.map(|msat| msat.div_ceil(1000)),
            "per_call_budget_sats": self.per_call_sats,
            "session_remaining_sats": self.remaining(),
        })
        .to_string())
    }

    #[tool(description = "Buy a textured 3D model (GLB by default) of an image from a mesh402 server, paying its \
                          Lightning invoice from the configured wallet, and save it locally. Pays only if the price \
                          is within this call's max_sats, the server's per-call budget and the session's remaining \
                          budget; never pays twice for the same image and options (a repeated call resumes the \
                          earlier purchase for free). Takes from a second to a few minutes. Returns model_url, the \
                          local file, paid_sats, price_sats, files (the same model in every format, bought with \
                          this payment) and preview_url (a PNG picture of the model).")]
    async fn generate_model(&self, Parameters(input): Parameters<GenerateInput>) -> Result<String, String> {
        let order = input.image.order()?;
        let call_budget = input.max_sats.unwrap_or(self.per_call_sats).min(self.per_call_sats);
        let budget = call_budget.min(self.remaining());
        let buyer =
            Buyer::new(&self.server, self.payer.clone(), budget, self.vault.clone()).map_err(|e| e.to_string())?;
        let receipt = buyer.buy(&order, &mut |_| {}).await.map_err(|err| err.to_string())?;
        self.spent_sats.fetch_add(receipt.paid_sats, Ordering::SeqCst);
        let extension = input.image.format.as_deref().unwrap_or("glb");
        let path = match input.output_path {
            Some(path) => PathBuf::from(path),
            None => {
                self.output_dir.join(format!("model-{}.{extension}", &receipt.payment_hash.get(..16).unwrap_or("free")))
            }
        };
        std::fs::write(&path, &receipt.model).map_err(|err| format!("{}: {err}", path.display()))?;
        Ok(json!({
            "model_url": receipt.model_url,
            "file": path.display().to_string(),
            "bytes": receipt.model.len(),
            "files": receipt.files,
            "preview_url": receipt.preview_url,
            "paid_sats": receipt.paid_sats,
            "price_sats": receipt.price_sats,
            "payment_hash": receipt.payment_hash,
            "session_remaining_sats": self.remaining(),
        })
        .to_string())
    }

    #[tool(description = "Check an earlier purchase of an image (the same image and options as the generate_model \
                          call) without paying or downloading: whether it was bought, whether the payment went \
                          through, and the server's job state (queued, running, succeeded, failed) with its progress \
                          and, once ready, model_url. Use it after a generate_model call that timed out or failed; \
                          calling generate_model again with the same image resumes the purchase for free.")]
    async fn check_job(&self, Parameters(input): Parameters<ImageInput>) -> Result<String, String> {
        let order = input.order()?;
        let buyer = Buyer::new(&self.server, self.payer.clone(), 0, self.vault.clone()).map_err(|e| e.to_string())?;
        let status = buyer.check(&order).await.map_err(|err| err.to_string())?;
        Ok(match status {
            PurchaseStatus::NotBought => json!({ "bought": false, "state": "not_bought" }),
            PurchaseStatus::Unpaid { payment_hash } => {
                json!({ "bought": false, "state": "unpaid", "payment_hash": payment_hash })
            }
            PurchaseStatus::Paid { payment_hash, state, progress, model_url, error, refund } => json!({
                "bought": true,
                "state": state,
                "progress": progress,
                "model_url": model_url,
                "error": error,
                "payment_hash": payment_hash,
                "refund": refund.as_deref().map(refund_json),
            }),
        }
        .to_string())
    }

    #[tool(description = "Claim the refund of an earlier purchase whose job failed for good (check_job shows a \
                          refund with state available and its amount_sats). Give the same image and options as the \
                          purchase and an invoice of your wallet for exactly that amount (with the server's \
                          development wallet the invoice may be left out). Pays nothing; a repeated claim answers \
                          with the first one's outcome. Returns the refund's state (paid, with the preimage that \
                          proves it, or pending: call again).")]
    async fn claim_refund(&self, Parameters(input): Parameters<RefundInput>) -> Result<String, String> {
        let order = input.image.order()?;
        let buyer = Buyer::new(&self.server, self.payer.clone(), 0, self.vault.clone()).map_err(|e| e.to_string())?;
        let refund = claim_refund(&buyer, &order, input.invoice, &self.server, self.dev_wallet)
            .await
            .map_err(|error| error.to_string())?;
        Ok(json!({ "refund": refund_json(&refund) }).to_string())
    }
}

impl Mesh402Mcp {
    fn remaining(&self) -> u64 {
        self.session_sats.saturating_sub(self.spent_sats.load(Ordering::SeqCst))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Mesh402Mcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_instructions(format!(
            "Buys 3D models of images from the mesh402 server at {} over L402 (Lightning). Call quote_model for the \
             price, generate_model to buy, check_job to see where an earlier purchase stands, claim_refund when it failed; at most {} sat per \
             call and {} sat in this session.",
            self.server, self.per_call_sats, self.session_sats
        ))
    }
}

/// Runs the MCP server on stdin/stdout until the client closes it.
pub fn mcp(args: McpArgs) -> anyhow::Result<()> {
    let payer = payer(&args.wallet)?;
    let vault = args.wallet.vault()?;
    let server = Mesh402Mcp {
        server: args.wallet.server.clone(),
        dev_wallet: args.wallet.wallet == Wallet::Dev,
        payer,
        vault,
        per_call_sats: args.max_sats_per_call,
        session_sats: args.max_sats_per_session,
        spent_sats: Arc::new(AtomicU64::new(0)),
        output_dir: args.output_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
        tool_router: Mesh402Mcp::tool_router(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let running = server.serve(rmcp::transport::stdio()).await?;
        running.waiting().await?;
        Ok(())
    })
}
