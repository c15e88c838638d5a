//! The web page at `GET /`: one HTML page, its script and style sheet, and the vendored viewer and QR code
//! generator, all compiled into the binary (no CDN, no build step, works offline). Every response carries a strict
//! Content-Security-Policy (scripts, styles and connections only from this origin), `nosniff` and an `ETag`;
//! the page is revalidated on every load, and the files it names carry their content hash in the URL, so they are
//! cached for a year. `GET /api/page-config` tells the page the price, the limits and the Lightning backend.

use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mesh402_api::{FaceRange, PageConfig, paths};
use mesh402_core::{ImageKind, Mode};

use crate::AppState;

/// What the page may load: only this origin, plus `data:`/`blob:` images (the photo preview, the QR code, the
/// model's textures) and `blob:` connections (the viewer reads the model's embedded textures through them). Two
/// narrow allowances for the vendored viewer, both checked by `crates/cli/tests/web_vendored.rs`:
/// `'wasm-unsafe-eval'` lets it compile its embedded WebAssembly mesh decoder (it permits no JavaScript `eval`),
/// and one style hash lets in the one `<style>` element of its shadow DOM.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'sha256-PXtZZkJMMyc18o/DN1ZEFOJ2qEGq95IQbVaJFMOXOb0='; img-src 'self' data: blob:; \
     connect-src 'self' blob:; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
pub(crate) struct Asset {
    /// The URL path it is served at.
    pub path: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    bytes: &'static [u8],
}

/// The file at `path` with its media type.
const fn asset(path: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    Asset { path, content_type, bytes }
}

/// The media types of the embedded files.
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file the page is made of, under the URL it is served at.
pub(crate) const ASSETS: &[Asset] = &[
    asset("/assets/app.js", JAVASCRIPT, include_bytes!("../web/app.js")),
    asset("/assets/app.css", CSS, include_bytes!("../web/app.css")),
    asset("/vendor/model-viewer.min.js", JAVASCRIPT, include_bytes!("../web/vendor/model-viewer.min.js")),
    asset("/vendor/qrcode.js", JAVASCRIPT, include_bytes!("../web/vendor/qrcode.js")),
    asset("/vendor/LICENSES.txt", TEXT, include_bytes!("../web/vendor/LICENSES.txt")),
    asset("/vendor/PROVENANCE.md", TEXT, include_bytes!("../web/vendor/PROVENANCE.md")),
];

const INDEX_HTML: &str = include_str!("../web/index.html");

/// A short content hash: the `ETag` and the version in asset URLs.
fn digest(bytes: &[u8]) -> String {
    // SipHash with fixed keys: the same bytes give the same tag in every run of the same binary.
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The page with every asset URL versioned by its content hash.
static INDEX: LazyLock<String> = LazyLock::new(|| {
    ASSETS.iter().fold(INDEX_HTML.to_owned(), |html, asset| {
        html.replace(&format!("\"{}\"", asset.path), &format!("\"{}?v={}\"", asset.path, digest(asset.bytes)))
    })
});

/// The page's routes.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route(paths::PAGE, get(index)).route(paths::PAGE_CONFIG, get(page_config));
    for asset in ASSETS {
        router = router.route(asset.path, get(move |headers: HeaderMap| async move { serve(asset, &headers) }));
    }
    router.route(paths::INVOICE_STATUS, post(crate::invoice_status::invoice_status))
}

async fn index(headers: HeaderMap) -> Response {
    let page = Asset { path: "/", content_type: "text/html; charset=utf-8", bytes: INDEX.as_bytes() };
    let mut response = serve(&page, &headers);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The file, or `304` when the client's copy is current.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", digest(asset.bytes));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.bytes.into_response() };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    response_headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response_headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response_headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response_headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// `GET /api/page-config`: what the page shows and checks before it sends anything.
async fn page_config(State(state): State<AppState>) -> Response {
    let config = state.service.config();
    let limits = mesh402_core::ImageLimits::default();
    let defaults = mesh402_core::MeshParams::default();
    let body = PageConfig {
        lightning: state.service.lightning_name().to_owned(),
        dev_wallet: state.dev_wallet.is_some(),
        price_sats: config.price.sats(),
        invoice_expiry_secs: config.invoice_expiry.as_secs(),
        max_body_bytes: state.max_body_bytes,
        image_types: [ImageKind::Png, ImageKind::Jpeg, ImageKind::Webp].map(|kind| kind.media_type().to_owned()).into(),
        max_pixels: limits.max_pixels,
        max_dimension: limits.max_dimension,
        modes: Mode::ALL.iter().map(|mode| mode.name().to_owned()).collect(),
        formats: mesh402_core::Format::ALL.iter().map(|format| format.extension().to_owned()).collect(),
        target_faces: FaceRange {
            min: mesh402_core::MIN_TARGET_FACES,
            max: mesh402_core::MAX_TARGET_FACES,
            default: defaults.target_faces,
        },
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_versioned_assets_that_exist() {
        for asset in ASSETS.iter().filter(|asset| asset.path.ends_with(".js") || asset.path.ends_with(".css")) {
            if INDEX_HTML.contains(&format!("\"{}\"", asset.path)) {
                assert!(INDEX.contains(&format!("{}?v={}", asset.path, digest(asset.bytes))));
            }
        }
        assert!(!INDEX.contains("<script>"), "no inline script: the CSP forbids it");
        assert!(!INDEX.contains("style=\""), "no inline style: the CSP forbids it");
    }
}
