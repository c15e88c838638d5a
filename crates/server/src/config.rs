//! Configuration: raw layers (defaults ← TOML file ← `MESH402_*` environment ← flags) resolved once into a
//! checked [`Config`]. Every key is documented in `mesh402.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// One layer of raw settings: every field optional, unknown keys refused.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Where the database, secrets and model files live.
    pub data_dir: Option<PathBuf>,
    /// Base of every URL handed to clients (`modelUrl`).
    pub public_url: Option<String>,
    /// Price of one model in satoshis.
    pub price_sats: Option<u64>,
    /// Seconds a client has to pay an invoice.
    pub invoice_expiry_secs: Option<u64>,
    /// Seconds a paid credential stays valid.
    pub token_lifetime_secs: Option<u64>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Models generated at once.
    pub workers: Option<usize>,
    /// Longest a request waits for its model before getting `202` and a status URL.
    pub max_wait_secs: Option<u64>,
    /// Lightning backend: `dev`.
    pub lightning: Option<String>,
}

impl RawConfig {
    /// Reads a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigError(format!("cannot read {}: {error}", path.display())))?;
        toml::from_str(&text).map_err(|error| ConfigError(format!("{}: {error}", path.display())))
    }

    /// This layer over `lower`: a value set here wins.
    pub fn over(self, lower: RawConfig) -> RawConfig {
        RawConfig {
            listen: self.listen.or(lower.listen),
            data_dir: self.data_dir.or(lower.data_dir),
            public_url: self.public_url.or(lower.public_url),
            price_sats: self.price_sats.or(lower.price_sats),
            invoice_expiry_secs: self.invoice_expiry_secs.or(lower.invoice_expiry_secs),
            token_lifetime_secs: self.token_lifetime_secs.or(lower.token_lifetime_secs),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            workers: self.workers.or(lower.workers),
            max_wait_secs: self.max_wait_secs.or(lower.max_wait_secs),
            lightning: self.lightning.or(lower.lightning),
        }
    }
}

/// A configuration value that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Which Lightning backend to use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightningChoice {
    /// The built-in development wallet (regtest; pays its own invoices through `/dev/pay`).
    Dev,
}

/// The checked configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
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
    /// Body size limit.
    pub max_body_bytes: usize,
    /// Concurrent generations.
    pub workers: usize,
    /// Longest a request waits for its model.
    pub max_wait: Duration,
    /// The Lightning backend.
    pub lightning: LightningChoice,
}

/// Defaults: the embedded setup of a fresh install.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8402";
/// Default state directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "mesh402-data";

impl Config {
    /// Resolves raw settings, filling defaults and checking ranges.
    pub fn resolve(raw: RawConfig) -> Result<Config, ConfigError> {
        let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text
            .parse()
            .map_err(|_| ConfigError(format!("listen: {listen_text:?} is not an address like 127.0.0.1:8402")))?;
        let public_url = match raw.public_url {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(ConfigError(format!("public_url: {url:?} must start with http:// or https://")));
            }
            Some(url) => Some(url.trim_end_matches('/').to_owned()),
            None => None,
        };
        let price_sats = raw.price_sats.unwrap_or(350);
        if price_sats == 0 || price_sats > 21_000_000 * 100_000_000 {
            return Err(ConfigError("price_sats must be at least 1".into()));
        }
        let invoice_expiry_secs = raw.invoice_expiry_secs.unwrap_or(600);
        if !(60..=86_400).contains(&invoice_expiry_secs) {
            return Err(ConfigError("invoice_expiry_secs must be between 60 and 86400".into()));
        }
        let token_lifetime_secs = raw.token_lifetime_secs.unwrap_or(86_400);
        if token_lifetime_secs < invoice_expiry_secs {
            return Err(ConfigError("token_lifetime_secs must be at least invoice_expiry_secs".into()));
        }
        let max_body_bytes = raw.max_body_bytes.unwrap_or(32 * 1024 * 1024);
        if !(1024..=512 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(ConfigError("max_body_bytes must be between 1 KiB and 512 MiB".into()));
        }
        let workers = raw.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if !(1..=256).contains(&workers) {
            return Err(ConfigError("workers must be between 1 and 256".into()));
        }
        let max_wait_secs = raw.max_wait_secs.unwrap_or(600);
        if !(1..=3600).contains(&max_wait_secs) {
            return Err(ConfigError("max_wait_secs must be between 1 and 3600".into()));
        }
        let lightning = match raw.lightning.as_deref().unwrap_or("dev") {
            "dev" => LightningChoice::Dev,
            other => return Err(ConfigError(format!("lightning: unknown backend {other:?} (known: dev)"))),
        };
        Ok(Config {
            listen,
            data_dir: raw.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            public_url,
            price_sats,
            invoice_expiry: Duration::from_secs(invoice_expiry_secs),
            token_lifetime: Duration::from_secs(token_lifetime_secs),
            max_body_bytes,
            workers,
            max_wait: Duration::from_secs(max_wait_secs),
            lightning,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let config = Config::resolve(RawConfig::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8402");
        assert_eq!(config.data_dir, PathBuf::from("mesh402-data"));
        assert_eq!(config.price_sats, 350);
        assert_eq!(config.invoice_expiry, Duration::from_secs(600));
        assert_eq!(config.max_body_bytes, 32 * 1024 * 1024);
        assert_eq!(config.lightning, LightningChoice::Dev);
    }

    #[test]
    fn higher_layers_win_and_bad_values_are_named() {
        let file = RawConfig { price_sats: Some(10), listen: Some("0.0.0.0:1".into()), ..RawConfig::default() };
        let flags = RawConfig { price_sats: Some(20), ..RawConfig::default() };
        let config = Config::resolve(flags.over(file)).unwrap();
        assert_eq!((config.price_sats, config.listen.port()), (20, 1));
        let error = Config::resolve(RawConfig { public_url: Some("ftp://x".into()), ..RawConfig::default() });
        assert!(error.unwrap_err().0.contains("public_url"));
        assert!(toml::from_str::<RawConfig>("colour = 1").is_err(), "unknown keys are refused");
    }

    #[test]
    fn the_example_config_parses_and_documents_every_key() {
        let text = include_str!("../../../mesh402.example.toml");
        // Keep only the commented-out `key = value` lines, uncommented; the prose stays out.
        let is_setting = |line: &&str| {
            line.split_once(" = ").is_some_and(|(key, _)| key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        };
        let uncommented: String =
            text.lines().filter_map(|line| line.strip_prefix("# ")).filter(is_setting).collect::<Vec<_>>().join("\n");
        let raw: RawConfig = toml::from_str(&uncommented).expect("example config parses once uncommented");
        assert!(raw.listen.is_some() && raw.data_dir.is_some() && raw.public_url.is_some());
        assert!(raw.price_sats.is_some() && raw.invoice_expiry_secs.is_some() && raw.token_lifetime_secs.is_some());
        assert!(raw.max_body_bytes.is_some() && raw.workers.is_some() && raw.max_wait_secs.is_some());
        assert!(raw.lightning.is_some());
        Config::resolve(raw).unwrap();
    }
}
