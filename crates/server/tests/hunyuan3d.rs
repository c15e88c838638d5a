//! The server with `generator = "hunyuan3d"`, against the test kit's stand-in for the Hunyuan3D-2 model server
//! (`mesh402_testkit::model_server`, built from `api_server.py`; a GPU server cannot run here): a paid request gets the server's GLB as its model, a format the
//! model server cannot make is refused before any invoice, and a model server that never delivers fails the job
//! after its retries, which then offers its refund. A request may carry a text `prompt` instead of the image: the
//! model server gets it as `text`. The model's licence must be accepted in the configuration, and its restrictions
//! reach buyers at `/terms`. The client itself is tested in `crates/hunyuan3d/tests`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mesh402_server::{Config, RawConfig};
use mesh402_testkit::model_server::{Behaviour, ModelServer, Started};
use serde_json::{Value, json};
use tower::ServiceExt;

const PUBLIC_URL: &str = "http://mesh402.test";

fn picture() -> Vec<u8> {
    let image = image::RgbaImage::from_fn(160, 160, |x, y| {
        let inside = (x as i32 - 80).abs() < 50 && (y as i32 - 80).abs() < 35;
        if inside { image::Rgba([220, 160, 30, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

/// The test kit's stand-in for the model server, built from `api_server.py` (it can texture and read text): it
/// delivers the embedded generator's model of the picture, or never finishes.
async fn model_server(delivers: bool) -> (Arc<ModelServer>, String) {
    let behaviour = if delivers { Behaviour::Good } else { Behaviour::NeverDone };
    ModelServer::start(behaviour, Started::default(), &picture()).await
}

async fn app(data_dir: &std::path::Path, model_server_url: &str) -> Router {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let raw = RawConfig {
        data_dir: Some(data_dir.to_path_buf()),
        workers: Some(1),
        generator: Some("hunyuan3d".into()),
        hunyuan3d_url: Some(model_server_url.into()),
        hunyuan3d_deadline_secs: Some(10),
        hunyuan3d_prompts: Some(true),
        hunyuan3d_licence: Some("hunyuan3d-2.1-community".into()),
        ..RawConfig::default()
    };
    mesh402_server::router(mesh402_server::build(&Config::resolve(raw).unwrap(), PUBLIC_URL.into()).await.unwrap())
}

async fn post(app: &Router, path: &str, authorization: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = app.clone().oneshot(request.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Pays for `body` with the development wallet and sends the paid request.
async fn buy(app: &Router, body: &Value) -> (StatusCode, Value) {
    let (status, challenge) = post(app, "/api/l402/3d-model", None, body).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{challenge}");
    let (_, paid) = post(app, "/dev/pay", None, &json!({ "invoice": challenge["invoice"] })).await;
    let authorization =
        format!("L402 {}:{}", challenge["macaroon"].as_str().unwrap(), paid["preimage"].as_str().unwrap());
    post(app, "/api/l402/3d-model", Some(&authorization), body).await
}

fn request(options: Value) -> Value {
    let mut body = json!({ "image": format!("data:image/png;base64,{}", STANDARD.encode(picture())) });
    body.as_object_mut().unwrap().extend(options.as_object().unwrap().clone());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_request_gets_the_model_servers_glb() {
    let (model_server, url) = model_server(true).await;
    let data_dir = tempfile::tempdir().unwrap();
    let app = app(data_dir.path(), &url).await;

    // OBJ cannot come from that server: refused before an invoice is made.
    let (status, refused) = post(&app, "/api/l402/3d-model", None, &request(json!({ "format": "obj" }))).await;
    assert_eq!((status, &refused["error"]["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("invalid_option")));

    let (status, done) = buy(&app, &request(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(model_server.sends.load(Ordering::SeqCst), 1);
    let path = done["modelUrl"].as_str().unwrap().strip_prefix(PUBLIC_URL).unwrap().to_owned();
    let download = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let bytes = axum::body::to_bytes(download.into_body(), usize::MAX).await.unwrap();
    assert_eq!(bytes.as_ref(), model_server.model.as_slice(), "the model server's GLB is the model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_licence_is_accepted_before_serve_and_passed_on_to_buyers() {
    let (_, url) = model_server(true).await;
    let raw = |licence: Option<&str>| RawConfig {
        generator: Some("hunyuan3d".into()),
        hunyuan3d_url: Some(url.clone()),
        hunyuan3d_licence: licence.map(str::to_owned),
        ..RawConfig::default()
    };
    for refused in [None, Some("apache-2.0")] {
        let error = Config::resolve(raw(refused)).unwrap_err().to_string();
        assert!(error.contains("hunyuan3d_licence"), "{error}");
        assert!(error.contains("hunyuan3d-2.0-community") && error.contains("hunyuan3d-2.1-community"), "{error}");
    }
    Config::resolve(raw(Some("hunyuan3d-2.0-community"))).expect("a named licence is accepted");

    let data_dir = tempfile::tempdir().unwrap();
    let app = app(data_dir.path(), &url).await;
    let get = |path: &'static str| {
        let app = app.clone();
        async move {
            let response = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
            let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (content_type, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let (content_type, terms) = get("/terms").await;
    assert!(content_type.starts_with("text/markdown"), "{content_type}");
    for passed_on in [
        "Tencent Hunyuan 3D 2.1 Community License Agreement",
        "European Union, the United Kingdom or South Korea",
        "Acceptable Use Policy",
        "to improve any other AI model",
    ] {
        assert!(terms.contains(passed_on), "{passed_on:?} missing from:\n{terms}");
    }
    let (_, manifest) = get("/.well-known/l402-services").await;
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["terms_url"], json!(format!("{PUBLIC_URL}/terms")));
    let (_, openapi) = get("/openapi.json").await;
    let openapi: Value = serde_json::from_str(&openapi).unwrap();
    assert_eq!(openapi["info"]["termsOfService"], json!(format!("{PUBLIC_URL}/terms")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_server_that_never_delivers_fails_the_job_which_offers_its_refund() {
    let (model_server, url) = model_server(false).await;
    let data_dir = tempfile::tempdir().unwrap();
    let app = app(data_dir.path(), &url).await;
    let (status, failed) = buy(&app, &request(json!({}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{failed}");
    assert_eq!(failed["error"]["code"], "generation_failed");
    assert_eq!(failed["refund"]["state"], "available", "{failed}");
    assert_eq!(model_server.sends.load(Ordering::SeqCst), mesh402_service::MAX_ATTEMPTS as usize, "one per attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_prompt_is_sent_as_text_and_gets_the_model_servers_glb() {
    let (model_server, url) = model_server(true).await;
    let data_dir = tempfile::tempdir().unwrap();
    let app = app(data_dir.path(), &url).await;

    // The request schema offers the prompt beside the image; the quote accepts it and shows it as it is bound.
    let metadata = app.clone().oneshot(Request::get("/api/l402/3d-model").body(Body::empty()).unwrap()).await.unwrap();
    let metadata: Value =
        serde_json::from_slice(&axum::body::to_bytes(metadata.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(metadata["input_schema"]["properties"]["prompt"]["type"], "string", "{metadata}");
    let body = json!({ "prompt": "  a brass oil lamp  " });
    let (status, quote) = post(&app, "/api/l402/quote", None, &body).await;
    assert_eq!((status, &quote["prompt"]), (StatusCode::OK, &json!("a brass oil lamp")), "{quote}");
    let (status, refused) =
        post(&app, "/api/l402/3d-model", None, &json!({ "prompt": "a lamp", "format": "stl" })).await;
    assert_eq!((status, &refused["error"]["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("invalid_option")));

    let (status, done) = buy(&app, &body).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let texts: Vec<Value> = model_server.bodies.lock().unwrap().iter().map(|body| body["text"].clone()).collect();
    assert_eq!(texts, [json!("a brass oil lamp")], "the prompt, as text");
    let path = done["modelUrl"].as_str().unwrap().strip_prefix(PUBLIC_URL).unwrap().to_owned();
    let download = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let bytes = axum::body::to_bytes(download.into_body(), usize::MAX).await.unwrap();
    assert_eq!(bytes.as_ref(), model_server.model.as_slice(), "the model server's GLB is the model");
}
