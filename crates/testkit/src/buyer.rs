//! A buyer of a running server over HTTP, paying with the server's development wallet: the request bodies of
//! distinct pictures, and the credential for one.

use reqwest::StatusCode;
use serde_json::{Value, json};

/// The body of a request for a model of a `size`×`size` picture of a disc of `colour` on a transparent
/// background: each colour is another request, so another payment and another job.
pub fn disc_body(colour: [u8; 3], size: u32) -> Value {
    use base64::Engine;
    let (centre, radius) = (size as f32 / 2.0, size as f32 * 0.31);
    let image = image::RgbaImage::from_fn(size, size, |x, y| {
        let inside = ((x as f32 - centre).powi(2) + (y as f32 - centre).powi(2)).sqrt() < radius;
        if inside { image::Rgba([colour[0], colour[1], colour[2], 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("a PNG in memory");
    json!({ "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)) })
}

/// Asks `node` for the challenge of `body` and pays it through the node's `/dev/pay`; returns the
/// `Authorization` header value of the credential.
pub async fn dev_wallet_credential(client: &reqwest::Client, node: &str, body: &Value) -> String {
    let challenge = client.post(format!("{node}/api/l402/3d-model")).json(body).send().await.expect("a challenge");
    assert_eq!(challenge.status(), StatusCode::PAYMENT_REQUIRED);
    let challenge: Value = challenge.json().await.expect("a JSON challenge");
    let (macaroon, invoice) =
        (challenge["macaroon"].as_str().expect("a macaroon"), challenge["invoice"].as_str().expect("an invoice"));
    format!("L402 {macaroon}:{}", dev_pay(client, node, invoice).await)
}

/// Pays `invoice` through `node`'s `/dev/pay` (the development wallet); returns the preimage, hex.
pub async fn dev_pay(client: &reqwest::Client, node: &str, invoice: &str) -> String {
    let paid = client.post(format!("{node}/dev/pay")).json(&json!({ "invoice": invoice })).send().await;
    let paid = paid.expect("the development wallet answers");
    assert_eq!(paid.status(), StatusCode::OK);
    let preimage = paid.json::<Value>().await.expect("a JSON payment")["preimage"].as_str().map(str::to_owned);
    preimage.expect("a preimage")
}

/// A job's status, read at `status_url` with the credential that paid for it (the `Authorization` header value).
pub async fn job_status(client: &reqwest::Client, status_url: &str, credential: &str) -> Value {
    let status = client.get(status_url).header("Authorization", credential).send().await.expect("a job status");
    status.json().await.expect("a JSON job status")
}

/// Server arguments that raise the per-client limits on unpaid requests out of the way, for a test or a benchmark
/// that sends hundreds of unpaid requests from one address.
pub const UNPAID_LIMITS_OFF: &[&str] = &[
    "--challenges-per-minute",
    "1000000",
    "--challenge-burst",
    "1000000",
    "--unpaid-requests-per-minute",
    "1000000",
    "--unpaid-burst",
    "1000000",
];
