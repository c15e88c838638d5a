//! `mesh402 generate`: buy one model from a server that speaks the seed's API, with a wallet the buyer already
//! has, within a budget, never twice; and `mesh402 refund`. The logic lives in `mesh402-client`; this file is
//! arguments, progress and what is printed. Each failure is a [`CommandError`], which `main` turns into its exit
//! code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mesh402_api::{DevInvoice, DevInvoiceRequest, ModelOptions, RefundState, paths};
use mesh402_client::{
    BuyError, Buyer, DevPayEndpoint, InvoicePayer, LnbitsPayer, Order, OrderInput, PurchaseStatus, Refund, Secret,
    Step, Vault,
};
#[cfg(feature = "lnd")]
use mesh402_client::{LndPayer, LndSettings};
#[cfg(feature = "nwc")]
use mesh402_client::{NwcPayer, NwcSettings};
use mesh402_core::{
    Format, MAX_PREVIEW_SIZE, MAX_PRINT_SIZE_MM, MAX_TARGET_FACES, MIN_PREVIEW_SIZE, MIN_PRINT_SIZE_MM,
    MIN_TARGET_FACES, Mode,
};
use serde_json::{Value, json};

/// Why `generate` or `refund` stopped. `main` alone turns each into its exit code ([`EXIT_CODES`]).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The arguments, the image file or the wallet's settings are unusable; nothing was asked of anyone.
    #[error("{0}")]
    BadInput(String),
    /// The purchase (or the look-up or refund of one) stopped.
    #[error(transparent)]
    Buy(#[from] BuyError),
    /// Something on this machine failed: the model could not be written, or no runtime started.
    #[error("{0}")]
    Local(String),
    /// The purchase offers no refund to claim.
    #[error("this purchase offers no refund")]
    NoRefund,
    /// The server's development wallet made no invoice for the refund.
    #[error(transparent)]
    DevWallet(#[from] DevWalletError),
}

/// Why the server's development wallet made no invoice.
#[derive(Debug, thiserror::Error)]
pub enum DevWalletError {
    /// No HTTP client could be made here.
    #[error("no HTTP client: {0}")]
    Client(reqwest::Error),
    /// The server did not answer.
    #[error("the server's development wallet: {0}")]
    Unreachable(reqwest::Error),
    /// The server answered with an error (no development wallet there, or it refused).
    #[error("the server's development wallet made no invoice (HTTP {0})")]
    Refused(reqwest::StatusCode),
    /// The answer was not the invoice.
    #[error("the development wallet's answer does not read: {0}")]
    BadAnswer(reqwest::Error),
}

/// An image file whose name does not say PNG, JPEG or WebP.
#[derive(Debug, thiserror::Error)]
#[error("{}: not a .png, .jpg or .webp file", .0.display())]
pub struct NotAnImageFile(pub std::path::PathBuf);

impl CommandError {
    /// The code printed in `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::BadInput(_) => "bad_input",
            CommandError::Buy(BuyError::OverBudget { .. }) => "over_budget",
            CommandError::Buy(BuyError::Payment(_)) => "payment_failed",
            CommandError::Buy(BuyError::Server { .. }) => "server_error",
            CommandError::NoRefund => "no_refund",
            CommandError::Buy(BuyError::WrongPreimage) => "wrong_preimage",
            CommandError::Buy(BuyError::Vault(_)) | CommandError::Local(_) => "storage",
            CommandError::Buy(BuyError::Protocol(_) | BuyError::Transport(_)) | CommandError::DevWallet(_) => {
                "protocol"
            }
        }
    }

    /// The refund a failed purchase offers, when the server's answer carried one.
    fn refund(&self) -> Option<&Refund> {
        match self {
            CommandError::Buy(BuyError::Server { refund, .. }) => refund.as_deref(),
            _ => None,
        }
    }
}

/// Exit codes of `generate` besides 0 (done) and 2 (bad arguments or a bad image file).
pub const EXIT_CODES: &str = "exit codes: 0 done, 2 bad arguments or image, 3 over budget (nothing paid), 4 payment failed, \
                          5 the server refused or failed, 6 the wallet's preimage did not match (not used), \
                          7 the saved purchase could not be read or written, 8 protocol or network error";

/// What is bought: the image (or prompt) and the generator's options (a purchase is found again by exactly these).
#[derive(Debug, Args)]
pub struct OrderArgs {
    /// The image: PNG, JPEG or WebP.
    #[arg(required_unless_present = "prompt", conflicts_with = "prompt")]
    image: Option<PathBuf>,
    /// Instead of an image: what the model should show, in words (only servers whose generator reads text, such as
    /// a Hunyuan3D-2 model server, accept it; the others refuse it before any invoice).
    #[arg(long, value_name = "TEXT")]
    prompt: Option<String>,
    /// inflate (photos of objects) or extrude (logos, alpha art).
    #[arg(long, value_parser = mode_parser())]
    mode: Option<Mode>,
    /// glb, obj, stl, ply, 3mf or usdz: the file written (the answer also lists the same model in every format the
    /// server offers, and a picture of it, bought with the same payment).
    #[arg(long, value_parser = format_parser())]
    format: Option<Format>,
    /// Hard cap on triangles.
    #[arg(long, value_parser = target_faces_parser())]
    target_faces: Option<u32>,
    /// The longest side of the 3MF model, in millimetres.
    #[arg(long, value_parser = clap::value_parser!(u32).range(i64::from(MIN_PRINT_SIZE_MM)..=i64::from(MAX_PRINT_SIZE_MM)))]
    print_size_mm: Option<u32>,
    /// Side of the preview picture in pixels.
    #[arg(long, value_parser = clap::value_parser!(u32).range(i64::from(MIN_PREVIEW_SIZE)..=i64::from(MAX_PREVIEW_SIZE)))]
    preview_size: Option<u32>,
}

/// `--mode`: the generator's modes, by their names in requests.
pub fn mode_parser() -> impl TypedValueParser<Value = Mode> {
    PossibleValuesParser::new(Mode::ALL.map(|mode| mode.name())).try_map(|name| name.parse::<Mode>())
}

/// `--format`: the generator's formats, by their names in requests.
pub fn format_parser() -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(Format::ALL.map(|format| format.extension())).try_map(|name| name.parse::<Format>())
}

/// `--target-faces`: within the generator's range.
pub fn target_faces_parser() -> impl TypedValueParser<Value = u32> {
    clap::value_parser!(u32).range(i64::from(MIN_TARGET_FACES)..=i64::from(MAX_TARGET_FACES))
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct GenerateArgs {
    /// The image and options.
    #[command(flatten)]
    order: OrderArgs,
    /// Where to write the model.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// The server, the wallet and where purchases are saved.
    #[command(flatten)]
    wallet: WalletArgs,
    /// The most this purchase may cost, in satoshis; the amount is read from the invoice.
    #[arg(long, default_value_t = 1_000)]
    max_sats: u64,
    /// Print one JSON object with the result instead of progress.
    #[arg(long)]
    pub json: bool,
}

/// `mesh402 refund`: claim the refund a failed purchase offers.
#[derive(Debug, Args)]
#[command(after_help = "exit codes: 0 refunded (or being refunded), 2 bad arguments, 5 the server refused, \
                        7 the saved purchase could not be read, 8 protocol or network error")]
pub struct RefundArgs {
    /// The image and options of the purchase, exactly as bought.
    #[command(flatten)]
    order: OrderArgs,
    /// The server, the wallet and where purchases are saved.
    #[command(flatten)]
    wallet: WalletArgs,
    /// A BOLT11 invoice of your wallet for exactly the refund's amount [default with --wallet dev: one made by the
    /// server's development wallet].
    #[arg(long, value_name = "BOLT11")]
    invoice: Option<String>,
    /// Print one JSON object with the result.
    #[arg(long)]
    pub json: bool,
}

/// Prints why a command stopped (one JSON object with `--json`), with the exit code `main` chose for it.
pub fn print_failure(json: bool, error: &CommandError, exit_code: u8) {
    let refund = error.refund();
    if json {
        let mut body =
            json!({"ok": false, "error": {"code": error.code(), "message": error.to_string()}, "exit_code": exit_code});
        if let Some(refund) = refund {
            body["refund"] = refund_json(refund);
        }
        println!("{body}");
    } else {
        eprintln!("mesh402: {error}");
        if let Some(refund) = refund.filter(|refund| refund.status.state == RefundState::Available) {
            eprintln!(
                "mesh402: a refund of {} sats is offered: mesh402 refund <the same image and options> --invoice \
                 <an invoice of your wallet for exactly that amount>",
                refund.status.amount_sats
            );
        }
    }
}

/// A refund as the command line prints it in JSON.
pub fn refund_json(refund: &Refund) -> Value {
    let mut value = serde_json::to_value(&refund.status).unwrap_or_default();
    value["job_id"] = json!(refund.job_id);
    value
}

/// The buyer's wallet settings in the environment. They are named apart from every setting of `mesh402 serve`
/// (whose LNbits and NWC settings are the shop's own node), so that a shell prepared for the server can never
/// make the buyer pay with the shop's keys; a test checks that no name is shared.
pub const WALLET_LNBITS_URL: &str = "MESH402_WALLET_LNBITS_URL";
/// The paying LNbits wallet's admin key (a secret: from the environment or a file, never an argument).
pub const WALLET_LNBITS_ADMIN_KEY: &str = "MESH402_WALLET_LNBITS_ADMIN_KEY";
/// The paying wallet's Nostr Wallet Connect string (a secret: from the environment or a file). Declared in every
/// build, so that no build's server setting can take its name.
#[cfg_attr(not(feature = "nwc"), allow(dead_code))]
pub const WALLET_NWC_URI: &str = "MESH402_WALLET_NWC_URI";
/// The environment variables the buyer reads that are not arguments of its own (its secrets).
#[cfg(test)]
pub const WALLET_SECRET_VARIABLES: [&str; 2] = [WALLET_LNBITS_ADMIN_KEY, WALLET_NWC_URI];

/// The server to buy from, the wallet that pays, and where purchases are saved: shared by `generate` and `mcp`.
#[derive(Debug, Args)]
pub struct WalletArgs {
    /// The server's base URL.
    #[arg(long, env = "MESH402_SERVER", default_value = "http://127.0.0.1:8402")]
    pub server: String,
    /// The wallet that pays.
    #[arg(long, value_enum, default_value_t = Wallet::Dev)]
    pub wallet: Wallet,
    /// LNbits: the base URL of the paying wallet's server.
    #[arg(long, env = WALLET_LNBITS_URL)]
    pub lnbits_url: Option<String>,
    /// LNbits: a file holding the paying wallet's admin key (or set MESH402_WALLET_LNBITS_ADMIN_KEY).
    #[arg(long, value_name = "FILE")]
    pub lnbits_admin_key_file: Option<PathBuf>,
    /// NWC: a file holding the nostr+walletconnect:// connection string (or set MESH402_WALLET_NWC_URI).
    #[arg(long, value_name = "FILE")]
    pub nwc_uri_file: Option<PathBuf>,
    /// LND: the REST base URL of the paying node, e.g. https://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub lnd_rest_url: Option<String>,
    /// LND: a macaroon that may pay (admin.macaroon), binary as LND writes it or hex.
    #[arg(long, value_name = "FILE")]
    pub lnd_macaroon_file: Option<PathBuf>,
    /// LND: its tls.cert (PEM), pinned: exactly this certificate is trusted.
    #[arg(long, value_name = "FILE")]
    pub lnd_tls_cert_file: Option<PathBuf>,
    /// Where purchases are saved before they are paid [default: $XDG_STATE_HOME/mesh402/purchases].
    #[arg(long, env = "MESH402_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The wallets a buyer can pay with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Wallet {
    /// The server's development wallet (regtest; it pays only its own invoices).
    Dev,
    /// An LNbits wallet (its admin key).
    Lnbits,
    /// Nostr Wallet Connect.
    #[cfg(feature = "nwc")]
    Nwc,
    /// An LND node over REST.
    #[cfg(feature = "lnd")]
    Lnd,
}

impl WalletArgs {
    /// The vault of saved purchases.
    pub fn vault(&self) -> Result<Vault, CommandError> {
        self.state_dir
            .clone()
            .or_else(Vault::default_dir)
            .map(Vault::new)
            .ok_or_else(|| CommandError::BadInput("no state directory: set --state-dir or HOME".to_owned()))
    }
}

/// The wallet `args` name; unusable settings are bad input.
pub fn payer(args: &WalletArgs) -> Result<Arc<dyn InvoicePayer>, CommandError> {
    wallet(args).map_err(CommandError::BadInput)
}

fn wallet(args: &WalletArgs) -> Result<Arc<dyn InvoicePayer>, String> {
    let timeout = Duration::from_secs(90);
    match args.wallet {
        Wallet::Lnbits => {
            let url =
                args.lnbits_url.as_deref().ok_or("--wallet lnbits needs --lnbits-url or MESH402_WALLET_LNBITS_URL")?;
            let key = secret_from(
                args.lnbits_admin_key_file.as_deref(),
                WALLET_LNBITS_ADMIN_KEY,
                "--wallet lnbits needs --lnbits-admin-key-file",
            )?;
            let payer = LnbitsPayer::new(url, key, timeout).map_err(|err| err.to_string())?;
            Ok(Arc::new(payer))
        }
        #[cfg(feature = "nwc")]
        Wallet::Nwc => {
            let uri = secret_from(args.nwc_uri_file.as_deref(), WALLET_NWC_URI, "--wallet nwc needs --nwc-uri-file")?;
            let payer = NwcPayer::new(NwcSettings { uri, timeout }).map_err(|err| err.to_string())?;
            Ok(Arc::new(payer))
        }
        #[cfg(feature = "lnd")]
        Wallet::Lnd => {
            let rest_url = args.lnd_rest_url.clone().ok_or("--wallet lnd needs --lnd-rest-url")?;
            let file = args.lnd_macaroon_file.as_deref().ok_or("--wallet lnd needs --lnd-macaroon-file")?;
            let bytes = std::fs::read(file).map_err(|err| format!("{}: {err}", file.display()))?;
            let macaroon_hex =
                mesh402_client::macaroon_hex(&bytes).ok_or_else(|| format!("{} is empty", file.display()))?;
            let tls_cert_pem = match &args.lnd_tls_cert_file {
                Some(path) => Some(std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?),
                None => None,
            };
            let payer = LndPayer::new(LndSettings { rest_url, macaroon_hex, tls_cert_pem, timeout })
                .map_err(|err| err.to_string())?;
            Ok(Arc::new(payer))
        }
        Wallet::Dev => Ok(Arc::new(DevPayEndpoint::new(&args.server, timeout).map_err(|err| err.to_string())?)),
    }
}

/// A secret from `file` (trimmed), else from the environment variable `variable`; never from an argument, which
/// other users of the machine can read.
fn secret_from(file: Option<&std::path::Path>, variable: &str, missing: &str) -> Result<Secret, String> {
    match (file, std::env::var(variable)) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).map_err(|err| format!("{}: {err}", file.display()))?;
            Ok(Secret::new(text.trim()))
        }
        (None, Ok(value)) => Ok(Secret::new(value.trim())),
        (None, Err(_)) => Err(format!("{missing} or {variable}")),
    }
}

/// The media type of an image file, from its extension.
pub fn media_type_of(path: &std::path::Path) -> Result<&'static str, NotAnImageFile> {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("png") => Ok("image/png"),
        Some("jpg" | "jpeg") => Ok("image/jpeg"),
        Some("webp") => Ok("image/webp"),
        _ => Err(NotAnImageFile(path.to_owned())),
    }
}

/// The order for an image file (or a prompt) and the generator's options.
fn order(args: &OrderArgs) -> Result<Order, CommandError> {
    order_of(args).map_err(CommandError::BadInput)
}

fn order_of(args: &OrderArgs) -> Result<Order, String> {
    let input = match (&args.image, &args.prompt) {
        (Some(image), None) => {
            let media_type = media_type_of(image).map_err(|error| error.to_string())?;
            let bytes = std::fs::read(image).map_err(|err| format!("{}: {err}", image.display()))?;
            OrderInput::Image { bytes, media_type: media_type.into() }
        }
        (None, Some(prompt)) => OrderInput::Prompt(prompt.clone()),
        _ => return Err("give an image file or --prompt, not both".into()),
    };
    let options = ModelOptions {
        mode: args.mode,
        format: args.format,
        target_faces: args.target_faces,
        print_size_mm: args.print_size_mm,
        preview_size: args.preview_size,
        ..ModelOptions::default()
    };
    Ok(Order { input, options })
}

/// A runtime for one command.
fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CommandError::Local(format!("no runtime: {err}")))
}

/// Runs `mesh402 generate` and prints what it bought.
pub fn generate(args: GenerateArgs) -> Result<(), CommandError> {
    let (order, payer, vault) = (order(&args.order)?, payer(&args.wallet)?, args.wallet.vault()?);
    let runtime = runtime()?;
    let bar = if args.json || !std::io::stderr().is_terminal() { ProgressBar::hidden() } else { ProgressBar::new(100) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:40} [{bar:30}] {pos}%").unwrap_or(ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut progress = |step: Step| match step {
        Step::Asking => bar.set_message("asking for a price"),
        Step::Quoted(msat) => bar.set_message(format!("price {} sat", msat.div_ceil(1000))),
        Step::Paying => bar.set_message(format!("paying with the {:?} wallet", args.wallet.wallet)),
        Step::Resuming => bar.set_message("resuming a paid purchase (no payment)"),
        Step::Generating(stage, percent) => {
            bar.set_message(format!("generating: {stage}"));
            bar.set_position(u64::from(percent));
        }
        Step::Downloading => {
            bar.set_position(100);
            bar.set_message("downloading the model");
        }
    };
    let result = runtime.block_on(async {
        let buyer = Buyer::new(&args.wallet.server, payer, args.max_sats, vault)?;
        buyer.buy(&order, &mut progress).await
    });
    bar.finish_and_clear();
    let receipt = result?;
    let aside = args.output.with_extension("part");
    std::fs::write(&aside, &receipt.model)
        .and_then(|()| std::fs::rename(&aside, &args.output))
        .map_err(|err| CommandError::Local(format!("{}: {err}", args.output.display())))?;
    let path = args.output.display().to_string();
    if args.json {
        let value: Value = json!({
            "ok": true,
            "paid_sats": receipt.paid_sats,
            "price_sats": receipt.price_sats,
            "payment_hash": receipt.payment_hash,
            "model_url": receipt.model_url,
            "file": path,
            "bytes": receipt.model.len(),
            "files": receipt.files,
            "preview_url": receipt.preview_url,
        });
        println!("{value}");
    } else if receipt.paid_sats == 0 {
        println!("{path}: {} bytes (already paid earlier, nothing paid now)", receipt.model.len());
    } else {
        println!("{path}: {} bytes, paid {} sat", receipt.model.len(), receipt.paid_sats);
    }
    Ok(())
}

/// An invoice of the server's development wallet for `amount_msat` (it pays only its own invoices).
pub async fn dev_invoice(server: &str, amount_msat: u64) -> Result<String, DevWalletError> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(DevWalletError::Client)?;
    let answer = client
        .post(format!("{}{}", server.trim_end_matches('/'), paths::DEV_INVOICE))
        .json(&DevInvoiceRequest { amount_sats: amount_msat.div_ceil(1000) })
        .send()
        .await
        .map_err(DevWalletError::Unreachable)?;
    if !answer.status().is_success() {
        return Err(DevWalletError::Refused(answer.status()));
    }
    let body: DevInvoice = answer.json().await.map_err(DevWalletError::BadAnswer)?;
    Ok(body.invoice)
}

/// Claims `order`'s refund with `buyer`: to `invoice`, or (with the development wallet of `server`) to one it
/// makes.
pub async fn claim_refund(
    buyer: &Buyer,
    order: &Order,
    invoice: Option<String>,
    server: &str,
    dev_wallet: bool,
) -> Result<Refund, CommandError> {
    let invoice = match invoice {
        Some(invoice) => invoice,
        None if dev_wallet => {
            let PurchaseStatus::Paid { refund: Some(refund), .. } = buyer.check(order).await? else {
                return Err(CommandError::NoRefund);
            };
            dev_invoice(server, refund.status.amount_msat).await?
        }
        None => {
            return Err(CommandError::BadInput(
                "give --invoice: an invoice of your wallet for exactly the refund's amount".into(),
            ));
        }
    };
    Ok(buyer.claim_refund(order, &invoice).await?)
}

/// Runs `mesh402 refund` and prints the refund's state.
pub fn refund(args: RefundArgs) -> Result<(), CommandError> {
    let (order, payer, vault) = (order(&args.order)?, payer(&args.wallet)?, args.wallet.vault()?);
    let refund = runtime()?.block_on(async {
        let buyer = Buyer::new(&args.wallet.server, payer, 0, vault)?;
        let dev_wallet = args.wallet.wallet == Wallet::Dev;
        claim_refund(&buyer, &order, args.invoice.clone(), &args.wallet.server, dev_wallet).await
    })?;
    if args.json {
        println!("{}", json!({ "ok": true, "refund": refund_json(&refund) }));
    } else {
        let sats = refund.status.amount_sats;
        match refund.status.preimage.as_deref() {
            Some(preimage) => println!("refunded {sats} sats (preimage {preimage})"),
            None => println!("a refund of {sats} sats is being paid; run the same command again to see it"),
        }
    }
    Ok(())
}
