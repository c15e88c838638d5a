//! A real LNbits server for tests: started on a free loopback port with the `FakeWallet` funding source, set up
//! (first admin, a shop wallet, a funded payer wallet and the payer's second wallet that refunds go to, no fiat
//! currency), and stopped by process group.
//!
//! The `lnbits` executable is found through `MESH402_TEST_LNBITS` (scripts/test.sh installs it and sets it).
//! Tests that need LNbits are `#[ignore]`d and run by scripts/test.sh (see [`crate::tools`]); without the variable
//! they fail with a message saying how to get LNbits.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long LNbits may take to start (it takes about 10 s on two cores).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running LNbits with two wallets; stopped (the whole process group) when dropped.
pub struct LnbitsServer {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The shop wallet's invoice key: what mesh402 is configured with.
    pub shop_invoice_key: String,
    /// The payer wallet's admin key: it pays the shop's invoices.
    pub payer_admin_key: String,
    /// The shop wallet's admin key: what mesh402 pays refunds with.
    pub shop_admin_key: String,
    /// The invoice key of the buyer's second wallet, which receives refunds.
    pub refunds_invoice_key: String,
    data_dir: tempfile::TempDir,
}

impl Drop for LnbitsServer {
    fn drop(&mut self) {
        // LNbits' CLI runs the server in a child process: signal the whole group, then make sure it is gone.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

/// The `lnbits` executable named by `MESH402_TEST_LNBITS`, or a failure that says how to get one.
pub fn lnbits_executable() -> PathBuf {
    let Some(path) = std::env::var_os("MESH402_TEST_LNBITS") else {
        panic!(
            "MESH402_TEST_LNBITS is not set: this test needs a real LNbits server. Run ./scripts/test.sh (it \
             installs LNbits into target/lnbits-venv and sets the variable), or set MESH402_TEST_LNBITS to an \
             `lnbits` executable"
        );
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "MESH402_TEST_LNBITS={} is not a file; run ./scripts/test.sh to install LNbits",
        path.display()
    );
    path
}

/// The site-packages folder of the Python environment that holds `lnbits` (LNbits serves static files relative to
/// its working directory, so it must run from there).
fn site_packages(lnbits: &Path, data_dir: &Path) -> PathBuf {
    let python = lnbits.with_file_name("python");
    // Importing lnbits writes an auth key into its data folder: keep that out of the source tree.
    let output = Command::new(&python)
        .args(["-c", "import lnbits, os; print(os.path.dirname(os.path.dirname(lnbits.__file__)))"])
        .current_dir(data_dir)
        .env("LNBITS_DATA_FOLDER", data_dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", python.display()));
    assert!(output.status.success(), "{} cannot import lnbits", python.display());
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl LnbitsServer {
    /// Starts LNbits and sets it up. A test that calls it is `#[ignore]`d (see [`crate::tools`]); it panics when
    /// LNbits is not installed, and with LNbits' log when it does not come up.
    pub async fn start() -> LnbitsServer {
        // reqwest is built without a default TLS provider; this process's clients use ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let lnbits = lnbits_executable();
        let data_dir = tempfile::tempdir().unwrap();
        let log_path = data_dir.path().join("lnbits.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let port = free_port();
        let child = Command::new(&lnbits)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(site_packages(&lnbits, data_dir.path()))
            .env("LNBITS_DATA_FOLDER", data_dir.path())
            .env("LNBITS_BACKEND_WALLET_CLASS", "FakeWallet")
            .env("LNBITS_EXTENSIONS_DEFAULT_INSTALL", "")
            .env("LNBITS_ADMIN_UI", "true")
            .env("DEBUG", "false")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", lnbits.display()));
        let mut server = LnbitsServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            shop_invoice_key: String::new(),
            payer_admin_key: String::new(),
            shop_admin_key: String::new(),
            refunds_invoice_key: String::new(),
            data_dir,
        };
        server.wait_until_up().await;
        server.set_up().await;
        server
    }

    fn log(&self) -> String {
        let mut text = String::new();
        let read = std::fs::File::open(self.data_dir.path().join("lnbits.log"))
            .and_then(|mut file| file.read_to_string(&mut text));
        if let Err(error) = read {
            return format!("(LNbits' log cannot be read: {error})");
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    async fn wait_until_up(&mut self) {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("LNbits exited with {status} before serving:\n{}", self.log());
            }
            if let Ok(response) = client.get(format!("{}/api/v1/health", self.url)).send().await
                && response.status().as_u16() < 500
            {
                return;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "LNbits did not start within {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "LNbits answered {status}: {body}\n{}", self.log());
        body
    }

    /// First admin account, two wallets without fiat currency (or LNbits fetches prices from the internet on
    /// every call), and 100 000 sats credited to the payer.
    async fn set_up(&mut self) {
        let client = reqwest::Client::new();
        let password = "mesh402-test-password";
        let login = self
            .call(client.put(format!("{}/api/v1/auth/first_install", self.url)).json(&json!({
                "username": "admin", "password": password, "password_repeat": password,
            })))
            .await;
        let token = login["access_token"].as_str().expect("an access token").to_owned();
        let mut wallets = Vec::new();
        for name in ["shop", "payer", "refunds"] {
            let wallet = self
                .call(
                    client.post(format!("{}/api/v1/wallet", self.url)).bearer_auth(&token).json(&json!({"name": name})),
                )
                .await;
            let admin_key = wallet["adminkey"].as_str().unwrap().to_owned();
            self.call(
                client
                    .patch(format!("{}/api/v1/wallet", self.url))
                    .header("X-Api-Key", &admin_key)
                    .json(&json!({"currency": ""})),
            )
            .await;
            wallets.push(wallet);
        }
        self.call(client.put(format!("{}/users/api/v1/balance", self.url)).bearer_auth(&token).json(&json!({
            "id": wallets[1]["id"], "amount": 100_000,
        })))
        .await;
        self.shop_invoice_key = wallets[0]["inkey"].as_str().unwrap().to_owned();
        self.shop_admin_key = wallets[0]["adminkey"].as_str().unwrap().to_owned();
        self.payer_admin_key = wallets[1]["adminkey"].as_str().unwrap().to_owned();
        self.refunds_invoice_key = wallets[2]["inkey"].as_str().unwrap().to_owned();
    }

    /// How many invoices the shop wallet has issued (LNbits lists pending incoming payments too).
    pub async fn shop_invoice_count(&self) -> usize {
        let payments = self
            .call(
                reqwest::Client::new()
                    .get(format!("{}/api/v1/payments?limit=10000", self.url))
                    .header("X-Api-Key", &self.shop_invoice_key),
            )
            .await;
        payments.as_array().expect("a list of payments").len()
    }

    /// Pays `bolt11` from the payer wallet and returns the preimage (hex) LNbits hands the payer.
    pub async fn pay(&self, bolt11: &str) -> String {
        let paid = self
            .call(
                reqwest::Client::new()
                    .post(format!("{}/api/v1/payments", self.url))
                    .header("X-Api-Key", &self.payer_admin_key)
                    .json(&json!({"out": true, "bolt11": bolt11})),
            )
            .await;
        assert_eq!(paid["status"], "success", "{paid}");
        paid["preimage"].as_str().expect("the payer gets the preimage").to_owned()
    }

    /// An invoice of the wallet with this invoice key, for `sats`.
    pub async fn invoice(&self, invoice_key: &str, sats: u64) -> String {
        let created = self
            .call(
                reqwest::Client::new()
                    .post(format!("{}/api/v1/payments", self.url))
                    .header("X-Api-Key", invoice_key)
                    .json(&json!({"out": false, "amount": sats, "memo": "mesh402 test refund"})),
            )
            .await;
        let bolt11 = created.get("bolt11").or_else(|| created.get("payment_request"));
        bolt11.and_then(Value::as_str).expect("LNbits returns the invoice").to_owned()
    }

    /// The balance of the wallet with this key, in millisatoshis.
    pub async fn balance_msat(&self, key: &str) -> i64 {
        let wallet =
            self.call(reqwest::Client::new().get(format!("{}/api/v1/wallet", self.url)).header("X-Api-Key", key)).await;
        wallet["balance"].as_i64().expect("a balance")
    }
}
