//! Fuzzes the BOLT11 reader the buyer relies on (`invoice_facts`: amount, payment hash, expiry of a challenge's
//! or a refund's invoice): any text must be read or refused with a reason, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh402_ln::invoice_facts;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(facts) = invoice_facts(&text) {
        assert!(facts.expires_at >= facts.expiry.as_secs());
    }
});
