//! Measures what unpaid traffic does to a running server (issue 11). Not a test: it prints figures.
//!
//! - `flood`: one client floods unpaid 12 MP challenges as fast as it can (8 connections) while another makes paid
//!   requests for small photos, one after the other; the paid requests' latency with and without the flood.
//! - `stall`: 500 connections each declare a 30 MB body, send half of it and stall; the server's memory, how fast
//!   `/healthz` answers meanwhile, and when the stalled connections are answered and closed.
//! - `headers`: 3,000 connections send half a request line; when they are closed.
//! - `rate`: challenges per second (and server CPU per challenge) at 128 px, 1 MP and 12 MP, 4 at a time.
//!
//! Clients bind other loopback addresses (127.0.x.y) to be different clients, as they are to the server's
//! per-client limits. Usage, in two terminals (the server needs file descriptors for 3,000 connections):
//!
//! ```sh
//! ulimit -n 8192; target/release/mesh402 serve --data-dir /tmp/mesh402-load
//! ulimit -n 8192; cargo run --release -p mesh402 --example unpaid_load -- http://127.0.0.1:8402 <server pid> all
//! ```
//!
//! `rate`, and `flood` to see the preflight pool on its own, are meant for a server started with
//! `--challenges-per-minute 0 --unpaid-requests-per-minute 0` as well; with the default limits most of a flood gets
//! `429 rate_limited`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use mesh402_testkit::buyer::dev_pay;
use mesh402_testkit::proc_status::{peak_resident_kib, resident_kib};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// A loopback address standing for client `n` of group `group`.
fn client(group: u8, n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, group, (n / 250) as u8, (n % 250 + 1) as u8))
}

fn http(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(from).build().expect("a client")
}

/// CPU time the server process has used (user + system).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state, ppid, …; utime and stime are the 12th and 13th fields (in ticks of 10 ms).
    let field = |index: usize| fields.get(index).and_then(|field| field.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    Duration::from_millis(ticks * 10)
}

/// A transparent PNG with one disc, as clients send for logos and cut-outs.
fn small_png(seed: u32, side: u32) -> Vec<u8> {
    let radius = side as f32 * (0.2 + (seed % 40) as f32 / 200.0);
    let centre = side as f32 / 2.0;
    let image = image::RgbaImage::from_fn(side, side, |x, y| {
        let inside = ((x as f32 - centre).powi(2) + (y as f32 - centre).powi(2)).sqrt() < radius;
        if inside { image::Rgba([(seed % 200) as u8, 80, 160, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).expect("a PNG");
    bytes
}

/// A photo-like JPEG: a shaded object on a textured background (so that it compresses like a photo).
fn photo_jpeg(width: u32, height: u32) -> Vec<u8> {
    let noise = |x: u32, y: u32| ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) % 23) as f32;
    let (cx, cy, rx, ry) = (width as f32 / 2.0, height as f32 / 2.0, width as f32 / 4.0, height as f32 / 3.0);
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let (dx, dy) = ((x as f32 - cx) / rx, (y as f32 - cy) / ry);
        let d = dx * dx + dy * dy;
        let n = noise(x, y);
        if d < 1.0 {
            let shade = 1.0 - 0.5 * d;
            image::Rgb([(200.0 * shade + n) as u8, (60.0 * shade + n) as u8, (40.0 * shade) as u8])
        } else {
            let g = 120.0 + 60.0 * y as f32 / height as f32;
            image::Rgb([(g + n) as u8, (g + n) as u8, (g - 10.0 + n) as u8])
        }
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 88).encode_image(&image).expect("a JPEG");
    bytes
}

fn request_body(bytes: &[u8], media_type: &str, target_faces: u32) -> Value {
    json!({
        "image": format!("data:{media_type};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)),
        "target_faces": target_faces,
    })
}

/// The `n`th of a series of new requests for the picture of `body` (a JSON object): a `depth` option of its own in
/// front of the body's fields. The server remembers the pictures that passed its check by their request's digest,
/// so the same request sent again would be checked by a lookup; an attacker, or a measure of the check, sends new
/// ones.
fn new_request(body: &[u8], n: usize) -> Vec<u8> {
    let mut bytes = format!("{{\"depth\":{:.7},", 0.5 + n as f64 * 1e-7).into_bytes();
    bytes.extend_from_slice(&body[1..]);
    bytes
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Probes `/healthz` every 100 ms and samples the server's RSS until `stop`; returns (max RSS KiB, latencies).
/// The probe has a thread and a runtime of its own, so that the load this tool makes on its main runtime (hundreds
/// of connections writing) does not delay the probe and count as the server's latency.
fn sampler(server: String, pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(u64, Vec<Duration>)> {
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(probe_health(server, pid, stop))
    })
}

async fn probe_health(server: String, pid: u32, stop: Arc<AtomicBool>) -> (u64, Vec<Duration>) {
    {
        let probe = reqwest::Client::builder()
            .local_address(client(0, 250))
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client");
        let (mut max_rss, mut latencies) = (0, Vec::new());
        while !stop.load(Ordering::Relaxed) {
            max_rss = max_rss.max(resident_kib(pid));
            let started = Instant::now();
            let ok = probe.get(format!("{server}/healthz")).send().await.is_ok_and(|r| r.status().is_success());
            latencies.push(if ok { started.elapsed() } else { Duration::from_secs(10) });
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        latencies.sort();
        (max_rss, latencies)
    }
}

fn report_health(what: &str, (max_rss, latencies): (u64, Vec<Duration>)) {
    println!(
        "  {what}: server RSS max {} MiB; /healthz {} probes, p50 {}, p99 {}, max {}",
        max_rss / 1024,
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
}

/// Buys `count` credentials for distinct small photos, each challenge from another address.
async fn buy(server: &str, count: u32, first_seed: u32) -> Vec<(Value, String)> {
    let mut bought = Vec::new();
    for seed in first_seed..first_seed + count {
        let body = request_body(&small_png(seed, 128), "image/png", 500 + seed);
        let buyer = http(client(1, seed as usize));
        let challenge: Value = buyer
            .post(format!("{server}/api/l402/3d-model"))
            .json(&body)
            .send()
            .await
            .expect("a challenge")
            .json()
            .await
            .expect("a JSON challenge");
        let invoice = challenge["invoice"].as_str().expect("an invoice");
        let preimage = dev_pay(&buyer, server, invoice).await;
        let macaroon = challenge["macaroon"].as_str().expect("a macaroon (is the dev wallet the backend?)");
        bought.push((body, format!("L402 {macaroon}:{preimage}")));
    }
    bought
}

/// Paid requests one after the other; their latencies, sorted.
async fn paid_latencies(server: &str, paid: Vec<(Value, String)>) -> Vec<Duration> {
    let buyer = http(Ipv4Addr::new(127, 0, 0, 2).into());
    let mut latencies = Vec::new();
    for (body, authorization) in paid {
        let started = Instant::now();
        let response = buyer
            .post(format!("{server}/api/l402/3d-model"))
            .header("Authorization", authorization)
            .json(&body)
            .send()
            .await
            .expect("a paid response");
        let status = response.status();
        let _ = response.bytes().await;
        assert_eq!(status, 200, "a paid request failed");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}

async fn flood(server: &str, pid: u32) {
    const PAID: u32 = 40;
    println!(
        "(a) paid requests for 128 px photos, {PAID} one after the other, without and with a flood of 12 MP challenges"
    );
    let calm = buy(server, PAID, 0).await;
    let busy = buy(server, PAID, PAID).await;
    let quiet = paid_latencies(server, calm).await;
    println!("  without flood: p50 {}, p99 {}", ms(percentile(&quiet, 0.5)), ms(percentile(&quiet, 0.99)));

    // Every flood request is a new one ([`new_request`]), as an attacker would send. The photo is leaked once, so
    // that each request copies it once.
    let photo: &'static [u8] = Box::leak(
        request_body(&photo_jpeg(4000, 3000), "image/jpeg", 20_000).to_string().into_bytes().into_boxed_slice(),
    );
    let sent_so_far = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let connections: usize = std::env::var("FLOOD_CONNECTIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(8);
    println!("  flood: {connections} connections, body {} MB", photo.len() / 1_000_000);
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(BTreeMap::<String, u32>::new()));
    let flooder = http(Ipv4Addr::new(127, 0, 0, 3).into());
    let mut flood_tasks = Vec::new();
    let started = Instant::now();
    let (server_cpu, own_cpu) = (cpu_time(pid), cpu_time(std::process::id()));
    for _ in 0..connections {
        let (stop, statuses, flooder, url, sent_so_far) = (
            stop.clone(),
            statuses.clone(),
            flooder.clone(),
            format!("{server}/api/l402/3d-model"),
            sent_so_far.clone(),
        );
        flood_tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let body = new_request(photo, sent_so_far.fetch_add(1, Ordering::Relaxed));
                let sent = flooder.post(&url).header("Content-Type", "application/json").body(body).send().await;
                let key = match sent {
                    Ok(response) => {
                        let status = response.status().as_u16().to_string();
                        let _ = response.bytes().await;
                        status
                    }
                    Err(_) => "connection closed".to_owned(),
                };
                *statuses.lock().await.entry(key).or_insert(0) += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = paid_latencies(server, busy).await;
    stop.store(true, Ordering::Relaxed);
    for task in flood_tasks {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (server_cpu, own_cpu) =
        (cpu_time(pid).saturating_sub(server_cpu), cpu_time(std::process::id()).saturating_sub(own_cpu));
    println!(
        "  CPU during the flood ({seconds:.1} s on 2 cores): server {:.1} s, this tool {:.1} s",
        server_cpu.as_secs_f64(),
        own_cpu.as_secs_f64()
    );
    println!("  with flood:    p50 {}, p99 {}", ms(percentile(&loaded, 0.5)), ms(percentile(&loaded, 0.99)));
    let statuses = statuses.lock().await;
    let total: u32 = statuses.values().sum();
    println!("  flood: {total} requests in {seconds:.1} s ({:.1}/s), answers {statuses:?}", f64::from(total) / seconds);
    println!(
        "  paid p99 with flood / without: {:.2}",
        percentile(&loaded, 0.99).as_secs_f64() / percentile(&quiet, 0.99).as_secs_f64()
    );
}

async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// Reads until the server closes; returns what it sent (up to its first line) and when it closed.
async fn until_closed(stream: &mut TcpStream, patience: Duration) -> (String, Option<Instant>) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::new(), None),
        }
    }
    let text = String::from_utf8_lossy(&received);
    let status = text.lines().next().and_then(|line| line.split(' ').nth(1)).unwrap_or("none").to_owned();
    (status, Some(Instant::now()))
}

async fn stall(server: &str, address: SocketAddr, pid: u32) {
    const CONNECTIONS: usize = 500;
    const DECLARED: usize = 30_000_000;
    println!("(b) {CONNECTIONS} connections each declaring {DECLARED} bytes, sending half and stalling");
    let stop = Arc::new(AtomicBool::new(false));
    let health = sampler(server.to_owned(), pid, stop.clone());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            let mut stream = connect_from(client(2, n / 2), address).await.ok()?;
            let head = format!(
                "POST /api/l402/3d-model HTTP/1.1\r\nHost: load\r\nContent-Type: application/json\r\n\
                 Content-Length: {DECLARED}\r\n\r\n{{\"image\": \"data:image/jpeg;base64,"
            );
            stream.write_all(head.as_bytes()).await.ok()?;
            let chunk = vec![b'A'; 64 * 1024];
            let mut sent = 0;
            while sent < DECLARED / 2 {
                if stream.write_all(&chunk).await.is_err() {
                    break;
                }
                sent += chunk.len();
            }
            let last_byte = Instant::now();
            let (status, closed) = until_closed(&mut stream, Duration::from_secs(300)).await;
            Some((status, sent, closed.map(|closed| (closed - started, closed - last_byte))))
        }));
    }
    let mut outcomes = BTreeMap::<String, Vec<(usize, Duration, Duration)>>::new();
    let mut failed = 0;
    for task in tasks {
        match task.await.ok().flatten() {
            Some((status, sent, Some((since_start, since_last)))) => {
                outcomes.entry(status).or_default().push((sent, since_start, since_last))
            }
            _ => failed += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for (status, closed) in &outcomes {
        let mut since_start: Vec<Duration> = closed.iter().map(|c| c.1).collect();
        since_start.sort();
        let most_sent = closed.iter().map(|c| c.0).max().unwrap_or(0);
        println!(
            "  answered {status} then closed: {} connections (most sent {} MB), closed {}..{} after the start",
            closed.len(),
            most_sent / 1_000_000,
            ms(since_start[0]),
            ms(*since_start.last().unwrap_or(&Duration::ZERO)),
        );
    }
    if failed > 0 {
        println!("  {failed} connections failed to connect or were not closed within 300 s");
    }
    report_health("during the stall", health.await.unwrap_or_default());
    println!("  server peak RSS (VmHWM) so far {} MiB", peak_resident_kib(pid) / 1024);
}

async fn half_lines(server: &str, address: SocketAddr, pid: u32) {
    const CONNECTIONS: usize = 3000;
    println!("(c) {CONNECTIONS} connections sending half a request line");
    let stop = Arc::new(AtomicBool::new(false));
    let health = sampler(server.to_owned(), pid, stop.clone());
    let mut tasks = Vec::new();
    for n in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            // 60 connections per address, under the default cap of 128 per client.
            let mut stream = connect_from(client(3, n / 60), address).await.ok()?;
            stream.write_all(b"POST /api/l402/3d-mo").await.ok()?;
            let sent = Instant::now();
            let (_, closed) = until_closed(&mut stream, Duration::from_secs(120)).await;
            closed.map(|closed| closed - sent)
        }));
    }
    let mut closed = Vec::new();
    for task in tasks {
        if let Ok(Some(after)) = task.await {
            closed.push(after);
        }
    }
    stop.store(true, Ordering::Relaxed);
    closed.sort();
    println!(
        "  closed by the server: {} of {CONNECTIONS}, after min {}, p50 {}, max {}",
        closed.len(),
        ms(percentile(&closed, 0.0)),
        ms(percentile(&closed, 0.5)),
        ms(closed.last().copied().unwrap_or_default()),
    );
    report_health("meanwhile", health.await.unwrap_or_default());
}

async fn rate(server: &str, pid: u32) {
    const CONCURRENCY: usize = 4;
    const SECONDS: u64 = 10;
    println!("(d) challenges per second, {CONCURRENCY} at a time for {SECONDS} s each, every request new");
    let sent_so_far = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sizes: [(&str, Value); 3] = [
        ("128 px PNG", request_body(&small_png(7, 128), "image/png", 5000)),
        ("1 MP JPEG", request_body(&photo_jpeg(1152, 864), "image/jpeg", 5000)),
        ("12 MP JPEG", request_body(&photo_jpeg(4000, 3000), "image/jpeg", 5000)),
    ];
    for (group, (name, body)) in sizes.into_iter().enumerate() {
        let body = Arc::new(body.to_string());
        let cpu_before = cpu_time(pid);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..CONCURRENCY {
            let (body, url, sent_so_far) = (body.clone(), format!("{server}/api/l402/3d-model"), sent_so_far.clone());
            tasks.push(tokio::spawn(async move {
                let client = http(client(4 + group as u8, worker));
                let mut results = Vec::new();
                while started.elapsed() < Duration::from_secs(SECONDS) {
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .body(new_request(body.as_bytes(), sent_so_far.fetch_add(1, Ordering::Relaxed)))
                        .send()
                        .await;
                    let status = match response {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let _ = response.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    };
                    results.push((status, sent.elapsed()));
                }
                results
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.extend(task.await.unwrap_or_default());
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_time(pid).saturating_sub(cpu_before);
        let mut latencies: Vec<Duration> = results.iter().filter(|r| r.0 == 402).map(|r| r.1).collect();
        latencies.sort();
        let mut statuses = BTreeMap::<u16, usize>::new();
        for (status, _) in &results {
            *statuses.entry(*status).or_insert(0) += 1;
        }
        println!(
            "  {name} ({} KB body): {:.1} challenges/s, p50 {}, server CPU {:.1} ms per request; answers {statuses:?}",
            body.len() / 1000,
            latencies.len() as f64 / elapsed,
            ms(percentile(&latencies, 0.5)),
            cpu.as_secs_f64() * 1000.0 / results.len().max(1) as f64,
        );
    }
    println!("  server RSS now {} MiB, peak (VmHWM) {} MiB", resident_kib(pid) / 1024, peak_resident_kib(pid) / 1024);
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    let (Some(server), Some(pid)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: unpaid_load <server-url> <server-pid> [flood|stall|headers|rate|all]...");
        std::process::exit(2);
    };
    let pid: u32 = pid.parse().expect("a pid");
    let address: SocketAddr = server
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("a server URL of the form http://<ip>:<port>");
    let scenarios: Vec<&str> =
        if args.len() > 3 { args[3..].iter().map(String::as_str).collect() } else { vec!["all"] };
    let all = scenarios.contains(&"all");
    println!("server rss at start {} MiB", resident_kib(pid) / 1024);
    if all || scenarios.contains(&"rate") {
        rate(server, pid).await;
    }
    if all || scenarios.contains(&"flood") {
        flood(server, pid).await;
    }
    if all || scenarios.contains(&"stall") {
        stall(server, address, pid).await;
    }
    if all || scenarios.contains(&"headers") {
        half_lines(server, address, pid).await;
    }
}
