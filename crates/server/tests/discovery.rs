//! Discovery (contract §9), in process: the manifest, the L402 discovery document, llms.txt, the endpoint's
//! metadata, the OpenAPI document and the quote all follow the running configuration; the quote makes no job
//! (whether it makes an invoice is checked on a real LNbits in `lnbits_flow.rs`); the error catalogue is served.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use mesh402_server::{AppState, Config, RawConfig, build_with_generator};
use mesh402_testkit::{FakeGenerator, disc_png};
use serde_json::{Value, json};
use tower::ServiceExt;

const PUBLIC_URL: &str = "https://models.example.com";

async fn server(raw: RawConfig) -> (Router, AppState, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().unwrap();
    let config =
        Config::resolve(RawConfig { data_dir: Some(data_dir.path().to_path_buf()), workers: Some(1), ..raw }).unwrap();
    let state = build_with_generator(&config, PUBLIC_URL.into(), Arc::new(FakeGenerator::default())).await.unwrap();
    (mesh402_server::router(state.clone()), state, data_dir)
}

async fn get(app: &Router, path: &str) -> (StatusCode, String, String) {
    let response = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, content_type, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get_json(app: &Router, path: &str) -> Value {
    let (status, content_type, body) = get(app, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert!(content_type.starts_with("application/json"), "{path}: {content_type}");
    serde_json::from_str(&body).unwrap()
}

async fn post(app: &Router, path: &str, body: &Value) -> (StatusCode, Value) {
    let request = Request::post(path).header("content-type", "application/json").body(Body::from(body.to_string()));
    let response = app.clone().oneshot(request.unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn photo() -> Value {
    let png = disc_png(160, 50.0);
    json!({ "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)) })
}

#[tokio::test]
async fn every_discovery_document_follows_the_configuration() {
    for (price, max_body) in [(350u64, 33_554_432usize), (1234, 2_097_152)] {
        let (app, _state, _dir) =
            server(RawConfig { price_sats: Some(price), max_body_bytes: Some(max_body), ..RawConfig::default() }).await;

        let manifest = get_json(&app, "/.well-known/l402-services").await;
        let service = &manifest["services"][0];
        assert_eq!(manifest["protocols"], json!(["L402", "Payment"]), "both schemes by default");
        assert_eq!(service["endpoint"], "/api/l402/3d-model");
        assert_eq!(service["url"], format!("{PUBLIC_URL}/api/l402/3d-model"));
        assert_eq!(service["method"], "POST");
        assert_eq!(service["pricing"]["amount"], price);
        assert_eq!(service["limits"]["max_body_bytes"], max_body);
        assert_eq!(service["input_schema"]["properties"]["image"]["maxLength"], max_body);
        assert_eq!(service["request_schema"]["image"]["required"], true);
        assert_eq!(manifest["openapi_url"], format!("{PUBLIC_URL}/openapi.json"));
        assert_eq!(manifest["payment_network"], "regtest", "the development wallet is test money");
        assert_eq!(manifest["features"]["refunds"], true, "the development wallet pays refunds");

        let l402 = get_json(&app, "/.well-known/l402.json").await;
        // The L402 discovery spec's shape: version, provider, msat, services with their resources' fixed prices.
        assert_eq!(l402["version"], "1.0");
        assert_eq!(l402["provider"]["uri"], PUBLIC_URL);
        assert!(l402["currencies"].as_array().unwrap().contains(&json!("msat")));
        assert_eq!(l402["services"][0]["name"], "3d-model", "the name in the services caveat");
        let resource = &l402["services"][0]["resources"][0];
        assert_eq!((&resource["path"], &resource["method"]), (&json!("/api/l402/3d-model"), &json!("POST")));
        assert_eq!(resource["pricing"], json!({ "model": "fixed", "price_msat": price * 1000 }));
        assert_eq!(l402["openapi"], format!("{PUBLIC_URL}/openapi.json"));
        assert!(l402["caveats"]["3d-model_valid_until"].is_object());
        // The earlier shapes' fields stay.
        assert_eq!(l402["endpoints"][0]["price_sats"], price);
        assert_eq!(l402["pricing"][0]["endpoint"], "/api/l402/3d-model");
        assert_eq!(get_json(&app, "/.well-known/l402").await, l402);

        assert_eq!(&get_json(&app, "/api/l402/3d-model").await, service, "GET on the endpoint is its entry");

        let (status, content_type, llms) = get(&app, "/llms.txt").await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/markdown"), "{content_type}");
        assert!(llms.starts_with("# mesh402\n\n> "), "llms.txt opens with its title and summary");
        assert!(llms.contains(&format!("costs {price} sats")), "{llms}");
        assert!(llms.contains(&format!("at most {max_body} bytes")), "{llms}");
        assert!(llms.contains("Authorization: L402 <macaroon>:<preimage>"));

        let openapi = get_json(&app, "/openapi.json").await;
        assert_eq!(openapi["openapi"], "3.1.0");
        assert_eq!(openapi["servers"][0]["url"], PUBLIC_URL);
        assert_eq!(openapi["components"]["schemas"]["PaymentRequired"]["properties"]["amount_sats"]["const"], price);
        assert_eq!(openapi["components"]["securitySchemes"]["L402"]["scheme"], "L402");
        assert_eq!(openapi["components"]["securitySchemes"]["Payment"]["scheme"], "Payment");
        // Both discovery specs' extensions on the paid operation, side by side.
        for path in ["/api/l402/3d-model", "/api/l402/generate-3d-model"] {
            let operation = &openapi["paths"][path]["post"];
            assert_eq!(operation["x-l402-service"], "3d-model");
            assert_eq!(operation["x-l402-pricing"], resource["pricing"]);
            let offer = json!({
                "intent": "charge",
                "method": "lightning",
                "amount": price.to_string(),
                "currency": "sat",
                "description": "One textured 3D model of the photo.",
            });
            assert_eq!(operation["x-payment-info"], json!({ "offers": [offer] }));
            assert!(operation["responses"]["402"].is_object());
        }
        assert_eq!(openapi["info"]["x-l402-version"], "1.0");
        assert_eq!(openapi["x-service-info"]["docs"]["llms"], format!("{PUBLIC_URL}/llms.txt"));
        assert!(openapi["paths"]["/dev/pay"].is_object(), "the development wallet's route is described with it");

        let (status, quote) = post(&app, "/api/l402/quote", &photo()).await;
        assert_eq!(status, StatusCode::OK, "{quote}");
        assert_eq!(quote["price_sats"], price);
        assert_eq!(quote["limits"]["max_body_bytes"], max_body);
    }
}

#[tokio::test]
async fn a_server_offering_l402_alone_announces_no_payment_offer() {
    let (app, _state, _dir) = server(RawConfig { payment_schemes: Some("l402".into()), ..RawConfig::default() }).await;
    assert_eq!(get_json(&app, "/.well-known/l402-services").await["protocols"], json!(["L402"]));
    let openapi = get_json(&app, "/openapi.json").await;
    assert!(openapi["paths"]["/api/l402/3d-model"]["post"].get("x-payment-info").is_none());
    assert_eq!(get_json(&app, "/.well-known/l402.json").await["protocols"], json!(["L402"]));
    let (_, _, llms) = get(&app, "/llms.txt").await;
    assert!(!llms.contains("WWW-Authenticate: Payment"), "{llms}");
}

#[tokio::test]
async fn a_server_offering_the_payment_scheme_alone_tells_agents_how_to_pay_through_it() {
    let (app, _state, _dir) =
        server(RawConfig { payment_schemes: Some("payment".into()), ..RawConfig::default() }).await;
    assert_eq!(get_json(&app, "/.well-known/l402-services").await["protocols"], json!(["Payment"]));
    let (_, _, llms) = get(&app, "/llms.txt").await;
    assert!(llms.contains("with `Authorization: Payment <credential>`"), "{llms}");
    assert!(!llms.contains("3. The answer is `402 Payment Required` with `WWW-Authenticate: L402"), "{llms}");
}

#[tokio::test]
async fn the_quote_resolves_the_options_checks_the_photo_and_stores_nothing() {
    let (app, state, _dir) = server(RawConfig::default()).await;
    let mut body = photo();
    body["format"] = json!("stl");
    let (status, quote) = post(&app, "/api/l402/quote", &body).await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(quote["accepted"], true);
    // The answer is the API's type, field for field.
    let typed: mesh402_api::Quote = serde_json::from_value(quote.clone()).expect("a Quote");
    assert_eq!(serde_json::to_value(&typed).unwrap(), quote);
    assert_eq!(quote["options"]["format"], "stl");
    assert_eq!(quote["options"]["target_faces"], 20_000, "defaults are filled in");
    assert_eq!(quote["image"], json!({ "media_type": "image/png", "width": 160, "height": 160 }));

    // The same errors as the paid request, before any invoice.
    let (status, error) = post(&app, "/api/l402/quote", &json!({ "image": "data:image/gif;base64,R0lGOD=" })).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_image_type"))
    );
    let (status, error) = post(&app, "/api/l402/quote", &json!({ "image": photo()["image"], "depth": 9 })).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_option")));
    let blank = image::RgbaImage::from_pixel(64, 64, image::Rgba([255, 255, 255, 255]));
    let mut png = Vec::new();
    blank.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let data_uri = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png));
    let (status, error) = post(&app, "/api/l402/quote", &json!({ "image": data_uri })).await;
    assert_eq!((status, error["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("no_object_found")));

    // A text prompt needs a generator that makes models from text; this one does not: refused before any invoice,
    // by the quote and by the endpoint alike, and the request schema offers no prompt.
    for path in ["/api/l402/quote", "/api/l402/3d-model"] {
        let (status, error) = post(&app, path, &json!({ "prompt": "a red teapot" })).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("prompt_unsupported"))
        );
        assert!(error.get("invoice").is_none(), "{error}");
    }
    let schema = get_json(&app, "/api/l402/3d-model").await["input_schema"].clone();
    assert!(schema["properties"].get("prompt").is_none(), "{schema}");

    let counts = state.service.job_counts().await.unwrap();
    assert!(counts.iter().all(|(_, n)| *n == 0), "a quote stores no job: {counts:?}");
}

#[tokio::test]
async fn the_error_catalogue_is_served_and_every_code_is_in_the_openapi_enum() {
    let (app, _state, _dir) = server(RawConfig::default()).await;
    let catalogue = get_json(&app, "/api/error-codes").await;
    let groups = catalogue["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4);
    let codes: Vec<&str> =
        groups.iter().flat_map(|g| g["codes"].as_array().unwrap()).map(|c| c["code"].as_str().unwrap()).collect();
    for code in [
        "payment_required",
        "rate_limited",
        "invalid_option",
        "invoice_not_found",
        "invoice_expired",
        "refund_amount_mismatch",
        "payment_refunded",
    ] {
        assert!(codes.contains(&code), "{code}");
    }
    let openapi = get_json(&app, "/openapi.json").await;
    let listed = openapi["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    for code in &codes {
        assert!(listed.contains(&Value::from(*code)), "{code} is not in the OpenAPI enum");
    }
}

/// Every route of `mesh402_api::paths::ROUTES` is served with each of its methods (the development wallet's too,
/// since it is the default backend): none falls through to the router's `not_found` or `method_not_allowed`. A
/// model file of an unknown model is `not_found` by its handler, so those two are asked for a model that exists
/// nowhere and must answer a download's 404 (`Cache-Control` and all), not the fallback's.
#[tokio::test]
async fn every_route_of_the_api_is_served_with_its_methods() {
    use mesh402_api::paths::{self, Method, ROUTES};
    let (app, _state, _dir) = server(RawConfig::default()).await;
    for (path, methods) in ROUTES {
        let filled = paths::fill(path, &["00".repeat(16).as_str(), "model.obj"]);
        for method in *methods {
            let builder = match method {
                Method::Get => Request::get(&filled),
                Method::Post => Request::post(&filled).header("content-type", "application/json"),
            };
            let response = app.clone().oneshot(builder.body(Body::from("{}")).unwrap()).await.unwrap();
            let code = response.headers().get("x-error-code").map(|v| v.to_str().unwrap().to_owned());
            assert_ne!(code.as_deref(), Some("method_not_allowed"), "{method:?} {path}");
            if !path.starts_with("/models/") {
                assert_ne!(code.as_deref(), Some("not_found"), "{method:?} {path} is not routed");
            }
        }
    }
}
