//! The `Payment` scheme's operations on the request path: issuing a challenge (canonical request, HMAC id, header
//! line), reading a credential and verifying it. Run with `cargo bench -p mesh402-mpp`.

use divan::{Bencher, black_box};
use mesh402_l402::{PaymentHash, Preimage, RequestBinding};
use mesh402_mpp::{
    Binding, BodyDigest, ChallengeKey, ChallengeParts, ChargeRequest, PaymentChallenge, PaymentCredential,
    VerifyContext, parse_authorization, verify,
};

const NOW: u64 = 1_800_000_000;
const INVOICE: &str = "lnbcrt3500n1p5abcdefpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpusp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9qrsgq";

fn main() {
    divan::main();
}

fn parts<'a>(charge: &'a ChargeRequest, digest: &BodyDigest) -> ChallengeParts<'a> {
    ChallengeParts {
        realm: "models.example.com",
        request: charge,
        expires_unix: NOW + 600,
        digest: Some(digest.clone()),
        binding: Binding { request: RequestBinding([3; 32]), valid_until: NOW + 86_400 },
        description: None,
    }
}

#[divan::bench]
fn issue_challenge(bencher: Bencher) {
    let key = ChallengeKey::from_bytes([5; 32]);
    let digest = BodyDigest::of(b"{}");
    bencher.bench_local(|| {
        let charge = ChargeRequest::new(350, INVOICE, PaymentHash([1; 32]), Some("mesh402 3d-model: one model"));
        let challenge = PaymentChallenge::issue(&key, &parts(black_box(&charge), &digest)).expect("a challenge");
        challenge.header_value()
    });
}

#[divan::bench(args = [18 * 1024, 4 * 1024 * 1024])]
fn body_digest(bencher: Bencher, len: usize) {
    let body = vec![7u8; len];
    bencher.bench_local(|| BodyDigest::of(black_box(&body)));
}

#[divan::bench]
fn parse_and_verify_credential(bencher: Bencher) {
    let key = ChallengeKey::from_bytes([5; 32]);
    let preimage = Preimage([9; 32]);
    let charge = ChargeRequest::new(350, INVOICE, preimage.hash(), None);
    let digest = BodyDigest::of(b"{}");
    let challenge = PaymentChallenge::issue(&key, &parts(&charge, &digest)).expect("a challenge");
    let header = PaymentCredential::new(challenge, &preimage).header_value();
    let keys = [key];
    let context =
        VerifyContext { realm: "models.example.com", now_unix: NOW, request_binding: Some(RequestBinding([3; 32])) };
    bencher.bench_local(|| {
        let credential = parse_authorization([black_box(header.as_str())]).expect("reads").expect("a credential");
        verify(&credential, &keys, &context).expect("verifies")
    });
}
