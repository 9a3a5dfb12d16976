//! Passports as the emulator signs them, verified with lime-core's rules
//! and this crate's RS256 check: every refusal the contract names gets its
//! own typed reason.
#![forbid(unsafe_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use lime_core::site::{Expected, KeySet, PassportRefused, verify_passport};
use lime_emulator::passport::IssuerKey;
use serde_json::{Value, json};

const ISSUER: &str = "https://lime.example";
const NOW: i64 = 1_800_000_000;

fn claims() -> Value {
    json!({
        "aud": "lime-site-login", "iss": ISSUER, "sub": "agent_1",
        "request_id": "lr_1", "iat": NOW, "nbf": NOW, "exp": NOW + 120,
    })
}

fn with(change: impl FnOnce(&mut Value)) -> Value {
    let mut c = claims();
    change(&mut c);
    c
}

fn check(
    token: &str,
    keys: &KeySet,
    expected: &Expected,
    now: i64,
) -> Result<String, PassportRefused> {
    verify_passport(token, keys, expected, now, &lime_tls::ProviderRs256).map(|p| p.agent_id)
}

#[test]
fn every_rule_of_the_contract_has_its_typed_refusal() {
    let key = IssuerKey::generate().unwrap();
    let keys = KeySet::from_jwks(key.jwks().to_string().as_bytes()).unwrap();
    let expected = Expected::new(ISSUER, "lr_1");
    let ok = key.sign(&claims());
    assert_eq!(
        check(&ok, &keys, &expected, NOW + 1).as_deref(),
        Ok("agent_1")
    );
    let cases: Vec<(Value, i64, PassportRefused)> = vec![
        (
            with(|c| c["aud"] = "mcp".into()),
            NOW,
            PassportRefused::Audience,
        ),
        (
            with(|c| c["iss"] = "https://evil.example".into()),
            NOW,
            PassportRefused::Issuer,
        ),
        (
            with(|c| c["sub"] = "".into()),
            NOW,
            PassportRefused::Subject,
        ),
        (
            with(|c| c["request_id"] = "lr_2".into()),
            NOW,
            PassportRefused::Request,
        ),
        (claims(), NOW + 120, PassportRefused::Expired),
        (
            with(|c| c["exp"] = (NOW + 121).into()),
            NOW,
            PassportRefused::Lifetime,
        ),
        (
            with(|c| c["nbf"] = (NOW + 5).into()),
            NOW,
            PassportRefused::NotYetValid,
        ),
    ];
    for (claims, now, refusal) in cases {
        let token = key.sign(&claims);
        assert_eq!(
            check(&token, &keys, &expected, now),
            Err(refusal.clone()),
            "{claims}"
        );
    }
    // A key the set lacks, and a signature over other claims.
    let other = IssuerKey::generate().unwrap();
    assert_eq!(
        check(&other.sign(&claims()), &keys, &expected, NOW),
        Err(PassportRefused::UnknownKey)
    );
    let (head, _) = ok.split_once('.').unwrap();
    let signature = ok.rsplit_once('.').unwrap().1;
    let forged_claims = B64.encode(with(|c| c["sub"] = "agent_evil".into()).to_string());
    let tampered = format!("{head}.{forged_claims}.{signature}");
    assert_eq!(
        check(&tampered, &keys, &expected, NOW),
        Err(PassportRefused::Signature)
    );
    // alg none, and HS256 "signed" with the public key as the secret.
    let body = B64.encode(claims().to_string());
    for alg in ["none", "HS256"] {
        let header = B64.encode(json!({ "alg": alg, "kid": key.kid() }).to_string());
        let token = format!("{header}.{body}.{}", B64.encode(b"whatever"));
        assert_eq!(
            check(&token, &keys, &expected, NOW),
            Err(PassportRefused::Algorithm),
            "{alg}"
        );
    }
    assert_eq!(
        check("a.b", &keys, &expected, NOW),
        Err(PassportRefused::Malformed)
    );
}

#[test]
fn the_named_exceptions_are_explicit_choices() {
    let key = IssuerKey::generate().unwrap();
    let keys = KeySet::from_jwks(key.jwks().to_string().as_bytes()).unwrap();
    let other_request = key.sign(&with(|c| c["request_id"] = "lr_9".into()));
    // Binding to the request is the default; skipping it is named.
    assert!(check(&other_request, &keys, &Expected::new(ISSUER, "lr_1"), NOW).is_err());
    assert!(check(&other_request, &keys, &Expected::any_request(ISSUER), NOW).is_ok());
    // A leeway only as a setting.
    let late = NOW + 121;
    let token = key.sign(&claims());
    assert!(check(&token, &keys, &Expected::new(ISSUER, "lr_1"), late).is_err());
    assert!(
        check(
            &token,
            &keys,
            &Expected::new(ISSUER, "lr_1").leeway_secs(5),
            late
        )
        .is_ok()
    );
    // As of issue, within an explicit maximum age.
    let replayed = Expected::new(ISSUER, "lr_1").at_issue_within_secs(3600);
    assert!(check(&token, &keys, &replayed, NOW + 600).is_ok());
    assert_eq!(
        check(&token, &keys, &replayed, NOW + 3601),
        Err(PassportRefused::Expired)
    );
}

#[test]
fn a_binding_passport_names_its_binding_and_lives_at_most_60_s() {
    use lime_core::site::verify_binding_passport;
    let key = IssuerKey::generate().unwrap();
    let keys = KeySet::from_jwks(key.jwks().to_string().as_bytes()).unwrap();
    let binding = |change: &dyn Fn(&mut Value)| {
        let mut c = json!({
            "aud": "lime-binding", "iss": ISSUER, "sub": "agent_1",
            "binding_id": "bd_1", "iat": NOW, "nbf": NOW, "exp": NOW + 60,
        });
        change(&mut c);
        key.sign(&c)
    };
    let check = |token: &str| {
        verify_binding_passport(token, &keys, ISSUER, NOW + 1, &lime_tls::ProviderRs256)
    };
    let verified = check(&binding(&|_| {})).unwrap();
    assert_eq!(
        (verified.agent_id.as_str(), verified.binding_id.as_str()),
        ("agent_1", "bd_1")
    );
    type Change<'a> = &'a dyn Fn(&mut Value);
    let cases: [(Change<'_>, PassportRefused); 5] = [
        (&|c| c["exp"] = (NOW + 61).into(), PassportRefused::Lifetime),
        (&|c| c["binding_id"] = " ".into(), PassportRefused::Binding),
        (
            &|c| c["aud"] = "lime-site-login".into(),
            PassportRefused::Audience,
        ),
        (
            &|c| c["iss"] = "https://evil.example".into(),
            PassportRefused::Issuer,
        ),
        (&|c| c["exp"] = NOW.into(), PassportRefused::Expired),
    ];
    for (change, refused) in cases {
        assert_eq!(check(&binding(change)), Err(refused.clone()), "{refused:?}");
    }
    // A login passport is no binding passport, and the reverse.
    assert_eq!(check(&key.sign(&claims())), Err(PassportRefused::Audience));
    let as_login = verify_passport(
        &binding(&|_| {}),
        &keys,
        &Expected::new(ISSUER, "lr_1"),
        NOW,
        &lime_tls::ProviderRs256,
    );
    assert_eq!(as_login, Err(PassportRefused::Audience));
}

#[test]
fn the_verifiers_helpers_read_the_system_clock_and_say_which_rule_broke() {
    use lime_core::Error;
    use lime_core::site::McpTokenRefused;
    let key = IssuerKey::generate().unwrap();
    let keys = KeySet::from_jwks(key.jwks().to_string().as_bytes()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at =
        |t: i64| with(|c| (c["iat"], c["nbf"], c["exp"]) = (t.into(), t.into(), (t + 120).into()));
    let expected = Expected::new(ISSUER, "lr_1");
    let verified = lime_tls::verify_passport(&key.sign(&at(now)), &keys, &expected).unwrap();
    assert_eq!(verified.agent_id, "agent_1");
    for (issued, refused) in [
        (now - 600, PassportRefused::Expired),
        (now + 600, PassportRefused::NotYetValid),
    ] {
        let error = lime_tls::verify_passport(&key.sign(&at(issued)), &keys, &expected);
        assert!(
            matches!(error, Err(Error::PassportRefused(ref r)) if *r == refused),
            "{error:?}"
        );
    }
    let binding = |exp: i64| {
        key.sign(&json!({
            "aud": "lime-binding", "iss": ISSUER, "sub": "agent_1", "binding_id": "bd_1",
            "iat": exp - 60, "nbf": exp - 60, "exp": exp,
        }))
    };
    let bound = lime_tls::verify_binding_passport(&binding(now + 30), &keys, ISSUER).unwrap();
    assert_eq!(bound.binding_id, "bd_1");
    let late = lime_tls::verify_binding_passport(&binding(now - 30), &keys, ISSUER);
    assert!(
        matches!(late, Err(Error::PassportRefused(PassportRefused::Expired))),
        "{late:?}"
    );
    let mcp = |exp: i64| {
        key.sign(&json!({
            "aud": "mcp", "iss": ISSUER, "sub": "agent_1", "domain": "mcp.example.com",
            "iat": exp - 300, "exp": exp,
        }))
    };
    let token = lime_tls::verify_mcp_token(&mcp(now + 300), &keys, ISSUER, "mcp.example.com");
    assert_eq!(token.unwrap().agent_id, "agent_1");
    let stale = lime_tls::verify_mcp_token(&mcp(now - 1), &keys, ISSUER, "mcp.example.com");
    assert!(
        matches!(stale, Err(Error::McpTokenRefused(McpTokenRefused::Expired))),
        "{stale:?}"
    );
}
