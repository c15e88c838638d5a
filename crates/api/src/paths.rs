//! Every route the server answers, by its path (placeholders in braces, as the router and the OpenAPI document
//! write them), and the URLs a client builds from them.

/// `POST` a request for a model (the L402-gated endpoint); `GET` its description.
pub const MODEL: &str = "/api/l402/3d-model";
/// The seed's other name for [`MODEL`] (`POST` only).
pub const MODEL_ALIAS: &str = "/api/l402/generate-3d-model";
/// `POST`: the price and the checks of a request, without an invoice.
pub const QUOTE: &str = "/api/l402/quote";
/// `GET`: a job's status, with the credential that paid for it.
pub const JOB: &str = "/api/l402/jobs/{job_id}";
/// `GET`: a job's server-sent events.
pub const JOB_EVENTS: &str = "/api/l402/jobs/{job_id}/events";
/// `POST`: claim the refund a failed job offers.
pub const JOB_REFUND: &str = "/api/l402/jobs/{job_id}/refund";
/// `POST`: whether an invoice was paid, by its macaroon (the web page polls it).
pub const INVOICE_STATUS: &str = "/api/l402/invoice-status";
/// `GET`: a model's primary file, `<model_id>.<extension>`.
pub const MODEL_FILE: &str = "/models/{file}";
/// `GET`: any file of a model by its name (`model.obj`, `model.mtl`, `texture.jpg`).
pub const MODEL_FILE_NAMED: &str = "/models/{model_id}/{name}";
/// `GET`: liveness.
pub const HEALTH: &str = "/healthz";
/// `GET`: the L402 services manifest.
pub const MANIFEST: &str = "/.well-known/l402-services";
/// `GET`: the L402 discovery document.
pub const L402_JSON: &str = "/.well-known/l402.json";
/// `GET`: [`L402_JSON`] under its other name.
pub const L402_JSON_ALIAS: &str = "/.well-known/l402";
/// `GET`: the description for language models.
pub const LLMS_TXT: &str = "/llms.txt";
/// `GET`: the OpenAPI 3.1 document.
pub const OPENAPI: &str = "/openapi.json";
/// `GET`: the catalogue of error codes.
pub const ERROR_CODES: &str = "/api/error-codes";
/// `GET`: the terms a buyer accepts by paying (Markdown).
pub const TERMS: &str = "/terms";
/// `GET`: the web page.
pub const PAGE: &str = "/";
/// `GET`: the web page's settings.
pub const PAGE_CONFIG: &str = "/api/page-config";
/// `POST`: the development wallet pays an invoice (only while it is the backend).
pub const DEV_PAY: &str = "/dev/pay";
/// `POST`: the development wallet makes an invoice (only while it is the backend).
pub const DEV_INVOICE: &str = "/dev/invoice";

/// An HTTP method a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// The method's name in lower case, as OpenAPI keys it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
        }
    }
}

/// Every route of the public listener with its methods (the web page's static files aside); the development
/// wallet's two only while it is the backend. The router is built from these constants and a test requests each.
pub const ROUTES: &[(&str, &[Method])] = &[
    (MODEL, &[Method::Get, Method::Post]),
    (MODEL_ALIAS, &[Method::Post]),
    (QUOTE, &[Method::Post]),
    (JOB, &[Method::Get]),
    (JOB_EVENTS, &[Method::Get]),
    (JOB_REFUND, &[Method::Post]),
    (INVOICE_STATUS, &[Method::Post]),
    (MODEL_FILE, &[Method::Get]),
    (MODEL_FILE_NAMED, &[Method::Get]),
    (HEALTH, &[Method::Get]),
    (MANIFEST, &[Method::Get]),
    (L402_JSON, &[Method::Get]),
    (L402_JSON_ALIAS, &[Method::Get]),
    (LLMS_TXT, &[Method::Get]),
    (OPENAPI, &[Method::Get]),
    (ERROR_CODES, &[Method::Get]),
    (TERMS, &[Method::Get]),
    (PAGE, &[Method::Get]),
    (PAGE_CONFIG, &[Method::Get]),
    (DEV_PAY, &[Method::Post]),
    (DEV_INVOICE, &[Method::Post]),
];

/// A path with its placeholders filled in order: `fill(JOB, &[job_id])`.
pub fn fill(path: &str, values: &[&str]) -> String {
    let mut filled = String::with_capacity(path.len() + 64);
    let mut rest = path;
    let mut values = values.iter();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        filled.push_str(&rest[..open]);
        filled.push_str(values.next().copied().unwrap_or_default());
        rest = &rest[open + close + 1..];
    }
    filled.push_str(rest);
    filled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in_order() {
        assert_eq!(fill(JOB_REFUND, &["ab12"]), "/api/l402/jobs/ab12/refund");
        assert_eq!(fill(MODEL_FILE_NAMED, &["m1", "model.obj"]), "/models/m1/model.obj");
        assert_eq!(fill(HEALTH, &[]), "/healthz");
    }
}
