//! Measures a running server under many paid requests that wait at once: N distinct images are quoted and paid
//! through the development wallet, then all N paid requests are sent together and wait for their models while the
//! server's resident memory is sampled from /proc.
//!
//! Usage: `mesh402 serve --data-dir /tmp/load` in one terminal, then
//! `cargo run --release -p mesh402 --example waiting_load -- http://127.0.0.1:8402 <server pid> 1000`.

use std::time::Instant;

use base64::Engine;
use serde_json::{Value, json};

fn resident_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

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
        eprintln!("usage: waiting_load <server-url> <server-pid> <count>");
        std::process::exit(2);
    };
    let pid: u32 = pid.parse().expect("a pid");
    let count: u32 = count.parse().expect("a count");
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("a client");
    let url = format!("{server}/api/l402/3d-model");

    println!("before: rss {} KiB", resident_kib(pid, "VmRSS:"));
    let mut paid = Vec::new();
    for seed in 0..count {
        let body = json!({
            "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(small_png(seed))),
            "target_faces": 500 + seed,
        });
        let challenge: Value = client.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
        let preimage: Value = client
            .post(format!("{server}/dev/pay"))
            .json(&json!({ "invoice": challenge["invoice"] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let authorization =
            format!("L402 {}:{}", challenge["macaroon"].as_str().unwrap(), preimage["preimage"].as_str().unwrap());
        paid.push((body, authorization));
    }
    println!("after {count} challenges and payments: rss {} KiB", resident_kib(pid, "VmRSS:"));

    let started = Instant::now();
    let mut requests = Vec::new();
    for (body, authorization) in paid {
        let client = client.clone();
        let url = url.clone();
        requests.push(tokio::spawn(async move {
            client
                .post(url)
                .header("Authorization", authorization)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    let mut ok = 0;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for request in requests {
        let outcome = match request.await {
            Ok(Ok(status)) => format!("HTTP {status}"),
            Ok(Err(error)) => {
                let error = error.without_url();
                let mut text = format!("client error: {error}");
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                text
            }
            Err(error) => format!("task failed: {error}"),
        };
        ok += usize::from(outcome == "HTTP 200");
        *outcomes.entry(outcome).or_default() += 1;
    }
    let elapsed = started.elapsed();
    println!("outcomes: {outcomes:?}");
    println!(
        "{ok}/{count} paid requests got their model in {:.1} s; server peak rss (VmHWM) {} KiB, now {} KiB",
        elapsed.as_secs_f64(),
        resident_kib(pid, "VmHWM:"),
        resident_kib(pid, "VmRSS:")
    );
}
