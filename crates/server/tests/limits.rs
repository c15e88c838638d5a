//! Unpaid traffic cannot hurt paying users (contract §11): rate limits, the upload budget, body and header
//! deadlines, connections per client and the end of event streams, against the real connection loop
//! ([`mesh402_server::serve_app`]) on a socket. Raw TCP clients send exactly the bytes a test needs (a body that
//! never comes, half a request line); clients bind other loopback addresses (127.0.0.2, …) to be other clients.
//! Nothing here asserts a duration: deadlines are short so that the tests finish, and every wait is bounded
//! generously.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use mesh402_server::{AppState, Config, RawConfig, build_with_generator, serve_app};
use mesh402_testkit::buyer::dev_wallet_credential;
use mesh402_testkit::{FakeGenerator, disc_png};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any single step may take before the test fails (never reached when the server is right).
const PATIENCE: Duration = Duration::from_secs(30);

struct TestServer {
    url: String,
    address: SocketAddr,
    state: AppState,
    _data_dir: tempfile::TempDir,
}

async fn start(settings: RawConfig, generator: FakeGenerator) -> TestServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data_dir = tempfile::tempdir().unwrap();
    let config =
        Config::resolve(RawConfig { data_dir: Some(data_dir.path().to_path_buf()), workers: Some(1), ..settings })
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let url = format!("http://{address}");
    let state = build_with_generator(&config, url.clone(), Arc::new(generator)).await.unwrap();
    tokio::spawn(serve_app(listener, state.clone(), std::future::pending()));
    TestServer { url, address, state, _data_dir: data_dir }
}

fn body(radius: f32) -> Value {
    let png = disc_png(160, radius);
    json!({ "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)) })
}

impl TestServer {
    async fn post(&self, body: &Value, authorization: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new().post(format!("{}/api/l402/3d-model", self.url)).json(body);
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        request.send().await.unwrap()
    }

    async fn paid_credential(&self, body: &Value) -> String {
        dev_wallet_credential(&reqwest::Client::new(), &self.url, body).await
    }

    /// A TCP connection from `from` (a loopback address: another client).
    async fn connect_from(&self, from: &str) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        socket.connect(self.address).await.unwrap()
    }

    /// Waits until `condition` holds.
    async fn until(&self, what: &str, condition: impl Fn(&AppState) -> bool) {
        tokio::time::timeout(PATIENCE, async {
            while !condition(&self.state) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what}"));
    }
}

/// The head of a POST to the model endpoint that declares `length` bytes of body.
fn post_head(length: usize) -> String {
    format!(
        "POST /api/l402/3d-model HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: \
         {length}\r\n\r\n"
    )
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&received).into_owned()
}

/// The status, the headers (lower-cased) and the JSON body of a raw response.
fn parse_response(raw: &str) -> (u16, String, Value) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("a response: {raw:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn challenges_beyond_the_bucket_get_429_while_paid_requests_are_served() {
    let settings = RawConfig { challenges_per_minute: Some(1), challenge_burst: Some(2), ..RawConfig::default() };
    let server = start(settings, FakeGenerator::default()).await;
    let bought = body(50.0);
    let credential = server.paid_credential(&bought).await;
    assert_eq!(server.post(&body(40.0), None).await.status(), StatusCode::PAYMENT_REQUIRED, "the second token");

    let limited = server.post(&body(30.0), None).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["x-error-code"], "rate_limited");
    assert!(limited.headers().get("www-authenticate").is_none(), "no invoice for a limited request");
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let error: Value = limited.json().await.unwrap();
    assert_eq!(error["error"]["code"], "rate_limited");

    // The paid request is not counted and is served while the client's bucket is empty; so are its replays.
    for _ in 0..3 {
        let paid = server.post(&bought, Some(&credential)).await;
        assert_eq!(paid.status(), StatusCode::OK);
        assert!(paid.json::<Value>().await.unwrap()["modelUrl"].is_string());
    }
    // A credential that does not verify is no way around the limit.
    let forged = credential.replace(':', "00:");
    assert_eq!(server.post(&bought, Some(&forged)).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // Nor is a valid credential sent with another picture: that asks for a new challenge, and is counted.
    assert_eq!(server.post(&body(20.0), Some(&credential)).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client has its own bucket.
    let other = reqwest::Client::builder().local_address("127.0.0.2".parse().ok()).build().unwrap();
    let response = other.post(format!("{}/api/l402/3d-model", server.url)).json(&body(30.0)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
}

#[tokio::test]
async fn unpaid_requests_as_a_whole_have_a_bucket_that_spares_paid_requests_and_health_checks() {
    let settings = RawConfig { unpaid_requests_per_minute: Some(1), unpaid_burst: Some(3), ..RawConfig::default() };
    let server = start(settings, FakeGenerator::default()).await;
    let bought = body(50.0);
    let credential = server.paid_credential(&bought).await; // Two unpaid requests: the challenge and /dev/pay.
    let missing = format!("{}/models/{}.glb", server.url, "0".repeat(32));
    assert_eq!(reqwest::get(&missing).await.unwrap().status(), StatusCode::NOT_FOUND);
    let limited = reqwest::get(&missing).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get("retry-after").is_some());
    for _ in 0..5 {
        assert_eq!(reqwest::get(format!("{}/healthz", server.url)).await.unwrap().status(), StatusCode::OK);
    }
    let paid = server.post(&bought, Some(&credential)).await;
    assert_eq!(paid.status(), StatusCode::OK);
    let model_url = paid.json::<Value>().await.unwrap()["modelUrl"].as_str().unwrap().to_owned();
    let download = reqwest::Client::new().get(&model_url).header("Authorization", &credential).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK, "a request with a valid credential is never counted");
}

#[tokio::test]
async fn a_full_upload_budget_answers_503_before_the_body_is_read() {
    // 1 MiB bodies; 2 MiB in flight, of which 1 MiB for unpaid bodies; 1 MiB per client.
    let settings = RawConfig {
        max_body_bytes: Some(1 << 20),
        max_inflight_body_bytes: Some(2 << 20),
        max_inflight_body_bytes_per_client: Some(1 << 20),
        ..RawConfig::default()
    };
    let server = start(settings, FakeGenerator::default()).await;
    let bought = body(50.0);
    let credential = server.paid_credential(&bought).await;

    // A client declares 1,000,000 bytes, sends a few and stalls: the bytes stay reserved.
    let mut stalled = server.connect_from("127.0.0.1").await;
    stalled.write_all(post_head(1_000_000).as_bytes()).await.unwrap();
    stalled.write_all(b"{\"image\": \"data:image/png;base64,").await.unwrap();
    server.until("the stalled body is reserved", |state| state.limits.uploads.used() == 1_000_000).await;

    // The same client again: over its own cap. The body is never sent, and the answer still comes.
    let mut again = server.connect_from("127.0.0.1").await;
    again.write_all(post_head(100_000).as_bytes()).await.unwrap();
    let (status, head, error) = parse_response(&read_to_close(&mut again).await);
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("too_many_uploads")), "{head}");
    assert!(head.contains("\r\nretry-after: "), "{head}");

    // Another client: the unpaid share of the budget is full.
    let mut other = server.connect_from("127.0.0.2").await;
    other.write_all(post_head(100_000).as_bytes()).await.unwrap();
    let (status, head, error) = parse_response(&read_to_close(&mut other).await);
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("server_busy")), "{head}");
    assert!(head.contains("\r\nretry-after: ") && head.contains("x-error-code: server_busy"), "{head}");

    // A paid request uses the share kept for paid requests.
    assert_eq!(server.post(&bought, Some(&credential)).await.status(), StatusCode::OK);

    // The stalled client hangs up: its bytes are given back and unpaid uploads are taken again.
    drop(stalled);
    server.until("the reservation is given back", |state| state.limits.uploads.used() == 0).await;
    assert_eq!(server.post(&body(30.0), None).await.status(), StatusCode::PAYMENT_REQUIRED);
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_read() {
    let server =
        start(RawConfig { max_body_bytes: Some(1 << 20), ..RawConfig::default() }, FakeGenerator::default()).await;
    let mut stream = server.connect_from("127.0.0.1").await;
    stream.write_all(post_head(2 << 20).as_bytes()).await.unwrap();
    let (status, _, error) = parse_response(&read_to_close(&mut stream).await);
    assert_eq!((status, error["error"]["code"].as_str()), (413, Some("body_too_large")));
    assert_eq!(server.state.limits.uploads.used(), 0);
}

/// A client that writes its whole body before it reads (Python's `urllib` does): the server answers early, and
/// reads the rest of the body and throws it away (a lingering close), so that the client's writes all land and the
/// answer reaches it instead of a reset connection. 40 MiB is far more than the socket buffers hold.
#[tokio::test]
async fn a_client_that_sends_all_before_reading_gets_the_early_answer() {
    let server =
        start(RawConfig { max_body_bytes: Some(1 << 20), ..RawConfig::default() }, FakeGenerator::default()).await;
    let length = 40 << 20;
    let stream = server.connect_from("127.0.0.1").await;
    let (mut reader, mut writer) = stream.into_split();
    let sent = tokio::time::timeout(PATIENCE, async {
        writer.write_all(post_head(length).as_bytes()).await?;
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..length / chunk.len() {
            writer.write_all(&chunk).await?;
        }
        writer.flush().await
    })
    .await
    .expect("the writes end");
    assert!(sent.is_ok(), "the whole body was taken, not reset: {sent:?}");
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received)).await.expect("the answer comes").ok();
    let (status, _, error) = parse_response(&String::from_utf8_lossy(&received));
    assert_eq!((status, error["error"]["code"].as_str()), (413, Some("body_too_large")));
    assert_eq!(server.state.limits.uploads.used(), 0, "nothing of the refused body is reserved");
}

#[tokio::test]
async fn a_slow_body_gets_408_and_its_connection_is_closed() {
    let server =
        start(RawConfig { body_read_timeout_secs: Some(1), ..RawConfig::default() }, FakeGenerator::default()).await;
    let mut stream = server.connect_from("127.0.0.1").await;
    stream.write_all(post_head(50_000).as_bytes()).await.unwrap();
    stream.write_all(b"{\"image\": ").await.unwrap();
    let (status, head, error) = parse_response(&read_to_close(&mut stream).await);
    assert_eq!((status, error["error"]["code"].as_str()), (408, Some("body_timeout")), "{head}");
    server.until("the reservation is given back", |state| state.limits.uploads.used() == 0).await;
}

#[tokio::test]
async fn half_a_request_line_is_closed_after_the_header_timeout() {
    let server =
        start(RawConfig { header_read_timeout_secs: Some(1), ..RawConfig::default() }, FakeGenerator::default()).await;
    let mut half = server.connect_from("127.0.0.1").await;
    half.write_all(b"POST /api/l4").await.unwrap();
    let mut silent = server.connect_from("127.0.0.1").await;
    read_to_close(&mut half).await;
    read_to_close(&mut silent).await;
    // The server is still there.
    assert_eq!(reqwest::get(format!("{}/healthz", server.url)).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_beyond_the_per_client_cap_are_closed_at_once() {
    let server =
        start(RawConfig { max_connections_per_client: Some(2), ..RawConfig::default() }, FakeGenerator::default())
            .await;
    let first = server.connect_from("127.0.0.1").await;
    let _second = server.connect_from("127.0.0.1").await;
    // Accepting is asynchronous: the third is closed once the first two are counted.
    let mut third = server.connect_from("127.0.0.1").await;
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n").await.ok();
    assert_eq!(read_to_close(&mut third).await, "", "closed without an answer");
    let other = reqwest::Client::builder().local_address("127.0.0.3".parse().ok()).build().unwrap();
    assert_eq!(other.get(format!("{}/healthz", server.url)).send().await.unwrap().status(), StatusCode::OK);
    drop(first);
    tokio::time::timeout(PATIENCE, async {
        loop {
            let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
            if let Ok(response) = client.get(format!("{}/healthz", server.url)).send().await
                && response.status() == StatusCode::OK
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a slot is free again once a connection closes");
}

/// A number read from a `/proc` file (`None` where there is no such file).
fn proc_number(path: &str, line_prefix: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|line| line.starts_with(line_prefix))?;
    line[line_prefix.len()..].split_whitespace().next()?.parse().ok()
}

/// A burst of clients arriving while the server is busy elsewhere (here: not accepting at all) waits in the
/// kernel's accept queue and is served once the server gets to it, instead of having its handshakes dropped: the
/// listener asks for the machine's largest queue, not tokio's default of 1,024 (10,000 paid requests sent at once
/// timed out by the thousand with that).
#[tokio::test]
async fn a_burst_of_connections_waits_in_the_accept_queue_until_it_is_served() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let queue_cap = proc_number("/proc/sys/net/core/somaxconn", "").unwrap_or(4096);
    let descriptors = proc_number("/proc/self/limits", "Max open files").unwrap_or(1024);
    // Both ends of every connection live in this process.
    let burst = 3000.min(queue_cap - 8).min(descriptors.saturating_sub(200) / 2);
    assert!(
        burst > 1500,
        "this machine allows only {burst} connections here (somaxconn {queue_cap}, {descriptors} descriptors): \
         raise `ulimit -n` for the test to tell a 1,024 queue from a larger one"
    );
    let data_dir = tempfile::tempdir().unwrap();
    let config = Config::resolve(RawConfig {
        data_dir: Some(data_dir.path().to_path_buf()),
        workers: Some(1),
        max_connections_per_client: Some(2 * burst),
        ..RawConfig::default()
    })
    .unwrap();
    let listener = mesh402_server::bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = listener.local_addr().unwrap();
    let state =
        build_with_generator(&config, format!("http://{address}"), Arc::new(FakeGenerator::default())).await.unwrap();

    // Nothing accepts yet: every handshake the kernel completes sits in the queue.
    let connecting = (0..burst).map(|_| {
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(address)).await.ok().and_then(Result::ok)
        })
    });
    let mut streams = Vec::new();
    for connection in connecting.collect::<Vec<_>>() {
        streams.extend(connection.await.unwrap());
    }
    assert_eq!(streams.len(), burst, "every connection of the burst is established before the server accepts");

    tokio::spawn(serve_app(listener, state, std::future::pending()));
    let answers = streams.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await.unwrap();
            read_to_close(&mut stream).await
        })
    });
    let mut answered = 0;
    for answer in answers.collect::<Vec<_>>() {
        let raw = answer.await.unwrap();
        answered += usize::from(raw.starts_with("HTTP/1.1 200"));
    }
    assert_eq!(answered, burst, "every queued connection is answered once the server accepts");
}

/// Reads an event stream to its end and returns the last event's name and data.
async fn last_event(events_url: &str, credential: &str) -> (String, Value) {
    let events = reqwest::Client::new().get(events_url).header("Authorization", credential).send().await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let text = tokio::time::timeout(PATIENCE, events.text()).await.expect("the stream ends").unwrap();
    let name = text.lines().rev().find_map(|line| line.strip_prefix("event: ")).unwrap().to_owned();
    let data = text.lines().rev().find_map(|line| line.strip_prefix("data: ")).unwrap();
    (name, serde_json::from_str(data).unwrap())
}

#[tokio::test]
async fn the_event_stream_ends_after_its_limits_while_the_job_goes_on() {
    for (settings, reason) in [
        (RawConfig { events_max_secs: Some(1), ..RawConfig::default() }, "max_duration"),
        (RawConfig { events_idle_timeout_secs: Some(1), ..RawConfig::default() }, "idle"),
    ] {
        // Each stage takes longer than the stream may stay open or idle.
        let server = start(settings, FakeGenerator::slow(Duration::from_secs(3))).await;
        let bought = body(50.0);
        let credential = server.paid_credential(&bought).await;
        let accepted = reqwest::Client::new()
            .post(format!("{}/api/l402/3d-model", server.url))
            .header("Authorization", &credential)
            .header("Prefer", "respond-async")
            .json(&bought)
            .send()
            .await
            .unwrap();
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
        let accepted: Value = accepted.json().await.unwrap();
        let (name, data) = last_event(accepted["events_url"].as_str().unwrap(), &credential).await;
        assert_eq!(name, "timeout");
        assert_eq!(data["reason"], reason);
        assert_eq!(data["status_url"], accepted["status_url"]);
        let status_url = accepted["status_url"].as_str().unwrap();
        let status = mesh402_testkit::buyer::job_status(&reqwest::Client::new(), status_url, &credential).await;
        assert!(status["state"] == "running" || status["state"] == "queued", "the job goes on: {status}");
    }
}
