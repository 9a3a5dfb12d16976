//! The one proxy decision both adapters use: curl's `NO_PROXY`, the
//! variables read and their order, plain HTTP never proxied.
#![forbid(unsafe_code)]

use lime_core::{
    Config, Error,
    proxy::{NoProxy, ProxyRoute, ProxyRules, ProxyUrl},
};

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn tunnel_host(route: ProxyRoute<'_>) -> Option<String> {
    match route {
        ProxyRoute::Tunnel(p) => Some(p.authority()),
        ProxyRoute::Direct => None,
    }
}

#[test]
fn no_proxy_reads_entries_as_curl_does() {
    let list = NoProxy::parse(
        " localhost , 127.0.0.1,.corp.example,internal.test., 10.0.0.0/8, ::1, [fd00::]/8, *.wild.example",
    );
    for host in [
        "localhost",
        "LOCALHOST",
        "127.0.0.1",
        "corp.example",
        "api.corp.example",
        "internal.test",
        "a.b.internal.test",
        "10.0.0.1",
        "10.255.255.255",
        "[::1]",
        "::1",
        "[fd12:3456::1]",
        "x.wild.example",
        "wild.example",
    ] {
        assert!(list.matches(host), "{host} should bypass the proxy");
    }
    for host in [
        "lime.pics",
        "127.0.0.2",
        "notcorp.example",
        "corp.example.evil",
        "11.0.0.1",
        "[::2]",
        "[fe80::1]",
        "localhost.evil",
    ] {
        assert!(!list.matches(host), "{host} should use the proxy");
    }
}

#[test]
fn a_star_bypasses_every_host_and_an_empty_list_none() {
    assert!(NoProxy::parse("*").matches("lime.pics"));
    assert!(NoProxy::parse(" , *").matches("[::1]"));
    assert!(!NoProxy::parse("").matches("localhost"));
    assert!(!NoProxy::parse(" , ,").matches("localhost"));
}

#[test]
fn cidr_blocks_of_every_length_match_exactly() {
    let list = NoProxy::parse("192.168.4.0/22, 0.0.0.0/0, 2001:db8::/32");
    assert!(list.matches("192.168.7.255"));
    assert!(list.matches("8.8.8.8"), "/0 is every IPv4 address");
    assert!(list.matches("[2001:db8:ffff::1]"));
    assert!(!list.matches("[2001:db9::1]"));
    let narrow = NoProxy::parse("192.168.4.0/22");
    assert!(!narrow.matches("192.168.8.0"));
    assert!(!narrow.matches("192.168.3.255"));
    assert!(!narrow.matches("[::ffff:192.168.4.1]"));
    // An IPv4 block never matches a name, and a bad prefix is skipped.
    assert!(!NoProxy::parse("10.0.0.0/33").matches("10.0.0.1"));
    assert!(!NoProxy::parse("10.0.0.0/8").matches("ten.example"));
}

#[test]
fn https_targets_read_https_proxy_then_all_proxy_and_never_http_proxy() {
    let rules = ProxyRules::from_env(env(&[
        ("HTTP_PROXY", "http://httpoxy:1"),
        ("http_proxy", "http://httpoxy:2"),
        ("ALL_PROXY", "http://all:3"),
        ("https_proxy", "http://lower:4"),
    ]))
    .unwrap();
    assert_eq!(
        tunnel_host(rules.route(true, "lime.pics")).as_deref(),
        Some("lower:4")
    );
    let rules = ProxyRules::from_env(env(&[
        ("HTTPS_PROXY", "http://upper:5"),
        ("https_proxy", "http://lower:4"),
    ]))
    .unwrap();
    assert_eq!(
        tunnel_host(rules.route(true, "lime.pics")).as_deref(),
        Some("upper:5")
    );
    let rules = ProxyRules::from_env(env(&[
        ("HTTP_PROXY", "http://httpoxy:1"),
        ("all_proxy", "all-lower:6"),
    ]))
    .unwrap();
    assert_eq!(
        tunnel_host(rules.route(true, "lime.pics")).as_deref(),
        Some("all-lower:6"),
        "a proxy without a scheme is http://"
    );
    let only_http = ProxyRules::from_env(env(&[("HTTP_PROXY", "http://httpoxy:1")])).unwrap();
    assert_eq!(only_http.route(true, "lime.pics"), ProxyRoute::Direct);
}

#[test]
fn plain_http_targets_never_go_through_a_proxy() {
    let rules = ProxyRules::from_env(env(&[
        ("HTTPS_PROXY", "http://p:1"),
        ("ALL_PROXY", "http://p:2"),
        ("HTTP_PROXY", "http://p:3"),
    ]))
    .unwrap();
    for host in ["127.0.0.1", "lime.internal", "[::1]"] {
        assert_eq!(rules.route(false, host), ProxyRoute::Direct, "{host}");
    }
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let rules = ProxyRules::from_env(env(&[
        ("HTTPS_PROXY", "  "),
        ("ALL_PROXY", "http://all:3"),
        ("NO_PROXY", ""),
        ("no_proxy", "lime.pics"),
    ]))
    .unwrap();
    assert_eq!(rules.route(true, "lime.pics"), ProxyRoute::Direct);
    assert_eq!(
        tunnel_host(rules.route(true, "other.example")).as_deref(),
        Some("all:3")
    );
}

#[test]
fn socks_and_https_proxies_are_refused_naming_the_variable() {
    for (variable, value) in [
        ("HTTPS_PROXY", "socks5://alice:pw@proxy:1080"),
        ("https_proxy", "socks5h://proxy:1080"),
        ("ALL_PROXY", "socks4://proxy:1080"),
        ("all_proxy", "SOCKS4A://proxy:1080"),
        ("HTTPS_PROXY", "https://alice:pw@proxy:443"),
        ("HTTPS_PROXY", "ftp://proxy:21"),
    ] {
        let lookup = move |name: &str| (name == variable).then(|| value.to_owned());
        match ProxyRules::from_env(lookup) {
            Err(Error::Config { reason, .. }) => {
                assert!(reason.starts_with(variable), "{reason}");
                assert!(!reason.contains("pw"), "credentials echoed: {reason}");
            }
            other => panic!("{variable}={value}: {other:?}"),
        }
    }
}

#[test]
fn proxy_urls_keep_credentials_out_of_debug_and_errors() {
    let proxy = ProxyUrl::parse("http://al%40ice:p%3Ass@Proxy.Corp:3128/ignored", "X").unwrap();
    assert_eq!(proxy.username(), Some("al@ice"));
    assert_eq!(proxy.password(), Some("p:ss"));
    assert_eq!(proxy.uri(), "http://proxy.corp:3128");
    let debug = format!("{proxy:?}");
    assert!(
        !debug.contains("p:ss") && !debug.contains("al@ice"),
        "{debug}"
    );
    let auth = proxy.basic_auth().unwrap();
    assert!(auth.is_sensitive());
    assert_eq!(auth, "Basic YWxAaWNlOnA6c3M=");
    assert_eq!(
        ProxyUrl::parse("[::1]:8080", "X").unwrap().authority(),
        "[::1]:8080"
    );
    assert_eq!(ProxyUrl::parse("proxy", "X").unwrap().port(), 80);
    for bad in [
        "http://",
        "http://user:pw@:99",
        "http://proxy:99999",
        "http://[::1",
    ] {
        match ProxyUrl::parse(bad, "X") {
            Err(Error::Config { reason, .. }) => assert!(!reason.contains("pw"), "{reason}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn the_config_reads_proxy_variables_only_for_an_https_base() {
    let socks = env(&[("ALL_PROXY", "socks5://proxy:1080")]);
    // A loopback http:// base is never proxied, so a SOCKS variable meant for
    // other tools does not stop it.
    let config = Config::builder()
        .token("at_example-token")
        .base_url("http://127.0.0.1:1/api/v1")
        .env_lookup(socks)
        .build()
        .unwrap();
    assert_eq!(config.proxy_route(), ProxyRoute::Direct);
    let refused = Config::builder()
        .token("at_example-token")
        .base_url("https://lime.example/api/v1")
        .env_lookup(env(&[("ALL_PROXY", "socks5://proxy:1080")]))
        .build();
    assert!(matches!(refused, Err(Error::Config { reason, .. }) if reason.contains("ALL_PROXY")));
    let config = Config::builder()
        .token("at_example-token")
        .base_url("https://localhost:8443/api/v1")
        .env_lookup(env(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("NO_PROXY", "localhost, 127.0.0.1"),
        ]))
        .build()
        .unwrap();
    assert_eq!(config.proxy_route(), ProxyRoute::Direct);
}

#[test]
fn explicit_proxy_settings_win_and_hide_their_credentials() {
    let builder = Config::builder()
        .token("at_example-token")
        .base_url("https://lime.example/api/v1")
        .env_lookup(env(&[("HTTPS_PROXY", "http://from-env:1")]))
        .https_proxy("http://bob:hunter2@explicit:2", "");
    assert!(!format!("{builder:?}").contains("hunter2"));
    let config = builder.build().unwrap();
    assert!(!format!("{config:?}").contains("hunter2"));
    assert_eq!(
        tunnel_host(config.proxy_route()).as_deref(),
        Some("explicit:2")
    );
    assert!(format!("{:?}", Config::builder().no_proxy()).contains("off"));
    assert!(format!("{:?}", Config::builder()).contains("environment"));
    let off = Config::builder()
        .token("at_example-token")
        .base_url("https://lime.example/api/v1")
        .env_lookup(env(&[("HTTPS_PROXY", "http://from-env:1")]))
        .no_proxy()
        .build()
        .unwrap();
    assert_eq!(off.proxy_route(), ProxyRoute::Direct);
}

#[test]
fn base_url_errors_never_echo_user_info_or_queries() {
    for url in [
        "https://user:s3cretpw@lime.example/api/v1",
        "https://lime.example/api/v1?token=s3cretpw",
        "ftp://user:s3cretpw@lime.example/",
        "http://lime.example/api#s3cretpw",
    ] {
        match Config::builder().token("at_x").base_url(url).build() {
            Err(Error::Config { reason, .. }) => {
                assert!(!reason.contains("s3cretpw"), "{reason}");
                assert!(!reason.contains("user:"), "{reason}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[test]
fn token_debug_shows_only_the_known_at_prefix() {
    use lime_core::AgentToken;
    let known = AgentToken::new("at_0123456789abcdef").unwrap();
    assert_eq!(format!("{known:?}"), "AgentToken(at_…)");
    for secret in [
        "k9x_0123456789abcdef",
        "ab_0123456789abcdef",
        "q_0123456789abcdef",
    ] {
        let token = AgentToken::new(secret).unwrap();
        assert_eq!(format!("{token:?}"), "AgentToken(…)", "{secret}");
        assert_eq!(format!("{token}"), "…");
    }
}
