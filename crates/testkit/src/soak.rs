//! A soak of the real binary: mixed traffic for a while — unpaid challenges, quotes, paid requests that wait for
//! their models, paid requests answered at once and followed through their event streams, downloads, paid jobs
//! that fail and are refunded — with the server killed (`SIGKILL`) and started again on the same data directory
//! at intervals. Every sampling interval it reads the server's resident memory and open descriptors from `/proc`,
//! the p99 latency of each kind of request, and where every paid job stands.
//!
//! A client that meets a restart (a refused connection, a `503`, an answer cut off) sends the same request again
//! with the same credential: paid work must survive it. At the end every paid job must have been delivered or
//! refunded, and memory and descriptors must have stopped growing over the last run of the server (see
//! [`SoakReport::problems`]; latencies are reported, not judged).
//!
//! The long run is `cargo run --release -p mesh402 --example soak`; a short one runs in the test suite.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::ServerProcess;
use crate::buyer::UNPAID_LIMITS_OFF;
use crate::proc_status::resident_kib;

/// What a soak runs.
#[derive(Debug, Clone)]
pub struct SoakSettings {
    /// The `mesh402` binary.
    pub binary: PathBuf,
    /// How long the traffic runs.
    pub duration: Duration,
    /// How often the server is sampled.
    pub sample_every: Duration,
    /// How often the server is killed and started again (never when `None`).
    pub restart_every: Option<Duration>,
    /// Clients sending unpaid requests (challenges and quotes) without pause.
    pub unpaid_clients: usize,
    /// How much the server's memory may grow (MB, besides a tenth) over the second half of its last run before
    /// the report calls it growth: a process that has run for minutes is at its working size, one that has run for
    /// seconds may still be filling its allocator's arenas.
    pub memory_slack_mb: u64,
    /// Clients buying models one after another (waiting, answered at once with events, and failed-then-refunded,
    /// in turn).
    pub paying_clients: usize,
}

/// The kinds of request whose latency is sampled.
pub const ROUTES: [&str; 7] = ["challenge", "quote", "paid_wait", "paid_async", "events", "download", "refund"];

/// One sampling interval.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the traffic started, at the end of the interval.
    pub at_secs: u64,
    /// Which run of the server this is (0 before the first restart, 1 after it, …).
    pub run: u32,
    /// The server's resident memory (kB).
    pub rss_kib: u64,
    /// Its open file descriptors.
    pub fds: usize,
    /// Requests answered in the interval, per route.
    pub requests: BTreeMap<&'static str, usize>,
    /// Their p99 latency (ms), per route.
    pub p99_ms: BTreeMap<&'static str, f64>,
    /// Paid jobs so far.
    pub paid: u64,
    /// Of those, delivered so far.
    pub delivered: u64,
    /// Of those, refunded so far.
    pub refunded: u64,
    /// Requests that got an answer the soak did not expect, so far.
    pub unexpected: u64,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// Each interval, in order, then the tail: the clients finishing the jobs they were on after the traffic
    /// stopped.
    pub samples: Vec<Sample>,
    /// How often the server was killed and started again.
    pub restarts: u32,
    /// Paid jobs neither delivered nor refunded when the traffic stopped (after the last ones were given time to
    /// finish).
    pub unfinished: u64,
    /// Payments the development wallet made whose answer (the preimage) a restart cut off: the buyer cannot use
    /// them, as with any wallet that dies while answering; not counted as paid jobs.
    pub unanswered_payments: u64,
    /// The first few unexpected answers, for the report.
    pub unexpected_examples: Vec<String>,
    /// The settings' memory slack (MB).
    pub memory_slack_mb: u64,
}

impl SoakReport {
    /// The run as a Markdown table.
    pub fn table(&self) -> String {
        let mut out = String::from("| s | run | RSS MB | fds | paid | delivered | refunded | unexpected |");
        for route in ROUTES {
            out.push_str(&format!(" {route} n / p99 ms |"));
        }
        out.push_str("\n|---|---|---|---|---|---|---|---|");
        out.push_str(&"---|".repeat(ROUTES.len()));
        out.push('\n');
        for s in &self.samples {
            out.push_str(&format!(
                "| {} | {} | {:.1} | {} | {} | {} | {} | {} |",
                s.at_secs,
                s.run,
                s.rss_kib as f64 / 1024.0,
                s.fds,
                s.paid,
                s.delivered,
                s.refunded,
                s.unexpected
            ));
            for route in ROUTES {
                let n = s.requests.get(route).copied().unwrap_or(0);
                match s.p99_ms.get(route) {
                    Some(p99) => out.push_str(&format!(" {n} / {p99:.0} |")),
                    None => out.push_str(" 0 / – |"),
                }
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "\nrestarts: {}, unfinished paid jobs: {}, payments whose answer a restart cut off: {}\n",
            self.restarts, self.unfinished, self.unanswered_payments
        ));
        out
    }

    /// What went wrong: a paid job neither delivered nor refunded, an unexpected answer, or memory or descriptors
    /// still growing at the end. Growth is judged over the second half of the last run of the server (a restart
    /// starts from nothing, and a new process first grows to its working size): from the sample in its middle to
    /// its last, memory may grow by a tenth and the settings' slack, descriptors by 16.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self.unexpected_examples.iter().map(|e| format!("unexpected: {e}")).collect();
        if self.unfinished > 0 {
            problems.push(format!("{} paid jobs were neither delivered nor refunded", self.unfinished));
        }
        // The last sample is the tail after the traffic stopped (the clients finishing their jobs): not an interval.
        let intervals = &self.samples[..self.samples.len().saturating_sub(1)];
        let last_run = intervals.last().map_or(0, |s| s.run);
        let samples: Vec<&Sample> = intervals.iter().filter(|s| s.run == last_run).collect();
        if samples.len() >= 3 {
            let (middle, last) = (samples[samples.len() / 2], samples[samples.len() - 1]);
            if last.rss_kib > middle.rss_kib + middle.rss_kib / 10 + self.memory_slack_mb * 1024 {
                problems.push(format!("memory grew from {} to {} kB", middle.rss_kib, last.rss_kib));
            }
            if last.fds > middle.fds + 16 {
                problems.push(format!("descriptors grew from {} to {}", middle.fds, last.fds));
            }
        } else {
            problems.push("too few samples after the last restart to judge growth".into());
        }
        if self.samples.last().is_some_and(|s| s.delivered == 0 || s.refunded == 0) {
            problems.push("no model was delivered or no refund was paid: the soak did not exercise them".into());
        }
        problems
    }
}

/// The state the clients share: where the server is now, the latencies of the current interval, the counts.
struct Shared {
    url: RwLock<String>,
    stop: AtomicBool,
    latencies: Mutex<BTreeMap<&'static str, Vec<f64>>>,
    paid: AtomicU64,
    delivered: AtomicU64,
    refunded: AtomicU64,
    unexpected: AtomicU64,
    unanswered_payments: AtomicU64,
    unexpected_examples: Mutex<Vec<String>>,
    colours: AtomicU64,
}

impl Shared {
    fn url(&self) -> String {
        self.url.read().map(|url| url.clone()).unwrap_or_default()
    }

    fn record(&self, route: &'static str, started: Instant) {
        if let Ok(mut latencies) = self.latencies.lock() {
            latencies.entry(route).or_default().push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }

    fn unexpected(&self, what: String) {
        self.unexpected.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut examples) = self.unexpected_examples.lock()
            && examples.len() < 10
        {
            examples.push(what);
        }
    }

    /// A picture no other request of this run has sent (so a new payment and a new job).
    fn next_body(&self) -> Value {
        let n = self.colours.fetch_add(1, Ordering::SeqCst);
        crate::buyer::disc_body([(n % 251) as u8, ((n / 251) % 251) as u8, (40 + n % 7) as u8], 96)
    }
}

/// How long a paying client keeps trying one step through restarts before it counts the job as lost.
const STEP_DEADLINE: Duration = Duration::from_secs(120);
/// The pause between tries while the server is away.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Runs the soak and returns its report. The server is started here on a fresh data directory, with the unpaid
/// rate limits lifted (all the clients share one address).
pub async fn run(settings: SoakSettings) -> SoakReport {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let args: Vec<&str> = UNPAID_LIMITS_OFF.to_vec();
    let start = |binary: PathBuf, data_dir: PathBuf, args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ServerProcess::start_in(&binary, &data_dir, &args)
        })
    };
    let owned_args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let mut server =
        start(settings.binary.clone(), dir.path().to_path_buf(), owned_args.clone()).await.expect("the server starts");
    let shared = Arc::new(Shared {
        url: RwLock::new(server.url.clone()),
        stop: AtomicBool::new(false),
        latencies: Mutex::new(BTreeMap::new()),
        paid: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        refunded: AtomicU64::new(0),
        unexpected: AtomicU64::new(0),
        unanswered_payments: AtomicU64::new(0),
        unexpected_examples: Mutex::new(Vec::new()),
        colours: AtomicU64::new(1),
    });
    let client = Client::builder().timeout(Duration::from_secs(180)).build().expect("an HTTP client");
    let mut tasks = Vec::new();
    for i in 0..settings.unpaid_clients {
        tasks.push(tokio::spawn(unpaid_client(client.clone(), shared.clone(), i)));
    }
    for i in 0..settings.paying_clients {
        tasks.push(tokio::spawn(paying_client(client.clone(), shared.clone(), i)));
    }

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut restarts = 0;
    let mut last_restart = Instant::now();
    // Samples on a fixed schedule from the start, whatever a restart takes.
    let mut next_sample = started;
    while started.elapsed() < settings.duration {
        next_sample += settings.sample_every;
        tokio::time::sleep_until(next_sample.into()).await;
        let pid = server.child.id();
        samples.push(sample(&shared, pid, started, restarts));
        if settings.restart_every.is_some_and(|every| last_restart.elapsed() >= every)
            && started.elapsed() + settings.sample_every < settings.duration
        {
            // kill -9, then the same data directory again (on a new port: the clients follow `url`).
            drop(server);
            server = start(settings.binary.clone(), dir.path().to_path_buf(), owned_args.clone())
                .await
                .expect("the server starts again");
            if let Ok(mut url) = shared.url.write() {
                *url = server.url.clone();
            }
            restarts += 1;
            last_restart = Instant::now();
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    // The clients finish the job they are on (each step has its own deadline).
    for task in tasks {
        let _ = task.await;
    }
    samples.push(sample(&shared, server.child.id(), started, restarts));
    let paid = shared.paid.load(Ordering::SeqCst);
    let finished = shared.delivered.load(Ordering::SeqCst) + shared.refunded.load(Ordering::SeqCst);
    let unexpected_examples = shared.unexpected_examples.lock().map(|e| e.clone()).unwrap_or_default();
    SoakReport {
        samples,
        restarts,
        unfinished: paid.saturating_sub(finished),
        unanswered_payments: shared.unanswered_payments.load(Ordering::SeqCst),
        unexpected_examples,
        memory_slack_mb: settings.memory_slack_mb,
    }
}

fn sample(shared: &Shared, pid: u32, started: Instant, run: u32) -> Sample {
    let latencies = shared.latencies.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default();
    let mut requests = BTreeMap::new();
    let mut p99_ms = BTreeMap::new();
    for (route, mut times) in latencies {
        times.sort_by(f64::total_cmp);
        requests.insert(route, times.len());
        let index = ((times.len() as f64 * 0.99).ceil() as usize).clamp(1, times.len()) - 1;
        p99_ms.insert(route, times[index]);
    }
    Sample {
        at_secs: started.elapsed().as_secs(),
        run,
        rss_kib: resident_kib(pid),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0),
        requests,
        p99_ms,
        paid: shared.paid.load(Ordering::SeqCst),
        delivered: shared.delivered.load(Ordering::SeqCst),
        refunded: shared.refunded.load(Ordering::SeqCst),
        unexpected: shared.unexpected.load(Ordering::SeqCst),
    }
}

/// Whether an answer means the server is away or restarting (try again) rather than a fault.
fn server_away(result: &Result<reqwest::Response, reqwest::Error>) -> bool {
    match result {
        Err(error) => error.is_connect() || error.is_request() || error.is_body() || error.is_timeout(),
        Ok(response) => response.status() == StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Challenges and quotes, alternately, until the soak stops.
async fn unpaid_client(client: Client, shared: Arc<Shared>, seed: usize) {
    let body = crate::buyer::disc_body([200, (seed % 200) as u8, 90], 96);
    let mut turn = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        turn += 1;
        let (route, path, expected) = if turn.is_multiple_of(2) {
            ("quote", "/api/l402/quote", StatusCode::OK)
        } else {
            ("challenge", "/api/l402/3d-model", StatusCode::PAYMENT_REQUIRED)
        };
        let started = Instant::now();
        let answer = client.post(format!("{}{path}", shared.url())).json(&body).send().await;
        if server_away(&answer) {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        }
        match answer {
            Ok(response) if response.status() == expected => {
                let _ = response.bytes().await;
                shared.record(route, started);
            }
            Ok(response) => shared.unexpected(format!("{route}: {}", response.status())),
            Err(error) => shared.unexpected(format!("{route}: {error}")),
        }
    }
}

/// Buys models one after another, in three ways in turn, until the soak stops.
async fn paying_client(client: Client, shared: Arc<Shared>, seed: usize) {
    let mut turn = seed as u64;
    while !shared.stop.load(Ordering::SeqCst) {
        turn += 1;
        let outcome = match turn % 3 {
            0 => buy_waiting(&client, &shared).await,
            1 => buy_async(&client, &shared).await,
            _ => buy_refused_and_refunded(&client, &shared).await,
        };
        if let Err(what) = outcome {
            shared.unexpected(what);
        }
    }
}

/// An answer read whole.
struct Answer {
    status: StatusCode,
    body: bytes::Bytes,
    /// Whether the request had to be sent more than once (the server was away, or its answer was cut).
    retried: bool,
}

impl Answer {
    fn json(&self, what: &str) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|error| format!("{what}: {}: not JSON ({error})", self.status))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).chars().take(300).collect()
    }
}

/// `send` until a server that is up answers it whole, within [`STEP_DEADLINE`]: a refused connection, a `503` and
/// an answer cut off (the server killed while sending it) are all the restart, and the request is sent again
/// (every request here can be: the same credential buys the same job).
async fn patiently<F, Fut>(shared: &Shared, what: &str, send: F) -> Result<Answer, String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let deadline = Instant::now() + STEP_DEADLINE;
    let mut retried = false;
    loop {
        let answer = send(shared.url()).await;
        if !server_away(&answer) {
            let response = answer.map_err(|error| format!("{what}: {error}"))?;
            let status = response.status();
            if let Ok(body) = response.bytes().await {
                return Ok(Answer { status, body, retried });
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: the server stayed away for {} s", STEP_DEADLINE.as_secs()));
        }
        retried = true;
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// The challenge of `body`, paid through the development wallet: the `Authorization` value, or `None` when the
/// wallet paid but its answer (the preimage) was lost to a restart: the invoice then reads as paid and the
/// preimage is gone, as with any wallet that dies while answering; that payment is counted apart.
async fn pay_for(client: &Client, shared: &Shared, body: &Value) -> Result<Option<String>, String> {
    let started = Instant::now();
    let challenge =
        patiently(shared, "challenge", |url| client.post(format!("{url}/api/l402/3d-model")).json(body).send()).await?;
    if challenge.status != StatusCode::PAYMENT_REQUIRED {
        return Err(format!("challenge: {}: {}", challenge.status, challenge.text()));
    }
    let challenge = challenge.json("challenge")?;
    shared.record("challenge", started);
    let (Some(macaroon), Some(invoice)) = (challenge["macaroon"].as_str(), challenge["invoice"].as_str()) else {
        return Err(format!("challenge without macaroon or invoice: {challenge}"));
    };
    let paid = patiently(shared, "dev pay", |url| {
        client.post(format!("{url}/dev/pay")).json(&json!({ "invoice": invoice })).send()
    })
    .await?;
    if paid.retried && paid.status.is_client_error() && paid.json("dev pay")?["error"]["code"] == "invoice_already_paid"
    {
        shared.unanswered_payments.fetch_add(1, Ordering::SeqCst);
        return Ok(None);
    }
    if paid.status != StatusCode::OK {
        return Err(format!("dev pay: {}: {}", paid.status, paid.text()));
    }
    let preimage = paid.json("dev pay")?["preimage"].as_str().map(str::to_owned);
    let preimage = preimage.ok_or("dev pay: no preimage")?;
    shared.paid.fetch_add(1, Ordering::SeqCst);
    Ok(Some(format!("L402 {macaroon}:{preimage}")))
}

/// Downloads a model file (by its path on the server that is up now: a restart moves the port).
async fn download(client: &Client, shared: &Shared, model_url: &str) -> Result<(), String> {
    let path = model_url.find("/models/").map(|at| &model_url[at..]).ok_or(format!("odd model URL {model_url}"))?;
    let started = Instant::now();
    let file = patiently(shared, "download", |url| client.get(format!("{url}{path}")).send()).await?;
    if file.status != StatusCode::OK {
        return Err(format!("download: {}", file.status));
    }
    if file.body.len() < 12 || &file.body[..4] != b"glTF" {
        return Err(format!("download: {} bytes, not a GLB", file.body.len()));
    }
    shared.record("download", started);
    Ok(())
}

/// A paid request that waits for its model; the same credential again after a restart.
async fn buy_waiting(client: &Client, shared: &Shared) -> Result<(), String> {
    let body = shared.next_body();
    let Some(authorization) = pay_for(client, shared, &body).await? else { return Ok(()) };
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        let started = Instant::now();
        let answer = patiently(shared, "paid request", |url| {
            client.post(format!("{url}/api/l402/3d-model")).header("Authorization", &authorization).json(&body).send()
        })
        .await?;
        match answer.status {
            StatusCode::OK => {
                let answer = answer.json("paid request")?;
                shared.record("paid_wait", started);
                let model_url = answer["modelUrl"].as_str().ok_or(format!("no modelUrl: {answer}"))?;
                download(client, shared, model_url).await?;
                shared.delivered.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            // Still running when the server's wait ended: ask again.
            StatusCode::ACCEPTED if Instant::now() < deadline => tokio::time::sleep(RETRY_PAUSE).await,
            status => return Err(format!("paid request: {status}: {}", answer.text())),
        }
    }
}

/// A paid request answered at once (`Prefer: respond-async`), followed through its event stream to the end.
async fn buy_async(client: &Client, shared: &Shared) -> Result<(), String> {
    let body = shared.next_body();
    let Some(authorization) = pay_for(client, shared, &body).await? else { return Ok(()) };
    let started = Instant::now();
    let accepted = patiently(shared, "async request", |url| {
        client
            .post(format!("{url}/api/l402/3d-model"))
            .header("Authorization", &authorization)
            .header("Prefer", "respond-async")
            .json(&body)
            .send()
    })
    .await?;
    let status = accepted.status;
    let accepted = accepted.json("async request")?;
    if status != StatusCode::ACCEPTED && status != StatusCode::OK {
        return Err(format!("async request: {status}: {accepted}"));
    }
    shared.record("paid_async", started);
    let job_id = accepted["job_id"].as_str().ok_or(format!("no job_id: {accepted}"))?.to_owned();
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        // The stream ends with the job; a restart cuts it, and then it is opened again.
        let started = Instant::now();
        let events = patiently(shared, "events", |url| {
            client.get(format!("{url}/api/l402/jobs/{job_id}/events")).header("Authorization", &authorization).send()
        })
        .await?;
        if events.status != StatusCode::OK {
            return Err(format!("events: {}: {}", events.status, events.text()));
        }
        let text = String::from_utf8_lossy(&events.body).into_owned();
        if let Some(last) = text.lines().rev().find_map(|line| line.strip_prefix("data: "))
            && text.contains("event: done")
        {
            shared.record("events", started);
            let last: Value = serde_json::from_str(last).map_err(|error| format!("events: {error}"))?;
            if last["state"] != "succeeded" {
                return Err(format!("async job ended {last}"));
            }
            let model_url = last["modelUrl"].as_str().ok_or(format!("no modelUrl: {last}"))?;
            download(client, shared, model_url).await?;
            shared.delivered.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("events: job {job_id} not done in {} s", STEP_DEADLINE.as_secs()));
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// A blank picture over two megapixels: it passes the unpaid checks (its structure is whole), and the paid
/// generation finds nothing in it, so the job fails after payment and offers its refund.
fn blank_large_body() -> Value {
    static BODY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        let image = image::GrayImage::from_pixel(2000, 1100, image::Luma([235]));
        let mut png = Vec::new();
        image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("a PNG in memory");
        json!({ "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)) })
    })
    .clone()
}

/// A paid job that fails for a real reason, and its refund claimed with an invoice of the development wallet.
async fn buy_refused_and_refunded(client: &Client, shared: &Shared) -> Result<(), String> {
    // The same picture every time: each payment is a job of its own.
    let body = blank_large_body();
    let Some(authorization) = pay_for(client, shared, &body).await? else { return Ok(()) };
    let failed = patiently(shared, "refused request", |url| {
        client.post(format!("{url}/api/l402/3d-model")).header("Authorization", &authorization).json(&body).send()
    })
    .await?;
    let status = failed.status;
    let failed = failed.json("refused request")?;
    if status != StatusCode::UNPROCESSABLE_ENTITY || failed["refund"]["state"] != "available" {
        return Err(format!("refused request: {status}: {failed}"));
    }
    let job_id = failed["job_id"].as_str().ok_or(format!("no job_id: {failed}"))?.to_owned();
    let amount_msat = failed["refund"]["amount_msat"].as_u64().ok_or(format!("no amount: {failed}"))?;
    let invoice = patiently(shared, "dev invoice", |url| {
        client.post(format!("{url}/dev/invoice")).json(&json!({ "amount_sats": amount_msat.div_ceil(1000) })).send()
    })
    .await?
    .json("dev invoice")?;
    let bolt11 = invoice["invoice"].as_str().ok_or(format!("dev invoice: {invoice}"))?.to_owned();
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        let started = Instant::now();
        let claimed = patiently(shared, "refund", |url| {
            client
                .post(format!("{url}/api/l402/jobs/{job_id}/refund"))
                .header("Authorization", &authorization)
                .json(&json!({ "invoice": bolt11 }))
                .send()
        })
        .await?;
        let status = claimed.status;
        let claimed = claimed.json("refund")?;
        match (status, claimed["refund"]["state"].as_str()) {
            (StatusCode::OK, Some("paid")) => {
                shared.record("refund", started);
                shared.refunded.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            (StatusCode::ACCEPTED, _) if Instant::now() < deadline => tokio::time::sleep(RETRY_PAUSE).await,
            _ => return Err(format!("refund: {status}: {claimed}")),
        }
    }
}
