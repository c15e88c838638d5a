//! Core Lightning's clnrest as documented: `POST /v1/invoice` and `POST /v1/listinvoices`; for refunds `POST
//! /v1/pay` and `POST /v1/listpays`; the rune in a `Rune` header; JSON-RPC errors with their codes.
//!
//! Mirrors ElementsProject/lightning at tag v24.08 (commit 5ec5580a587faf7b19f2d0b9dc445f6a42db2602):
//! `plugins/clnrest/clnrest.py`, `utilities/rpc_routes.py` and `doc/schemas/lightning-{invoice,listinvoices,pay,
//! listpays}.json`. At tag v23.08 (commit 98ad46795f2dfdfbef0d0df3b5d7a6ba7f142b1e, `utilities/shared.py`) clnrest
//! also required a `Nodeid` header (dropped in commit a4644550, first in v23.08.1 and v23.11): the backend sends
//! it when configured, and a test checks it arrives. From v25.02 the plugin is Rust (`plugins/rest-plugin`) with
//! the same routes and headers.

use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mesh402_l402::PaymentHash;
use mesh402_ln::{InvoiceState, LightningBackend};
use serde_json::{Value, json};

use super::{FakeNode, unix_now};

/// clnrest v23.08's routes: every call must also carry the node's id in a `Nodeid` header (its
/// `utilities/shared.py`), else `403 Not authorized: Missing nodeid`.
pub fn router_v23_08(node: Arc<FakeNode>) -> Router {
    async fn require_node_id(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
        if request.headers().get("nodeid").is_none() {
            let body = json!({"code": 1502, "message": "Not authorized: Missing nodeid"});
            return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        }
        next.run(request).await
    }
    router(node).layer(axum::middleware::from_fn(require_node_id))
}

/// clnrest's routes (v23.08.1 and later: the rune alone).
pub fn router(node: Arc<FakeNode>) -> Router {
    fn authorized(node: &FakeNode, headers: &HeaderMap) -> Option<Response> {
        if headers.get("rune").and_then(|value| value.to_str().ok()) == Some(&node.credential) {
            return None;
        }
        let body = json!({"code": 1502, "message": "Not authorized: Not derived from master"});
        Some((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response())
    }

    async fn invoice(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        node.record(&headers, body.0.clone());
        if let Some(refusal) = authorized(&node, &headers) {
            return refusal;
        }
        let created = node
            .create(
                body["amount_msat"].as_u64().unwrap(),
                body["description"].as_str().unwrap(),
                body["expiry"].as_u64().unwrap(),
            )
            .await;
        axum::Json(json!({
            "payment_hash": created.payment_hash.to_string(),
            "expires_at": created.expires_at,
            "bolt11": created.bolt11,
            "payment_secret": hex::encode([2u8; 32]),
            "created_index": 3,
        }))
        .into_response()
    }

    async fn listinvoices(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        if let Some(refusal) = authorized(&node, &headers) {
            return refusal;
        }
        let hash = PaymentHash::from_str(body["payment_hash"].as_str().unwrap()).unwrap();
        let invoices = match node.wallet.lookup_invoice(&hash).await {
            Ok(InvoiceState::Open) => vec![json!({
                "label": "mesh402-x", "bolt11": "lnbcrt…", "payment_hash": hash.to_string(), "amount_msat": 21000,
                "status": "unpaid", "description": "d", "expires_at": unix_now() + 600, "created_index": 3,
            })],
            Ok(InvoiceState::Settled { preimage }) => vec![json!({
                "label": "mesh402-x", "bolt11": "lnbcrt…", "payment_hash": hash.to_string(), "amount_msat": 21000,
                "status": "paid", "pay_index": 1, "amount_received_msat": 21000, "paid_at": unix_now(),
                "payment_preimage": preimage.unwrap().to_hex(), "description": "d", "expires_at": unix_now() + 600,
                "created_index": 3, "updated_index": 1,
            })],
            Ok(other) => panic!("{other:?}"),
            Err(_) => vec![],
        };
        axum::Json(json!({ "invoices": invoices })).into_response()
    }

    // The payer's side (refunds): `pay` pays through the node's development wallet; `listpays` lists what it paid.
    async fn pay(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        if let Some(refusal) = authorized(&node, &headers) {
            return refusal;
        }
        let bolt11 = body["bolt11"].as_str().unwrap_or("");
        match node.pay(bolt11).await {
            Ok(preimage) => {
                node.record(&headers, json!({ "paid": preimage.hash().to_string(), "preimage": preimage.to_hex() }));
                axum::Json(json!({
                    "payment_preimage": preimage.to_hex(), "payment_hash": preimage.hash().to_string(),
                    "created_at": unix_now(), "parts": 1, "amount_msat": 21000, "amount_sent_msat": 21000,
                    "status": "complete", "destination": node.wallet.node_id(),
                }))
                .into_response()
            }
            // clnrest answers a JSON-RPC error (here: "all attempts failed") with its code and message.
            Err(error) => {
                let body = json!({ "code": 210, "message": format!("Ran out of routes to try: {error}") });
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            }
        }
    }

    async fn listpays(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        if let Some(refusal) = authorized(&node, &headers) {
            return refusal;
        }
        let wanted = body["payment_hash"].clone();
        let pays: Vec<Value> = node
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, body)| body.get("paid") == Some(&wanted))
            .map(|(_, body)| {
                json!({ "payment_hash": body["paid"], "status": "complete", "preimage": body["preimage"],
                        "bolt11": "lnbcrt…", "created_at": unix_now(), "amount_msat": 21000,
                        "amount_sent_msat": 21000, "number_of_parts": 1 })
            })
            .collect();
        axum::Json(json!({ "pays": pays })).into_response()
    }

    Router::new()
        .route("/v1/invoice", post(invoice))
        .route("/v1/listinvoices", post(listinvoices))
        .route("/v1/pay", post(pay))
        .route("/v1/listpays", post(listpays))
        .with_state(node)
}
