//! The `mesh402` binary: the server, the generator offline, and the development wallet's pay command.
//!
//! Arguments are parsed here, resolved once into the server's checked `Config`, and errors become exit codes
//! only in `main`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use mesh402_mesh::{Format, ImageKind, MeshParams, Mode};
use mesh402_server::config::Secret;
use mesh402_server::{Config, RawConfig};

/// mesh402 sells image-to-3D-model generation per request over L402: clients pay a Lightning invoice and get a
/// textured 3D model (GLB) back. No accounts, no API keys: the payment is the credential.
#[derive(Debug, Parser)]
#[command(name = "mesh402", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once at start-up and matched once: the size of the server's argument struct does not matter here.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the server. With no configuration: listens on 127.0.0.1:8402, keeps its state in ./mesh402-data and
    /// uses the built-in development wallet (regtest invoices you pay with `mesh402 dev-pay`).
    Serve(ServeArgs),
    /// Make a model from an image offline, with no server and no payment, and print what was made.
    Mesh(MeshArgs),
    /// Pay an invoice with a running server's development wallet and print the preimage.
    DevPay(DevPayArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// A TOML configuration file (see mesh402.example.toml for every key).
    #[arg(long, env = "MESH402_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8402].
    #[arg(long, env = "MESH402_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Directory for the database, secrets and model files [default: ./mesh402-data].
    #[arg(long, env = "MESH402_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Base of the URLs handed to clients, e.g. https://models.example.com [default: http://<listen address>].
    #[arg(long, env = "MESH402_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Price of one model in satoshis [default: 350].
    #[arg(long, env = "MESH402_PRICE_SATS", value_name = "SATS")]
    price_sats: Option<u64>,
    /// Seconds a client has to pay an invoice [default: 600].
    #[arg(long, env = "MESH402_INVOICE_EXPIRY_SECS", value_name = "SECS")]
    invoice_expiry_secs: Option<u64>,
    /// Seconds a paid credential stays valid [default: 86400].
    #[arg(long, env = "MESH402_TOKEN_LIFETIME_SECS", value_name = "SECS")]
    token_lifetime_secs: Option<u64>,
    /// Largest accepted request body in bytes [default: 33554432].
    #[arg(long, env = "MESH402_MAX_BODY_BYTES", value_name = "BYTES")]
    max_body_bytes: Option<usize>,
    /// Models generated at once [default: number of CPU cores].
    #[arg(long, env = "MESH402_WORKERS", value_name = "N")]
    workers: Option<usize>,
    /// Longest a request waits for its model, in seconds [default: 600].
    #[arg(long, env = "MESH402_MAX_WAIT_SECS", value_name = "SECS")]
    max_wait_secs: Option<u64>,
    /// Seconds job records and model files are kept [default: 604800, 7 days].
    #[arg(long, env = "MESH402_RETENTION_SECS", value_name = "SECS")]
    retention_secs: Option<u64>,
    /// Lightning backend: dev, lnbits, lnd, cln or nwc [default: dev].
    #[arg(long, env = "MESH402_LIGHTNING", value_name = "BACKEND")]
    lightning: Option<String>,
    /// Seconds each call to the Lightning node may take, 1 to 10 [default: 5].
    #[arg(long, env = "MESH402_LIGHTNING_TIMEOUT_SECS", value_name = "SECS")]
    lightning_timeout_secs: Option<u64>,
    /// LNbits base URL (with --lightning lnbits).
    #[arg(long, env = "MESH402_LNBITS_URL", value_name = "URL")]
    lnbits_url: Option<String>,
    /// LNbits wallet invoice key (prefer --lnbits-invoice-key-file: arguments are visible to other users).
    #[arg(long, env = "MESH402_LNBITS_INVOICE_KEY", value_name = "KEY", hide_env_values = true)]
    lnbits_invoice_key: Option<Secret>,
    /// A file holding the LNbits wallet invoice key.
    #[arg(long, env = "MESH402_LNBITS_INVOICE_KEY_FILE", value_name = "FILE")]
    lnbits_invoice_key_file: Option<PathBuf>,
    /// LND REST base URL, e.g. https://127.0.0.1:8080 (with --lightning lnd).
    #[arg(long, env = "MESH402_LND_REST_URL", value_name = "URL")]
    lnd_rest_url: Option<String>,
    /// LND macaroon file (an invoice macaroon is enough).
    #[arg(long, env = "MESH402_LND_MACAROON_FILE", value_name = "FILE")]
    lnd_macaroon_file: Option<PathBuf>,
    /// LND's tls.cert, pinned: exactly this certificate is trusted.
    #[arg(long, env = "MESH402_LND_TLS_CERT_FILE", value_name = "FILE")]
    lnd_tls_cert_file: Option<PathBuf>,
    /// Core Lightning clnrest base URL (with --lightning cln).
    #[arg(long, env = "MESH402_CLN_REST_URL", value_name = "URL")]
    cln_rest_url: Option<String>,
    /// Core Lightning rune allowing invoice and listinvoices (prefer --cln-rune-file).
    #[arg(long, env = "MESH402_CLN_RUNE", value_name = "RUNE", hide_env_values = true)]
    cln_rune: Option<Secret>,
    /// A file holding the Core Lightning rune.
    #[arg(long, env = "MESH402_CLN_RUNE_FILE", value_name = "FILE")]
    cln_rune_file: Option<PathBuf>,
    /// clnrest's TLS certificate, pinned: exactly this certificate is trusted.
    #[arg(long, env = "MESH402_CLN_TLS_CERT_FILE", value_name = "FILE")]
    cln_tls_cert_file: Option<PathBuf>,
    /// Nostr Wallet Connect connection string, nostr+walletconnect://… (prefer --nwc-uri-file: it holds a secret).
    #[arg(long, env = "MESH402_NWC_URI", value_name = "URI", hide_env_values = true)]
    nwc_uri: Option<Secret>,
    /// A file holding the Nostr Wallet Connect connection string.
    #[arg(long, env = "MESH402_NWC_URI_FILE", value_name = "FILE")]
    nwc_uri_file: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "MESH402_LOG_JSON")]
    log_json: bool,
}

#[derive(Debug, Args)]
struct MeshArgs {
    /// The image: PNG, JPEG or WebP.
    image: PathBuf,
    /// Where to write the model (for OBJ, the MTL and texture go beside it).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// inflate (photos of objects) or extrude (logos, alpha art).
    #[arg(long, value_parser = ["inflate", "extrude"])]
    mode: Option<String>,
    /// Hard cap on triangles.
    #[arg(long)]
    target_faces: Option<u32>,
    /// Depth relative to the object's width.
    #[arg(long)]
    depth: Option<f32>,
    /// Texture size in pixels (a power of two).
    #[arg(long)]
    texture_size: Option<u32>,
    /// glb, obj or stl [default: from the output's extension, else glb].
    #[arg(long, value_parser = ["glb", "obj", "stl"])]
    format: Option<String>,
}

#[derive(Debug, Args)]
struct DevPayArgs {
    /// The BOLT11 invoice (lnbcrt…) from a 402 challenge.
    invoice: String,
    /// The running server.
    #[arg(long, env = "MESH402_SERVER", default_value = "http://127.0.0.1:8402")]
    server: String,
}

fn main() -> std::process::ExitCode {
    // HTTP clients (Lightning backends, dev-pay) use rustls with the ring provider, chosen once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Mesh(args) => mesh(args),
        Command::DevPay(args) => dev_pay(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesh402: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESH402_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json { builder.json().init() } else { builder.init() }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_json);
    let flags = RawConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        public_url: args.public_url,
        price_sats: args.price_sats,
        invoice_expiry_secs: args.invoice_expiry_secs,
        token_lifetime_secs: args.token_lifetime_secs,
        max_body_bytes: args.max_body_bytes,
        workers: args.workers,
        max_wait_secs: args.max_wait_secs,
        retention_secs: args.retention_secs,
        lightning: args.lightning,
        lightning_timeout_secs: args.lightning_timeout_secs,
        lnbits_url: args.lnbits_url,
        lnbits_invoice_key: args.lnbits_invoice_key,
        lnbits_invoice_key_file: args.lnbits_invoice_key_file,
        lnd_rest_url: args.lnd_rest_url,
        lnd_macaroon_file: args.lnd_macaroon_file,
        lnd_tls_cert_file: args.lnd_tls_cert_file,
        cln_rest_url: args.cln_rest_url,
        cln_rune: args.cln_rune,
        cln_rune_file: args.cln_rune_file,
        cln_tls_cert_file: args.cln_tls_cert_file,
        nwc_uri: args.nwc_uri,
        nwc_uri_file: args.nwc_uri_file,
    };
    let file = match &args.config {
        Some(path) => RawConfig::from_toml_file(path)?,
        None => RawConfig::default(),
    };
    let config = Config::resolve(flags.over(file))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let served = runtime
        .block_on(async move { mesh402_server::serve(config, shutdown_signal()).await.map_err(anyhow::Error::from) });
    // Generation runs on blocking threads that cannot be interrupted; do not wait for them: their jobs are in the
    // store and resume at the next start.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served?;
    tracing::info!("mesh402 stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: no new connections; open requests may finish");
}

fn mesh(args: MeshArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.image).with_context(|| format!("reading {}", args.image.display()))?;
    let kind = match image_kind_of(&bytes) {
        Some(kind) => kind,
        None => bail!("{} is not a PNG, JPEG or WebP file", args.image.display()),
    };
    let mut params = MeshParams::default();
    if let Some(mode) = args.mode.as_deref() {
        params.mode = if mode == "extrude" { Mode::Extrude } else { Mode::Inflate };
    }
    if let Some(target_faces) = args.target_faces {
        params.target_faces = target_faces;
    }
    if let Some(depth) = args.depth {
        params.depth = depth;
    }
    if let Some(texture_size) = args.texture_size {
        params.texture_size = texture_size;
    }
    let format = args.format.clone().or_else(|| {
        args.output.extension().and_then(|extension| extension.to_str()).map(|extension| extension.to_ascii_lowercase())
    });
    params.format = match format.as_deref() {
        Some("obj") => Format::Obj,
        Some("stl") => Format::Stl,
        _ => Format::Glb,
    };
    params.validate()?;
    let started = Instant::now();
    let model = mesh402_mesh::generate(&bytes, kind, &params, &mut |_| {})?;
    let elapsed = started.elapsed();
    let out_dir = args.output.parent().map(PathBuf::from).unwrap_or_default();
    let mut written = Vec::new();
    for (index, file) in model.files.iter().enumerate() {
        // The primary file takes the name asked for; companions keep their own names beside it.
        let path = if index == 0 { args.output.clone() } else { out_dir.join(&file.name) };
        std::fs::write(&path, &file.bytes).with_context(|| format!("writing {}", path.display()))?;
        written.push((path, file.bytes.len()));
    }
    println!(
        "made {} faces, {} vertices in {:.0} ms",
        model.stats.n_faces,
        model.stats.n_vertices,
        elapsed.as_secs_f64() * 1e3
    );
    for (stage, ms) in &model.stats.stage_ms {
        println!("  {:<12} {ms:>8.1} ms", stage.name());
    }
    for (path, bytes) in written {
        println!("wrote {} ({bytes} bytes)", path.display());
    }
    Ok(())
}

/// Recognises an image by its magic bytes.
fn image_kind_of(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageKind::Png)
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(ImageKind::Jpeg)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageKind::Webp)
    } else {
        None
    }
}

fn dev_pay(args: DevPayArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let url = format!("{}/dev/pay", args.server.trim_end_matches('/'));
        let response = reqwest::Client::new()
            .post(&url)
            .json(&serde_json::json!({ "invoice": args.invoice.trim() }))
            .send()
            .await
            .with_context(|| format!("reaching {url}"))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.context("reading the answer")?;
        if !status.is_success() {
            let message = body["error"]["message"].as_str().unwrap_or("unknown error");
            bail!("{status}: {message}");
        }
        println!("{}", body["preimage"].as_str().unwrap_or_default());
        Ok(())
    })
}
