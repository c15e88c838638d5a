//! The vault: what a purchase has reached, saved before each step that cannot be undone, so that a client that
//! crashes, times out or is killed resumes the same purchase instead of paying again. One JSON file per request
//! (keyed by a digest of the server and the request body), mode 0600, written aside and renamed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A purchase's saved state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Purchase {
    /// The L402 challenge's macaroon, base64 (empty when the purchase is paid through the `Payment` scheme).
    #[serde(default)]
    pub macaroon: String,
    /// The `Payment` challenge, when the server offered only that scheme: the credential echoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_challenge: Option<mesh402_mpp::PaymentChallenge>,
    /// The invoice paid (or about to be).
    pub invoice: String,
    /// Its payment hash, hex.
    pub payment_hash: String,
    /// Its amount in millisatoshis.
    pub amount_msat: u64,
    /// The preimage, hex, once paid.
    #[serde(default)]
    pub preimage: Option<String>,
    /// The server's job, once an answer named it: later checks and refund claims read it without sending the
    /// request again (which would retry a failed job).
    #[serde(default)]
    pub job_id: Option<String>,
}

/// A directory of saved purchases.
#[derive(Debug, Clone)]
pub struct Vault {
    dir: PathBuf,
}

impl Vault {
    /// The vault in `dir` (created with mode 0700 on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Vault {
        Vault { dir: dir.into() }
    }

    /// The default directory: `$XDG_STATE_HOME/mesh402/purchases`, else `~/.local/state/mesh402/purchases`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/state")))?;
        Some(base.join("mesh402/purchases"))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The purchase saved under `key`, if any.
    pub fn load(&self, key: &str) -> std::io::Result<Option<Purchase>> {
        match std::fs::read(self.path(key)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Saves `purchase` under `key` durably (written aside with mode 0600, synced, renamed).
    pub fn save(&self, key: &str, purchase: &Purchase) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::set_permissions(&self.dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let final_path = self.path(key);
        let aside = self.dir.join(format!(".{key}.tmp"));
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&aside)?;
        file.write_all(&serde_json::to_vec_pretty(purchase).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        std::fs::rename(&aside, &final_path)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saves_privately_and_loads_back() {
        let dir = tempfile::tempdir().expect("dir");
        let vault = Vault::new(dir.path().join("v"));
        assert_eq!(vault.load("k").expect("load"), None);
        let purchase = Purchase {
            macaroon: "m".into(),
            payment_challenge: None,
            invoice: "i".into(),
            payment_hash: "h".into(),
            amount_msat: 1000,
            preimage: None,
            job_id: None,
        };
        vault.save("k", &purchase).expect("save");
        assert_eq!(vault.load("k").expect("load"), Some(purchase));
        let mode = std::fs::metadata(dir.path().join("v/k.json")).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
