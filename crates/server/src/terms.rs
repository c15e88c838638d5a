//! The service's terms at `GET /terms`, and the licences of third-party models that an operator must accept before
//! `serve` starts.
//!
//! The embedded generator is this project's own code under its own licence: its models come with no terms but the
//! service's. A Hunyuan3D model is under the Tencent Hunyuan 3D Community License of its version, which (as the
//! operator accepts it by naming it in `hunyuan3d_licence`) does not cover the European Union, the United Kingdom
//! or South Korea, requires a service built on it to pass the agreement and its use restrictions on to its users,
//! and forbids using its outputs to improve other AI models. The terms say so to every buyer, and the manifest, the
//! OpenAPI document and the web page link to them.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::discovery::Offer;

/// The terms a buyer accepts by paying, in Markdown.
pub fn terms(offer: &Offer) -> String {
    let mut text = format!(
        "# Terms of this mesh402 service\n\n\
         Each paid request buys one 3D model of the picture (or prompt) sent with it, for {} sats, paid over \
         Lightning. The invoice is the price: there are no accounts and nothing else is charged. A paid request \
         that cannot be delivered {}. Models are kept for download for a limited time; save what you bought.\n\n\
         Send only pictures you may use. The picture is stored until its model is made, then deleted.\n",
        offer.price_sats,
        if offer.refunds {
            "offers a refund of what was paid, claimed with the same credential"
        } else {
            "can be retried with the same credential while it is valid"
        },
    );
    match offer.licence {
        None => text.push_str(
            "\nModels are made by mesh402's own generator on this server. They are yours to use as you like.\n",
        ),
        Some(licence) => text.push_str(&format!(
            "\n## The model's licence\n\n\
             Models are made by Tencent's Hunyuan3D model, under the {title} ({url}), which the operator of this \
             service has accepted and which binds you as a user of this service too. In particular:\n\n\
             - The licence does not cover the European Union, the United Kingdom or South Korea: do not use this \
             service or its models there.\n\
             - Follow the licence's Acceptable Use Policy (published with it).\n\
             - Do not use the models, or any other output of the service, to improve any other AI model.\n\n\
             By paying you accept these terms and the licence.\n",
            title = licence.title(),
            url = licence.url(),
        )),
    }
    text
}

/// `GET /terms`.
pub async fn get_terms(State(state): State<AppState>) -> Response {
    let mut response = terms(&state.offer).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/markdown; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_generators_terms_carry_no_third_party_licence() {
        let config = crate::Config::resolve(crate::RawConfig::default()).unwrap();
        let offer = Offer::new(&config, "http://127.0.0.1:8402");
        assert_eq!(offer.licence, None);
        let text = terms(&offer);
        assert!(text.contains(&format!("{} sats", config.price_sats)), "{text}");
        assert!(text.contains("yours to use") && !text.contains("Tencent"), "{text}");
    }
}
