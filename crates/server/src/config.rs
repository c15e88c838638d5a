//! Configuration: every setting is declared once, in [`RawConfig`], which is at the same time the command-line
//! flags (`--listen`), their environment variables (`MESH402_LISTEN`) and the TOML keys (`listen`). Layers
//! (defaults ← `--config` file ← environment ← flags, see [`RawConfig::layered`]) are resolved once into a
//! checked [`Config`]. Every key is documented in `mesh402.example.toml`, and a test keeps it so.
//!
//! To add a setting: a field here (its doc comment is the `--help` text), a line in `mesh402.example.toml`, and
//! its check in [`Config::resolve`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::FromArgMatches;
#[cfg(feature = "hunyuan3d")]
use mesh402_hunyuan3d::Hunyuan3dSettings;
#[cfg(feature = "cln")]
use mesh402_ln::ClnSettings;
#[cfg(feature = "lnd")]
use mesh402_ln::LndSettings;
#[cfg(feature = "nwc")]
use mesh402_ln::NwcSettings;
use mesh402_ln::{LnError, LnbitsSettings};
use mesh402_service::{DEFAULT_LOOKUP_BURST, DEFAULT_LOOKUPS_PER_SECOND, OfferedSchemes};

#[cfg(feature = "hunyuan3d")]
use crate::licence::ModelLicence;
#[cfg(feature = "s3")]
use mesh402_store::{S3Downloads, S3Settings};
use serde::Deserialize;

pub use mesh402_ln::Secret;

/// The server's settings as given, every one optional: one layer, or all layers merged. Unknown TOML keys are
/// refused. The doc comment of each field is its `--help` text; the field name is the TOML key, the flag (with
/// dashes) and, upper-cased after `MESH402_`, the environment variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address to listen on [default: 127.0.0.1:8402].
    #[arg(long, env = "MESH402_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Directory for the database, secrets and model files [default: ./mesh402-data].
    #[arg(long, env = "MESH402_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of a second listener that serves only Prometheus metrics at /metrics; keep it private [default:
    /// none, no metrics are served].
    #[arg(long, env = "MESH402_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Base of the URLs handed to clients (modelUrl), e.g. https://models.example.com [default: http://<listen
    /// address>].
    #[arg(long, env = "MESH402_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Price of one model in satoshis [default: 350].
    #[arg(long, env = "MESH402_PRICE_SATS", value_name = "SATS")]
    pub price_sats: Option<u64>,
    /// Seconds a client has to pay an invoice, 60 to 86400 [default: 600].
    #[arg(long, env = "MESH402_INVOICE_EXPIRY_SECS", value_name = "SECS")]
    pub invoice_expiry_secs: Option<u64>,
    /// Seconds a paid credential stays valid, at least invoice_expiry_secs [default: 86400].
    #[arg(long, env = "MESH402_TOKEN_LIFETIME_SECS", value_name = "SECS")]
    pub token_lifetime_secs: Option<u64>,
    /// Payment schemes offered in a 402 and accepted in credentials: l402, payment (the HTTP Payment scheme's
    /// Lightning charge) or both, for the same invoice [default: both].
    #[arg(long, env = "MESH402_PAYMENT_SCHEMES", value_name = "SCHEMES")]
    pub payment_schemes: Option<String>,
    /// Largest accepted request body in bytes, 1 KiB to 512 MiB [default: 33554432].
    #[arg(long, env = "MESH402_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Models generated at once, 1 to 256 [default: number of CPU cores].
    #[arg(long, env = "MESH402_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Longest a request waits for its model before getting 202 and a status URL, 1 to 3600 seconds [default:
    /// 600].
    #[arg(long, env = "MESH402_MAX_WAIT_SECS", value_name = "SECS")]
    pub max_wait_secs: Option<u64>,
    /// Seconds job records and model files are kept, at least token_lifetime_secs [default: 604800, 7 days].
    #[arg(long, env = "MESH402_RETENTION_SECS", value_name = "SECS")]
    pub retention_secs: Option<u64>,
    /// Lightning backend: dev, lnbits, lnd, cln or nwc [default: dev].
    #[arg(long, env = "MESH402_LIGHTNING", value_name = "BACKEND")]
    pub lightning: Option<String>,
    /// Let the development wallet run on a listen address other than loopback. Its /dev/pay pays any invoice, so
    /// anyone who reaches the server takes models for free: for a demonstration on a private network only
    /// [default: false].
    #[arg(long, env = "MESH402_ALLOW_DEV_WALLET_ON_NETWORK", value_name = "BOOL")]
    pub allow_dev_wallet_on_network: Option<bool>,
    /// Seconds each call to the Lightning node may take, 1 to 10 [default: 5].
    #[arg(long, env = "MESH402_LIGHTNING_TIMEOUT_SECS", value_name = "SECS")]
    pub lightning_timeout_secs: Option<u64>,
    /// LNbits base URL (with --lightning lnbits).
    #[arg(long, env = "MESH402_LNBITS_URL", value_name = "URL")]
    pub lnbits_url: Option<String>,
    /// LNbits wallet invoice key (prefer --lnbits-invoice-key-file: arguments are visible to other users).
    #[arg(long, env = "MESH402_LNBITS_INVOICE_KEY", value_name = "KEY", hide_env_values = true)]
    pub lnbits_invoice_key: Option<Secret>,
    /// A file holding the LNbits wallet invoice key.
    #[arg(long, env = "MESH402_LNBITS_INVOICE_KEY_FILE", value_name = "FILE")]
    pub lnbits_invoice_key_file: Option<PathBuf>,
    /// LND REST base URL, e.g. https://127.0.0.1:8080 (with --lightning lnd).
    #[arg(long, env = "MESH402_LND_REST_URL", value_name = "URL")]
    pub lnd_rest_url: Option<String>,
    /// LND macaroon file, binary as LND writes it or hex (an invoice macaroon is enough).
    #[arg(long, env = "MESH402_LND_MACAROON_FILE", value_name = "FILE")]
    pub lnd_macaroon_file: Option<PathBuf>,
    /// LND's tls.cert (PEM), pinned: exactly this certificate is trusted.
    #[arg(long, env = "MESH402_LND_TLS_CERT_FILE", value_name = "FILE")]
    pub lnd_tls_cert_file: Option<PathBuf>,
    /// Core Lightning clnrest base URL (with --lightning cln).
    #[arg(long, env = "MESH402_CLN_REST_URL", value_name = "URL")]
    pub cln_rest_url: Option<String>,
    /// Core Lightning rune allowing invoice and listinvoices (prefer --cln-rune-file).
    #[arg(long, env = "MESH402_CLN_RUNE", value_name = "RUNE", hide_env_values = true)]
    pub cln_rune: Option<Secret>,
    /// A file holding the Core Lightning rune.
    #[arg(long, env = "MESH402_CLN_RUNE_FILE", value_name = "FILE")]
    pub cln_rune_file: Option<PathBuf>,
    /// The Core Lightning node's public key (66 hex digits), sent as the Nodeid header that clnrest v23.08
    /// requires (later versions ignore it).
    #[arg(long, env = "MESH402_CLN_NODE_ID", value_name = "HEX")]
    pub cln_node_id: Option<String>,
    /// clnrest's TLS certificate (PEM), pinned: exactly this certificate is trusted.
    #[arg(long, env = "MESH402_CLN_TLS_CERT_FILE", value_name = "FILE")]
    pub cln_tls_cert_file: Option<PathBuf>,
    /// Nostr Wallet Connect connection string, nostr+walletconnect://… (prefer --nwc-uri-file: it holds a secret).
    #[arg(long, env = "MESH402_NWC_URI", value_name = "URI", hide_env_values = true)]
    pub nwc_uri: Option<Secret>,
    /// A file holding the Nostr Wallet Connect connection string.
    #[arg(long, env = "MESH402_NWC_URI_FILE", value_name = "FILE")]
    pub nwc_uri_file: Option<PathBuf>,
    /// Refund paid jobs that cannot be delivered, to the holder of their credential [default: on with dev, on
    /// with lnbits when an admin key is given, off with lnd, cln and nwc: turn it on when their credential may
    /// pay].
    #[arg(long, env = "MESH402_REFUNDS", value_name = "BOOL")]
    pub refunds: Option<bool>,
    /// LNbits wallet admin key, needed to pay refunds (the invoice key cannot pay; prefer
    /// --lnbits-admin-key-file).
    #[arg(long, env = "MESH402_LNBITS_ADMIN_KEY", value_name = "KEY", hide_env_values = true)]
    pub lnbits_admin_key: Option<Secret>,
    /// A file holding the LNbits wallet admin key.
    #[arg(long, env = "MESH402_LNBITS_ADMIN_KEY_FILE", value_name = "FILE")]
    pub lnbits_admin_key_file: Option<PathBuf>,
    /// Satoshis kept from a refund when the job failed because of its input (not the server's fault) [default: 0].
    #[arg(long, env = "MESH402_REFUND_INPUT_FAULT_FEE_SATS", value_name = "SATS")]
    pub refund_input_fault_fee_sats: Option<u64>,
    /// The model generator: embedded (on this machine's CPU) or hunyuan3d (a Hunyuan3D-2 model server that you
    /// run, over HTTP) [default: embedded].
    #[arg(long, env = "MESH402_GENERATOR", value_name = "NAME")]
    pub generator: Option<String>,
    /// The Hunyuan3D-2 model server's base URL (api_server.py), with --generator hunyuan3d.
    #[arg(long, env = "MESH402_HUNYUAN3D_URL", value_name = "URL")]
    pub hunyuan3d_url: Option<String>,
    /// Seconds one model may take on the Hunyuan3D-2 server before the attempt fails, 10 to 3600 [default: 600].
    #[arg(long, env = "MESH402_HUNYUAN3D_DEADLINE_SECS", value_name = "SECS")]
    pub hunyuan3d_deadline_secs: Option<u64>,
    /// When the Hunyuan3D-2 server does not deliver, make the model with the embedded generator instead [default:
    /// false].
    #[arg(long, env = "MESH402_HUNYUAN3D_FALLBACK", value_name = "BOOL")]
    pub hunyuan3d_fallback: Option<bool>,
    /// Ask the Hunyuan3D-2 server to texture models: only when it was started with --enable_tex (without it its
    /// worker dies and every job waits out its deadline) [default: false].
    #[arg(long, env = "MESH402_HUNYUAN3D_TEXTURE", value_name = "BOOL")]
    pub hunyuan3d_texture: Option<bool>,
    /// Jobs sent to the Hunyuan3D-2 server at once, 1 to 16: its pipeline serves one at a time on one GPU, and
    /// parallel jobs can corrupt each other or run out of memory [default: 1].
    #[arg(long, env = "MESH402_HUNYUAN3D_MAX_JOBS", value_name = "N")]
    pub hunyuan3d_max_jobs: Option<usize>,
    /// The Hunyuan3D-2 server makes models from text prompts: only for a server whose text-to-image pipeline you
    /// enabled yourself (api_server.py at HEAD has it commented out); without it, prompts are refused before any
    /// invoice [default: false].
    #[arg(long, env = "MESH402_HUNYUAN3D_PROMPTS", value_name = "BOOL")]
    pub hunyuan3d_prompts: Option<bool>,
    /// The licence of the Hunyuan3D model your server runs, named to accept it: hunyuan3d-2.0-community or
    /// hunyuan3d-2.1-community (the Tencent Hunyuan 3D Community License of that version). Required with
    /// --generator hunyuan3d: read it first (it excludes the EU, the UK and South Korea); its restrictions are passed
    /// on to buyers at /terms.
    #[arg(long, env = "MESH402_HUNYUAN3D_LICENCE", value_name = "NAME")]
    pub hunyuan3d_licence: Option<String>,
    /// Where job records are kept: a postgres://… URL, a database shared by the API nodes and workers of one
    /// deployment (`options=-c search_path=…` in it picks a schema) [default: the SQLite file mesh402.db in
    /// data_dir].
    #[arg(long, env = "MESH402_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// What this process does: all (answers requests and generates models), api (answers requests; workers
    /// sharing its database generate) or worker (generates only; what `mesh402 worker` runs). api and worker need
    /// a PostgreSQL database_url [default: all].
    #[arg(long, env = "MESH402_ROLE", value_name = "ROLE")]
    pub role: Option<String>,
    /// Seconds a worker's hold on a running job lasts unless renewed (it is renewed every third of it): a job
    /// whose worker died is taken by another after at most this long, 3 to 600 [default: 30].
    #[arg(long, env = "MESH402_LEASE_SECS", value_name = "SECS")]
    pub lease_secs: Option<u64>,
    /// Where model files and pending inputs are kept: s3://BUCKET or s3://BUCKET/PREFIX, a bucket the nodes and
    /// workers of a deployment share; keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the shared
    /// credentials file [default: models/ and inputs/ in data_dir].
    #[arg(long, env = "MESH402_OBJECT_STORE", value_name = "URL")]
    pub object_store: Option<String>,
    /// The endpoint of an S3-compatible server (MinIO, Ceph, R2, ...), with object_store [default: AWS S3].
    #[arg(long, env = "MESH402_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region, with object_store [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "MESH402_S3_REGION", value_name = "REGION")]
    pub s3_region: Option<String>,
    /// How clients download models from the bucket: proxy (through this server, at its own URLs) or presigned (a
    /// redirect to a URL of the bucket valid for 15 minutes) [default: proxy].
    #[arg(long, env = "MESH402_S3_DOWNLOADS", value_name = "MODE")]
    pub s3_downloads: Option<String>,
    /// Bytes of request bodies read at once, over all clients; beyond it, 503 server_busy before the body is read
    /// (a quarter, and at least max_body_bytes, is kept for paid requests) [default: 268435456, 256 MiB].
    #[arg(long, env = "MESH402_MAX_INFLIGHT_BODY_BYTES", value_name = "BYTES")]
    pub max_inflight_body_bytes: Option<usize>,
    /// Bytes of unpaid request bodies one client may have being read at once; beyond it, 503 too_many_uploads
    /// [default: 67108864, 64 MiB].
    #[arg(long, env = "MESH402_MAX_INFLIGHT_BODY_BYTES_PER_CLIENT", value_name = "BYTES")]
    pub max_inflight_body_bytes_per_client: Option<usize>,
    /// Seconds a client has to send a request body once its headers are in; then 408 body_timeout and the
    /// connection is closed, 1 to 3600 [default: 60].
    #[arg(long, env = "MESH402_BODY_READ_TIMEOUT_SECS", value_name = "SECS")]
    pub body_read_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request's headers (also how long an idle connection is kept), 1 to 600
    /// [default: 10].
    #[arg(long, env = "MESH402_HEADER_READ_TIMEOUT_SECS", value_name = "SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Open connections per client address; more are closed at once [default: 128].
    #[arg(long, env = "MESH402_MAX_CONNECTIONS_PER_CLIENT", value_name = "N")]
    pub max_connections_per_client: Option<usize>,
    /// Unpaid model requests (challenges) per client and minute, 0 for no limit; beyond it, 429 rate_limited
    /// [default: 60].
    #[arg(long, env = "MESH402_CHALLENGES_PER_MINUTE", value_name = "N")]
    pub challenges_per_minute: Option<u32>,
    /// Challenges a client may make at once before challenges_per_minute applies [default: 30].
    #[arg(long, env = "MESH402_CHALLENGE_BURST", value_name = "N")]
    pub challenge_burst: Option<u32>,
    /// Requests without a valid credential per client and minute, on every route but /healthz, 0 for no limit
    /// [default: 600].
    #[arg(long, env = "MESH402_UNPAID_REQUESTS_PER_MINUTE", value_name = "N")]
    pub unpaid_requests_per_minute: Option<u32>,
    /// Unpaid requests a client may make at once before unpaid_requests_per_minute applies [default: 120].
    #[arg(long, env = "MESH402_UNPAID_BURST", value_name = "N")]
    pub unpaid_burst: Option<u32>,
    /// Invoice lookups per second through POST /api/l402/invoice-status, all clients together (only macaroons
    /// that verify are counted), 1 to 10000 [default: 20].
    #[arg(long, env = "MESH402_INVOICE_LOOKUPS_PER_SECOND", value_name = "N")]
    pub invoice_lookups_per_second: Option<u32>,
    /// Invoice lookups at once before invoice_lookups_per_second applies, 1 to 10000 [default: 40].
    #[arg(long, env = "MESH402_INVOICE_LOOKUP_BURST", value_name = "N")]
    pub invoice_lookup_burst: Option<u32>,
    /// Reverse proxies in front of the server that append to X-Forwarded-For; the client is the address the
    /// outermost of them saw. 0 uses the socket's peer and ignores the header, 0 to 10 [default: 0].
    #[arg(long, env = "MESH402_TRUSTED_PROXY_HOPS", value_name = "N")]
    pub trusted_proxy_hops: Option<u8>,
    /// Unpaid requests checked (parsed and preflighted) at once while paid work is in progress, 1 to 256 [default:
    /// half the CPU cores, at least 1]; with no paid work in progress, one per core (or this many, if more).
    #[arg(long, env = "MESH402_PREFLIGHT_WORKERS", value_name = "N")]
    pub preflight_workers: Option<usize>,
    /// Seconds a job's event stream stays open without news before it ends, 1 to 86400 [default: 300].
    #[arg(long, env = "MESH402_EVENTS_IDLE_TIMEOUT_SECS", value_name = "SECS")]
    pub events_idle_timeout_secs: Option<u64>,
    /// Longest a job's event stream stays open, in seconds, 1 to 86400 [default: 3600].
    #[arg(long, env = "MESH402_EVENTS_MAX_SECS", value_name = "SECS")]
    pub events_max_secs: Option<u64>,
}

impl RawConfig {
    /// Reads a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source: Box::new(source) })
    }

    /// The layers merged: the `--config` file (if any), then whatever the parsed command line holds for these
    /// settings, which is a flag if one was given, else its `MESH402_*` environment variable. `matches` are the
    /// arguments of a command that [flattened](clap::Args) `RawConfig` in.
    pub fn layered(file: Option<&Path>, matches: &clap::ArgMatches) -> Result<RawConfig, ConfigError> {
        let mut raw = match file {
            Some(path) => RawConfig::from_toml_file(path)?,
            None => RawConfig::default(),
        };
        // Only the settings clap found (flag or environment) are updated; the file's values stay under the rest.
        raw.update_from_arg_matches(matches).map_err(|source| ConfigError::Arguments(Box::new(source)))?;
        Ok(raw)
    }
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML of known keys.
    #[error("{} is not a valid configuration file", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: Box<toml::de::Error>,
    },
    /// The command-line arguments or environment variables could not be read.
    #[error("cannot read the command-line arguments")]
    Arguments(#[source] Box<clap::Error>),
    /// A setting has a value that cannot be used.
    #[error("{key}: {reason}")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// Why, in a phrase.
        reason: String,
    },
    /// A setting the chosen backend needs is missing.
    #[error("{key} is required for this Lightning backend")]
    Required {
        /// The setting.
        key: &'static str,
    },
    /// A credential the chosen backend needs was given neither inline nor as a file.
    #[error("{inline} or {file} is required for this Lightning backend")]
    Neither {
        /// The inline setting.
        inline: &'static str,
        /// The file setting.
        file: &'static str,
    },
    /// A credential was given both inline and as a file.
    #[error("set {inline} or {file}, not both")]
    Both {
        /// The inline setting.
        inline: &'static str,
        /// The file setting.
        file: &'static str,
    },
    /// A file a setting names could not be read.
    #[error("{key}: cannot read {}", path.display())]
    File {
        /// The setting.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The Lightning backend could not be set up with these settings.
    #[error("lightning: the backend cannot be set up")]
    Backend(#[source] LnError),
}

impl ConfigError {
    pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { key, reason: reason.into() }
    }
}

/// Which Lightning backend to use, with its checked settings (credentials already read from their files).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightningChoice {
    /// The built-in development wallet (regtest; pays its own invoices through `/dev/pay`).
    Dev,
    /// An LNbits wallet.
    Lnbits(LnbitsSettings),
    /// An LND node over REST.
    #[cfg(feature = "lnd")]
    Lnd(LndSettings),
    /// A Core Lightning node over clnrest.
    #[cfg(feature = "cln")]
    Cln(ClnSettings),
    /// A wallet over Nostr Wallet Connect.
    #[cfg(feature = "nwc")]
    Nwc(NwcSettings),
}

/// A setting that chooses a backend this build was made without: the message says how to build it in.
#[cfg(not(all(
    feature = "lnd",
    feature = "cln",
    feature = "nwc",
    feature = "hunyuan3d",
    feature = "s3",
    feature = "postgres"
)))]
fn not_built(key: &'static str, backend: &str, feature: &str) -> ConfigError {
    ConfigError::invalid(
        key,
        format!(
            "{backend} is not in this build of mesh402: build it with `--features {feature}` (or `--all-features`)"
        ),
    )
}

/// The backends `lightning` accepts.
const KNOWN_BACKENDS: &str = "dev, lnbits, lnd, cln, nwc";

// The defaults: the embedded setup of a fresh install. These are the only defaults of the server's settings;
// `mesh402.example.toml` shows them and a test checks that it does.

/// Default address to listen on.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8402";
/// Default state directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "mesh402-data";
/// Default price of one model.
pub const DEFAULT_PRICE_SATS: u64 = 350;
/// Default seconds a client has to pay.
pub const DEFAULT_INVOICE_EXPIRY_SECS: u64 = 600;
/// Default seconds a paid credential stays valid.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;
/// Default body size limit (32 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Default longest wait for a model.
pub const DEFAULT_MAX_WAIT_SECS: u64 = 600;
/// Default retention of job records and model files (7 days).
pub const DEFAULT_RETENTION_SECS: u64 = 7 * 24 * 3600;
/// Default Lightning backend.
pub const DEFAULT_LIGHTNING: &str = "dev";
/// Default seconds per call to the Lightning backend.
pub const DEFAULT_LIGHTNING_TIMEOUT_SECS: u64 = 5;
/// Default cap on bytes of request bodies being read at once (256 MiB).
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES: usize = 256 * 1024 * 1024;
/// Default cap on one client's unpaid bytes being read at once (64 MiB: two bodies of the default limit).
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES_PER_CLIENT: usize = 64 * 1024 * 1024;
/// Default seconds to send a body.
pub const DEFAULT_BODY_READ_TIMEOUT_SECS: u64 = 60;
/// Default seconds to send the headers.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default open connections per client.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 128;
/// Default challenges per client and minute.
pub const DEFAULT_CHALLENGES_PER_MINUTE: u32 = 60;
/// Default burst of challenges.
pub const DEFAULT_CHALLENGE_BURST: u32 = 30;
/// Default unpaid requests per client and minute.
pub const DEFAULT_UNPAID_REQUESTS_PER_MINUTE: u32 = 600;
/// Default burst of unpaid requests.
pub const DEFAULT_UNPAID_BURST: u32 = 120;
/// Default seconds an event stream may go without news.
pub const DEFAULT_EVENTS_IDLE_TIMEOUT_SECS: u64 = 300;
/// Default longest life of an event stream.
pub const DEFAULT_EVENTS_MAX_SECS: u64 = 3600;

/// The checked configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Address of the metrics listener, if metrics are served.
    pub metrics_listen: Option<SocketAddr>,
    /// State directory.
    pub data_dir: PathBuf,
    /// Base URL for links; `None` means `http://<the bound address>`.
    pub public_url: Option<String>,
    /// Price of one model in satoshis.
    pub price_sats: u64,
    /// How long a client has to pay.
    pub invoice_expiry: Duration,
    /// How long a paid credential stays valid.
    pub token_lifetime: Duration,
    /// The payment schemes offered and accepted.
    pub payment_schemes: OfferedSchemes,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// Concurrent generations.
    pub workers: usize,
    /// Longest a request waits for its model.
    pub max_wait: Duration,
    /// How long job records and model files are kept.
    pub retention: Duration,
    /// How long each call to the Lightning backend may take (the backends and the service's quote both use it).
    pub lightning_timeout: Duration,
    /// The Lightning backend.
    pub lightning: LightningChoice,
    /// Limits on unpaid traffic: uploads, timeouts, rates, connections.
    pub traffic: TrafficLimits,
    /// Who pays refunds, if anyone.
    pub refunds: Refunds,
    /// Satoshis kept from a refund for an input fault.
    pub refund_input_fault_fee_sats: u64,
    /// The model generator.
    pub generator: GeneratorChoice,
    /// Where job records are kept.
    pub database: DatabaseChoice,
    /// What this process does.
    pub role: Role,
    /// How long a worker's hold on a running job lasts unless renewed.
    pub lease: Duration,
    /// Where model files and inputs are kept.
    pub files: FileStoreChoice,
}

/// Where model files and pending inputs are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStoreChoice {
    /// `models/` and `inputs/` in the data directory.
    Local,
    /// An S3-compatible bucket.
    #[cfg(feature = "s3")]
    S3(S3Settings),
}

/// How long a presigned download URL is valid.
pub const PRESIGNED_DOWNLOAD_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Where job records are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseChoice {
    /// The SQLite file `mesh402.db` in the data directory: this process's own.
    Sqlite,
    /// A PostgreSQL database, shared by the processes of a deployment (the URL may hold a password).
    #[cfg(feature = "postgres")]
    Postgres(Secret),
}

/// What a process of a deployment does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Answers requests and generates models (one machine, or every node of a deployment alike).
    All,
    /// Answers requests only; workers sharing the database generate.
    Api,
    /// Generates only, taking jobs from the shared database; serves no requests.
    Worker,
}

/// Default seconds a worker's lease on a running job lasts.
pub const DEFAULT_LEASE_SECS: u64 = 30;

/// Which generator makes the models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneratorChoice {
    /// The embedded CPU generator.
    Embedded,
    /// A Hunyuan3D-2 model server over HTTP, and whether the embedded generator stands in when it fails.
    #[cfg(feature = "hunyuan3d")]
    Hunyuan3d {
        /// How to reach it.
        settings: Hunyuan3dSettings,
        /// Whether the embedded generator makes the model when the server does not.
        fallback: bool,
        /// The model's licence, which the operator accepted by naming it.
        licence: ModelLicence,
    },
}

/// Default seconds one model may take on a Hunyuan3D-2 server.
pub const DEFAULT_HUNYUAN3D_DEADLINE_SECS: u64 = 600;

/// Who pays refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refunds {
    /// Nobody: no refund is offered.
    Off,
    /// The backend itself, with the credential it was configured with (dev, LND, Core Lightning, NWC).
    ByBackend,
    /// The LNbits wallet, with its admin key.
    ByLnbitsAdminKey(Secret),
}

/// What unpaid traffic may use (contract §11): checked settings, read by `limits.rs` and the connection loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficLimits {
    /// Bytes of request bodies read at once, over all clients.
    pub max_inflight_body_bytes: usize,
    /// Bytes of one client's unpaid request bodies read at once.
    pub max_inflight_body_bytes_per_client: usize,
    /// How long a client has to send a body.
    pub body_read_timeout: Duration,
    /// How long a client has to send the headers (and how long an idle connection stays).
    pub header_read_timeout: Duration,
    /// Open connections per client address.
    pub max_connections_per_client: usize,
    /// Challenges per client and minute (0: no limit).
    pub challenges_per_minute: u32,
    /// Challenges at once.
    pub challenge_burst: u32,
    /// Unpaid requests per client and minute (0: no limit).
    pub unpaid_requests_per_minute: u32,
    /// Unpaid requests at once.
    pub unpaid_burst: u32,
    /// Invoice lookups per second, all clients together.
    pub invoice_lookups_per_second: u32,
    /// Invoice lookups at once.
    pub invoice_lookup_burst: u32,
    /// Trusted proxies that append to `X-Forwarded-For` (0: the socket's peer is the client).
    pub trusted_proxy_hops: u8,
    /// Unpaid requests parsed and preflighted at once while paid work is in progress.
    pub preflight_workers: usize,
    /// How long an event stream stays open without news.
    pub events_idle_timeout: Duration,
    /// Longest an event stream stays open.
    pub events_max: Duration,
}

/// `value` unless it lies outside `range`.
fn in_range<T: PartialOrd + std::fmt::Display>(
    key: &'static str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(key, format!("must be between {} and {}", range.start(), range.end())))
    }
}

/// Whether `listen` binds every interface (0.0.0.0 or ::): a listener, not an address anyone can reach.
fn listen_ip_unspecified(listen: SocketAddr) -> bool {
    listen.ip().is_unspecified()
}

impl Config {
    /// Resolves raw settings, filling defaults and checking ranges.
    pub fn resolve(raw: RawConfig) -> Result<Config, ConfigError> {
        let max_body_bytes =
            in_range("max_body_bytes", raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES), 1024..=512 * 1024 * 1024)?;
        let files = file_store_choice(&raw)?;
        let traffic = traffic_limits(&raw, max_body_bytes)?;
        let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().map_err(|_| {
            ConfigError::invalid("listen", format!("{listen_text:?} is not an address like {DEFAULT_LISTEN}"))
        })?;
        let metrics_listen = match raw.metrics_listen {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                ConfigError::invalid("metrics_listen", format!("{text:?} is not an address like 127.0.0.1:9402"))
            })?),
        };
        let public_url = match raw.public_url {
            Some(url) => Some(http_url("public_url", url)?),
            None => None,
        };
        let role_is_worker = raw.role.as_deref() == Some("worker");
        if public_url.is_none() && listen_ip_unspecified(listen) && !role_is_worker {
            return Err(ConfigError::invalid(
                "public_url",
                format!(
                    "is required when listening on {listen}: model URLs must name an address clients can reach \
                     (for example https://models.example.com), and an unspecified address is none"
                ),
            ));
        }
        let price_sats =
            in_range("price_sats", raw.price_sats.unwrap_or(DEFAULT_PRICE_SATS), 1..=21_000_000 * 100_000_000)?;
        let invoice_expiry_secs = in_range(
            "invoice_expiry_secs",
            raw.invoice_expiry_secs.unwrap_or(DEFAULT_INVOICE_EXPIRY_SECS),
            60..=86_400,
        )?;
        let token_lifetime_secs = raw.token_lifetime_secs.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS);
        if token_lifetime_secs < invoice_expiry_secs {
            return Err(ConfigError::invalid("token_lifetime_secs", "must be at least invoice_expiry_secs"));
        }
        let workers = in_range(
            "workers",
            raw.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            1..=256,
        )?;
        let max_wait_secs = in_range("max_wait_secs", raw.max_wait_secs.unwrap_or(DEFAULT_MAX_WAIT_SECS), 1..=3600)?;
        let retention_secs = raw.retention_secs.unwrap_or(DEFAULT_RETENTION_SECS);
        if retention_secs < token_lifetime_secs {
            return Err(ConfigError::invalid("retention_secs", "must be at least token_lifetime_secs"));
        }
        // A quote waits at most this long for its invoice, so unpaid requests never hang on a slow node.
        let lightning_timeout_secs = in_range(
            "lightning_timeout_secs",
            raw.lightning_timeout_secs.unwrap_or(DEFAULT_LIGHTNING_TIMEOUT_SECS),
            1..=10,
        )?;
        let timeout = Duration::from_secs(lightning_timeout_secs);
        let lightning = match raw.lightning.as_deref().unwrap_or(DEFAULT_LIGHTNING) {
            "dev" if !listen.ip().is_loopback() && raw.allow_dev_wallet_on_network != Some(true) => {
                return Err(ConfigError::invalid(
                    "lightning",
                    format!(
                        "the development wallet pays any invoice for anyone who reaches the server, so it runs \
                         only on a loopback listen address, not on {listen}: choose lnbits, lnd, cln or nwc, or set \
                         allow_dev_wallet_on_network = true for a demonstration on a private network"
                    ),
                ));
            }
            "dev" => LightningChoice::Dev,
            "lnbits" => LightningChoice::Lnbits(LnbitsSettings {
                url: http_url("lnbits_url", required("lnbits_url", raw.lnbits_url)?)?,
                invoice_key: secret(
                    ("lnbits_invoice_key", raw.lnbits_invoice_key),
                    ("lnbits_invoice_key_file", raw.lnbits_invoice_key_file),
                )?,
                timeout,
            }),
            #[cfg(not(feature = "lnd"))]
            "lnd" => return Err(not_built("lightning", "LND", "lnd")),
            #[cfg(not(feature = "cln"))]
            "cln" => return Err(not_built("lightning", "Core Lightning", "cln")),
            #[cfg(not(feature = "nwc"))]
            "nwc" => return Err(not_built("lightning", "Nostr Wallet Connect", "nwc")),
            #[cfg(feature = "lnd")]
            "lnd" => LightningChoice::Lnd(LndSettings {
                rest_url: http_url("lnd_rest_url", required("lnd_rest_url", raw.lnd_rest_url)?)?,
                macaroon_hex: macaroon_hex(required("lnd_macaroon_file", raw.lnd_macaroon_file)?)?,
                tls_cert_pem: raw.lnd_tls_cert_file.map(|path| read_file("lnd_tls_cert_file", &path)).transpose()?,
                timeout,
            }),
            #[cfg(feature = "cln")]
            "cln" => LightningChoice::Cln(ClnSettings {
                rest_url: http_url("cln_rest_url", required("cln_rest_url", raw.cln_rest_url)?)?,
                rune: secret(("cln_rune", raw.cln_rune), ("cln_rune_file", raw.cln_rune_file))?,
                tls_cert_pem: raw.cln_tls_cert_file.map(|path| read_file("cln_tls_cert_file", &path)).transpose()?,
                timeout,
                node_id: match raw.cln_node_id {
                    Some(id) if id.len() == 66 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        Some(id.to_ascii_lowercase())
                    }
                    Some(_) => {
                        return Err(ConfigError::invalid(
                            "cln_node_id",
                            "must be 66 hex digits (the node's public key)",
                        ));
                    }
                    None => None,
                },
            }),
            #[cfg(feature = "nwc")]
            "nwc" => {
                let uri = secret(("nwc_uri", raw.nwc_uri), ("nwc_uri_file", raw.nwc_uri_file))?;
                if !uri.expose().starts_with("nostr+walletconnect://") {
                    return Err(ConfigError::invalid("nwc_uri", "must start with nostr+walletconnect://"));
                }
                LightningChoice::Nwc(NwcSettings { uri, timeout })
            }
            other => {
                return Err(ConfigError::invalid(
                    "lightning",
                    format!("unknown backend {other:?} (known: {KNOWN_BACKENDS})"),
                ));
            }
        };
        let refunds = match (&lightning, raw.refunds) {
            (_, Some(false)) => Refunds::Off,
            (LightningChoice::Dev, _) => Refunds::ByBackend,
            (LightningChoice::Lnbits(_), wanted) => {
                match (raw.lnbits_admin_key.is_some() || raw.lnbits_admin_key_file.is_some(), wanted) {
                    (true, _) => Refunds::ByLnbitsAdminKey(secret(
                        ("lnbits_admin_key", raw.lnbits_admin_key),
                        ("lnbits_admin_key_file", raw.lnbits_admin_key_file),
                    )?),
                    (false, Some(true)) => {
                        return Err(ConfigError::invalid(
                            "refunds",
                            "with lnbits needs lnbits_admin_key or lnbits_admin_key_file (the invoice key cannot pay)",
                        ));
                    }
                    (false, _) => Refunds::Off,
                }
            }
            // A node's own backend (LND, Core Lightning, NWC) pays refunds only when asked to.
            #[cfg(any(feature = "lnd", feature = "cln", feature = "nwc"))]
            (_, Some(true)) => Refunds::ByBackend,
            #[cfg(any(feature = "lnd", feature = "cln", feature = "nwc"))]
            (_, None) => Refunds::Off,
        };
        let refund_input_fault_fee_sats = raw.refund_input_fault_fee_sats.unwrap_or(0);
        if refund_input_fault_fee_sats > price_sats {
            return Err(ConfigError::invalid("refund_input_fault_fee_sats", "must be at most price_sats"));
        }
        let generator = match raw.generator.as_deref().unwrap_or("embedded") {
            "embedded" => GeneratorChoice::Embedded,
            #[cfg(not(feature = "hunyuan3d"))]
            "hunyuan3d" => return Err(not_built("generator", "The Hunyuan3D-2 generator", "hunyuan3d")),
            #[cfg(feature = "hunyuan3d")]
            "hunyuan3d" => GeneratorChoice::Hunyuan3d {
                settings: Hunyuan3dSettings {
                    url: http_url("hunyuan3d_url", required("hunyuan3d_url", raw.hunyuan3d_url)?)?,
                    deadline: Duration::from_secs(in_range(
                        "hunyuan3d_deadline_secs",
                        raw.hunyuan3d_deadline_secs.unwrap_or(DEFAULT_HUNYUAN3D_DEADLINE_SECS),
                        10..=3600,
                    )?),
                    call_timeout: Duration::from_secs(30),
                    poll_interval: Duration::from_secs(2),
                    send_retries: 2,
                    max_model_bytes: 64 * 1024 * 1024,
                    texture: raw.hunyuan3d_texture.unwrap_or(false),
                    max_jobs: in_range("hunyuan3d_max_jobs", raw.hunyuan3d_max_jobs.unwrap_or(1), 1..=16)?,
                    prompts: raw.hunyuan3d_prompts.unwrap_or(false),
                },
                fallback: raw.hunyuan3d_fallback.unwrap_or(false),
                licence: accepted_licence(raw.hunyuan3d_licence)?,
            },
            other => {
                return Err(ConfigError::invalid(
                    "generator",
                    format!("unknown generator {other:?} (known: embedded, hunyuan3d)"),
                ));
            }
        };
        let database = match raw.database_url {
            None => DatabaseChoice::Sqlite,
            #[cfg(feature = "postgres")]
            Some(url) if url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://") => {
                DatabaseChoice::Postgres(url)
            }
            #[cfg(not(feature = "postgres"))]
            Some(url) if url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://") => {
                return Err(not_built("database_url", "PostgreSQL", "postgres"));
            }
            // The URL may hold a password: it is not repeated in the message.
            Some(_) => return Err(ConfigError::invalid("database_url", "must start with postgres://")),
        };
        let role = match raw.role.as_deref().unwrap_or("all") {
            "all" => Role::All,
            "api" => Role::Api,
            "worker" => Role::Worker,
            other => {
                return Err(ConfigError::invalid("role", format!("unknown role {other:?} (known: all, api, worker)")));
            }
        };
        if role != Role::All && database == DatabaseChoice::Sqlite {
            return Err(ConfigError::invalid(
                "role",
                "api and worker share their jobs through a database: set database_url to a postgres:// URL",
            ));
        }
        let lease = Duration::from_secs(in_range("lease_secs", raw.lease_secs.unwrap_or(DEFAULT_LEASE_SECS), 3..=600)?);
        let payment_schemes = match raw.payment_schemes.as_deref() {
            None => OfferedSchemes::default(),
            Some(text) => text.parse().map_err(|_| {
                ConfigError::invalid("payment_schemes", format!("unknown value {text:?} (known: l402, payment, both)"))
            })?,
        };
        Ok(Config {
            files,
            database,
            role,
            lease,
            generator,
            refunds,
            refund_input_fault_fee_sats,
            listen,
            metrics_listen,
            data_dir: raw.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            public_url,
            price_sats,
            invoice_expiry: Duration::from_secs(invoice_expiry_secs),
            token_lifetime: Duration::from_secs(token_lifetime_secs),
            payment_schemes,
            max_body_bytes,
            workers,
            max_wait: Duration::from_secs(max_wait_secs),
            retention: Duration::from_secs(retention_secs),
            lightning_timeout: timeout,
            lightning,
            traffic,
        })
    }
}

/// Where files are kept: the data directory, or the bucket of `object_store` with its `s3_*` settings.
fn file_store_choice(raw: &RawConfig) -> Result<FileStoreChoice, ConfigError> {
    let Some(url) = &raw.object_store else {
        for (key, set) in [("s3_endpoint", raw.s3_endpoint.is_some()), ("s3_region", raw.s3_region.is_some())] {
            if set {
                return Err(ConfigError::invalid(key, "is used only with object_store = \"s3://…\""));
            }
        }
        return Ok(FileStoreChoice::Local);
    };
    s3_choice(raw, url)
}

/// The bucket of `object_store`, in a build without S3: refused, saying how to build it in.
#[cfg(not(feature = "s3"))]
fn s3_choice(_raw: &RawConfig, _url: &str) -> Result<FileStoreChoice, ConfigError> {
    Err(not_built("object_store", "S3", "s3"))
}

/// The bucket of `object_store` with its `s3_*` settings.
#[cfg(feature = "s3")]
fn s3_choice(raw: &RawConfig, url: &str) -> Result<FileStoreChoice, ConfigError> {
    let downloads = match raw.s3_downloads.as_deref().unwrap_or("proxy") {
        "proxy" => S3Downloads::Proxy,
        "presigned" => S3Downloads::Presigned(PRESIGNED_DOWNLOAD_LIFETIME),
        other => {
            return Err(ConfigError::invalid(
                "s3_downloads",
                format!("unknown mode {other:?} (known: proxy, presigned)"),
            ));
        }
    };
    let mut settings =
        S3Settings::from_url(url).map_err(|reason| ConfigError::invalid("object_store", reason.to_string()))?;
    settings.endpoint =
        raw.s3_endpoint.as_deref().map(|endpoint| http_url("s3_endpoint", endpoint.to_owned())).transpose()?;
    settings.region = raw.s3_region.clone();
    settings.downloads = downloads;
    Ok(FileStoreChoice::S3(settings))
}

/// The limits on unpaid traffic, with their defaults and ranges.
fn traffic_limits(raw: &RawConfig, max_body_bytes: usize) -> Result<TrafficLimits, ConfigError> {
    let max_inflight_body_bytes = raw.max_inflight_body_bytes.unwrap_or(DEFAULT_MAX_INFLIGHT_BODY_BYTES);
    if max_inflight_body_bytes < max_body_bytes.saturating_mul(2) {
        return Err(ConfigError::invalid("max_inflight_body_bytes", "must be at least twice max_body_bytes"));
    }
    let per_client = in_range(
        "max_inflight_body_bytes_per_client",
        raw.max_inflight_body_bytes_per_client.unwrap_or(DEFAULT_MAX_INFLIGHT_BODY_BYTES_PER_CLIENT),
        max_body_bytes..=max_inflight_body_bytes,
    )
    .map_err(|_| {
        ConfigError::invalid(
            "max_inflight_body_bytes_per_client",
            "must be at least max_body_bytes and at most max_inflight_body_bytes",
        )
    })?;
    let seconds = |key, value: Option<u64>, default, range| {
        Ok(Duration::from_secs(in_range(key, value.unwrap_or(default), range)?))
    };
    let events_idle_timeout = seconds(
        "events_idle_timeout_secs",
        raw.events_idle_timeout_secs,
        DEFAULT_EVENTS_IDLE_TIMEOUT_SECS,
        1..=86_400,
    )?;
    Ok(TrafficLimits {
        max_inflight_body_bytes,
        max_inflight_body_bytes_per_client: per_client,
        body_read_timeout: seconds(
            "body_read_timeout_secs",
            raw.body_read_timeout_secs,
            DEFAULT_BODY_READ_TIMEOUT_SECS,
            1..=3600,
        )?,
        header_read_timeout: seconds(
            "header_read_timeout_secs",
            raw.header_read_timeout_secs,
            DEFAULT_HEADER_READ_TIMEOUT_SECS,
            1..=600,
        )?,
        max_connections_per_client: in_range(
            "max_connections_per_client",
            raw.max_connections_per_client.unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
            1..=1_000_000,
        )?,
        challenges_per_minute: in_range(
            "challenges_per_minute",
            raw.challenges_per_minute.unwrap_or(DEFAULT_CHALLENGES_PER_MINUTE),
            0..=1_000_000,
        )?,
        challenge_burst: in_range(
            "challenge_burst",
            raw.challenge_burst.unwrap_or(DEFAULT_CHALLENGE_BURST),
            1..=1_000_000,
        )?,
        unpaid_requests_per_minute: in_range(
            "unpaid_requests_per_minute",
            raw.unpaid_requests_per_minute.unwrap_or(DEFAULT_UNPAID_REQUESTS_PER_MINUTE),
            0..=1_000_000,
        )?,
        unpaid_burst: in_range("unpaid_burst", raw.unpaid_burst.unwrap_or(DEFAULT_UNPAID_BURST), 1..=1_000_000)?,
        invoice_lookups_per_second: in_range(
            "invoice_lookups_per_second",
            raw.invoice_lookups_per_second.unwrap_or(DEFAULT_LOOKUPS_PER_SECOND),
            1..=10_000,
        )?,
        invoice_lookup_burst: in_range(
            "invoice_lookup_burst",
            raw.invoice_lookup_burst.unwrap_or(DEFAULT_LOOKUP_BURST),
            1..=10_000,
        )?,
        trusted_proxy_hops: in_range("trusted_proxy_hops", raw.trusted_proxy_hops.unwrap_or(0), 0..=10)?,
        preflight_workers: in_range(
            "preflight_workers",
            raw.preflight_workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)),
            1..=256,
        )?,
        events_idle_timeout,
        events_max: seconds("events_max_secs", raw.events_max_secs, DEFAULT_EVENTS_MAX_SECS, 1..=86_400)?,
    })
}

/// The model licence the operator named in `hunyuan3d_licence`: without one, or with a name that is not a
/// licence, `serve` does not start.
#[cfg(feature = "hunyuan3d")]
fn accepted_licence(named: Option<String>) -> Result<ModelLicence, ConfigError> {
    let known = ModelLicence::ALL.map(ModelLicence::name).join(", ");
    let Some(name) = named else {
        return Err(ConfigError::invalid(
            "hunyuan3d_licence",
            format!(
                "the Hunyuan3D models are under the Tencent Hunyuan 3D Community License, which excludes the EU, the \
                 UK and South Korea and binds your buyers too: read it ({}), then name the one you accept ({known})",
                ModelLicence::Hunyuan3d21Community.url()
            ),
        ));
    };
    ModelLicence::named(&name)
        .ok_or_else(|| ConfigError::invalid("hunyuan3d_licence", format!("unknown licence {name:?} (known: {known})")))
}

/// A setting the chosen backend cannot do without.
fn required<T>(key: &'static str, value: Option<T>) -> Result<T, ConfigError> {
    value.ok_or(ConfigError::Required { key })
}

/// An http(s) URL, without trailing slashes.
fn http_url(key: &'static str, url: String) -> Result<String, ConfigError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::invalid(key, format!("{url:?} must start with http:// or https://")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A credential given either inline or as a file (not both); files may end with a newline.
fn secret(
    (inline_key, inline): (&'static str, Option<Secret>),
    (file_key, file): (&'static str, Option<PathBuf>),
) -> Result<Secret, ConfigError> {
    let secret = match (inline, file) {
        (Some(_), Some(_)) => return Err(ConfigError::Both { inline: inline_key, file: file_key }),
        (Some(secret), None) => secret,
        (None, Some(path)) => {
            let bytes = read_file(file_key, &path)?;
            let text = String::from_utf8(bytes).map_err(|_| ConfigError::invalid(file_key, "not UTF-8 text"))?;
            Secret::new(text)
        }
        (None, None) => return Err(ConfigError::Neither { inline: inline_key, file: file_key }),
    };
    if secret.is_empty() {
        return Err(ConfigError::invalid(inline_key, "is empty"));
    }
    Ok(secret)
}

/// LND's macaroon, hex encoded: the file holds the binary macaroon (as LND writes it) or its hex text.
#[cfg(feature = "lnd")]
fn macaroon_hex(path: PathBuf) -> Result<Secret, ConfigError> {
    let bytes = read_file("lnd_macaroon_file", &path)?;
    mesh402_ln::macaroon_hex(&bytes).ok_or_else(|| ConfigError::invalid("lnd_macaroon_file", "is empty"))
}

fn read_file(key: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::File { key, path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use clap::{Args, CommandFactory, Parser};

    use super::*;

    /// A command with the settings flattened in, as the binary's `serve` has them.
    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        settings: RawConfig,
    }

    fn error(raw: RawConfig) -> String {
        Config::resolve(raw).unwrap_err().to_string()
    }

    #[test]
    #[cfg(feature = "s3")]
    fn a_bucket_is_chosen_with_its_endpoint_region_and_download_mode() {
        assert_eq!(Config::resolve(RawConfig::default()).unwrap().files, FileStoreChoice::Local);
        let raw = RawConfig {
            object_store: Some("s3://mesh402-models/eu".into()),
            s3_endpoint: Some("http://minio.internal:9000/".into()),
            s3_region: Some("eu-west-1".into()),
            s3_downloads: Some("presigned".into()),
            ..RawConfig::default()
        };
        let FileStoreChoice::S3(settings) = Config::resolve(raw.clone()).unwrap().files else { panic!("not S3") };
        assert_eq!((settings.bucket.as_str(), settings.prefix.as_str()), ("mesh402-models", "eu"));
        assert_eq!(settings.endpoint.as_deref(), Some("http://minio.internal:9000"));
        assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.downloads, S3Downloads::Presigned(PRESIGNED_DOWNLOAD_LIFETIME));
        assert_eq!(settings.keys, None, "keys come from the environment or the credentials file");
        assert!(error(RawConfig { object_store: Some("gs://bucket".into()), ..raw.clone() }).contains("object_store"));
        assert!(error(RawConfig { s3_downloads: Some("direct".into()), ..raw.clone() }).contains("s3_downloads"));
        assert!(error(RawConfig { s3_endpoint: Some("minio:9000".into()), ..raw }).contains("s3_endpoint"));
        let stray = RawConfig { s3_region: Some("eu-west-1".into()), ..RawConfig::default() };
        assert!(error(stray).contains("s3_region"));
    }

    /// A backend this build was made without is refused at start-up, naming the feature that builds it in.
    #[test]
    fn a_backend_left_out_of_the_build_is_refused_with_the_feature_that_builds_it() {
        let mut left_out = Vec::new();
        if cfg!(not(feature = "lnd")) {
            left_out.push((RawConfig { lightning: Some("lnd".into()), ..RawConfig::default() }, "lnd"));
        }
        if cfg!(not(feature = "cln")) {
            left_out.push((RawConfig { lightning: Some("cln".into()), ..RawConfig::default() }, "cln"));
        }
        if cfg!(not(feature = "nwc")) {
            left_out.push((RawConfig { lightning: Some("nwc".into()), ..RawConfig::default() }, "nwc"));
        }
        if cfg!(not(feature = "hunyuan3d")) {
            left_out.push((RawConfig { generator: Some("hunyuan3d".into()), ..RawConfig::default() }, "hunyuan3d"));
        }
        if cfg!(not(feature = "s3")) {
            left_out.push((RawConfig { object_store: Some("s3://bucket".into()), ..RawConfig::default() }, "s3"));
        }
        if cfg!(not(feature = "postgres")) {
            let url = Secret::new("postgres://db.internal/mesh402");
            left_out.push((RawConfig { database_url: Some(url), ..RawConfig::default() }, "postgres"));
        }
        for (raw, feature) in left_out {
            let message = error(raw);
            assert!(message.contains(&format!("--features {feature}")), "{feature}: {message}");
        }
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let config = Config::resolve(RawConfig::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8402");
        assert_eq!(config.data_dir, PathBuf::from("mesh402-data"));
        assert_eq!(config.price_sats, 350);
        assert_eq!(config.invoice_expiry, Duration::from_secs(600));
        assert_eq!(config.max_body_bytes, 32 * 1024 * 1024);
        assert_eq!(config.lightning_timeout, Duration::from_secs(5));
        assert_eq!(config.lightning, LightningChoice::Dev);
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mesh402.toml");
        std::fs::write(&file, "price_sats = 10\nlisten = \"127.0.0.2:1\"\n").unwrap();
        let matches = Serve::command().get_matches_from(["serve", "--price-sats", "20"]);
        let raw = RawConfig::layered(Some(&file), &matches).unwrap();
        let config = Config::resolve(raw).unwrap();
        assert_eq!((config.price_sats, config.listen.port()), (20, 1));
        assert_eq!(config.invoice_expiry, Duration::from_secs(DEFAULT_INVOICE_EXPIRY_SECS));
        // The flags alone parse into the same struct the file does.
        let flags = Serve::try_parse_from(["serve", "--price-sats", "20", "--workers", "3"]).unwrap().settings;
        assert_eq!(flags, RawConfig { price_sats: Some(20), workers: Some(3), ..RawConfig::default() });

        std::fs::write(&file, "colour = 1").unwrap();
        let unknown = RawConfig::layered(Some(&file), &matches).unwrap_err();
        assert!(matches!(unknown, ConfigError::Parse { .. }), "unknown keys are refused: {unknown:?}");
        let missing = RawConfig::layered(Some(&dir.path().join("absent.toml")), &matches).unwrap_err();
        assert!(matches!(missing, ConfigError::Read { .. }));
    }

    #[test]
    fn off_the_loopback_the_development_wallet_needs_consent_and_urls_need_a_public_address() {
        let on = |listen: &str| RawConfig { listen: Some(listen.into()), ..RawConfig::default() };
        // The development wallet on every interface: refused, naming the setting that allows it.
        let refused = error(RawConfig { public_url: Some("https://models.example.com".into()), ..on("0.0.0.0:8402") });
        assert!(refused.contains("allow_dev_wallet_on_network") && refused.contains("lightning"), "{refused}");
        // An unspecified address with no public_url: refused, whatever the wallet.
        let consent = RawConfig { allow_dev_wallet_on_network: Some(true), ..on("0.0.0.0:8402") };
        let no_url = error(consent.clone());
        assert!(no_url.contains("public_url"), "{no_url}");
        let no_url = error(RawConfig { listen: Some("[::]:8402".into()), ..consent.clone() });
        assert!(no_url.contains("public_url"), "{no_url}");
        // With both, it starts (and warns at start-up).
        let allowed = RawConfig { public_url: Some("https://models.example.com".into()), ..consent };
        assert_eq!(Config::resolve(allowed).unwrap().lightning, LightningChoice::Dev);
        // A specific address off the loopback needs the consent too, but its own URL is reachable.
        assert!(error(on("192.0.2.10:8402")).contains("allow_dev_wallet_on_network"));
        // Loopback, v4 or v6, is the default's world: nothing is asked.
        assert!(Config::resolve(on("127.0.0.1:8402")).is_ok());
        assert!(Config::resolve(on("[::1]:8402")).is_ok());
    }

    #[test]
    fn bad_values_are_named() {
        assert!(error(RawConfig { public_url: Some("ftp://x".into()), ..RawConfig::default() }).contains("public_url"));
        assert!(error(RawConfig { listen: Some("nowhere".into()), ..RawConfig::default() }).contains("listen"));
        assert!(error(RawConfig { workers: Some(0), ..RawConfig::default() }).contains("workers"));
        let short = RawConfig { retention_secs: Some(60), ..RawConfig::default() };
        assert!(error(short).contains("retention_secs"));
    }

    /// The example file with its `# key = value` lines uncommented (the prose stays out).
    fn example() -> (String, RawConfig) {
        let text = include_str!("../../../mesh402.example.toml");
        let is_setting = |line: &&str| {
            line.split_once(" = ").is_some_and(|(key, _)| key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        };
        let uncommented: String =
            text.lines().filter_map(|line| line.strip_prefix("# ")).filter(is_setting).collect::<Vec<_>>().join("\n");
        let raw = toml::from_str(&uncommented).expect("the example config parses once uncommented");
        (text.to_owned(), raw)
    }

    #[test]
    fn the_example_config_documents_every_key_with_its_flag_and_variable() {
        let (text, raw) = example();
        let command = RawConfig::augment_args(clap::Command::new("serve"));
        for arg in command.get_arguments() {
            let key = arg.get_id().as_str();
            assert!(text.contains(&format!("\n# {key} = ")), "mesh402.example.toml lacks `# {key} = …`");
            let variable = arg.get_env().and_then(|name| name.to_str()).expect("every setting has a variable");
            assert_eq!(variable, format!("MESH402_{}", key.to_ascii_uppercase()), "the variable of {key}");
            assert!(text.contains(variable), "mesh402.example.toml does not name {variable}");
            let flag = format!("--{}", arg.get_long().expect("every setting has a flag"));
            assert_eq!(flag, format!("--{}", key.replace('_', "-")));
            assert!(text.contains(&flag), "mesh402.example.toml does not name {flag}");
        }
        // The backend settings are read only when their backend is chosen; the example chooses `dev`. Its database
        // and bucket are refused by a build without them (`a_backend_left_out_of_the_build_…` checks the message).
        let mut raw = raw;
        if cfg!(not(feature = "postgres")) {
            raw.database_url = None;
        }
        if cfg!(not(feature = "s3")) {
            (raw.object_store, raw.s3_endpoint, raw.s3_region) = (None, None, None);
        }
        Config::resolve(raw).unwrap();
    }

    #[test]
    fn the_example_config_shows_the_defaults() {
        let (_, raw) = example();
        // Keys with a default; public_url, metrics_listen, database_url and the bucket's have none, workers and
        // preflight_workers depend on the machine, backends are examples.
        let shown = Config::resolve(RawConfig {
            public_url: None,
            metrics_listen: None,
            database_url: None,
            object_store: None,
            s3_endpoint: None,
            s3_region: None,
            workers: None,
            preflight_workers: None,
            ..raw
        })
        .unwrap();
        let defaults = Config::resolve(RawConfig::default()).unwrap();
        assert_eq!(format!("{shown:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn lnbits_from_settings_or_a_key_file_and_secrets_never_print() {
        let raw = RawConfig {
            lightning: Some("lnbits".into()),
            lnbits_url: Some("http://127.0.0.1:5000/".into()),
            lnbits_invoice_key: Some(Secret::new("inkey-1234")),
            ..RawConfig::default()
        };
        assert!(!format!("{raw:?}").contains("inkey-1234"));
        let config = Config::resolve(raw.clone()).unwrap();
        let LightningChoice::Lnbits(settings) = &config.lightning else { panic!("{:?}", config.lightning) };
        assert_eq!(settings.url, "http://127.0.0.1:5000");
        assert_eq!(settings.invoice_key.expose(), "inkey-1234");
        assert_eq!(settings.timeout, Duration::from_secs(DEFAULT_LIGHTNING_TIMEOUT_SECS));
        assert!(!format!("{config:?}").contains("inkey-1234"));

        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("inkey");
        std::fs::write(&key_file, "from-file\n").unwrap();
        let from_file = RawConfig { lnbits_invoice_key: None, lnbits_invoice_key_file: Some(key_file.clone()), ..raw };
        let config = Config::resolve(from_file.clone()).unwrap();
        let LightningChoice::Lnbits(settings) = &config.lightning else { panic!() };
        assert_eq!(settings.invoice_key.expose(), "from-file");

        let both = RawConfig { lnbits_invoice_key: Some(Secret::new("x")), ..from_file.clone() };
        assert!(error(both).contains("not both"));
        let neither = RawConfig { lnbits_invoice_key_file: None, ..from_file.clone() };
        assert!(error(neither).contains("lnbits_invoice_key"));
        let no_url = RawConfig { lnbits_url: None, ..from_file.clone() };
        assert!(error(no_url).contains("lnbits_url"));
        let slow = RawConfig { lightning_timeout_secs: Some(60), ..from_file };
        assert!(error(slow).contains("lightning_timeout_secs"));
        let unknown = RawConfig { lightning: Some("eclair".into()), ..RawConfig::default() };
        assert!(error(unknown).contains("eclair"));
    }

    #[test]
    #[cfg(all(feature = "lnd", feature = "cln", feature = "nwc"))]
    fn lnd_reads_a_binary_macaroon_as_hex_and_cln_a_rune_file() {
        let dir = tempfile::tempdir().unwrap();
        let macaroon = dir.path().join("invoice.macaroon");
        std::fs::write(&macaroon, [0x02, 0x01, 0x03, 0x6c, 0x6e, 0x64]).unwrap();
        let cert = dir.path().join("tls.cert");
        std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let raw = RawConfig {
            lightning: Some("lnd".into()),
            lnd_rest_url: Some("https://127.0.0.1:8080".into()),
            lnd_macaroon_file: Some(macaroon.clone()),
            lnd_tls_cert_file: Some(cert.clone()),
            lightning_timeout_secs: Some(3),
            ..RawConfig::default()
        };
        let config = Config::resolve(raw).unwrap();
        let LightningChoice::Lnd(settings) = &config.lightning else { panic!() };
        assert_eq!(settings.macaroon_hex.expose(), "0201036c6e64");
        assert_eq!(settings.timeout, Duration::from_secs(3));
        assert_eq!(config.lightning_timeout, Duration::from_secs(3), "the quote waits as long as the backend");
        assert!(settings.tls_cert_pem.is_some());
        assert!(!format!("{config:?}").contains("0201036c6e64"));

        std::fs::write(&macaroon, "0201036C6E64\n").unwrap();
        let raw = RawConfig {
            lightning: Some("lnd".into()),
            lnd_rest_url: Some("https://127.0.0.1:8080".into()),
            lnd_macaroon_file: Some(macaroon),
            ..RawConfig::default()
        };
        let LightningChoice::Lnd(settings) = Config::resolve(raw).unwrap().lightning else { panic!() };
        assert_eq!(settings.macaroon_hex.expose(), "0201036c6e64");
        assert!(settings.tls_cert_pem.is_none());

        let rune = dir.path().join("rune");
        std::fs::write(&rune, "rune-secret\n").unwrap();
        let raw = RawConfig {
            lightning: Some("cln".into()),
            cln_rest_url: Some("https://127.0.0.1:3010".into()),
            cln_rune_file: Some(rune),
            ..RawConfig::default()
        };
        let config = Config::resolve(raw).unwrap();
        let LightningChoice::Cln(settings) = &config.lightning else { panic!() };
        assert_eq!(settings.rune.expose(), "rune-secret");
        assert!(!format!("{config:?}").contains("rune-secret"));
        let missing = RawConfig {
            lightning: Some("cln".into()),
            cln_rest_url: Some("https://127.0.0.1:3010".into()),
            cln_rune_file: Some(dir.path().join("absent")),
            ..RawConfig::default()
        };
        let missing = Config::resolve(missing).unwrap_err();
        assert!(matches!(missing, ConfigError::File { key: "cln_rune_file", .. }), "{missing:?}");

        let uri = concat!(
            "nostr+walletconnect://b889ff5b1513b641e2a139f661a661364979c5beee91842f8f0ef42ab558e9d4",
            "?relay=wss%3A%2F%2Frelay.example.com",
            "&secret=71a8c14c1407c113601079c4302dab36460f0ccd0ad506f1f2dc73b5100e4f3c",
        );
        let raw = RawConfig { lightning: Some("nwc".into()), nwc_uri: Some(Secret::new(uri)), ..RawConfig::default() };
        let config = Config::resolve(raw).unwrap();
        assert!(!format!("{config:?}").contains("71a8c14c"));
        let LightningChoice::Nwc(settings) = &config.lightning else { panic!() };
        assert_eq!(settings.uri.expose(), uri);
        let raw = RawConfig {
            lightning: Some("nwc".into()),
            nwc_uri: Some(Secret::new("https://x")),
            ..RawConfig::default()
        };
        assert!(error(raw).contains("nwc_uri"));
    }
}
