//! The invoice reader the buyer relies on (`invoice_facts`), fed what a hostile server could send: any text, and a
//! real invoice with one character changed. It answers every time and never panics; a changed invoice either fails
//! to read or reads with a valid signature (bech32's checksum catches one changed character, so in practice it
//! fails).

use mesh402_ln::{InvoiceError, invoice_facts};
use proptest::prelude::*;

/// A real regtest invoice (Aperture's, from lsat-js' tests).
const INVOICE: &str = "lnbcrt100n1p3qqkygpp5xzj85m5mpvatnapgpuyfxtxhypa5gr6sskqd8664v04550vqp8lsdq8f3f5z4qcqzpgsp5tpzvsq5pckqgln3ltpy3e9cf6tf2aj82ffa2tted77ltweuaweks9qyyssq0w5da3k40wtdukac7hp5s58hsxf8k8f52c5qneezu4xg3xh87xrnkl5jwtw098d2gjywx20nmkxl2y4vq9fr89kg5kzcwupv9xpdaggp4fc4ms";

#[test]
fn the_real_invoice_reads() {
    let facts = invoice_facts(INVOICE).expect("a valid invoice");
    assert_eq!(facts.amount_msat, Some(10_000));
}

#[test]
fn text_that_is_not_bolt11_is_called_malformed() {
    for text in ["", "lnbc1", "not an invoice", &INVOICE[..INVOICE.len() - 1]] {
        assert!(matches!(invoice_facts(text), Err(InvoiceError::Malformed(_))), "{text:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gets_an_answer(text in "(?s).{0,600}") {
        let _ = invoice_facts(&text);
    }

    #[test]
    fn bech32_shaped_text_gets_an_answer(text in "ln(bc|bcrt|tb|tbs)[0-9]{0,6}[munp]?1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{0,700}") {
        let _ = invoice_facts(&text);
    }

    #[test]
    fn one_changed_character_is_refused(
        position in 0usize..INVOICE.len(),
        replacement in prop::sample::select(b"qpzry9x8gf2tvdw0s3jn54khce6mua7l".to_vec()),
    ) {
        let mut changed = INVOICE.as_bytes().to_vec();
        prop_assume!(changed[position] != replacement && position > "lnbcrt100n1".len());
        changed[position] = replacement;
        let changed = String::from_utf8(changed).unwrap();
        prop_assert!(invoice_facts(&changed).is_err(), "a changed invoice read as valid");
    }
}
