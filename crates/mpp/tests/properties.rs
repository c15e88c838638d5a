//! Properties of the parsers an unpaid client reaches: any text read as `WWW-Authenticate`, `Authorization` or
//! `Accept-Payment` gives an answer and never panics; a challenge written with any realm and description reads back
//! as itself (alone, or joined onto an L402 line as a Fetch client joins them); a credential round-trips and
//! verifies, and a credential with any one character of its token changed is refused, or reads as one that does not
//! verify, unless it differs only in what is not bound (the description).

use mesh402_l402::{Preimage, RequestBinding};
use mesh402_mpp::{
    Binding, BodyDigest, ChallengeKey, ChallengeParts, ChargeRequest, PaymentChallenge, PaymentCredential,
    VerifyContext, accepts, parse_authorization, parse_challenges, verify,
};
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;

fn challenge(realm: &str, description: &str, preimage: &Preimage) -> PaymentChallenge {
    let charge = ChargeRequest::new(350, "lnbcrt3500n1p", preimage.hash(), Some(description));
    let parts = ChallengeParts {
        realm,
        request: &charge,
        expires_unix: NOW + 600,
        digest: Some(BodyDigest::of(description.as_bytes())),
        binding: Binding { request: RequestBinding([1; 32]), valid_until: NOW + 3600 },
        description: Some(description),
    };
    PaymentChallenge::issue(&ChallengeKey::from_bytes([7; 32]), &parts).expect("a realm without '|'")
}

/// The credential without what no verification reads.
fn bound_part(credential: &PaymentCredential) -> PaymentCredential {
    let mut credential = credential.clone();
    credential.challenge.description = None;
    credential.source = None;
    credential
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gets_an_answer(text in "(?s).{0,400}") {
        let values: Vec<&str> = text.split('\n').collect();
        let _ = parse_authorization(values.iter().copied());
        for parsed in parse_challenges(&text) {
            if let Some(Ok(challenge)) = PaymentChallenge::from_parsed(&parsed) {
                let _ = challenge.charge();
                let _ = challenge.expires_unix();
            }
        }
        let _ = accepts(values.iter().copied(), "lightning", "charge");
    }

    #[test]
    fn header_shaped_text_gets_an_answer(text in r#"(Payment |L402 |, |[a-z]{1,6}=|"|\\|[A-Za-z0-9+/=_-]{1,12}| ){0,40}"#) {
        for parsed in parse_challenges(&text) {
            let _ = PaymentChallenge::from_parsed(&parsed);
        }
        let _ = parse_authorization([text.as_str()]);
    }

    #[test]
    fn a_challenge_reads_back_as_itself(realm in "[a-z0-9.:-]{1,40}", description in "[ -~]{0,80}") {
        let preimage = Preimage([9; 32]);
        let issued = challenge(&realm, &description, &preimage);
        let header = issued.header_value();
        let joined = format!("L402 macaroon=\"AgEEbHNhdA==\", invoice=\"lnbc1\", {header}");
        for field in [header.as_str(), joined.as_str()] {
            let read: Vec<PaymentChallenge> = parse_challenges(field)
                .iter()
                .filter_map(PaymentChallenge::from_parsed)
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(read, vec![issued.clone()]);
        }
    }

    #[test]
    fn a_credential_with_one_character_changed_does_not_verify_as_another(
        position in 0usize..4000,
        replacement in prop::sample::select(b"0123456789abcdefABCDEFxyzXYZ-_".to_vec()),
    ) {
        let preimage = Preimage([9; 32]);
        let credential = PaymentCredential::new(challenge("models.example.com", "one model", &preimage), &preimage);
        let header = credential.header_value();
        let keys = [ChallengeKey::from_bytes([7; 32])];
        let context = VerifyContext { realm: "models.example.com", now_unix: NOW, request_binding: None };
        let read = parse_authorization([header.as_str()]).unwrap().unwrap();
        prop_assert_eq!(&read, &credential);
        prop_assert_eq!(verify(&read, &keys, &context).unwrap().payment_hash, preimage.hash());

        let mut changed = header.into_bytes();
        let start = "Payment ".len();
        let position = start + position % (changed.len() - start);
        prop_assume!(changed[position] != replacement);
        changed[position] = replacement;
        let changed = String::from_utf8(changed).unwrap();
        if let Ok(Some(other)) = parse_authorization([changed.as_str()])
            && bound_part(&other) != bound_part(&credential)
        {
            prop_assert!(verify(&other, &keys, &context).is_err(), "a changed credential verified: {other:?}");
        }
    }
}
