//! Every JSON endpoint an unpaid client reaches, fed what a hostile client could send (any bytes, and JSON shaped
//! like each endpoint's body with wrong types, huge numbers, odd strings), in process: every answer is a status
//! below 500 with a JSON body, and every error carries its code. A short run of what the fuzz targets do at length.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use mesh402_server::{Config, RawConfig, build_with_generator};
use mesh402_testkit::FakeGenerator;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::Value;
use tower::ServiceExt;

/// The routes that read a JSON body from anyone.
const ROUTES: [&str; 5] = [
    "/api/l402/3d-model",
    "/api/l402/quote",
    "/api/l402/invoice-status",
    "/api/l402/jobs/0123456789abcdef0123456789abcdef/refund",
    "/dev/pay",
];

async fn server() -> (Router, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().unwrap();
    let unlimited = Some(1_000_000);
    let raw = RawConfig {
        data_dir: Some(data_dir.path().to_path_buf()),
        workers: Some(1),
        challenges_per_minute: unlimited,
        challenge_burst: unlimited,
        unpaid_requests_per_minute: unlimited,
        unpaid_burst: unlimited,
        invoice_lookups_per_second: Some(10_000),
        ..RawConfig::default()
    };
    let config = Config::resolve(raw).unwrap();
    let state = build_with_generator(&config, "https://models.example.com".into(), Arc::new(FakeGenerator::default()))
        .await
        .unwrap();
    (mesh402_server::router(state), data_dir)
}

async fn post(app: &Router, path: &str, body: Vec<u8>, authorization: Option<String>) -> (StatusCode, Vec<u8>) {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    (status, axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec())
}

/// A JSON value of any shape, a few levels deep, with the values that break careless readers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        "(?s).{0,40}".prop_map(Value::String),
        "(lnbcrt|lnbc|data:image/png;base64,)[A-Za-z0-9+/=]{0,60}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A body: any bytes, any JSON, or an object with the fields these endpoints read, holding any values.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let field =
        prop::sample::select(vec!["image", "prompt", "invoice", "macaroon", "amount_sats", "target_faces", "format"]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|value| value.to_string().into_bytes()),
        prop::collection::btree_map(field, json_value(), 0..4).prop_map(|fields| {
            Value::Object(fields.into_iter().map(|(key, value)| (key.to_owned(), value)).collect())
                .to_string()
                .into_bytes()
        }),
    ]
}

fn authorization() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), "(L402|LSAT|Payment) [A-Za-z0-9+/=_:-]{0,120}".prop_map(Some),]
}

#[test]
fn every_json_endpoint_answers_any_body_with_a_json_answer_below_500() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, _dir) = runtime.block_on(server());
    let mut runner = TestRunner::new(RunnerConfig { cases: 300, ..RunnerConfig::default() });
    let cases = (0..ROUTES.len(), body(), authorization());
    runner
        .run(&cases, |(route, body, authorization)| {
            let (status, answer) = runtime.block_on(post(&app, ROUTES[route], body, authorization));
            prop_assert!(status.as_u16() < 500, "{} answered {status}", ROUTES[route]);
            let answer: Value = serde_json::from_slice(&answer)
                .map_err(|_| TestCaseError::fail(format!("{} answered {status} without JSON", ROUTES[route])))?;
            if !status.is_success() {
                let code = answer["error"]["code"].as_str();
                prop_assert!(code.is_some_and(|code| !code.is_empty()), "{status}: {answer}");
            }
            Ok(())
        })
        .unwrap();
}
