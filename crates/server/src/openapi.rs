//! The OpenAPI 3.1 document at `/openapi.json`: every route, its request and response bodies, the 402 challenge
//! with its headers, the 202 job, the error envelope with every code of [`crate::error_codes`] and the L402
//! security scheme.
//!
//! Written as data here, from the same sources the handlers use ([`discovery::request_schema`], the error
//! catalogue, the offer). It is kept true by tests, not by care: a unit test checks that every route the router
//! declares is described, and the suite runs schemathesis against the live server from this document.

use axum::extract::State;
use axum::response::Response;
use mesh402_api::{ErrorCode, paths as route};
use serde_json::{Value, json};

use mesh402_service::SERVICE_NAME;

use crate::AppState;
use crate::discovery::{self, Offer};
use crate::error_codes;

/// A reference to a component schema.
fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A JSON response with this schema.
fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// The error envelope response for the listed statuses.
fn error_responses(statuses: &[u16]) -> serde_json::Map<String, Value> {
    statuses
        .iter()
        .map(|status| {
            let mut response = json_response(&describe_status(*status), schema_ref("Error"));
            response["headers"] = json!({
                "X-Error-Code": { "description": "The error's code.", "schema": { "type": "string" } },
            });
            if matches!(status, 429 | 503) {
                response["headers"]["Retry-After"] = json!({
                    "description": "Seconds after which a retry makes sense.",
                    "schema": { "type": "integer", "minimum": 0 },
                });
            }
            (status.to_string(), response)
        })
        .collect()
}

/// A short reason phrase with the codes the catalogue sends with `status`.
fn describe_status(status: u16) -> String {
    let codes: Vec<&str> = error_codes::CATALOGUE
        .iter()
        .flat_map(|group| group.codes.iter())
        .filter(|entry| entry.code.status() == status)
        .map(|entry| entry.code.as_str())
        .collect();
    let mut codes = codes;
    codes.sort_unstable();
    codes.dedup();
    format!("Error: {}", codes.join(", "))
}

/// An operation with a summary, its responses and optional request body.
fn operation(summary: &str, id: &str, responses: serde_json::Map<String, Value>) -> Value {
    json!({ "summary": summary, "operationId": id, "responses": Value::Object(responses) })
}

fn responses(entries: Vec<(&str, Value)>, errors: &[u16]) -> serde_json::Map<String, Value> {
    let mut map: serde_json::Map<String, Value> = entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    map.extend(error_responses(errors));
    map
}

fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

/// The paid endpoint's POST operation (also under its alias), with the payment extensions of both discovery specs:
/// `x-l402-*` (the L402 discovery spec) and `x-payment-info` (the `Payment` scheme's discovery draft).
fn model_operation(offer: &Offer, id: &str) -> Value {
    let mut op = operation(
        "Turn a photo into a 3D model (paid over Lightning: L402 or the Payment scheme)",
        id,
        responses(
            vec![
                ("200", json_response("The model is ready.", schema_ref("Job"))),
                ("202", {
                    let mut accepted = json_response(
                        "The model is not ready within the wait; poll status_url with the same credential.",
                        schema_ref("Job"),
                    );
                    accepted["headers"] = json!({
                        "Location": { "description": "The status URL.", "schema": { "type": "string" } },
                        "Retry-After": { "description": "Seconds until the next poll.", "schema": { "type": "integer" } },
                    });
                    accepted
                }),
                ("402", {
                    let schema = schema_ref("PaymentRequired");
                    let mut challenge = json!({
                        "description": "Pay the invoice and repeat the identical request with Authorization: L402 \
                                        <macaroon>:<preimage> or Authorization: Payment <credential>.",
                        "content": {
                            "application/json": { "schema": schema },
                            "application/problem+json": { "schema": schema },
                        },
                    });
                    challenge["headers"] = json!({
                        "WWW-Authenticate": {
                            "description": "One line per challenge, for one invoice: L402 macaroon=\"<base64>\", \
                                            invoice=\"<bolt11>\", then LSAT (the same), then Payment id=\"…\", \
                                            realm=\"…\", method=\"lightning\", intent=\"charge\", request=\"…\", \
                                            expires=\"…\", digest=\"…\", opaque=\"…\" (each when offered).",
                            "schema": { "type": "string" },
                        },
                        "Link": {
                            "description": "<…/.well-known/l402.json>; rel=\"l402-manifest\"",
                            "schema": { "type": "string" },
                        },
                    });
                    challenge
                }),
            ],
            &[400, 408, 409, 413, 415, 422, 429, 500, 503],
        ),
    );
    op["requestBody"] = json_body(schema_ref("ModelRequest"));
    op["security"] = json!([{}, { "L402": [] }, { "Payment": [] }]);
    op["x-l402-service"] = json!(SERVICE_NAME);
    op["x-l402-pricing"] = discovery::l402_pricing(offer);
    op["x-l402-tiers"] = json!([{ "tier": 0, "name": "standard" }]);
    if let Some(offers) = discovery::payment_offers(offer) {
        op["x-payment-info"] = offers;
    }
    op["parameters"] = json!([{
        "name": "Prefer",
        "in": "header",
        "required": false,
        "description": "respond-async (answer 202 at once) or wait=N (wait at most N seconds), RFC 7240.",
        "schema": { "type": "string" },
    }]);
    op
}

/// A GET that answers a JSON document.
fn get_json(summary: &str, id: &str, schema: Value) -> Value {
    json!({ "get": operation(summary, id, responses(vec![("200", json_response(summary, schema))], &[429])) })
}

/// A GET that answers a file of some media type.
fn get_file(summary: &str, id: &str, media_type: &str, errors: &[u16]) -> Value {
    let ok = json!({ "description": summary, "content": { media_type: { "schema": { "type": "string" } } } });
    json!({ "get": operation(summary, id, responses(vec![("200", ok)], errors)) })
}

/// `GET /openapi.json`.
pub async fn get_openapi(State(state): State<AppState>) -> Response {
    discovery::public_json(document(&state.offer, state.dev_wallet.is_some()))
}

/// The whole document for this offer. `dev_wallet` adds `POST /dev/pay`, which exists only with that backend.
pub fn document(offer: &Offer, dev_wallet: bool) -> Value {
    let mut paths = serde_json::Map::new();
    let mut model_path = json!({ "post": model_operation(offer, "createModel") });
    model_path["get"] = operation(
        "What the paid endpoint sells: price, limits, input schema",
        "describeModelService",
        responses(vec![("200", json_response("The service's entry of the manifest.", schema_ref("Service")))], &[429]),
    );
    paths.insert(route::MODEL.into(), model_path);
    paths.insert(route::MODEL_ALIAS.into(), json!({ "post": model_operation(offer, "createModelAlias") }));
    paths.insert(route::QUOTE.into(), {
        let mut op = operation(
            "Price and checks for a request, free: no invoice, nothing stored",
            "quoteModel",
            responses(
                vec![("200", json_response("The request would be accepted at this price.", schema_ref("Quote")))],
                &[400, 408, 413, 415, 422, 429, 503],
            ),
        );
        op["requestBody"] = json_body(schema_ref("ModelRequest"));
        json!({ "post": op })
    });
    let job_parameter = path_parameter("job_id", "The job id from a 202 answer.");
    paths.insert(route::JOB.into(), {
        let mut op = operation(
            "A paid job's state and, once done, its model",
            "getJob",
            responses(vec![("200", json_response("The job.", schema_ref("Job")))], &[404, 422, 429, 503]),
        );
        op["parameters"] = json!([job_parameter]);
        op["security"] = json!([{ "L402": [] }]);
        json!({ "get": op })
    });
    paths.insert(route::JOB_EVENTS.into(), {
        let ok = json!({
            "description": "Server-sent events: progress, then done or failed; keep-alives; ends after its limit.",
            "content": { "text/event-stream": { "schema": { "type": "string" } } },
        });
        let mut op = operation(
            "A paid job's progress as server-sent events",
            "getJobEvents",
            responses(vec![("200", ok)], &[404, 429]),
        );
        op["parameters"] = json!([job_parameter]);
        op["security"] = json!([{ "L402": [] }]);
        json!({ "get": op })
    });
    paths.insert(route::JOB_REFUND.into(), {
        let mut op = operation(
            "Claim the refund of a paid job that could not be delivered (with the credential that paid)",
            "claimRefund",
            responses(
                vec![
                    ("200", json_response("The refund was paid; preimage is the proof.", schema_ref("RefundClaim"))),
                    ("202", json_response("The refund is being paid; ask again.", schema_ref("RefundClaim"))),
                ],
                &[400, 403, 404, 409, 422, 429, 500, 502, 503],
            ),
        );
        op["parameters"] = json!([job_parameter]);
        op["security"] = json!([{ "L402": [] }]);
        op["requestBody"] = json_body(json!({
            "type": "object",
            "required": ["invoice"],
            "additionalProperties": false,
            "properties": {
                "invoice": { "type": "string", "description": "A BOLT11 invoice for exactly the refund's amount_msat." },
            },
        }));
        json!({ "post": op })
    });
    paths.insert(route::MODEL_FILE.into(), {
        let mut path =
            get_file("A model's primary file (modelUrl)", "downloadModel", "application/octet-stream", &[404, 429]);
        path["get"]["parameters"] = json!([path_parameter("file", "<model id>.<extension>")]);
        path
    });
    paths.insert(route::MODEL_FILE_NAMED.into(), {
        let mut path = get_file(
            "One file of a model (OBJ, MTL, texture)",
            "downloadModelFile",
            "application/octet-stream",
            &[404, 429],
        );
        path["get"]["parameters"] =
            json!([path_parameter("model_id", "The model's id."), path_parameter("name", "The file's name.")]);
        path
    });
    paths.insert(route::HEALTH.into(), get_json("Liveness", "health", schema_ref("Health")));
    paths.insert(route::MANIFEST.into(), get_json("The service manifest", "manifest", json!({ "type": "object" })));
    paths.insert(route::L402_JSON.into(), get_json("L402 discovery", "l402Discovery", json!({ "type": "object" })));
    paths.insert(
        route::L402_JSON_ALIAS.into(),
        get_json("L402 discovery (same document)", "l402DiscoveryAlias", json!({ "type": "object" })),
    );
    paths.insert(route::ERROR_CODES.into(), get_json("Every error code", "errorCodes", schema_ref("ErrorCatalogue")));
    paths.insert(route::OPENAPI.into(), get_json("This document", "openapi", json!({ "type": "object" })));
    paths.insert(route::LLMS_TXT.into(), get_file("How an agent buys a model", "llmsTxt", "text/markdown", &[429]));
    paths
        .insert(route::TERMS.into(), get_file("The terms a buyer accepts by paying", "terms", "text/markdown", &[429]));
    paths.insert(route::PAGE.into(), get_file("The web page", "webPage", "text/html", &[429]));
    for asset in crate::web::ASSETS {
        paths.insert(
            asset.path.into(),
            get_file("A file of the web page", &asset_id(asset.path), asset.content_type, &[429]),
        );
    }
    paths.insert(
        route::PAGE_CONFIG.into(),
        get_json("Settings the web page shows", "pageConfig", json!({ "type": "object" })),
    );
    paths.insert(route::INVOICE_STATUS.into(), {
        let mut op = operation(
            "Whether a challenge's invoice is paid, and its preimage (for the holder of the macaroon)",
            "invoiceStatus",
            responses(
                vec![("200", json_response("The invoice's state.", schema_ref("InvoiceStatus")))],
                &[400, 404, 429, 503],
            ),
        );
        op["requestBody"] = json_body(json!({
            "type": "object",
            "required": ["macaroon"],
            "properties": { "macaroon": { "type": "string" } },
        }));
        json!({ "post": op })
    });
    if dev_wallet {
        paths.insert(route::DEV_PAY.into(), {
            let mut op = operation(
                "Pay an invoice of the development wallet (regtest; only with that backend)",
                "devPay",
                responses(
                    vec![("200", json_response("Paid.", schema_ref("DevPayment")))],
                    &[400, 409, 410, 422, 429, 500],
                ),
            );
            op["requestBody"] = json_body(json!({
                "type": "object",
                "required": ["invoice"],
                "properties": { "invoice": { "type": "string" } },
            }));
            json!({ "post": op })
        });
        paths.insert(route::DEV_INVOICE.into(), {
            let mut op = operation(
                "An invoice of the development wallet to be paid to (a refund's; regtest, only with that backend)",
                "devInvoice",
                responses(
                    vec![("200", json_response("The invoice.", schema_ref("DevInvoice")))],
                    &[400, 422, 429, 500],
                ),
            );
            op["requestBody"] = json_body(json!({
                "type": "object",
                "required": ["amount_sats"],
                "properties": { "amount_sats": { "type": "integer", "minimum": 1 } },
            }));
            json!({ "post": op })
        });
    }

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mesh402",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Image to 3D model, paid per request over L402.",
            "description": format!(
                "One model costs {} sats. POST a photo without a credential to get 402 with a macaroon and a \
                 Lightning invoice (and the same invoice as a Payment challenge); pay it and repeat the identical \
                 request with Authorization: L402 <macaroon>:<preimage> or Authorization: Payment <credential>. \
                 See {} for the steps.",
                offer.price_sats,
                offer.url(route::LLMS_TXT)
            ),
            "license": { "name": "MIT OR Apache-2.0" },
            "termsOfService": offer.url(route::TERMS),
            "x-l402-version": "1.0",
            "x-l402-provider": { "name": "mesh402", "uri": offer.public_url },
        },
        "x-service-info": {
            "categories": ["3d", "image"],
            "docs": {
                "apiReference": offer.url(route::OPENAPI),
                "homepage": offer.url(route::PAGE),
                "llms": offer.url(route::LLMS_TXT),
            },
        },
        "servers": [{ "url": offer.public_url }],
        "paths": Value::Object(paths),
        "components": {
            "securitySchemes": {
                "L402": {
                    "type": "http",
                    "scheme": "L402",
                    "x-l402-scheme": "L402",
                    "description": "Authorization: L402 <base64 macaroon>:<64 hex preimage>. The macaroon and the \
                                    invoice come in the 402 answer's WWW-Authenticate header; the preimage from \
                                    paying the invoice.",
                },
                "Payment": {
                    "type": "http",
                    "scheme": "Payment",
                    "description": "Authorization: Payment <base64url JSON>: the Payment challenge of the 402 answer \
                                    echoed, and payload.preimage from paying its invoice (the Lightning charge).",
                },
            },
            "schemas": schemas(offer),
        },
    })
}

/// An operation id for a static file.
fn asset_id(path: &str) -> String {
    let mut id = String::from("asset");
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

fn schemas(offer: &Offer) -> Value {
    let codes = error_codes::all_codes();
    json!({
        "ModelRequest": discovery::request_schema(offer),
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string", "enum": codes },
                        "message": { "type": "string" },
                    },
                },
                "job_id": { "type": "string" },
                "status_url": { "type": "string" },
                "refund": schema_ref("Refund"),
            },
        },
        "Refund": {
            "type": "object",
            "description": "A failed job's refund: available (claim it at claim_url before deadline), pending (being paid) or paid.",
            "required": ["state", "amount_sats", "amount_msat", "claim_url"],
            "properties": {
                "state": { "type": "string", "enum": ["available", "pending", "paid"] },
                "amount_sats": { "type": "integer", "minimum": 0 },
                "amount_msat": { "type": "integer", "minimum": 1 },
                "claim_url": { "type": "string" },
                "deadline": { "type": "integer", "description": "Unix seconds: when the credential, and the offer, expire." },
                "last_failure": { "type": "string", "description": "Why the last claim's payment failed." },
                "invoice_payment_hash": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                "claimed_at": { "type": "integer" },
                "preimage": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                "paid_at": { "type": "integer" },
            },
        },
        "RefundClaim": {
            "type": "object",
            "required": ["job_id", "refund"],
            "properties": { "job_id": { "type": "string" }, "refund": schema_ref("Refund") },
        },
        "PaymentRequired": {
            "type": "object",
            "required": ["error", "type", "title", "status", "detail", "invoice", "payment_hash", "amount_sats", "expires_at"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": { "code": { "const": ErrorCode::PaymentRequired }, "message": { "type": "string" } },
                },
                "type": {
                    "type": "string",
                    "description": "The problem (RFC 9457): https://paymentauth.org/problems/payment-required, or why \
                                    the credential sent was refused (invalid-challenge, verification-failed, \
                                    payment-expired, malformed-credential, method-unsupported).",
                },
                "title": { "type": "string" },
                "status": { "const": 402 },
                "detail": { "type": "string" },
                "macaroon": {
                    "type": "string",
                    "description": "Base64 macaroon bound to this request (when L402 is offered).",
                },
                "payment": {
                    "type": "object",
                    "description": "The Payment challenge for the same invoice (when that scheme is offered).",
                    "required": ["id", "realm", "method", "intent", "request"],
                    "properties": {
                        "id": { "type": "string" },
                        "realm": { "type": "string" },
                        "method": { "const": mesh402_mpp::METHOD },
                        "intent": { "const": mesh402_mpp::INTENT },
                        "request": { "type": "string" },
                        "expires": { "type": "string", "format": "date-time" },
                        "digest": { "type": "string" },
                        "opaque": { "type": "string" },
                    },
                },
                "invoice": { "type": "string", "description": "BOLT11 invoice." },
                "payment_hash": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                "amount_sats": { "type": "integer", "const": offer.price_sats },
                "expires_at": { "type": "string", "format": "date-time" },
            },
        },
        "Job": {
            "type": "object",
            "required": ["job_id", "state", "progress", "attempts"],
            "properties": {
                "job_id": { "type": "string" },
                "state": {
                    "type": "string",
                    "enum": ["queued", "running", "succeeded", "failed", "refunding", "refunded"],
                },
                "stage": { "type": ["string", "null"] },
                "progress": { "type": "integer", "minimum": 0, "maximum": 100 },
                "attempts": { "type": "integer", "minimum": 0 },
                "modelUrl": { "type": "string" },
                "format": { "type": "string" },
                "media_type": { "type": "string" },
                "bytes": { "type": "integer" },
                "sha256": { "type": "string" },
                "faces": { "type": "integer" },
                "vertices": { "type": "integer" },
                "files": {
                    "type": "object",
                    "description": "The same model in every format it is stored in, by format; one payment buys all.",
                    "additionalProperties": { "type": "string" },
                },
                "preview_url": { "type": "string", "description": "A PNG picture of the model." },
                "status_url": { "type": "string" },
                "events_url": { "type": "string" },
                "poll_interval_ms": { "type": "integer" },
                "refund": schema_ref("Refund"),
                "error": {
                    "type": "object",
                    "properties": { "code": { "type": "string", "enum": codes }, "message": { "type": "string" } },
                },
            },
        },
        "Quote": {
            "type": "object",
            "required": ["price_sats", "accepted", "options"],
            "properties": {
                "price_sats": { "type": "integer", "const": offer.price_sats },
                "accepted": { "type": "boolean", "const": true },
                "options": { "type": "object" },
                "image": {
                    "type": "object",
                    "required": ["media_type", "width", "height"],
                    "properties": {
                        "media_type": { "type": "string" },
                        "width": { "type": "integer" },
                        "height": { "type": "integer" },
                    },
                },
                "prompt": { "type": "string", "description": "The prompt, as it is bound (trimmed)." },
                "limits": { "type": "object" },
            },
        },
        "Service": { "type": "object", "required": ["endpoint", "method", "pricing", "input_schema"] },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": { "status": { "const": "ok" }, "lightning": { "type": "string" } },
        },
        "ErrorCatalogue": {
            "type": "object",
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["title", "codes"],
                        "properties": {
                            "title": { "type": "string" },
                            "codes": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["status", "code", "when"],
                                    "properties": {
                                        "status": { "type": "integer" },
                                        "code": { "type": "string" },
                                        "when": { "type": "string" },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "InvoiceStatus": {
            "type": "object",
            "required": ["paid", "state", "payment_hash"],
            "properties": {
                "paid": { "type": "boolean" },
                "state": { "type": "string", "enum": ["open", "paid", "expired", "unknown"] },
                "payment_hash": { "type": "string" },
                "preimage": { "type": ["string", "null"] },
                "message": { "type": "string" },
            },
        },
        "DevInvoice": {
            "type": "object",
            "required": ["invoice", "payment_hash", "expires_at"],
            "properties": {
                "invoice": { "type": "string" },
                "payment_hash": { "type": "string" },
                "expires_at": { "type": "integer" },
            },
        },
        "DevPayment": {
            "type": "object",
            "required": ["preimage", "payment_hash"],
            "properties": { "preimage": { "type": "string" }, "payment_hash": { "type": "string" } },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Offer {
        let config = crate::Config::resolve(crate::RawConfig::default()).expect("defaults resolve");
        Offer::new(&config, "http://127.0.0.1:8402")
    }

    #[test]
    fn every_route_is_described() {
        let document = document(&offer(), true);
        for (path, methods) in route::ROUTES {
            for method in *methods {
                let method = method.as_str();
                assert!(document["paths"][*path][method].is_object(), "{method} {path} is not in openapi.json");
            }
        }
        for asset in crate::web::ASSETS {
            assert!(document["paths"][asset.path]["get"].is_object(), "{} is not described", asset.path);
        }
    }

    #[test]
    fn operation_ids_are_unique_and_the_price_is_the_offer() {
        let document = document(&offer(), true);
        let mut ids: Vec<String> = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| {
                item.as_object().unwrap().values().map(|op| op["operationId"].as_str().unwrap().to_owned())
            })
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(document["components"]["schemas"]["PaymentRequired"]["properties"]["amount_sats"]["const"], 350);
        assert!(document["paths"]["/dev/pay"].is_object());
        assert!(super::document(&offer(), false)["paths"]["/dev/pay"].is_null());
    }
}
