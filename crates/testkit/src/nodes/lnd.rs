//! LND's REST API as v0.21.0-beta documents it (and as before 0.14): `POST /v1/invoices`, `GET
//! /v2/invoices/lookup` (or `GET /v1/invoice/{hash}`), the router's `POST /v2/router/send` and `GET
//! /v2/router/track/{hash}`, grpc-gateway's errors, the macaroon in `Grpc-Metadata-Macaroon`.
//!
//! Mirrors lightningnetwork/lnd at tag v0.21.0-beta (commit 0c4a70340d21d5cd87bb77b940acb02c90f4e8e7):
//! `lnrpc/lightning.yaml` (no `/v1/channels/transactions`: SendPaymentSync was removed in commit d0768f0f, first
//! absent in v0.21.0-beta.rc2), `lnrpc/routerrpc/router.yaml` (SendPaymentV2, TrackPaymentV2) and
//! `lnrpc/invoicesrpc/invoices.yaml` (LookupInvoiceV2, added in commit 8299d632, first released in v0.14.0-beta).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use mesh402_l402::PaymentHash;
use mesh402_ln::{InvoiceState, LightningBackend};
use serde_json::{Value, json};

use super::{FakeNode, unix_now};

fn lnd_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": message, "details": []}))).into_response()
}

/// LND's answer to a call without the node's macaroon, if this one has not got it.
fn lnd_macaroon_refused(node: &FakeNode, headers: &HeaderMap) -> Option<Response> {
    let sent = headers.get("grpc-metadata-macaroon").and_then(|value| value.to_str().ok());
    (sent != Some(node.credential.as_str()))
        .then(|| lnd_error(StatusCode::INTERNAL_SERVER_ERROR, 2, "expected 1 macaroon, got 0"))
}

/// LND's `Invoice` message for `hash`, as `LookupInvoice` (v1) and `LookupInvoiceV2` answer it, or its not-found
/// error.
async fn lnd_invoice(node: &FakeNode, hash: PaymentHash) -> Response {
    let (state, preimage) = match node.wallet.lookup_invoice(&hash).await {
        Ok(InvoiceState::Open) => ("OPEN", String::new()),
        Ok(InvoiceState::Settled { preimage }) => ("SETTLED", STANDARD.encode(preimage.unwrap().0)),
        Ok(other) => panic!("{other:?}"),
        Err(_) => return lnd_error(StatusCode::NOT_FOUND, 5, "there are no existing invoices"),
    };
    axum::Json(json!({
        "memo": "", "r_preimage": preimage, "r_hash": STANDARD.encode(hash.0), "value": "21", "value_msat": "21000",
        "settled": state == "SETTLED", "creation_date": unix_now().to_string(), "settle_date": "0",
        "payment_request": "", "expiry": "600", "cltv_expiry": "80", "private": false, "add_index": "7",
        "settle_index": "0", "amt_paid": "0", "amt_paid_sat": "0", "amt_paid_msat": "0", "state": state,
        "htlcs": [], "features": {}, "is_keysend": false, "payment_addr": STANDARD.encode([1u8; 32]),
        "is_amp": false, "amp_invoice_state": {},
    }))
    .into_response()
}

/// LND before 0.14 (lnrpc/lightning.yaml before commit 8299d632): invoices are made by `POST /v1/invoices` and looked up
/// by `GET /v1/invoice/{r_hash_str}` (hex); `/v2/invoices/lookup` does not exist, and grpc-gateway answers a path
/// it does not know with `404 {"code": 5, "message": "Not Found"}`.
pub fn router_before_0_14(node: Arc<FakeNode>) -> Router {
    async fn lookup_v1(State(node): State<Arc<FakeNode>>, headers: HeaderMap, Path(hash): Path<String>) -> Response {
        if let Some(refused) = lnd_macaroon_refused(&node, &headers) {
            return refused;
        }
        let Some(hash) = hex::decode(&hash).ok().and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()) else {
            return lnd_error(StatusCode::BAD_REQUEST, 3, "encoding/hex: invalid byte");
        };
        lnd_invoice(&node, PaymentHash(hash)).await
    }
    Router::new()
        .route("/v1/invoice/{r_hash_str}", get(lookup_v1))
        .with_state(node.clone())
        .merge(lnd_routes(node, false))
        .fallback(|| async { lnd_error(StatusCode::NOT_FOUND, 5, "Not Found") })
}

/// LND 0.21's REST routes.
pub fn router(node: Arc<FakeNode>) -> Router {
    lnd_routes(node, true)
}

/// LND 0.21's routes, with or without `LookupInvoiceV2`.
fn lnd_routes(node: Arc<FakeNode>, v2_lookup: bool) -> Router {
    async fn add_invoice(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        node.record(&headers, body.0.clone());
        if headers.get("grpc-metadata-macaroon").and_then(|value| value.to_str().ok()) != Some(&node.credential) {
            return lnd_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                2,
                "verification failed: signature mismatch after caveat verification",
            );
        }
        // grpc-gateway sends 64-bit integers as strings.
        let msat: u64 = body["value_msat"].as_str().unwrap().parse().unwrap();
        let expiry: u64 = body["expiry"].as_str().unwrap().parse().unwrap();
        let created = node.create(msat, body["memo"].as_str().unwrap(), expiry).await;
        axum::Json(json!({
            "r_hash": STANDARD.encode(created.payment_hash.0),
            "payment_request": created.bolt11,
            "add_index": "7",
            "payment_addr": STANDARD.encode([1u8; 32]),
        }))
        .into_response()
    }

    async fn lookup(
        State(node): State<Arc<FakeNode>>,
        headers: HeaderMap,
        Query(query): Query<std::collections::HashMap<String, String>>,
    ) -> Response {
        if let Some(refused) = lnd_macaroon_refused(&node, &headers) {
            return refused;
        }
        let Some(hash) = query.get("payment_hash").and_then(|text| URL_SAFE.decode(text).ok()) else {
            return lnd_error(StatusCode::BAD_REQUEST, 3, "invalid payment hash");
        };
        lnd_invoice(&node, PaymentHash(hash.try_into().unwrap())).await
    }

    // The payer's side as LND v0.21.0-beta has it (lnrpc/routerrpc/router.yaml and router_server.go): there is no
    // `POST /v1/channels/transactions` any more; `POST /v2/router/send` streams newline-delimited
    // `{"result": Payment}` messages (only the final one with `no_inflight_updates`), or `{"error": …}` when the
    // payment cannot start (an invoice already paid); `GET /v2/router/track/{hash}` (base64url) streams the
    // payment made for a hash, or fails with gRPC code 5 when there is none.
    fn line(message: Value) -> String {
        format!("{message}\n")
    }

    async fn send(State(node): State<Arc<FakeNode>>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
        if headers.get("grpc-metadata-macaroon").and_then(|value| value.to_str().ok()) != Some(&node.credential) {
            return lnd_error(StatusCode::INTERNAL_SERVER_ERROR, 2, "verification failed: signature mismatch");
        }
        // LND refuses a payment without a deadline, and reads 64-bit integers from strings.
        assert!(body["timeout_seconds"].as_u64().is_some_and(|secs| secs > 0), "{}", body.0);
        assert!(body["fee_limit_msat"].as_str().is_some_and(|fee| fee.parse::<u64>().is_ok()), "{}", body.0);
        let quiet = body["no_inflight_updates"] == json!(true);
        let bolt11 = body["payment_request"].as_str().unwrap_or("");
        let hash = mesh402_ln::invoice_facts(bolt11).map(|facts| facts.payment_hash.to_string()).unwrap_or_default();
        let in_flight = line(
            json!({ "result": { "payment_hash": hash, "status": "IN_FLIGHT", "failure_reason": "FAILURE_REASON_NONE" } }),
        );
        let mut stream = if quiet { String::new() } else { in_flight };
        if node.requests.lock().unwrap().iter().any(|(_, sent)| sent["paid"] == json!(hash)) {
            return line(json!({ "error": { "code": 2, "message": "invoice is already paid", "details": [] } }))
                .into_response();
        }
        match node.pay(bolt11).await {
            Ok(preimage) => {
                node.record(&headers, json!({ "paid": preimage.hash().to_string(), "preimage": preimage.to_hex() }));
                stream.push_str(&line(json!({ "result": {
                    "payment_hash": hash, "value_msat": "21000", "fee_msat": "0", "status": "SUCCEEDED",
                    "payment_preimage": preimage.to_hex(), "failure_reason": "FAILURE_REASON_NONE", "htlcs": [],
                } })));
            }
            Err(_) => stream.push_str(&line(json!({ "result": {
                "payment_hash": hash, "status": "FAILED", "failure_reason": "FAILURE_REASON_NO_ROUTE", "htlcs": [],
            } }))),
        }
        stream.into_response()
    }

    async fn track(State(node): State<Arc<FakeNode>>, headers: HeaderMap, Path(hash): Path<String>) -> Response {
        if let Some(refused) = lnd_macaroon_refused(&node, &headers) {
            return refused;
        }
        let Some(hash) = URL_SAFE.decode(&hash).ok().filter(|bytes| bytes.len() == 32) else {
            return lnd_error(StatusCode::BAD_REQUEST, 3, "invalid hash");
        };
        let hash = hex::encode(hash);
        let paid = node.requests.lock().unwrap().iter().find(|(_, sent)| sent["paid"] == json!(hash)).cloned();
        match paid {
            Some((_, sent)) => line(json!({ "result": {
                "payment_hash": hash, "status": "SUCCEEDED", "payment_preimage": sent["preimage"],
                "failure_reason": "FAILURE_REASON_NONE", "htlcs": [],
            } }))
            .into_response(),
            None => lnd_error(StatusCode::NOT_FOUND, 5, "payment isn't initiated"),
        }
    }

    let router = Router::new()
        .route("/v1/invoices", post(add_invoice))
        .route("/v2/router/send", post(send))
        .route("/v2/router/track/{hash}", get(track));
    let router = if v2_lookup { router.route("/v2/invoices/lookup", get(lookup)) } else { router };
    router.with_state(node)
}
