//! The MCP target policy: the official SDK's own answers for ~400 targets,
//! the rules one by one with their near misses, and a property: whatever is
//! accepted is a valid host name and never an IP address.
#![forbid(unsafe_code)]

use lime_core::mcp::{McpTarget, TargetRefused};
use proptest::prelude::*;

/// lime-agents-sdk 3.0.2's answers (`tests/vectors/mcp_targets.json`).
#[test]
fn every_vector_gets_the_official_sdks_outcome_with_three_deliberate_differences() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("vectors/mcp_targets.json")).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() > 350);
    let (mut accepted, mut refused, mut local) = (0, 0, 0);
    for case in cases {
        let target = case["target"].as_str().unwrap();
        // Plain-http URLs are compared with the opt-in given (difference 1).
        let ours = McpTarget::parse(target, true);
        match (case["domain"].as_str(), case["url"].as_str()) {
            (Some(domain), Some(url)) => {
                let port_out_of_range = target.ends_with(":99999");
                if port_out_of_range {
                    // Difference 2: a port is 1–65535.
                    assert_eq!(ours, Err(TargetRefused::Port), "{target:?}");
                    continue;
                }
                if !domain.contains('.')
                    || domain.starts_with("ip6-")
                    || domain == "localhost.localdomain"
                {
                    // Difference 3: single labels and hosts-file aliases.
                    assert_eq!(ours, Err(TargetRefused::LocalName), "{target:?}");
                    local += 1;
                    continue;
                }
                let ours = ours.unwrap_or_else(|e| panic!("{target:?} refused: {e}"));
                assert_eq!((ours.domain(), ours.url()), (domain, url), "{target:?}");
                accepted += 1;
                if url.to_ascii_lowercase().starts_with("http://") {
                    assert_eq!(
                        McpTarget::parse(target, false),
                        Err(TargetRefused::PlainHttp),
                        "{target:?} without the opt-in"
                    );
                }
            }
            _ => {
                assert!(
                    ours.is_err(),
                    "{target:?} accepted as {ours:?}; the SDK says {}",
                    case["error"]
                );
                refused += 1;
            }
        }
    }
    assert!(
        accepted > 70 && refused > 290 && local > 0,
        "{accepted} accepted, {refused} refused, {local} local names"
    );
}

#[test]
fn each_rule_refuses_its_targets_and_lets_the_near_misses_through() {
    let long_label = format!("{}.example", "a".repeat(63));
    let too_long_label = format!("{}.example", "a".repeat(64));
    // 4 labels of 61 + 3 dots = 247, plus ".abcde" = 253 exactly.
    let name_253 = format!("{0}.{0}.{0}.{0}.abcde", "a".repeat(61));
    let name_254 = format!("{0}.{0}.{0}.{0}.abcdef", "a".repeat(61));
    assert_eq!(name_253.len(), 253);
    let table: Vec<(&str, Result<&str, TargetRefused>)> = vec![
        ("", Err(TargetRefused::Empty)),
        ("  \t ", Err(TargetRefused::Empty)),
        (
            "https://user:pw@mcp.example.com",
            Err(TargetRefused::UserInfo),
        ),
        ("127.1", Err(TargetRefused::IpAddress)),
        ("0x7f000001", Err(TargetRefused::IpAddress)),
        ("2130706433", Err(TargetRefused::IpAddress)),
        ("0177.0.0.1", Err(TargetRefused::IpAddress)),
        ("[::1]", Err(TargetRefused::IpAddress)),
        ("[::1]:8443", Err(TargetRefused::IpAddress)),
        ("169.254.169.254", Err(TargetRefused::IpAddress)),
        ("1e100.net", Ok("1e100.net")),
        ("0x.example", Ok("0x.example")),
        ("example.123", Ok("example.123")),
        ("mcp.example.com:0", Err(TargetRefused::Port)),
        ("mcp.example.com:65536", Err(TargetRefused::Port)),
        ("mcp.example.com:65535", Ok("mcp.example.com")),
        ("mcp.example.com:", Err(TargetRefused::Port)),
        ("mcp.example.com:+80", Err(TargetRefused::Port)),
        ("a.local", Err(TargetRefused::Reserved)),
        ("local", Err(TargetRefused::LocalName)),
        ("vm", Err(TargetRefused::LocalName)),
        ("wpad:8443", Err(TargetRefused::LocalName)),
        ("https://mcp/mcp", Err(TargetRefused::LocalName)),
        ("localhost.localdomain", Err(TargetRefused::LocalName)),
        ("ip6-localhost", Err(TargetRefused::LocalName)),
        ("ip6-loopback", Err(TargetRefused::LocalName)),
        ("vm.example", Ok("vm.example")),
        ("a.localhost", Err(TargetRefused::Reserved)),
        ("localhost.example", Ok("localhost.example")),
        ("metadata.google.internal", Err(TargetRefused::Reserved)),
        ("app.nip.io", Err(TargetRefused::Reserved)),
        ("xn--bcher-kva.example", Ok("xn--bcher-kva.example")),
        ("éxample.com", Err(TargetRefused::NotAHostName)),
        (&long_label, Ok(&long_label)),
        (&too_long_label, Err(TargetRefused::NotAHostName)),
        (&name_253, Ok(&name_253)),
        (&name_254, Err(TargetRefused::NotAHostName)),
        ("example.com.", Err(TargetRefused::NotAHostName)),
        ("-a.example", Err(TargetRefused::NotAHostName)),
        ("a-.example", Err(TargetRefused::NotAHostName)),
        ("exa mple.com", Err(TargetRefused::NotAHostName)),
        ("MCP.EXAMPLE.COM", Ok("mcp.example.com")),
        (" mcp.example.com ", Ok("mcp.example.com")),
        ("http://mcp.example.com", Err(TargetRefused::PlainHttp)),
    ];
    for (target, expected) in table {
        let got = McpTarget::parse(target, false);
        assert_eq!(
            got.as_ref().map(McpTarget::domain).map_err(Clone::clone),
            expected,
            "{target:?}"
        );
    }
}

#[test]
fn the_url_is_kept_for_urls_and_built_for_bare_hosts() {
    let cases = [
        ("mcp.example.com", "https://mcp.example.com/mcp"),
        (
            "MCP.Example.com:8443/ignored",
            "https://mcp.example.com:8443/mcp",
        ),
        (
            "https://MCP.Example.com/v2/mcp/",
            "https://MCP.Example.com/v2/mcp",
        ),
        ("HTTPS://mcp.example.com//", "HTTPS://mcp.example.com"),
    ];
    for (target, url) in cases {
        assert_eq!(
            McpTarget::parse(target, false).unwrap().url(),
            url,
            "{target:?}"
        );
    }
}

#[test]
fn a_refusal_never_echoes_user_info() {
    let refused = McpTarget::parse("https://alice:s3cret@mcp.example.com", false).unwrap_err();
    let error = lime_core::Error::from(refused);
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(
            !text.contains("s3cret") && !text.contains("alice"),
            "{text}"
        );
        assert!(text.contains("user info"), "{text}");
    }
}

proptest! {
    #[test]
    fn whatever_is_accepted_is_a_host_name_and_never_an_ip(target in "[a-zA-Z0-9.:/@\\[\\]_-]{0,40}") {
        if let Ok(accepted) = McpTarget::parse(&target, true) {
            let domain = accepted.domain();
            prop_assert!(domain.parse::<std::net::IpAddr>().is_err(), "{} is an IP", domain);
            prop_assert!(domain.len() <= 253);
            for label in domain.split('.') {
                prop_assert!((1..=63).contains(&label.len()));
                prop_assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert!(!label.starts_with('-') && !label.ends_with('-'));
            }
            prop_assert!(!domain.split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit())), "{} is all digits", domain);
            prop_assert!(accepted.url().contains(domain) || accepted.url().to_ascii_lowercase().contains(domain));
        }
    }
}
