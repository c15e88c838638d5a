//! The `mesh402` binary: the server, the generator offline, the buyer (`generate`), and the development wallet's
//! pay command.
//!
//! Arguments are parsed here, resolved once into the server's checked `Config`, and errors become exit codes
//! only in `main`.

mod generate;
#[cfg(feature = "mcp")]
mod mcp;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Subcommand};
use generate::{CommandError, format_parser, mode_parser};
use mesh402_client::BuyError;
use mesh402_core::{Format, ImageKind, MeshParams};
use mesh402_server::{Config, RawConfig};

/// mesh402 sells image-to-3D-model generation per request over L402: clients pay a Lightning invoice and get a
/// textured 3D model (GLB) back. No accounts, no API keys: the payment is the credential.
#[derive(Debug, clap::Parser)]
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
    /// Generate models only, for the API nodes of a deployment: take paid jobs from the shared PostgreSQL database
    /// (--database-url) and store the models where the API nodes serve them from. The same settings as `serve`.
    Worker(ServeArgs),
    /// Make a model from an image offline, with no server and no payment, and print what was made.
    Mesh(MeshArgs),
    /// Pay an invoice with a running server's development wallet and print the preimage.
    DevPay(DevPayArgs),
    /// Buy a model from a server: pay its invoice with your wallet (within --max-sats, never twice) and download
    /// the model.
    Generate(generate::GenerateArgs),
    /// Claim the refund a failed purchase offers (the same image and options as `generate`), to an invoice of
    /// your wallet for exactly its amount.
    Refund(generate::RefundArgs),
    /// A Model Context Protocol server on stdio: AI agents quote and buy models with the configured wallet,
    /// within per-call and per-session budgets.
    #[cfg(feature = "mcp")]
    Mcp(mcp::McpArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// A TOML configuration file (see mesh402.example.toml for every key).
    #[arg(long, env = "MESH402_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "MESH402_LOG_JSON")]
    log_json: bool,
    /// The server's settings, each a flag, a `MESH402_*` variable and a key of the configuration file.
    #[command(flatten)]
    settings: RawConfig,
}

#[derive(Debug, Args)]
struct MeshArgs {
    /// The image: PNG, JPEG or WebP.
    image: PathBuf,
    /// Where to write the model (for OBJ, the MTL and texture go beside it).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// inflate (photos of objects) or extrude (logos, alpha art).
    #[arg(long, value_parser = mode_parser())]
    mode: Option<mesh402_core::Mode>,
    /// Hard cap on triangles.
    #[arg(long)]
    target_faces: Option<u32>,
    /// A scale on the model's depth: 1 (the default) makes each part about as deep as it is wide where it is seen.
    #[arg(long)]
    depth: Option<f32>,
    /// Texture size in pixels (a power of two).
    #[arg(long)]
    texture_size: Option<u32>,
    /// glb, obj, stl, ply, 3mf or usdz [default: from the output's extension, which must be one of them, else glb].
    #[arg(long, value_parser = format_parser())]
    format: Option<Format>,
    /// The longest side of a 3MF model, in millimetres (10 to 1000; default 100).
    #[arg(long)]
    print_size_mm: Option<u32>,
    /// Also write the model in every other format and its preview picture (`preview.png`) beside the output.
    #[arg(long)]
    all_formats: bool,
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
    // The matches are kept: `serve` layers its settings over the configuration file from them.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let result = match cli.command {
        Command::Serve(args) => serve(args, &matches, "serve"),
        Command::Worker(args) => serve(args, &matches, "worker"),
        Command::Mesh(args) => mesh(args),
        Command::DevPay(args) => dev_pay(args),
        Command::Generate(args) => {
            let json = args.json;
            return buyer_outcome(json, generate::generate(args));
        }
        Command::Refund(args) => {
            let json = args.json;
            return buyer_outcome(json, generate::refund(args));
        }
        #[cfg(feature = "mcp")]
        Command::Mcp(args) => mcp::mcp(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesh402: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The exit code of a buyer's command (`generate`, `refund`): the one place failures become numbers, as
/// [`generate::EXIT_CODES`] documents them.
fn buyer_outcome(json: bool, outcome: Result<(), CommandError>) -> std::process::ExitCode {
    let Err(error) = outcome else { return std::process::ExitCode::SUCCESS };
    let code = match &error {
        CommandError::BadInput(_) => 2,
        CommandError::Buy(BuyError::OverBudget { .. }) => 3,
        CommandError::Buy(BuyError::Payment(_)) => 4,
        CommandError::Buy(BuyError::Server { .. }) | CommandError::NoRefund => 5,
        CommandError::Buy(BuyError::WrongPreimage) => 6,
        CommandError::Buy(BuyError::Vault(_)) | CommandError::Local(_) => 7,
        CommandError::Buy(BuyError::Protocol(_) | BuyError::Transport(_)) | CommandError::DevWallet(_) => 8,
    };
    generate::print_failure(json, &error, code);
    std::process::ExitCode::from(code)
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESH402_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json { builder.json().init() } else { builder.init() }
}

/// `serve`, or `worker` (the same settings, with the worker role).
fn serve(args: ServeArgs, matches: &ArgMatches, subcommand: &str) -> anyhow::Result<()> {
    init_logging(args.log_json);
    // Precedence: flags > MESH402_* variables (both in the matches) > the --config file > defaults.
    let serve_matches = matches.subcommand_matches(subcommand).context("reading the serve arguments")?;
    let mut raw = RawConfig::layered(args.config.as_deref(), serve_matches)?;
    if subcommand == "worker" {
        if raw.role.as_deref().is_some_and(|role| role != "worker") {
            anyhow::bail!("`mesh402 worker` runs the worker role; use `mesh402 serve --role …` for the others");
        }
        raw.role = Some("worker".into());
    }
    let config = Config::resolve(raw)?;
    raise_open_file_limit();
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

/// The soft open-file limit is raised to the hard one, as service managers and Go servers do: every waiting paid
/// request holds a connection, and the soft default (often 1,024) would refuse connections long before memory or
/// the hard limit runs out. Linux caps an unlimited hard limit at `fs.nr_open`, hence the ceiling.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const CEILING: u64 = 1 << 20;
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.unwrap_or(CEILING).min(CEILING);
    if limit.current.is_some_and(|current| current >= wanted) {
        return;
    }
    match setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: limit.maximum }) {
        Ok(()) => tracing::debug!(open_files = wanted, "open-file limit raised"),
        Err(error) => {
            tracing::warn!(error = %error, current = ?limit.current, "the open-file limit could not be raised")
        }
    }
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
    if let Some(mode) = args.mode {
        params.mode = mode;
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
    if let Some(print_size_mm) = args.print_size_mm {
        params.print_size_mm = print_size_mm;
    }
    params.format = output_format(&args.output, args.format)?;
    params.validate()?;
    let started = Instant::now();
    let model = mesh402_mesh::generate(&bytes, kind, &params, &mut |_| {})?;
    let elapsed = started.elapsed();
    let out_dir = args.output.parent().map(PathBuf::from).unwrap_or_default();
    let mut written = Vec::new();
    // The primary file takes the name asked for; the files that go with it (OBJ's material and texture) keep their
    // own names beside it, and so do the other formats and the preview when all are asked for.
    let companions = params.format.companion_files();
    let wanted = model
        .files
        .iter()
        .enumerate()
        .filter(|(index, file)| *index == 0 || args.all_formats || companions.contains(&file.name.as_str()));
    for (index, file) in wanted {
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

/// The format the output's name asks for: its extension must be one of the formats mesh402 writes and agree with
/// `--format` (GLB bytes under a `.fbx` or `.usdz` name would be a silent surprise); a name without an extension
/// takes `--format`, else GLB. Checked before any work is done.
fn output_format(output: &Path, asked: Option<Format>) -> anyhow::Result<Format> {
    let Some(extension) = output.extension() else {
        return Ok(asked.unwrap_or_default());
    };
    let extension = extension.to_string_lossy().to_ascii_lowercase();
    let offered = || Format::ALL.map(|format| format!(".{}", format.extension())).join(", ");
    let Ok(named) = extension.parse::<Format>() else {
        bail!("{}: mesh402 does not write .{extension} files; name the output {}", output.display(), offered());
    };
    match asked {
        Some(asked) if asked != named => bail!(
            "{}: the name says .{extension} but --format asks for {}; give the output a .{} name",
            output.display(),
            asked.extension(),
            asked.extension()
        ),
        _ => Ok(named),
    }
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
        let url = format!("{}{}", args.server.trim_end_matches('/'), mesh402_api::paths::DEV_PAY);
        let response = reqwest::Client::new()
            .post(&url)
            .json(&mesh402_api::DevPayRequest { invoice: args.invoice.trim().to_owned() })
            .send()
            .await
            .with_context(|| format!("reaching {url}"))?;
        let status = response.status();
        let bytes = response.bytes().await.context("reading the answer")?;
        if !status.is_success() {
            let error = serde_json::from_slice::<mesh402_api::ErrorBody>(&bytes).ok();
            bail!("{status}: {}", error.map_or_else(|| "unknown error".to_owned(), |body| body.error.message));
        }
        let paid: mesh402_api::DevPaid = serde_json::from_slice(&bytes).context("reading the answer")?;
        println!("{}", paid.preimage);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;

    use super::Cli;

    /// Every environment variable a subcommand's arguments read.
    fn variables_of(subcommand: &str) -> BTreeSet<String> {
        let command = Cli::command();
        let subcommand = command.find_subcommand(subcommand).expect("a subcommand of mesh402");
        subcommand
            .get_arguments()
            .filter_map(|argument| argument.get_env())
            .map(|name| name.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_buyers_variables_never_name_a_setting_of_the_server() {
        let server: BTreeSet<String> = ["serve", "worker"].into_iter().flat_map(variables_of).collect();
        assert!(server.contains("MESH402_LNBITS_ADMIN_KEY") && server.contains("MESH402_NWC_URI"), "{server:?}");
        let buyers: &[&str] =
            if cfg!(feature = "mcp") { &["generate", "refund", "mcp"] } else { &["generate", "refund"] };
        for buyer in buyers.iter().copied() {
            let mut variables = variables_of(buyer);
            variables.extend(crate::generate::WALLET_SECRET_VARIABLES.map(String::from));
            let shared: Vec<_> = variables.intersection(&server).collect();
            assert!(shared.is_empty(), "`mesh402 {buyer}` reads the server's {shared:?}");
            for variable in &variables {
                let wallet_setting =
                    variable.contains("LNBITS") || variable.contains("NWC") || variable.contains("LND");
                assert!(
                    !wallet_setting || variable.starts_with("MESH402_WALLET_"),
                    "`mesh402 {buyer}` reads {variable}: a wallet's setting of the buyer is named MESH402_WALLET_*"
                );
            }
        }
    }
}
