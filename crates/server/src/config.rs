//! Configuration: raw layers (defaults ← TOML file ← `MESH402_*` environment ← flags) resolved once into a
//! checked [`Config`]. Every key is documented in `mesh402.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mesh402_ln::{ClnSettings, LnbitsSettings, LndSettings, NwcSettings};
use serde::Deserialize;

pub use mesh402_ln::Secret;

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
    /// Seconds job records and model files are kept.
    pub retention_secs: Option<u64>,
    /// Lightning backend: `dev`, `lnbits`, `lnd`, `cln` or `nwc`.
    pub lightning: Option<String>,
    /// Seconds every call to the Lightning backend may take.
    pub lightning_timeout_secs: Option<u64>,
    /// LNbits base URL.
    pub lnbits_url: Option<String>,
    /// LNbits wallet invoice key.
    pub lnbits_invoice_key: Option<Secret>,
    /// A file holding the LNbits invoice key.
    pub lnbits_invoice_key_file: Option<PathBuf>,
    /// LND REST base URL.
    pub lnd_rest_url: Option<String>,
    /// LND macaroon file (binary, or hex text).
    pub lnd_macaroon_file: Option<PathBuf>,
    /// LND TLS certificate (PEM), pinned.
    pub lnd_tls_cert_file: Option<PathBuf>,
    /// Core Lightning clnrest base URL.
    pub cln_rest_url: Option<String>,
    /// Core Lightning rune.
    pub cln_rune: Option<Secret>,
    /// A file holding the Core Lightning rune.
    pub cln_rune_file: Option<PathBuf>,
    /// clnrest TLS certificate (PEM), pinned.
    pub cln_tls_cert_file: Option<PathBuf>,
    /// Nostr Wallet Connect connection string (`nostr+walletconnect://…`).
    pub nwc_uri: Option<Secret>,
    /// A file holding the Nostr Wallet Connect connection string.
    pub nwc_uri_file: Option<PathBuf>,
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
            retention_secs: self.retention_secs.or(lower.retention_secs),
            lightning: self.lightning.or(lower.lightning),
            lightning_timeout_secs: self.lightning_timeout_secs.or(lower.lightning_timeout_secs),
            lnbits_url: self.lnbits_url.or(lower.lnbits_url),
            lnbits_invoice_key: self.lnbits_invoice_key.or(lower.lnbits_invoice_key),
            lnbits_invoice_key_file: self.lnbits_invoice_key_file.or(lower.lnbits_invoice_key_file),
            lnd_rest_url: self.lnd_rest_url.or(lower.lnd_rest_url),
            lnd_macaroon_file: self.lnd_macaroon_file.or(lower.lnd_macaroon_file),
            lnd_tls_cert_file: self.lnd_tls_cert_file.or(lower.lnd_tls_cert_file),
            cln_rest_url: self.cln_rest_url.or(lower.cln_rest_url),
            cln_rune: self.cln_rune.or(lower.cln_rune),
            cln_rune_file: self.cln_rune_file.or(lower.cln_rune_file),
            cln_tls_cert_file: self.cln_tls_cert_file.or(lower.cln_tls_cert_file),
            nwc_uri: self.nwc_uri.or(lower.nwc_uri),
            nwc_uri_file: self.nwc_uri_file.or(lower.nwc_uri_file),
        }
    }
}

/// A configuration value that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Which Lightning backend to use, with its checked settings (credentials already read from their files).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightningChoice {
    /// The built-in development wallet (regtest; pays its own invoices through `/dev/pay`).
    Dev,
    /// An LNbits wallet.
    Lnbits(LnbitsSettings),
    /// An LND node over REST.
    Lnd(LndSettings),
    /// A Core Lightning node over clnrest.
    Cln(ClnSettings),
    /// A wallet over Nostr Wallet Connect.
    Nwc(NwcSettings),
}

/// The backends `lightning` accepts.
const KNOWN_BACKENDS: &str = "dev, lnbits, lnd, cln, nwc";

/// Default seconds per call to the Lightning backend.
pub const DEFAULT_LIGHTNING_TIMEOUT_SECS: u64 = 5;

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
    /// How long job records and model files are kept.
    pub retention: Duration,
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
        let retention_secs = raw.retention_secs.unwrap_or(7 * 24 * 3600);
        if retention_secs < token_lifetime_secs {
            return Err(ConfigError("retention_secs must be at least token_lifetime_secs".into()));
        }
        let lightning_timeout_secs = raw.lightning_timeout_secs.unwrap_or(DEFAULT_LIGHTNING_TIMEOUT_SECS);
        if !(1..=10).contains(&lightning_timeout_secs) {
            // The service stops waiting for an invoice after 10 s whatever the backend does.
            return Err(ConfigError("lightning_timeout_secs must be between 1 and 10".into()));
        }
        let timeout = Duration::from_secs(lightning_timeout_secs);
        let lightning = match raw.lightning.as_deref().unwrap_or("dev") {
            "dev" => LightningChoice::Dev,
            "lnbits" => LightningChoice::Lnbits(LnbitsSettings {
                url: http_url("lnbits_url", raw.lnbits_url)?,
                invoice_key: secret(
                    ("lnbits_invoice_key", raw.lnbits_invoice_key),
                    ("lnbits_invoice_key_file", raw.lnbits_invoice_key_file),
                )?,
                timeout,
            }),
            "lnd" => LightningChoice::Lnd(LndSettings {
                rest_url: http_url("lnd_rest_url", raw.lnd_rest_url)?,
                macaroon_hex: macaroon_hex(raw.lnd_macaroon_file)?,
                tls_cert_pem: raw.lnd_tls_cert_file.map(|path| read_file("lnd_tls_cert_file", &path)).transpose()?,
                timeout,
            }),
            "cln" => LightningChoice::Cln(ClnSettings {
                rest_url: http_url("cln_rest_url", raw.cln_rest_url)?,
                rune: secret(("cln_rune", raw.cln_rune), ("cln_rune_file", raw.cln_rune_file))?,
                tls_cert_pem: raw.cln_tls_cert_file.map(|path| read_file("cln_tls_cert_file", &path)).transpose()?,
                timeout,
            }),
            "nwc" => {
                let uri = secret(("nwc_uri", raw.nwc_uri), ("nwc_uri_file", raw.nwc_uri_file))?;
                if !uri.expose().starts_with("nostr+walletconnect://") {
                    return Err(ConfigError("nwc_uri must start with nostr+walletconnect://".into()));
                }
                LightningChoice::Nwc(NwcSettings { uri, timeout })
            }
            other => {
                return Err(ConfigError(format!("lightning: unknown backend {other:?} (known: {KNOWN_BACKENDS})")));
            }
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
            retention: Duration::from_secs(retention_secs),
            lightning,
        })
    }
}

/// A required http(s) URL, without trailing slashes.
fn http_url(key: &str, value: Option<String>) -> Result<String, ConfigError> {
    let Some(url) = value else {
        return Err(ConfigError(format!("{key} is required for this Lightning backend")));
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError(format!("{key}: {url:?} must start with http:// or https://")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A credential given either inline or as a file (not both); files may end with a newline.
fn secret(inline: (&str, Option<Secret>), file: (&str, Option<PathBuf>)) -> Result<Secret, ConfigError> {
    let secret = match (inline.1, file.1) {
        (Some(_), Some(_)) => return Err(ConfigError(format!("set {} or {}, not both", inline.0, file.0))),
        (Some(secret), None) => secret,
        (None, Some(path)) => {
            let bytes = read_file(file.0, &path)?;
            let text = String::from_utf8(bytes).map_err(|_| ConfigError(format!("{}: not UTF-8 text", file.0)))?;
            Secret::new(text)
        }
        (None, None) => return Err(ConfigError(format!("{} or {} is required for this backend", inline.0, file.0))),
    };
    if secret.is_empty() {
        return Err(ConfigError(format!("{} is empty", inline.0)));
    }
    Ok(secret)
}

/// LND's macaroon, hex encoded: the file holds the binary macaroon (as LND writes it) or its hex text.
fn macaroon_hex(path: Option<PathBuf>) -> Result<Secret, ConfigError> {
    let Some(path) = path else {
        return Err(ConfigError("lnd_macaroon_file is required for this Lightning backend".into()));
    };
    let bytes = read_file("lnd_macaroon_file", &path)?;
    let text = String::from_utf8_lossy(&bytes);
    let trimmed = text.trim();
    if bytes.is_empty() {
        return Err(ConfigError("lnd_macaroon_file is empty".into()));
    }
    if !trimmed.is_empty() && trimmed.len().is_multiple_of(2) && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Secret::new(trimmed.to_ascii_lowercase()));
    }
    Ok(Secret::new(hex::encode(&bytes)))
}

fn read_file(key: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|error| ConfigError(format!("{key}: cannot read {}: {error}", path.display())))
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
        assert!(raw.retention_secs.is_some());
        assert!(raw.lightning.is_some() && raw.lightning_timeout_secs.is_some());
        assert!(raw.lnbits_url.is_some() && raw.lnbits_invoice_key.is_some() && raw.lnbits_invoice_key_file.is_some());
        assert!(raw.lnd_rest_url.is_some() && raw.lnd_macaroon_file.is_some() && raw.lnd_tls_cert_file.is_some());
        assert!(raw.cln_rest_url.is_some() && raw.cln_rune.is_some() && raw.cln_rune_file.is_some());
        assert!(raw.cln_tls_cert_file.is_some() && raw.nwc_uri.is_some() && raw.nwc_uri_file.is_some());
        // The backend settings are read only when their backend is chosen; the example chooses `dev`.
        Config::resolve(raw).unwrap();
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
        assert!(Config::resolve(both).unwrap_err().0.contains("not both"));
        let neither = RawConfig { lnbits_invoice_key_file: None, ..from_file.clone() };
        assert!(Config::resolve(neither).unwrap_err().0.contains("lnbits_invoice_key"));
        let no_url = RawConfig { lnbits_url: None, ..from_file.clone() };
        assert!(Config::resolve(no_url).unwrap_err().0.contains("lnbits_url"));
        let slow = RawConfig { lightning_timeout_secs: Some(60), ..from_file };
        assert!(Config::resolve(slow).unwrap_err().0.contains("lightning_timeout_secs"));
        let unknown = RawConfig { lightning: Some("eclair".into()), ..RawConfig::default() };
        assert!(Config::resolve(unknown).unwrap_err().0.contains("eclair"));
    }

    #[test]
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
        assert!(Config::resolve(missing).unwrap_err().0.contains("cln_rune_file"));

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
        assert!(Config::resolve(raw).unwrap_err().0.contains("nwc_uri"));
    }
}
