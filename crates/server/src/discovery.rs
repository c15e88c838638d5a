//! Discovery (contract §9): what an agent or a directory needs to find, price and call the service, generated
//! from the running configuration ([`Offer`]) and never written by hand.
//!
//! - `GET /.well-known/l402-services`: the service manifest (name, protocols, each paid service with its endpoint,
//!   method, price, input schema, output and the URLs of the error codes, the docs and the OpenAPI document).
//! - `GET /.well-known/l402.json` (also `/.well-known/l402`): the same offer, path by path.
//! - `GET /llms.txt`: how an agent buys a model, step by step, with the real price.
//! - `GET /api/l402/3d-model`: the paid endpoint's own entry of the manifest (instead of 405).
//! - `GET /api/error-codes`: the error catalogue ([`crate::error_codes`]).
//!
//! All of them are free, stored nowhere and the same for every caller.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mesh402_api::paths;
use mesh402_core::{
    Format, MAX_DEPTH, MAX_PREVIEW_SIZE, MAX_PRINT_SIZE_MM, MAX_TARGET_FACES, MAX_TEXTURE_SIZE, MIN_DEPTH,
    MIN_PREVIEW_SIZE, MIN_PRINT_SIZE_MM, MIN_TARGET_FACES, MIN_TEXTURE_SIZE, MeshParams, Mode,
};
use serde_json::{Value, json};

use mesh402_service::{OfferedSchemes, SERVICE_NAME, Scheme};

use crate::config::{Config, GeneratorChoice, LightningChoice, Refunds};
use crate::{AppState, error_codes};

/// The product's name in every discovery document.
pub const SERVICE_TITLE: &str = "mesh402";
/// One sentence on what is sold.
const SUMMARY: &str = "Image to 3D model: send a photo (PNG, JPEG or WebP as a base64 data URI), pay one Lightning \
                       invoice, receive a textured 3D model (GLB by default) to download.";

/// What this server sells and on what terms: the settings every discovery document is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// Price of one model in satoshis.
    pub price_sats: u64,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// The generator's limits on images (checked before decoding).
    pub image_limits: mesh402_core::ImageLimits,
    /// Seconds a client has to pay an invoice.
    pub invoice_expiry_secs: u64,
    /// Seconds a paid credential stays valid.
    pub token_lifetime_secs: u64,
    /// Longest a request waits for its model before a 202.
    pub max_wait_secs: u64,
    /// Challenges a client may ask for per minute.
    pub challenges_per_minute: u32,
    /// The Lightning backend's name (`dev`, `lnbits`, `lnd`, `cln`, `nwc`).
    pub backend: &'static str,
    /// Base of every URL handed out, without a trailing slash.
    pub public_url: String,
    /// Whether a paid job that cannot be delivered is refunded (the backend can pay).
    pub refunds: bool,
    /// Whether requests may carry a text `prompt` instead of an image (the generator makes models from text).
    pub prompts: bool,
    /// The payment schemes offered in a 402.
    pub schemes: OfferedSchemes,
    /// The licence of the third-party model that makes the models, passed on to buyers in the terms.
    pub licence: Option<crate::licence::ModelLicence>,
}

impl Offer {
    /// The offer the configuration makes, with links under `public_url`.
    pub fn new(config: &Config, public_url: &str) -> Offer {
        Offer {
            price_sats: config.price_sats,
            max_body_bytes: config.max_body_bytes,
            image_limits: mesh402_core::ImageLimits::default(),
            invoice_expiry_secs: config.invoice_expiry.as_secs(),
            token_lifetime_secs: config.token_lifetime.as_secs(),
            max_wait_secs: config.max_wait.as_secs(),
            challenges_per_minute: config.traffic.challenges_per_minute,
            backend: match config.lightning {
                LightningChoice::Dev => "dev",
                LightningChoice::Lnbits(_) => "lnbits",
                #[cfg(feature = "lnd")]
                LightningChoice::Lnd(_) => "lnd",
                #[cfg(feature = "cln")]
                LightningChoice::Cln(_) => "cln",
                #[cfg(feature = "nwc")]
                LightningChoice::Nwc(_) => "nwc",
            },
            public_url: public_url.trim_end_matches('/').to_owned(),
            refunds: config.refunds != Refunds::Off,
            prompts: takes_prompts(&config.generator),
            schemes: config.payment_schemes,
            licence: model_licence(&config.generator),
        }
    }

    /// An absolute URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// The price of one model in millisatoshis, as the L402 discovery spec states prices.
    pub fn price_msat(&self) -> u64 {
        self.price_sats.saturating_mul(1000)
    }

    /// Whether invoices are on regtest (the development wallet) rather than a real network.
    pub fn is_test_money(&self) -> bool {
        self.backend == "dev"
    }
}

/// The JSON Schema of the request body: the image and every generator option with its default and range.
pub fn request_schema(offer: &Offer) -> Value {
    let defaults = MeshParams::default();
    let powers: Vec<u32> =
        (0..16).map(|k| 1u32 << k).filter(|&s| (MIN_TEXTURE_SIZE..=MAX_TEXTURE_SIZE).contains(&s)).collect();
    let mut schema = json!({
        "type": "object",
        "required": ["image"],
        "additionalProperties": false,
        "properties": {
            "image": {
                "type": "string",
                "description": format!(
                    "The photo as a data URI with its prefix: data:image/png;base64,…, data:image/jpeg;base64,… or \
                     data:image/webp;base64,…. The whole body is at most {} bytes; the image at most {} pixels and \
                     {} px on a side. One object that stands out (on a plain background, or clearly in front of a \
                     busy one) gives the best model.",
                    offer.max_body_bytes, offer.image_limits.max_pixels, offer.image_limits.max_dimension
                ),
                "maxLength": offer.max_body_bytes,
            },
            "mode": {
                "type": "string",
                "enum": [name(&Mode::Inflate), name(&Mode::Extrude)],
                "default": name(&defaults.mode),
                "description": "inflate: a rounded solid like a balloon; extrude: a flat slab with straight walls \
                                (logos, stickers).",
            },
            "target_faces": {
                "type": "integer",
                "minimum": MIN_TARGET_FACES,
                "maximum": MAX_TARGET_FACES,
                "default": defaults.target_faces,
                "description": "Hard cap on the number of triangles.",
            },
            "depth": {
                "type": "number",
                "minimum": MIN_DEPTH,
                "maximum": MAX_DEPTH,
                "default": defaults.depth,
                "description": "A scale on the model's depth: 1 makes each part about as deep as it is wide where it is \
                                seen; 0.5 half as deep.",
            },
            "texture_size": {
                "type": "integer",
                "enum": powers,
                "default": defaults.texture_size,
                "description": "Side of the square texture in pixels.",
            },
            "format": {
                "type": "string",
                "enum": Format::ALL.iter().map(name).collect::<Vec<_>>(),
                "default": name(&defaults.format),
                "description": "The format of modelUrl: glb: one binary glTF file with its texture; obj: OBJ, MTL and \
                                a JPEG texture; stl: geometry only; ply: binary PLY with normals and vertex colours; 3mf: \
                                a coloured 3MF package for printing (print_size_mm on its longest side); usdz: a USDZ \
                                package for AR (Apple's AR Quick Look). The embedded generator stores the same model in \
                                every format (the answer's files) with one payment.",
            },
            "print_size_mm": {
                "type": "integer",
                "minimum": MIN_PRINT_SIZE_MM,
                "maximum": MAX_PRINT_SIZE_MM,
                "default": defaults.print_size_mm,
                "description": "The longest side of the 3MF model in millimetres: the size it prints at.",
            },
            "preview_size": {
                "type": "integer",
                "minimum": MIN_PREVIEW_SIZE,
                "maximum": MAX_PREVIEW_SIZE,
                "default": defaults.preview_size,
                "description": "Side of the preview picture (PNG, preview_url) in pixels.",
            },
        },
    });
    if offer.prompts {
        // Either a picture or a text prompt, never both.
        schema["required"] = json!([]);
        schema["oneOf"] = json!([{ "required": ["image"] }, { "required": ["prompt"] }]);
        schema["properties"]["prompt"] = json!({
            "type": "string",
            "minLength": 1,
            "maxLength": mesh402_service::MAX_PROMPT_BYTES,
            "description": format!(
                "Instead of an image: what the model should show, in words (the model server draws it, then models \
                 it). Plain text, at most {} bytes.",
                mesh402_service::MAX_PROMPT_BYTES
            ),
        });
    }
    schema
}

/// A value's serde name (the option enums' names are declared once, in the generator).
fn name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The schema of a delivered model's answer.
fn output_schema() -> Value {
    json!({
        "type": "object",
        "required": ["modelUrl"],
        "properties": {
            "modelUrl": { "type": "string", "format": "uri", "description": "Where to download the model." },
            "files": {
                "type": "object",
                "description": "The same model in every format it is stored in (the one asked for included), by \
                                format: each URL downloads without another payment.",
                "propertyNames": { "enum": Format::ALL.iter().map(name).collect::<Vec<_>>() },
                "additionalProperties": { "type": "string", "format": "uri" },
            },
            "preview_url": {
                "type": "string",
                "format": "uri",
                "description": "A picture of the model: PNG, a three-quarter view on a transparent background.",
            },
        },
    })
}

/// The paid service's entry: endpoint, method, price, input, output and where to read more. `endpoint` is the
/// path (directories match entries by path); `url` is absolute. `request_schema` is the flat field map older
/// readers fill a test request from; `input_schema` is the full JSON Schema.
pub fn service_entry(offer: &Offer) -> Value {
    json!({
        "id": "3d-model",
        "name": "Image to 3D model",
        "description": SUMMARY,
        "endpoint": paths::MODEL,
        "url": offer.url(paths::MODEL),
        "method": "POST",
        "content_type": "application/json",
        "protocol": "L402",
        "pricing": {
            "type": "fixed",
            "amount": offer.price_sats,
            "currency": "SAT",
            "per": "request",
            "base_cost_sats": offer.price_sats,
        },
        "price_sats": offer.price_sats,
        "estimate_url": offer.url(paths::QUOTE),
        "request_schema": {
            "image": {
                "type": "string",
                "required": true,
                "description": "The photo as a base64 data URI: data:image/png;base64,… (PNG, JPEG or WebP).",
            },
        },
        "input_schema": request_schema(offer),
        "output_schema": output_schema(),
        "response": {
            "content_type": "application/json",
            "example": { "modelUrl": offer.url("/models/<model-id>.glb") },
            "model_media_types": ["model/gltf-binary", "model/obj", "model/stl"],
            "delivery": "The paid request waits for the model (up to max_wait_secs) and answers 200 with modelUrl; \
                         later it answers 202 with a status URL to poll with the same credential.",
        },
        "limits": {
            "max_body_bytes": offer.max_body_bytes,
            "max_image_pixels": offer.image_limits.max_pixels,
            "max_image_side": offer.image_limits.max_dimension,
            "invoice_expiry_secs": offer.invoice_expiry_secs,
            "token_lifetime_secs": offer.token_lifetime_secs,
            "max_wait_secs": offer.max_wait_secs,
            "challenges_per_minute": offer.challenges_per_minute,
        },
        "error_codes_url": offer.url(paths::ERROR_CODES),
        "docs_url": offer.url(paths::LLMS_TXT),
        "openapi_url": offer.url(paths::OPENAPI),
        "terms_url": offer.url(paths::TERMS),
    })
}

/// How a client authenticates, as the manifest states it.
fn authentication(offer: &Offer) -> Value {
    let mut authentication = json!({
        "protocols_supported": protocols(offer),
        "l402": {
            "challenge_status": 402,
            "challenge_header": "WWW-Authenticate",
            "challenge_format": "L402 macaroon=\"<base64>\", invoice=\"<bolt11>\"",
            "authorization_header": "Authorization: L402 <macaroon>:<preimage-hex>",
        },
    });
    if offer.schemes.offers(Scheme::Payment) {
        authentication["payment"] = json!({
            "challenge_status": 402,
            "challenge_header": "WWW-Authenticate",
            "challenge_format": "Payment id=\"…\", realm=\"…\", method=\"lightning\", intent=\"charge\", \
                                 request=\"<base64url JSON with the invoice>\", expires=\"…\", digest=\"…\", opaque=\"…\"",
            "authorization_header": "Authorization: Payment <base64url JSON: the challenge echoed, payload.preimage>",
            "receipt_header": "Payment-Receipt",
        });
    }
    authentication
}

/// The manifest at `/.well-known/l402-services`, in the shape hosted L402 services publish and directories read.
pub fn manifest(offer: &Offer) -> Value {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "name": SERVICE_TITLE,
        "description": SUMMARY,
        "homepage": offer.url(paths::PAGE),
        "protocol": "L402",
        "protocols": protocols(offer),
        "payment_network": if offer.is_test_money() { "regtest" } else { "lightning" },
        "lightning_backend": offer.backend,
        "authentication": authentication(offer),
        "features": {
            "async_jobs": true,
            "free_estimate": true,
            "refunds": offer.refunds,
        },
        "services": [service_entry(offer)],
        "error_codes_url": offer.url(paths::ERROR_CODES),
        "estimate_cost_url": offer.url(paths::QUOTE),
        "docs_url": offer.url(paths::LLMS_TXT),
        "llms_txt_url": offer.url(paths::LLMS_TXT),
        "terms_url": offer.url(paths::TERMS),
        "openapi_url": offer.url(paths::OPENAPI),
    })
}

/// The paid resource as the L402 discovery spec describes it: a fixed price in millisatoshis.
pub fn l402_pricing(offer: &Offer) -> Value {
    json!({ "model": "fixed", "price_msat": offer.price_msat() })
}

/// The `Payment` scheme's offers of the paid operation (`x-payment-info` in the OpenAPI document), when that scheme
/// is offered: the Lightning charge of the price in sats.
pub fn payment_offers(offer: &Offer) -> Option<Value> {
    offer.schemes.offers(Scheme::Payment).then(|| {
        json!({ "offers": [{
            "intent": mesh402_mpp::INTENT,
            "method": mesh402_mpp::METHOD,
            "amount": offer.price_sats.to_string(),
            "currency": mesh402_mpp::CURRENCY,
            "description": "One textured 3D model of the photo.",
        }] })
    })
}

/// The document at `/.well-known/l402.json` (and `/.well-known/l402`), in the schema of the L402 discovery spec
/// (`version`, `provider`, `currencies`, `services` with their resources and fixed prices in msat, the macaroon
/// versions, payment methods and caveats), with the fields of the earlier informal shapes that clients already read
/// (`endpoints` and `pricing` with `price_sats`, `payment`, `auth`, `links`).
pub fn l402_json(offer: &Offer) -> Value {
    let description = "Turn one photo into a textured 3D model.";
    json!({
        "version": "1.0",
        "provider": { "name": SERVICE_TITLE, "uri": offer.public_url, "url": offer.public_url, "description": SUMMARY },
        "currencies": ["msat"],
        "macaroon_versions": [0],
        "payment_methods": ["bolt11"],
        "services": [{
            "name": SERVICE_NAME,
            "description": description,
            "tiers": [{ "tier": 0, "name": "standard" }],
            "resources": [{
                "path": paths::MODEL,
                "method": "POST",
                "pricing": l402_pricing(offer),
            }],
        }],
        "caveats": {
            "services": { "type": "service_list", "description": "The service and tier the token is for." },
            format!("{SERVICE_NAME}{}", mesh402_l402::caveat::VALID_UNTIL_SUFFIX): {
                "type": "timestamp",
                "description": "Unix seconds until which the paid token is accepted.",
                "attenuation": "earlier",
            },
            format!("{SERVICE_NAME}{}", mesh402_l402::caveat::REQUEST_SHA256_SUFFIX): {
                "type": "string",
                "description": "The digest of the request the token was bought for (image bytes and options).",
            },
        },
        "openapi": offer.url(paths::OPENAPI),
        "protocol": "L402",
        "protocols": protocols(offer),
        "name": SERVICE_TITLE,
        "description": SUMMARY,
        "url": offer.public_url,
        "endpoints": [{
            "path": paths::MODEL,
            "method": "POST",
            "category": "3d",
            "description": description,
            "price_sats": offer.price_sats,
            "content_type": "application/json",
        }],
        "pricing": [{
            "endpoint": paths::MODEL,
            "method": "POST",
            "price_sats": offer.price_sats,
            "description": description,
        }],
        "payment": {
            "protocol": "L402",
            "network": if offer.is_test_money() { "regtest" } else { "lightning" },
            "methods": ["lightning"],
        },
        "auth": {
            "challenge_header": "WWW-Authenticate",
            "authorization_format": "L402 <macaroon>:<preimage-hex>",
        },
        "links": {
            "l402_services": offer.url(paths::MANIFEST),
            "openapi": offer.url(paths::OPENAPI),
            "llms_txt": offer.url(paths::LLMS_TXT),
            "error_codes": offer.url(paths::ERROR_CODES),
            "quote": offer.url(paths::QUOTE),
            "terms": offer.url(paths::TERMS),
        },
    })
}

/// The schemes a client may pay through, as discovery names them.
fn protocols(offer: &Offer) -> Vec<&'static str> {
    [(Scheme::L402, "L402"), (Scheme::Payment, "Payment")]
        .into_iter()
        .filter(|(scheme, _)| offer.schemes.offers(*scheme))
        .map(|(_, name)| name)
        .collect()
}

/// `/llms.txt`: the buying steps for an agent, in Markdown (llmstxt.org).
pub fn llms_txt(offer: &Offer) -> String {
    let price = offer.price_sats;
    let money =
        if offer.is_test_money() { " (regtest test money: this server runs the development wallet)" } else { "" };
    let (challenge_step, credential_step) = if offer.schemes.offers(Scheme::L402) {
        (
            format!(
                "The answer is `402 Payment Required` with `WWW-Authenticate: L402 macaroon=\"<base64>\", \
                 invoice=\"<bolt11>\"` (the JSON body repeats them with `amount_sats`). Check that the invoice asks \
                 for {price} sats, then pay it with any Lightning wallet and keep the preimage (64 hex characters)."
            ),
            "Repeat the identical request with `Authorization: L402 <macaroon>:<preimage>`.",
        )
    } else {
        (
            format!(
                "The answer is `402 Payment Required` with `WWW-Authenticate: Payment …`, the HTTP Payment scheme's \
                 Lightning charge (the JSON body's `payment` repeats it, with `invoice` and `amount_sats`). Check \
                 that the invoice asks for {price} sats, then pay it with any Lightning wallet and keep the preimage."
            ),
            "Repeat the identical request, byte for byte, with `Authorization: Payment <credential>` (the challenge \
             echoed and the preimage, base64url JSON).",
        )
    };
    format!(
        "# {SERVICE_TITLE}\n\n\
         > {SUMMARY} One model costs {price} sats{money}, paid per request over L402 (HTTP 402, a macaroon and a \
         Lightning invoice). No account and no API key: the payment is the credential.\n\n\
         ## How to buy a model\n\n\
         1. Optionally check the photo and the price for free: `POST {quote}` with the same body as step 2. It \
         answers 200 with the price and the resolved options, or the error the paid request would give; it makes \
         no invoice.\n\
         2. `POST {model}` with `Content-Type: application/json` and `{{\"image\": \"data:image/png;base64,...\"}}` \
         (PNG, JPEG or WebP; the data-URI prefix is required; at most {body} bytes; options are listed in the \
         OpenAPI document).\n\
         3. {challenge_step}\n\
         4. {credential_step} The request waits until the model is ready (up to {wait} s) and answers `200` with \
         `{{\"modelUrl\": \"...\"}}`; after that it answers `202` with a `status_url` to poll with the same \
         credential.\n\
         5. Download `modelUrl` (a GLB by default). The credential stays valid for {lifetime} s: a retry of the \
         same request never pays twice.\n\n\
         {payment}{refunds}\n\n\
         A good photo shows one object (or a few parts of one, like the letters of a logo) that stands out from its \
         background. Blank, single-colour or noise pictures are refused before any invoice is made.\n\n\
         ## Documents\n\n\
         - [OpenAPI 3.1]({openapi}): every route, body and error\n\
         - [Service manifest]({manifest}): price, limits and input schema\n\
         - [Error codes]({errors}): every code with its status and what to do\n",
        quote = offer.url(paths::QUOTE),
        model = offer.url(paths::MODEL),
        body = offer.max_body_bytes,
        wait = offer.max_wait_secs,
        lifetime = offer.token_lifetime_secs,
        openapi = offer.url(paths::OPENAPI),
        manifest = offer.url(paths::MANIFEST),
        errors = offer.url(paths::ERROR_CODES),
        payment = if offer.schemes == OfferedSchemes::Both {
            "The 402 also offers the same invoice through the HTTP `Payment` scheme (the Lightning `charge`: a \
             `WWW-Authenticate: Payment …` line, and `payment` in the JSON body). A client that speaks it pays the \
             invoice in its `request` and sends the identical body, byte for byte, with `Authorization: Payment \
             <credential>`; the answer carries a `Payment-Receipt`. One payment buys one model whichever scheme \
             presents it.\n\n"
        } else {
            ""
        },
        refunds = if offer.refunds {
            "If a paid job fails for good, its error (and its status document) carries a `refund` object: `POST` \
             its `claim_url` with the same `Authorization: L402 <macaroon>:<preimage>` and `{\"invoice\": \
             \"<bolt11>\"}`, an invoice of your wallet for exactly `amount_msat`; the answer is `200` with the \
             refund's `preimage` once paid (or `202` while it is being paid: ask again, nothing is paid twice). \
             Instead of the refund you may retry the same request with the same credential."
        } else {
            "This server offers no refunds (its Lightning backend cannot pay): a paid job that fails can be \
             retried with the same credential until it expires."
        },
    )
}

/// `GET /.well-known/l402-services`.
pub async fn get_manifest(State(state): State<AppState>) -> Response {
    public_json(manifest(&state.offer))
}

/// `GET /.well-known/l402.json`.
pub async fn get_l402_json(State(state): State<AppState>) -> Response {
    public_json(l402_json(&state.offer))
}

/// `GET /api/l402/3d-model`: the service's entry, for a client that looks before it posts.
pub async fn get_model_metadata(State(state): State<AppState>) -> Response {
    public_json(service_entry(&state.offer))
}

/// `GET /api/error-codes`.
pub async fn get_error_codes() -> Response {
    public_json(json!({ "groups": error_codes::CATALOGUE }))
}

/// `GET /llms.txt`.
pub async fn get_llms_txt(State(state): State<AppState>) -> Response {
    let mut response = llms_txt(&state.offer).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/markdown; charset=utf-8"));
    cacheable(response)
}

/// A discovery document as JSON that caches may keep.
pub(crate) fn public_json(value: Value) -> Response {
    cacheable(Json(value).into_response())
}

/// Discovery documents change only with the configuration: caches may keep them a minute.
fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}

/// The licence of the generator's model, when it is a third party's.
fn model_licence(generator: &GeneratorChoice) -> Option<crate::licence::ModelLicence> {
    match generator {
        GeneratorChoice::Embedded => None,
        #[cfg(feature = "hunyuan3d")]
        GeneratorChoice::Hunyuan3d { licence, .. } => Some(*licence),
    }
}

/// Whether the generator makes models from text prompts (a Hunyuan3D-2 server whose operator says it does).
fn takes_prompts(generator: &GeneratorChoice) -> bool {
    match generator {
        GeneratorChoice::Embedded => false,
        #[cfg(feature = "hunyuan3d")]
        GeneratorChoice::Hunyuan3d { settings, .. } => settings.prompts,
    }
}
