//! Downloads of stored models: `GET /models/{model_id}.{ext}` (the primary file) and
//! `GET /models/{model_id}/{name}` (any file of the model, such as OBJ's MTL and texture). Model ids are
//! unguessable, so a URL is the permission to read it.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use mesh402_core::Format;
use mesh402_store::{FileLocation, ModelId};
use tower::ServiceExt;

use crate::AppState;
use crate::error::ApiError;

/// The URL of a stored model's primary file.
pub fn model_url(public_url: &str, model_id: &ModelId, file_name: &str) -> String {
    match file_name.strip_prefix("model.") {
        // Single-file formats get the short form; OBJ keeps its folder so the MTL and texture resolve.
        Some(extension) if extension != "obj" => format!("{public_url}/models/{model_id}.{extension}"),
        _ => format!("{public_url}/models/{model_id}/{file_name}"),
    }
}

/// `GET /models/{id}.{ext}`: the primary file of a stored model.
pub async fn download_primary(
    State(state): State<AppState>,
    Path(file): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let (model_id, extension) = file.split_once('.').ok_or_else(ApiError::not_found)?;
    let model_id = model_id.parse().map_err(|_| ApiError::not_found())?;
    serve_model_file(&state, &model_id, &format!("model.{extension}"), request).await
}

/// `GET /models/{id}/{name}`: any file of a stored model (OBJ with its MTL and texture).
pub async fn download_file(
    State(state): State<AppState>,
    Path((model_id, name)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let model_id = model_id.parse().map_err(|_| ApiError::not_found())?;
    serve_model_file(&state, &model_id, &name, request).await
}

/// The media type a model file is served with: the generator's own for its formats, else by extension for the
/// files that accompany them.
fn media_type_of(name: &str) -> &'static str {
    let extension = name.rsplit('.').next().unwrap_or("");
    if let Some(format) = Format::ALL.into_iter().find(|f| f.extension() == extension) {
        return format.media_type();
    }
    match extension {
        "mtl" => "model/mtl",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

async fn serve_model_file(
    state: &AppState,
    model_id: &ModelId,
    name: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let location = state.files.locate_model_file(model_id, name).await.map_err(|error| {
        if error.is_unavailable() {
            return crate::error::storage_unavailable(&error);
        }
        tracing::error!(error = %error, "model lookup failed");
        ApiError::internal()
    })?;
    let media_type: mime::Mime = media_type_of(name).parse().map_err(|_| ApiError::internal())?;
    let mut response = match location {
        None => return Err(ApiError::not_found()),
        Some(FileLocation::Local(path)) => {
            // tower-http's ServeFile does ranges, conditional requests, HEAD and Content-Length correctly.
            let served = tower_http::services::ServeFile::new_with_mime(path, &media_type)
                .oneshot(request)
                .await
                .map_err(|_| ApiError::internal())?;
            if served.status() == StatusCode::NOT_FOUND {
                return Err(ApiError::not_found());
            }
            served.map(Body::new)
        }
        Some(FileLocation::Streamed { length, bytes }) => {
            // Whole files only (no ranges), streamed as they arrive: memory stays a few chunks per download. A HEAD
            // drops the stream unread.
            let body = if request.method() == Method::HEAD { Body::empty() } else { Body::from_stream(bytes) };
            let mut response = Response::new(body);
            let headers = response.headers_mut();
            let content_type = HeaderValue::from_str(media_type.as_ref()).map_err(|_| ApiError::internal())?;
            headers.insert(header::CONTENT_TYPE, content_type);
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            response
        }
        Some(FileLocation::Redirect(url)) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_str(&url).map_err(|_| ApiError::internal())?);
            // The presigned URL expires: the redirect itself must not be cached past it.
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return Ok(response);
        }
        Some(_) => return Err(ApiError::internal()),
    };
    let headers = response.headers_mut();
    // A model id never changes content, so caches may keep it for the retention period.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=604800, immutable"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("inline; filename=\"{name}\"")).map_err(|_| ApiError::internal())?,
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_media_types_of_model_files() {
        let model_id = ModelId([0xab; 32]);
        let id = model_id.to_string();
        assert_eq!(model_url("http://x", &model_id, "model.glb"), format!("http://x/models/{id}.glb"));
        assert_eq!(model_url("http://x", &model_id, "model.obj"), format!("http://x/models/{id}/model.obj"));
        assert_eq!(media_type_of("model.glb"), "model/gltf-binary");
        assert_eq!(media_type_of("model.stl"), "model/stl");
        assert_eq!(media_type_of("model.mtl"), "model/mtl");
        assert_eq!(media_type_of("texture.jpg"), "image/jpeg");
        assert_eq!(media_type_of("README"), "application/octet-stream");
    }
}
