//! A real S3-compatible server for tests: `moto_server` (PyPI `moto[server]`, an S3 implementation kept in step
//! with AWS's API) on a free loopback port, with a bucket of the test's own, stopped when dropped.
//!
//! The executable is found through `MESH402_TEST_MOTO_SERVER` (scripts/test.sh installs it and sets it). Tests
//! that need it are `#[ignore]`d and run by scripts/test.sh (see [`crate::tools`]); without the variable they fail
//! with a message saying how to get it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mesh402_store::{S3Downloads, S3Keys, S3Settings};

/// The variable naming the `moto_server` executable.
pub const MOTO_VAR: &str = "MESH402_TEST_MOTO_SERVER";

/// The access key the tests sign with (moto accepts any).
pub const ACCESS_KEY_ID: &str = "mesh402-test-access-key";
/// The secret key the tests sign with.
pub const SECRET_ACCESS_KEY: &str = "mesh402-test-secret-key";
/// The region of the test buckets.
pub const REGION: &str = "us-east-1";

/// A running S3 server; killed when dropped.
pub struct S3Server {
    child: Child,
    /// Its endpoint, e.g. `http://127.0.0.1:40123`.
    pub endpoint: String,
    _log_dir: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_executable() -> PathBuf {
    let Some(path) = std::env::var_os(MOTO_VAR) else {
        panic!(
            "{MOTO_VAR} is not set: this test needs an S3-compatible server. Run ./scripts/test.sh (it installs \
             moto[server] into target/moto-venv and sets the variable), or set {MOTO_VAR} to a `moto_server`"
        );
    };
    PathBuf::from(path)
}

impl S3Server {
    /// Starts the server. A test that calls it is `#[ignore]`d (see [`crate::tools`]); it panics when moto is not
    /// installed.
    pub async fn start() -> S3Server {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let executable = moto_executable();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log_dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(log_dir.path().join("moto.log")).unwrap();
        let child = Command::new(&executable)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", executable.display()));
        let server = S3Server { child, endpoint: format!("http://127.0.0.1:{port}"), _log_dir: log_dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = reqwest::Client::new();
        while client.get(&server.endpoint).send().await.is_err() {
            assert!(Instant::now() < deadline, "moto_server did not come up on {}", server.endpoint);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// Makes a bucket with a fresh name and returns it.
    pub async fn create_bucket(&self) -> String {
        let bucket = format!("mesh402-test-{}", hex_suffix());
        // moto serves path-style requests and does not check signatures on bucket creation.
        let response = reqwest::Client::new().put(format!("{}/{bucket}", self.endpoint)).send().await.unwrap();
        assert!(response.status().is_success(), "creating bucket {bucket}: {}", response.status());
        bucket
    }

    /// Settings for the store to use `bucket` on this server, with the test keys.
    pub fn settings(&self, bucket: &str, downloads: S3Downloads) -> S3Settings {
        S3Settings {
            bucket: bucket.to_owned(),
            prefix: "models-test".to_owned(),
            endpoint: Some(self.endpoint.clone()),
            region: Some(REGION.to_owned()),
            keys: Some(S3Keys {
                access_key_id: ACCESS_KEY_ID.to_owned(),
                secret_access_key: SECRET_ACCESS_KEY.to_owned(),
                session_token: None,
            }),
            downloads,
        }
    }

    /// The environment a `mesh402` process needs to reach this server the way an operator's would.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
        ]
    }

    /// Freezes the server (SIGSTOP): connections are still accepted by the kernel, nothing is answered, as with a
    /// hung endpoint.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Lets a frozen server go on (SIGCONT), with everything it held.
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    /// Kills the server: connections are refused from then on, as with a stopped endpoint.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status();
        assert!(status.is_ok_and(|status| status.success()), "kill -{name} of moto_server failed");
    }

    /// The keys of every object in `bucket` (path-style `ListObjectsV2`, read from its XML).
    pub async fn list_keys(&self, bucket: &str) -> Vec<String> {
        let body = reqwest::Client::new()
            .get(format!("{}/{bucket}?list-type=2&max-keys=1000", self.endpoint))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.split("<Key>")
            .skip(1)
            .filter_map(|part| part.split_once("</Key>"))
            .map(|(key, _)| key.to_owned())
            .collect()
    }
}

fn hex_suffix() -> String {
    let bytes: [u8; 6] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A proxy in front of an S3 server that forwards every request, or answers it with an S3 error instead, as an
/// endpoint in trouble does (`500 InternalError`, `503 SlowDown`): for the next few requests (a blip the client's
/// retries should hide) or until healed (an outage the service must report).
pub struct FailingProxy {
    /// The proxy's endpoint: give it to the store instead of the server's.
    pub endpoint: String,
    state: std::sync::Arc<ProxyState>,
}

struct ProxyState {
    target: String,
    client: reqwest::Client,
    /// Requests still to fail: 0 forwards, `u64::MAX` fails until healed.
    failing: std::sync::atomic::AtomicU64,
    status: std::sync::atomic::AtomicU16,
    errors_served: std::sync::atomic::AtomicU64,
}

impl FailingProxy {
    /// Starts the proxy to `target` (an S3 endpoint) on the current runtime; it forwards until told to fail.
    pub async fn start(target: &str) -> FailingProxy {
        use std::sync::atomic::{AtomicU16, AtomicU64};
        let state = std::sync::Arc::new(ProxyState {
            target: target.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            failing: AtomicU64::new(0),
            status: AtomicU16::new(500),
            errors_served: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
        let app = axum::Router::new().fallback(forward).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FailingProxy { endpoint, state }
    }

    /// Answers the next `count` requests (`None`: every request until [`heal`](Self::heal)) with `status`: 500
    /// (`InternalError`) or 503 (`SlowDown`).
    pub fn fail(&self, status: u16, count: Option<u64>) {
        use std::sync::atomic::Ordering;
        self.state.status.store(status, Ordering::SeqCst);
        self.state.failing.store(count.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Forwards every request again.
    pub fn heal(&self) {
        self.state.failing.store(0, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many requests were answered with an error.
    pub fn errors_served(&self) -> u64 {
        self.state.errors_served.load(std::sync::atomic::Ordering::SeqCst)
    }
}

async fn forward(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<ProxyState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let failing = state.failing.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
        0 => None,
        u64::MAX => Some(u64::MAX),
        left => Some(left - 1),
    });
    if failing.is_ok() {
        state.errors_served.fetch_add(1, Ordering::SeqCst);
        let status = state.status.load(Ordering::SeqCst);
        let (code, message) = match status {
            503 => ("SlowDown", "Please reduce your request rate."),
            _ => ("InternalError", "We encountered an internal error. Please try again."),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        );
        let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        return (status, [("content-type", "application/xml")], body).into_response();
    }
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let Ok(body) = axum::body::to_bytes(body, 256 * 1024 * 1024).await else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let head = parts.method == axum::http::Method::HEAD;
    let mut outgoing = state.client.request(parts.method, format!("{}{path}", state.target)).body(body);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "transfer-encoding" | "connection") {
            outgoing = outgoing.header(name, value);
        }
    }
    let Ok(answer) = outgoing.send().await else {
        return axum::http::StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = axum::response::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        // A HEAD's length is the object's, and only the header says it; otherwise the body sets it.
        let length = name.as_str() == "content-length" && !head;
        if !length && !matches!(name.as_str(), "transfer-encoding" | "connection") {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(axum::body::Body::from(bytes)).unwrap_or_else(|_| axum::http::StatusCode::BAD_GATEWAY.into_response())
}
