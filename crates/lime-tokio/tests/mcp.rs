//! The MCP client over loopback HTTPS against the emulator's MCP server,
//! reached under a real host name through `resolve`: the whole chain, the
//! token refreshed on a 401, sessions shared, and calls never repeated.
#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;

use lime_emulator::{Emulator, Fault, Route, TlsSource};
use lime_tokio::LimeAgent;
use rmcp::model::ReadResourceRequestParams;
use serde_json::{Map, Value, json};

const DOMAIN: &str = "mcp.lime.test";

/// The MCP server's token refusal, as a fault.
fn refuse() -> Fault {
    Fault::Status {
        status: 401,
        retry_after: None,
    }
}

async fn emulator() -> Emulator {
    Emulator::builder()
        .difficulty(4)
        .tls(TlsSource::Generated)
        .mcp_domain(DOMAIN)
        .start()
        .await
        .unwrap()
}

fn agent(emu: &Emulator) -> LimeAgent {
    agent_with(emu, |b| b)
}

/// An agent trusting the emulator's CA and resolving the MCP domain to its
/// MCP server, with `tweak`'s settings too.
fn agent_with(
    emu: &Emulator,
    tweak: impl FnOnce(lime_tokio::LimeAgentBuilder) -> lime_tokio::LimeAgentBuilder,
) -> LimeAgent {
    tweak(
        LimeAgent::builder()
            .token(emu.agent_token())
            .base_url(emu.base_url())
            .add_root_certificates_pem(emu.ca_pem().unwrap().as_bytes())
            .resolve(DOMAIN, emu.mcp_addr().unwrap())
            .no_proxy(),
    )
    .build()
    .unwrap()
}

fn args(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn text(result: &lime_tokio::mcp::CallToolResult) -> String {
    lime_tokio::mcp::ToolResultText::text(result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_chain_lists_and_calls_tools_with_the_agents_token() {
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    assert!(url.starts_with("https://mcp.lime.test:"), "{url}");
    let agent = agent(&emu);
    let mut names: Vec<String> = agent
        .list_tools(&url)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["add", "echo", "slow", "whoami"]);
    let echoed = agent
        .call_tool(&url, "echo", args(json!({"text": "hi"})))
        .await
        .unwrap();
    assert_eq!(text(&echoed), "hi");
    let sum = agent
        .call_tool(&url, "add", args(json!({"a": 2, "b": 40})))
        .await
        .unwrap();
    assert_eq!(text(&sum), "42");
    let who: Value = serde_json::from_str(&text(
        &agent.call_tool(&url, "whoami", Map::new()).await.unwrap(),
    ))
    .unwrap();
    assert_eq!(who, json!({"agent_id": emu.agent_id(), "domain": DOMAIN}));
    let counters = emu.mcp_counters().unwrap();
    assert_eq!(
        counters.initializations.load(Ordering::SeqCst),
        1,
        "one session"
    );
    assert_eq!(emu.counters().mints(DOMAIN), 1, "one token");
    assert_eq!(counters.refused.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refusal_refreshes_the_token_and_two_are_an_mcp_auth_error() {
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    let agent = agent(&emu);
    agent.list_tools(&url).await.unwrap();
    // On the call itself, so no request of the session's takes it first.
    emu.inject(Route::McpToolCall, refuse(), 1);
    let echoed = agent
        .call_tool(&url, "echo", args(json!({"text": "again"})))
        .await
        .unwrap();
    assert_eq!(text(&echoed), "again");
    assert_eq!(emu.counters().mints(DOMAIN), 2, "refreshed once");
    emu.inject(Route::Mcp, refuse(), 100);
    let error = agent
        .call_tool(&url, "echo", args(json!({"text": "no"})))
        .await
        .unwrap_err();
    assert!(error.is_mcp_authentication(), "{error:?}");
    assert_eq!(error.code(), Some("MCP_AUTH_FAILED"));
    assert_eq!(
        emu.counters().mints(DOMAIN),
        3,
        "one more refresh, then the error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_calls_share_one_token_and_one_session() {
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    let agent = agent(&emu);
    let calls: Vec<_> = (0..64)
        .map(|i| {
            let (agent, url) = (agent.clone(), url.clone());
            tokio::spawn(async move {
                agent
                    .call_tool(&url, "add", args(json!({"a": i, "b": 1})))
                    .await
                    .map(|r| text(&r))
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), (i + 1).to_string());
    }
    assert_eq!(emu.counters().mints(DOMAIN), 1);
    let counters = emu.mcp_counters().unwrap();
    assert_eq!(counters.initializations.load(Ordering::SeqCst), 1);
    assert_eq!(counters.tool_calls.load(Ordering::SeqCst), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_tool_call_is_an_error_and_never_repeated() {
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    let agent = agent(&emu);
    agent.list_tools(&url).await.unwrap();
    emu.inject(Route::McpToolCall, Fault::Drop, 1);
    let error = agent
        .call_tool(&url, "echo", args(json!({"text": "lost"})))
        .await
        .unwrap_err();
    assert!(error.is_transport(), "{error:?}");
    assert_eq!(
        emu.mcp_counters()
            .unwrap()
            .tool_calls
            .load(Ordering::SeqCst),
        1,
        "the server saw the call once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_target_gets_nothing_and_another_domain_never_gets_this_token() {
    let emu = emulator().await;
    let agent = agent_with(&emu, |b| {
        b.resolve("other.lime.test", emu.mcp_addr().unwrap())
    });
    let port = emu.mcp_addr().unwrap().port();
    assert!(
        agent
            .list_tools("127.0.0.1")
            .await
            .unwrap_err()
            .to_string()
            .contains("IP address")
    );
    // Another domain resolved to the same server: it is minted its own
    // token, and TLS still checks the name (the certificate names only
    // mcp.lime.test), so nothing, mcp.lime.test's token least of all, is sent.
    agent.list_tools(&emu.mcp_url().unwrap()).await.unwrap();
    // rmcp may still be sending the session's last notification: count
    // once the number has settled.
    let tokens_seen = || {
        emu.mcp_counters()
            .unwrap()
            .tokens_seen
            .load(Ordering::SeqCst)
    };
    let mut seen = tokens_seen();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let now = tokens_seen();
        if now == seen {
            break;
        }
        seen = now;
    }
    let other = format!("https://other.lime.test:{port}/mcp");
    let error = agent.list_tools(&other).await.unwrap_err();
    assert!(error.is_transport(), "{error:?}");
    assert!(
        error.to_string().contains("certificate") || error.to_string().contains("TLS"),
        "{error}"
    );
    assert_eq!(
        emu.mcp_counters()
            .unwrap()
            .tokens_seen
            .load(Ordering::SeqCst),
        seen
    );
    assert_eq!(emu.counters().mints("other.lime.test"), 1, "its own token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_resolves_to_loopback_gets_no_token_and_no_connection() {
    // As an attacker's DNS would answer: a public-looking name, a loopback
    // address (here the emulator's own MCP server, so even a broken check
    // would only ever dial loopback).
    let emu = emulator().await;
    let port = emu.mcp_addr().unwrap().port();
    let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&lookups);
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .add_root_certificates_pem(emu.ca_pem().unwrap().as_bytes())
        .no_proxy()
        .dns_resolver(move |host: String| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert_eq!(host, DOMAIN, "only the MCP name is looked up");
                Ok(vec!["127.0.0.1".parse().unwrap()])
            }
        })
        .build()
        .unwrap();
    let url = format!("https://{DOMAIN}:{port}/mcp");
    let error = agent.list_tools(&url).await.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, lime_tokio::Error::InvalidInput { .. }),
        "{error:?}"
    );
    assert!(
        text.contains("loopback (127.0.0.0/8)") && text.contains(DOMAIN),
        "{text}"
    );
    assert!(
        lookups.load(Ordering::SeqCst) >= 1,
        "the injected resolver answered"
    );
    let counters = emu.mcp_counters().unwrap();
    assert_eq!(counters.initializations.load(Ordering::SeqCst), 0);
    assert_eq!(
        counters.tokens_seen.load(Ordering::SeqCst),
        0,
        "the token never left"
    );
    // Allowing the range (or pinning the name with `resolve`) reaches it.
    let allowed = agent_with(&emu, |b| b.mcp_allow_range("127.0.0.0/8"));
    allowed.list_tools(&url).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_name_the_proxy_would_resolve_is_refused_not_ignored() {
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    // A proxy on a loopback port nothing listens on: never reached.
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .add_root_certificates_pem(emu.ca_pem().unwrap().as_bytes())
        .resolve(DOMAIN, emu.mcp_addr().unwrap())
        .https_proxy("http://127.0.0.1:9", "127.0.0.1,localhost")
        .build()
        .unwrap();
    let error = agent.list_tools(&url).await.unwrap_err().to_string();
    assert!(
        error.contains("resolve entry pins") && error.contains("no_proxy"),
        "{error}"
    );
    // Exempted from the proxy, the pin applies.
    let exempt = agent_with(&emu, |b| {
        b.https_proxy(
            "http://127.0.0.1:9",
            format!("127.0.0.1,localhost,{DOMAIN}"),
        )
    });
    exempt.list_tools(&url).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_templates_prompts_ping_and_server_info() {
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    let agent = agent(&emu);
    agent.ping(&url).await.unwrap();
    let info = agent
        .mcp(&url, |peer| async move { Ok(peer.peer_info()) })
        .await
        .unwrap()
        .expect("initialized");
    assert!(info.capabilities.tools.is_some() && info.capabilities.prompts.is_some());
    let (resources, templates) = agent
        .mcp(&url, |peer| async move {
            Ok((
                peer.list_all_resources().await?,
                peer.list_all_resource_templates().await?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(resources[0].uri, "lime://emulator/readme");
    assert_eq!(templates[0].uri_template, "lime://greeting/{name}");
    let read = |uri: &'static str| {
        agent.mcp(&url, move |peer| async move {
            peer.read_resource(ReadResourceRequestParams::new(uri))
                .await
        })
    };
    let greeting = read("lime://greeting/ada").await.unwrap();
    assert!(
        serde_json::to_string(&greeting.contents)
            .unwrap()
            .contains("Hello, ada!")
    );
    let missing = read("lime://nothing").await.unwrap_err();
    assert!(
        matches!(missing, lime_tokio::Error::Mcp { .. }),
        "{missing:?}"
    );
    let prompts = agent
        .mcp(&url, |peer| async move { peer.list_all_prompts().await })
        .await
        .unwrap();
    assert_eq!(prompts[0].name, "greet");
    assert_eq!(
        emu.mcp_counters()
            .unwrap()
            .initializations
            .load(Ordering::SeqCst),
        1
    );
    agent.close_mcp_sessions().await;
    agent.ping(&url).await.unwrap();
    assert_eq!(
        emu.mcp_counters()
            .unwrap()
            .initializations
            .load(Ordering::SeqCst),
        2,
        "reopened after close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_token_opens_a_new_session_and_the_old_token_is_never_sent_again() {
    // When a token goes stale is the core's rule, tested on a simulated
    // clock (lime-core's mcp_token tests); here a forced refresh stands in.
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    let agent = agent(&emu);
    agent.ping(&url).await.unwrap();
    agent.ping(&url).await.unwrap();
    let counters = emu.mcp_counters().unwrap();
    let opened = || counters.initializations.load(Ordering::SeqCst);
    assert_eq!((emu.counters().mints(DOMAIN), opened()), (1, 1));
    agent.refresh_mcp_access_token(&url).await.unwrap();
    agent.ping(&url).await.unwrap();
    agent.ping(&url).await.unwrap();
    assert_eq!(emu.counters().mints(DOMAIN), 2, "one new mint");
    assert_eq!(opened(), 2, "one new session, then reused");
    assert_eq!(counters.refused.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_calls_with_a_refresh_in_the_middle_see_no_spurious_auth_failure() {
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    let agent = agent(&emu);
    agent.ping(&url).await.unwrap();
    let calls = (0..64).map(|n| {
        let (agent, url) = (agent.clone(), url.clone());
        tokio::spawn(async move {
            if n == 32 {
                agent.refresh_mcp_access_token(&url).await.map(|_| ())
            } else {
                agent
                    .call_tool(&url, "echo", json!({"text": format!("call {n}")}))
                    .await
                    .map(|_| ())
            }
        })
    });
    let results = futures::future::join_all(calls).await;
    let failures: Vec<_> = results
        .into_iter()
        .map(|joined| joined.unwrap())
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    let counters = emu.mcp_counters().unwrap();
    assert_eq!(
        counters.refused.load(Ordering::SeqCst),
        0,
        "no stale token sent"
    );
    assert!(emu.counters().mints(DOMAIN) <= 2, "one mint, one refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_cancels_it_on_the_server() {
    let emu = emulator().await;
    let url = emu.mcp_url().unwrap();
    let agent = agent(&emu);
    agent.ping(&url).await.unwrap();
    let slow = agent.call_tool(&url, "slow", args(json!({"ms": 5000})));
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), slow)
            .await
            .is_err()
    );
    let counters = emu.mcp_counters().unwrap();
    for _ in 0..200 {
        if counters.cancellations.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        counters.cancellations.load(Ordering::SeqCst),
        1,
        "notifications/cancelled sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serialized_calls_take_turns_and_concurrent_ones_overlap() {
    for (serialize, most_at_once) in [(true, 1), (false, 2)] {
        let emu = emulator().await;
        let url = emu.mcp_url().unwrap();
        let agent = agent_with(&emu, |b| b.mcp_serialize_calls(serialize));
        agent.ping(&url).await.unwrap();
        let (a, b) = tokio::join!(
            agent.call_tool(&url, "slow", args(json!({"ms": 300}))),
            agent.call_tool(&url, "slow", args(json!({"ms": 300}))),
        );
        a.unwrap();
        b.unwrap();
        let counters = emu.mcp_counters().unwrap();
        assert_eq!(
            counters.slow_max_in_flight.load(Ordering::SeqCst),
            most_at_once,
            "serialize={serialize}"
        );
    }
}
