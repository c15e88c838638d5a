//! Measures a running server under many paid requests that wait at once: N distinct images are quoted and paid
//! through the development wallet, then all N paid requests are sent together and wait for their models while the
//! server's resident memory is sampled from /proc.
//!
//! Usage: `mesh402 serve --data-dir /tmp/load` in one terminal, then
//! `cargo run --release -p mesh402 --example waiting_load -- http://127.0.0.1:8402 <server pid> 1000 [ramp ms]`.
//!
//! The paid requests are started over `ramp ms` (10,000 by default: 1,000 a second at 10,000; 0 sends them in the
//! same instant); all of them then wait at once (10,000 models take minutes). Clients and server share the
//! loopback interface here, whose input queue holds `net.core.netdev_max_backlog` packets per core (1,000 by
//! default). reqwest probes an idle connection every 15 s and gives up when a probe goes unanswered for 30 s, and
//! the kernel fires timers that far ahead in batches of half a second: connections opened within the same half
//! second probe in the same instant, beyond a few thousand the queue drops probes (`/proc/net/softnet_stat`'s
//! second column), and their clients abort with "Connection timed out" while the server still holds their
//! requests. Clients on a network do not probe through one queue in step; the ramp keeps the test from measuring
//! the loopback queue instead of the server.

use std::time::Instant;

use base64::Engine;
use mesh402_testkit::buyer::dev_wallet_credential;
use mesh402_testkit::proc_status::{peak_resident_kib, resident_kib};
use serde_json::json;

fn small_png(seed: u32) -> Vec<u8> {
    let radius = 20.0 + (seed % 40) as f32;
    let image = image::RgbaImage::from_fn(128, 128, |x, y| {
        let inside = ((x as f32 - 64.0).powi(2) + (y as f32 - 64.0).powi(2)).sqrt() < radius;
        let shade = (seed % 200) as u8;
        if inside { image::Rgba([shade, 80, 160, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap_or_default();
    bytes
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    let (Some(server), Some(pid), Some(count)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: waiting_load <server-url> <server-pid> <count> [ramp ms]");
        std::process::exit(2);
    };
    let pid: u32 = pid.parse().expect("a pid");
    let count: u32 = count.parse().expect("a count");
    let ramp = std::time::Duration::from_millis(args.get(4).map_or(10_000, |ms| ms.parse().expect("milliseconds")));
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("a client");
    let url = format!("{server}/api/l402/3d-model");

    println!("before: rss {} KiB", resident_kib(pid));
    let mut paid = Vec::new();
    for seed in 0..count {
        let body = json!({
            "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(small_png(seed))),
            "target_faces": 500 + seed,
        });
        let authorization = dev_wallet_credential(&client, server, &body).await;
        paid.push((body, authorization));
    }
    println!("after {count} challenges and payments: rss {} KiB", resident_kib(pid));

    // The server's open descriptors, sampled every second while the requests wait.
    let peak_descriptors = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sampler = tokio::spawn({
        let peak = peak_descriptors.clone();
        async move {
            loop {
                let open = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
                peak.fetch_max(open, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    });
    let started = Instant::now();
    let mut requests = Vec::new();
    for (n, (body, authorization)) in paid.into_iter().enumerate() {
        let client = client.clone();
        let url = url.clone();
        let start_at = started + ramp.mul_f64(n as f64 / f64::from(count));
        requests.push(tokio::spawn(async move {
            tokio::time::sleep_until(start_at.into()).await;
            let sent = client.post(url).header("Authorization", authorization).json(&body).send().await;
            (sent.map(|r| r.status().as_u16()), started.elapsed().as_secs_f64())
        }));
    }
    let mut ok = 0;
    // Each outcome with the seconds after the burst at which its clients saw it.
    let mut outcomes = std::collections::BTreeMap::<String, Vec<f64>>::new();
    for request in requests {
        let (outcome, at) = match request.await {
            Ok((Ok(status), at)) => (format!("HTTP {status}"), at),
            Ok((Err(error), at)) => {
                let error = error.without_url();
                let mut text = format!("client error: {error}");
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                (text, at)
            }
            Err(error) => (format!("task failed: {error}"), f64::NAN),
        };
        ok += usize::from(outcome == "HTTP 200");
        outcomes.entry(outcome).or_default().push(at);
    }
    let elapsed = started.elapsed();
    sampler.abort();
    for (outcome, mut times) in outcomes {
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        println!(
            "{} × {outcome}: after {:.1} / {:.1} / {:.1} s (first / median / last)",
            times.len(),
            at(0.0),
            at(0.5),
            at(1.0)
        );
    }
    println!(
        "{ok}/{count} paid requests got their model in {:.1} s; server peak rss (VmHWM) {} KiB, now {} KiB; \
         server descriptors at most {} (sampled each second)",
        elapsed.as_secs_f64(),
        peak_resident_kib(pid),
        resident_kib(pid),
        peak_descriptors.load(std::sync::atomic::Ordering::Relaxed)
    );
}
