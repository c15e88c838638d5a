//! Fuzzes the JSON bodies of the refund claim (`{"invoice": …}`, whose invoice is then read) and of the
//! invoice-status look-up (`{"macaroon": …}`, whose macaroon is then decoded): any bytes must be read or refused,
//! never panic. The first byte picks the endpoint, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh402_api::{InvoiceStatusRequest, RefundClaim};
use mesh402_l402::Macaroon;
use mesh402_ln::invoice_facts;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    if which % 2 == 0 {
        if let Ok(claim) = serde_json::from_slice::<RefundClaim>(body) {
            let _ = invoice_facts(claim.invoice.trim());
        }
    } else if let Ok(request) = serde_json::from_slice::<InvoiceStatusRequest>(body)
        && let Ok(macaroon) = Macaroon::from_base64(request.macaroon.trim())
    {
        assert_eq!(Macaroon::from_base64(&macaroon.to_base64()).as_ref(), Ok(&macaroon));
    }
});
