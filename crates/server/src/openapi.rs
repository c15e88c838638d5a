//! The OpenAPI 3.1 document at `/openapi.json`: every route, its request and response bodies, the 402 challenge
//! with its headers, the 202 job, the error envelope with every code of [`crate::error_codes`] and the L402
//! security scheme.
//!
//! Written as data here, from the same sources the handlers use ([`discovery::request_schema`], the error
//! catalogue, the offer). It is kept true by tests, not by care: a unit test checks that every route the router
//! declares is described, and the suite runs schemathesis against the live server from this document.

use axum::extract::State;
use axum::response::Response;
use mesh402_api::{ErrorCode, InvoiceState, RefundState, paths as route};
use mesh402_core::{Format, JobState, Stage};
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
    // A running job's stage, or null: the core's stages, so a new stage cannot be left out of the document.
    let mut stages: Vec<Value> = Stage::ALL.iter().map(|stage| Value::from(stage.name())).collect();
    stages.push(Value::Null);
    let formats = Format::ALL.map(|format| format.extension());
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
                "state": { "type": "string", "enum": RefundState::ALL.map(|state| state.as_str()) },
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
                        "description": { "type": "string", "description": "What is paid for." },
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
                "state": { "type": "string", "enum": JobState::ALL.map(|state| state.as_str()) },
                "stage": { "enum": stages },
                "progress": { "type": "integer", "minimum": 0, "maximum": 100 },
                "attempts": { "type": "integer", "minimum": 0 },
                "modelUrl": { "type": "string" },
                "format": { "type": "string", "enum": formats },
                "media_type": { "type": "string", "enum": Format::ALL.map(|format| format.media_type()) },
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
            "required": ["price_sats", "accepted", "options", "formats", "preview", "limits"],
            "properties": {
                "price_sats": { "type": "integer", "const": offer.price_sats },
                "accepted": { "type": "boolean", "const": true },
                "options": { "type": "object", "description": "The generator's options, defaults filled in." },
                "formats": {
                    "type": "array",
                    "description": "The formats the price buys, the asked one (modelUrl's) first, the others under files.",
                    "items": { "type": "string", "enum": formats },
                },
                "preview": { "type": "boolean", "description": "Whether a preview picture (preview_url) comes with it." },
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
                "limits": {
                    "type": "object",
                    "required": ["max_body_bytes", "invoice_expiry_secs", "token_lifetime_secs"],
                    "properties": {
                        "max_body_bytes": { "type": "integer", "minimum": 1 },
                        "invoice_expiry_secs": { "type": "integer", "minimum": 1 },
                        "token_lifetime_secs": { "type": "integer", "minimum": 1 },
                    },
                },
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
                "state": { "type": "string", "enum": InvoiceState::ALL.map(|state| state.as_str()) },
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

    /// Whether `value` conforms to `schema` (resolving `$ref`s in `document`), strictly: besides `$ref`, `type`,
    /// `enum`, `const`, `required`, `items` and `additionalProperties`, an object may carry only the properties its
    /// schema declares, unless the schema declares none or names `additionalProperties`. JSON Schema itself lets
    /// undeclared fields pass, so a field the types send and the document forgot would go unnoticed by a validator
    /// (schemathesis validates the live server's answers with one); this subset of the document's own keywords is
    /// all it takes, so no schema crate is built for one test.
    fn conforms(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            return conforms(document, &document["components"]["schemas"][name], value, at);
        }
        let type_fits = |name: &str| match name {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("{at}: the document names a type {other} this check does not know"),
        };
        let fits = match &schema["type"] {
            Value::String(name) => type_fits(name),
            Value::Array(names) => names.iter().any(|name| type_fits(name.as_str().unwrap_or_default())),
            _ => true,
        };
        if !fits {
            return Err(format!("{at}: {value} is not of type {}", schema["type"]));
        }
        if let Some(values) = schema["enum"].as_array().filter(|values| !values.contains(value)) {
            return Err(format!("{at}: {value} is none of {values:?}"));
        }
        if !schema["const"].is_null() && schema["const"] != *value {
            return Err(format!("{at}: {value} is not {}", schema["const"]));
        }
        if let (Some(items), Some(elements)) = (schema.get("items"), value.as_array()) {
            for (index, element) in elements.iter().enumerate() {
                conforms(document, items, element, &format!("{at}[{index}]"))?;
            }
        }
        let Some(object) = value.as_object() else { return Ok(()) };
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{at}: the required field {name} is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, field) in object {
            match properties.and_then(|properties| properties.get(name)) {
                Some(field_schema) => conforms(document, field_schema, field, &format!("{at}.{name}"))?,
                None if schema.get("additionalProperties").is_some_and(|more| more != false) => {
                    conforms(document, &schema["additionalProperties"], field, &format!("{at}.{name}"))?;
                }
                None if properties.is_none() && schema.get("additionalProperties").is_none() => {}
                None => return Err(format!("{at}: {name} is sent but not in the document")),
            }
        }
        Ok(())
    }

    /// The JSON request body's schema of `POST path`.
    fn request_body(document: &Value, path: &str) -> Value {
        document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"].clone()
    }

    #[test]
    fn every_body_the_types_send_conforms_to_the_document_and_declares_every_field() {
        use mesh402_api::{
            DevInvoice, DevInvoiceRequest, DevPaid, DevPayRequest, ErrorBody, ErrorDetail, Health, InvoiceStatusAnswer,
            InvoiceStatusRequest, JobStatus, PaymentRequired, Quote, QuoteLimits, QuotedImage, RefundClaim,
            RefundClaimed, RefundStatus,
        };
        use mesh402_core::MeshParams;

        let offer = offer();
        let document = document(&offer, true);
        let hex = "ab".repeat(32);
        // Every optional field filled, so that each one is checked against the document.
        let refund = |state| RefundStatus {
            state,
            amount_sats: 350,
            amount_msat: 350_000,
            claim_url: "http://127.0.0.1:8402/api/l402/jobs/00/refund".into(),
            deadline: Some(1_800_000_000),
            last_failure: Some("no route".into()),
            invoice_payment_hash: Some(hex.clone()),
            claimed_at: Some(1_700_000_000),
            preimage: Some(hex.clone()),
            paid_at: Some(1_700_000_001),
        };
        let job = |state, stage| JobStatus {
            job_id: Some("00".repeat(16)),
            state: Some(state),
            stage,
            progress: Some(40),
            attempts: Some(1),
            model_url: Some("http://127.0.0.1:8402/models/x.glb".into()),
            format: Some(Format::Glb),
            media_type: Some(Format::Glb.media_type().into()),
            bytes: Some(1_000),
            sha256: Some(hex.clone()),
            faces: Some(2_000),
            vertices: Some(1_002),
            files: Some(
                Format::ALL.iter().map(|format| (*format, format!("/models/x.{}", format.extension()))).collect(),
            ),
            preview_url: Some("/models/x/preview.png".into()),
            refund: Some(refund(RefundState::Available)),
            error: Some(ErrorDetail::new(ErrorCode::GenerationFailed, "it failed")),
            status_url: Some("/api/l402/jobs/00".into()),
            events_url: Some("/api/l402/jobs/00/events".into()),
            poll_interval_ms: Some(1_000),
        };
        let challenge = mesh402_mpp::PaymentChallenge {
            id: "id".into(),
            realm: "mesh402".into(),
            method: mesh402_mpp::METHOD.into(),
            intent: mesh402_mpp::INTENT.into(),
            request: "e30".into(),
            expires: Some("2026-01-01T00:00:00Z".into()),
            digest: Some("sha-256=:x:".into()),
            opaque: Some("e30".into()),
            description: Some("a model".into()),
        };
        let mut samples: Vec<(String, Value, Value)> = Vec::new();
        let mut sample = |name: &str, schema: Value, body: Value| samples.push((name.to_owned(), schema, body));
        for state in JobState::ALL {
            for stage in Stage::ALL.map(Some).into_iter().chain([None]) {
                sample("Job", schema_ref("Job"), serde_json::to_value(job(state, stage)).unwrap());
            }
        }
        for state in RefundState::ALL {
            let claimed = RefundClaimed { job_id: "00".repeat(16), refund: refund(state) };
            sample("RefundClaim", schema_ref("RefundClaim"), serde_json::to_value(claimed).unwrap());
        }
        let payment_required = PaymentRequired {
            error: ErrorDetail::new(ErrorCode::PaymentRequired, "pay"),
            problem_type: "https://paymentauth.org/problems/payment-required".into(),
            title: "Payment Required".into(),
            status: 402,
            detail: "pay".into(),
            macaroon: Some("AgE".into()),
            invoice: "lnbcrt1".into(),
            payment_hash: hex.clone(),
            amount_sats: offer.price_sats,
            expires_at: "2026-01-01T00:00:00Z".into(),
            payment: Some(challenge),
        };
        sample("PaymentRequired", schema_ref("PaymentRequired"), serde_json::to_value(payment_required).unwrap());
        let quote = Quote {
            price_sats: offer.price_sats,
            accepted: true,
            options: MeshParams::default(),
            formats: Format::ALL.to_vec(),
            preview: true,
            limits: QuoteLimits { max_body_bytes: 1, invoice_expiry_secs: 2, token_lifetime_secs: 3 },
            image: Some(QuotedImage { media_type: "image/png".into(), width: 1, height: 1 }),
            prompt: Some("a duck".into()),
        };
        sample("Quote", schema_ref("Quote"), serde_json::to_value(quote).unwrap());
        let health = Health { status: "ok".into(), lightning: "dev".into() };
        sample("Health", schema_ref("Health"), serde_json::to_value(health).unwrap());
        for code in ErrorCode::ALL {
            let body = ErrorBody { error: ErrorDetail::new(code, "why") };
            sample("Error", schema_ref("Error"), serde_json::to_value(body).unwrap());
        }
        for state in InvoiceState::ALL {
            let answer = InvoiceStatusAnswer {
                paid: state == InvoiceState::Paid,
                state,
                payment_hash: hex.clone(),
                preimage: Some(Some(hex.clone())),
                message: Some("withheld".into()),
            };
            sample("InvoiceStatus", schema_ref("InvoiceStatus"), serde_json::to_value(answer).unwrap());
        }
        let paid = DevPaid { preimage: hex.clone(), payment_hash: hex.clone() };
        sample("DevPayment", schema_ref("DevPayment"), serde_json::to_value(paid).unwrap());
        let invoice = DevInvoice { invoice: "lnbcrt1".into(), payment_hash: hex.clone(), expires_at: 1 };
        sample("DevInvoice", schema_ref("DevInvoice"), serde_json::to_value(invoice).unwrap());
        let requests = [
            (route::JOB_REFUND, serde_json::to_value(RefundClaim { invoice: "lnbcrt1".into() }).unwrap()),
            (route::INVOICE_STATUS, serde_json::to_value(InvoiceStatusRequest { macaroon: "AgE".into() }).unwrap()),
            (route::DEV_PAY, serde_json::to_value(DevPayRequest { invoice: "lnbcrt1".into() }).unwrap()),
            (route::DEV_INVOICE, serde_json::to_value(DevInvoiceRequest { amount_sats: 1 }).unwrap()),
        ];
        for (path, body) in requests {
            let schema = request_body(&document, path);
            assert!(schema.is_object(), "POST {path} has no JSON request body in the document");
            sample(path, schema, body);
        }
        let failures: Vec<String> =
            samples.iter().filter_map(|(name, schema, body)| conforms(&document, schema, body, name).err()).collect();
        assert!(failures.is_empty(), "bodies that break the document:\n{}", failures.join("\n"));

        // The check itself finds a field the document does not declare, and a value outside an enum.
        let job_schema = schema_ref("Job");
        let mut extra = serde_json::to_value(job(JobState::Queued, None)).unwrap();
        extra["colour"] = json!("red");
        assert!(conforms(&document, &job_schema, &extra, "Job").is_err());
        let mut wrong = serde_json::to_value(job(JobState::Queued, None)).unwrap();
        wrong["state"] = json!("paused");
        assert!(conforms(&document, &job_schema, &wrong, "Job").is_err());
    }
}
