use super::*;
use crate::message::Message;
use crate::record::Question;
use crate::types::Opcode;

fn key() -> Key {
    Key::parse("xfr.example.:hmac-sha256:c2VjcmV0IGtleSBieXRlcyBmb3IgdGVzdHM=").unwrap()
}

fn query() -> Vec<u8> {
    let mut m = Message::new(0x4242, Opcode::QUERY);
    m.questions.push(Question {
        name: Name::from_text("example.com.", None).unwrap(),
        qtype: RType::SOA,
        qclass: Class::IN,
    });
    let mut out = Vec::new();
    m.emit(&mut out).unwrap();
    out
}

#[test]
fn key_syntax() {
    let k = key();
    assert_eq!(k.name.to_text(), "xfr.example.");
    assert_eq!(k.secret, b"secret key bytes for tests");
    assert_eq!(Key::parse("hmac-sha256:xfr.example:c2VjcmV0").unwrap().name.to_text(), "xfr.example.");
    assert_eq!(Key::parse("k:hmac-md5:c2VjcmV0"), Err(KeyError::Algorithm));
    assert_eq!(Key::parse("k:hmac-sha256:not base64!"), Err(KeyError::Secret));
    assert_eq!(Key::parse("k"), Err(KeyError::Syntax));
    assert!(!alloc::format!("{k:?}").contains("secret key"));
}

#[test]
fn sign_then_verify() {
    let mut q = query();
    let mac = sign(&mut q, &key(), 1_700_000_000, None, 0);
    assert_eq!(mac.len(), 32);
    let m = Message::parse(&q).unwrap();
    assert_eq!(m.additional.last().unwrap().rtype(), RType::TSIG);
    let v = verify(&q, &[key()], 1_700_000_100, None).unwrap();
    assert_eq!(v.mac, mac);
    assert_eq!(without_tsig(&q).unwrap().unwrap(), query());
    assert_eq!(without_tsig(&query()).unwrap(), None);
    // The response is signed over the request's MAC.
    let mut resp = query();
    resp[2] |= 0x80;
    sign(&mut resp, &key(), 1_700_000_001, Some(&mac), 0);
    assert!(verify(&resp, &[key()], 1_700_000_001, Some(&mac)).is_ok());
    assert_eq!(verify(&resp, &[key()], 1_700_000_001, None).unwrap_err(), TsigError::BadSig);
}

#[test]
fn refusals() {
    let mut q = query();
    sign(&mut q, &key(), 1_700_000_000, None, 0);
    let other = Key { name: Name::from_text("other.", None).unwrap(), secret: b"x".to_vec() };
    assert_eq!(verify(&q, core::slice::from_ref(&other), 1_700_000_000, None), Err(TsigError::BadKey));
    let wrong_secret = Key { secret: b"not the secret".to_vec(), ..key() };
    assert_eq!(verify(&q, &[wrong_secret], 1_700_000_000, None), Err(TsigError::BadSig));
    assert_eq!(verify(&q, &[key()], 1_700_000_301, None), Err(TsigError::BadTime { signed: 1_700_000_000 }));
    let mut tampered = q.clone();
    tampered[HEADER_LEN + 1] ^= 0x20;
    assert_eq!(verify(&tampered, &[key()], 1_700_000_000, None), Err(TsigError::BadSig));
    assert_eq!(verify(&query(), &[key()], 0, None), Err(TsigError::Unsigned));
    assert!(matches!(verify(&q[..q.len() - 3], &[key()], 0, None), Err(TsigError::Malformed(_))));
}

#[test]
fn streams() {
    let request_mac = alloc::vec![7u8; 32];
    let mut signer = StreamSigner::new(key(), request_mac.clone());
    let mut verifier = StreamVerifier::new(key(), request_mac);
    for i in 0..4u64 {
        let mut m = query();
        signer.sign(&mut m, 1000 + i);
        verifier.verify(&m, 1000 + i).unwrap();
    }
    verifier.finish().unwrap();
    // A message out of order fails.
    let mut signer = StreamSigner::new(key(), alloc::vec![1; 32]);
    let mut verifier = StreamVerifier::new(key(), alloc::vec![1; 32]);
    let (mut a, mut b, mut c) = (query(), query(), query());
    signer.sign(&mut a, 5);
    signer.sign(&mut b, 5);
    signer.sign(&mut c, 5);
    verifier.verify(&a, 5).unwrap();
    assert_eq!(verifier.verify(&c, 5), Err(TsigError::BadSig));
}

proptest::proptest! {
    #[test]
    fn verify_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = verify(&bytes, &[key()], 0, None);
    }
}
