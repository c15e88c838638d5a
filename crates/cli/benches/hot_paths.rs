//! The two hot paths of the release binary, as a load generator sees them: unpaid challenges per second (a photo
//! without a credential → `402` with a fresh invoice and macaroon) and paid replays per second (one credential
//! presented again and again for the same photo → `200` with the finished model's URL). Challenges are measured
//! twice: for the same request again and again (its picture checked once, then recognised by its digest), and
//! with every request new (the `depth` option changes each time, so every picture is decoded and checked).
//!
//! One server with the default settings except the per-client rate limits (one load generator is one client);
//! `CONNECTIONS` keep-alive connections send an 18 KB PNG body as fast as they are answered for `SECONDS`
//! seconds per round; `ROUNDS` rounds per path, alternating. Reported per path: the median round's requests per
//! second, its p50 and p99 latency, and the server's peak RSS at the end. Run with
//! `cargo bench -p mesh402 --bench hot_paths`; `MESH402_BENCH_SERVER_ARGS` adds server arguments (for example
//! `--preflight-workers 2`) to compare settings, and `MESH402_BENCH_BINARY` names another build of `mesh402` (a
//! copy of an earlier commit's) to compare builds in one session.
//!
//! The load generator speaks HTTP/1.1 over plain sockets with the request bytes prepared once (for the series of
//! new requests, each is written out in the load generator, a copy of the body on the cores the server shares): an
//! HTTP client library costs tens of microseconds per request on the same two cores the server runs on, which would
//! be measured as the server's time (the figures this reproduces were taken with `wrk`, which is as lean).
//!
//! A bench binary, not divan: one sample is a round of thousands of HTTP requests against a process.

use std::time::{Duration, Instant};

use base64::Engine;
use mesh402_testkit::ServerProcess;
use mesh402_testkit::proc_status::peak_resident_kib;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Connections sending at once.
const CONNECTIONS: usize = 16;
/// Length of one round.
const SECONDS: u64 = 8;
/// Measured rounds per path.
const ROUNDS: usize = 5;

fn binary() -> std::path::PathBuf {
    std::env::var_os("MESH402_BENCH_BINARY").map_or_else(|| env!("CARGO_BIN_EXE_mesh402").into(), Into::into)
}

/// A photo-like PNG of about 18 KB: a shaded disc with a little texture on a transparent background.
fn photo_png() -> Vec<u8> {
    let side = 196u32;
    let centre = side as f32 / 2.0;
    let image = image::RgbaImage::from_fn(side, side, |x, y| {
        let (dx, dy) = (x as f32 - centre, y as f32 - centre);
        let r = (dx * dx + dy * dy).sqrt();
        if r > side as f32 * 0.4 {
            return image::Rgba([0, 0, 0, 0]);
        }
        // Grain in 8 px cells: about as compressible as a small product photo.
        let grain = (((x / 8).wrapping_mul(73_856_093) ^ (y / 8).wrapping_mul(19_349_663)) % 9) as u8;
        let shade = (220.0 - r * 0.9) as u8;
        image::Rgba([shade.saturating_add(grain), shade / 2 + grain, 40 + grain, 255])
    });
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("a PNG in memory");
    png
}

/// The whole HTTP/1.1 request, head and body, sent as is on every turn.
fn request_bytes(host: &str, body: &[u8], authorization: Option<&str>) -> Vec<u8> {
    let mut head = format!(
        "POST /api/l402/3d-model HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(authorization) = authorization {
        head.push_str(&format!("Authorization: {authorization}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// How many requests every connection together has sent.
static REQUESTS_SENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What a connection sends: the same request bytes each time, or a new request each time.
#[derive(Clone)]
enum Load {
    Same(Vec<u8>),
    /// The host and the body: each request puts a `depth` option of its own in front of the body's fields.
    NewEachTime {
        host: String,
        body: Vec<u8>,
    },
}

impl Load {
    /// The `n`th request's bytes.
    fn request(&self, n: usize) -> std::borrow::Cow<'_, [u8]> {
        match self {
            Load::Same(bytes) => bytes.into(),
            Load::NewEachTime { host, body } => {
                let mut varied = format!("{{\"depth\":{:.7},", 0.5 + n as f64 * 1e-7).into_bytes();
                varied.extend_from_slice(&body[1..]);
                request_bytes(host, &varied, None).into()
            }
        }
    }
}

/// Sends `load`'s requests on one keep-alive connection until `until`; returns each answer's latency. Every answer
/// must have status `expected`.
async fn connection(address: String, load: Load, expected: u16, until: Instant) -> Vec<Duration> {
    let stream = TcpStream::connect(&address).await.expect("the server accepts");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::with_capacity(64 << 10, read);
    let mut latencies = Vec::new();
    let mut line = String::new();
    let mut body = Vec::new();
    while Instant::now() < until {
        // Numbered across connections and rounds, so that no new request is ever sent twice.
        let request = load.request(REQUESTS_SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let sent = Instant::now();
        write.write_all(&request).await.expect("the request is sent");
        line.clear();
        read.read_line(&mut line).await.expect("a status line");
        let status: u16 = line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("a status");
        assert_eq!(status, expected, "{line}");
        let mut length = 0usize;
        loop {
            line.clear();
            read.read_line(&mut line).await.expect("a header line");
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("a length");
            }
        }
        body.resize(length, 0);
        read.read_exact(&mut body).await.expect("the body");
        latencies.push(sent.elapsed());
    }
    latencies
}

/// One round: requests per second, p50 and p99.
struct Round {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

async fn round(address: &str, load: &Load, expected: u16) -> Round {
    let started = Instant::now();
    let until = started + Duration::from_secs(SECONDS);
    let mut connections = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        connections.spawn(connection(address.to_owned(), load.clone(), expected, until));
    }
    let mut latencies: Vec<Duration> = connections.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Round { rate: latencies.len() as f64 / elapsed.as_secs_f64(), p50: at(0.50), p99: at(0.99) }
}

fn report(name: &str, mut rounds: Vec<Round>) {
    let all: Vec<String> = rounds.iter().map(|round| format!("{:.0}", round.rate)).collect();
    rounds.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let median = &rounds[rounds.len() / 2];
    println!(
        "  {name}: median {:.0}/s (p50 {:.2} ms, p99 {:.2} ms) over {ROUNDS} rounds of {SECONDS} s ({})",
        median.rate,
        median.p50.as_secs_f64() * 1e3,
        median.p99.as_secs_f64() * 1e3,
        all.join(", ")
    );
}

#[tokio::main]
async fn main() {
    let extra = std::env::var("MESH402_BENCH_SERVER_ARGS").unwrap_or_default();
    let mut args = mesh402_testkit::buyer::UNPAID_LIMITS_OFF.to_vec();
    args.extend(["--max-connections-per-client", "1000"]);
    args.extend(extra.split_whitespace());
    let server = ServerProcess::start(&binary(), &args);
    let png = photo_png();
    let body = serde_json::json!({
        "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&png))
    });
    let body_bytes = serde_json::to_vec(&body).expect("JSON");
    let address = server.url.trim_start_matches("http://").to_owned();

    // Pay once and wait for the model: from then on the credential replays to the finished model.
    let client = reqwest::Client::new();
    let authorization = mesh402_testkit::buyer::dev_wallet_credential(&client, &server.url, &body).await;
    let first = client
        .post(format!("{}/api/l402/3d-model", server.url))
        .header("authorization", &authorization)
        .json(&body)
        .send()
        .await
        .expect("the paid request is answered");
    assert_eq!(first.status(), reqwest::StatusCode::OK, "{:?}", first.text().await);

    let unpaid = Load::Same(request_bytes(&address, &body_bytes, None));
    let new_each_time = Load::NewEachTime { host: address.clone(), body: body_bytes.clone() };
    let paid = Load::Same(request_bytes(&address, &body_bytes, Some(&authorization)));
    // One short unmeasured round each warms the caches.
    round(&address, &unpaid, 402).await;
    round(&address, &paid, 200).await;
    let (mut challenges, mut new_challenges, mut replays) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        challenges.push(round(&address, &unpaid, 402).await);
        new_challenges.push(round(&address, &new_each_time, 402).await);
        replays.push(round(&address, &paid, 200).await);
    }
    println!(
        "hot paths: {} byte PNG in a {} byte body, {CONNECTIONS} keep-alive connections, server arguments {:?}",
        png.len(),
        body_bytes.len(),
        extra
    );
    report("unpaid challenges, same request", challenges);
    report("unpaid challenges, each new    ", new_challenges);
    report("paid replays                   ", replays);
    println!("  server peak RSS {} MB", peak_resident_kib(server.child.id()) / 1024);
}
