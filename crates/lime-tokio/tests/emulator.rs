//! What only the async adapter has: one agent shared by many tasks and an
//! injected hyper-util client (cancellation by dropping the future is in
//! `cancellation.rs`, alone in its process). The scenarios both adapters
//! share run in `tests/tests/adapters.rs` at the workspace root.
#![forbid(unsafe_code)]

use lime_emulator::Emulator;
use lime_tokio::LimeAgent;

async fn emulator(difficulty: i64) -> Emulator {
    Emulator::builder()
        .difficulty(difficulty)
        .start()
        .await
        .unwrap()
}

fn agent(emu: &Emulator) -> LimeAgent {
    LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_shared_by_many_tasks() {
    let emu = emulator(8).await;
    let agent = agent(&emu);
    let ids: Vec<String> = (0..50).map(|_| emu.create_request()).collect();
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let agent = agent.clone();
            tokio::spawn(async move { agent.login(&id).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for id in &ids {
        assert_eq!(emu.counters().approvals(id), 1);
    }
}

/// A user's connector: plain TCP that counts the connections it opens.
#[derive(Clone)]
struct CountingConnector {
    inner: hyper_util::client::legacy::connect::HttpConnector,
    opened: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl tower_service::Service<http::Uri> for CountingConnector {
    type Response = <hyper_util::client::legacy::connect::HttpConnector as tower_service::Service<
        http::Uri,
    >>::Response;
    type Error = <hyper_util::client::legacy::connect::HttpConnector as tower_service::Service<
        http::Uri,
    >>::Error;
    type Future = <hyper_util::client::legacy::connect::HttpConnector as tower_service::Service<
        http::Uri,
    >>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.call(uri)
    }
}

fn counting_client(
    opened: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> hyper_util::client::legacy::Client<CountingConnector, lime_tokio::RequestBody> {
    let connector = CountingConnector {
        inner: hyper_util::client::legacy::connect::HttpConnector::new(),
        opened: opened.clone(),
    };
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_hyper_util_client_carries_every_request() {
    let emu = emulator(12).await;
    let opened = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .http_client(counting_client(&opened))
        .build()
        .unwrap();
    let id = emu.create_request();
    let approval = agent.login(&id).await.unwrap();
    assert_eq!(approval.request_id, id);
    let profile = agent.get_profile().await.unwrap();
    assert!(!profile.agent_id.is_empty());
    // The client's pool keeps the connection alive between requests: at
    // least one was opened, and through the user's connector.
    assert!(opened.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(emu.counters().approvals(&id), 1, "approved exactly once");
}

#[tokio::test]
async fn an_injected_client_with_proxy_or_root_settings_is_refused() {
    let opened = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for builder in [
        LimeAgent::builder().no_proxy(),
        LimeAgent::builder().https_proxy("http://127.0.0.1:3128", ""),
    ] {
        let refused = builder
            .token("lime_agent_example")
            .base_url("http://127.0.0.1:9")
            .configure(|c| c.env_lookup(|_| None))
            .http_client(counting_client(&opened))
            .build()
            .unwrap_err();
        assert!(
            refused.to_string().contains("injected http_client"),
            "{refused}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_spawned_tasks_share_one_mint_for_a_cold_domain() {
    let emu = emulator(4).await;
    emu.inject(
        lime_emulator::Route::OAuthToken,
        lime_emulator::Fault::DelayHeaders(std::time::Duration::from_millis(300)),
        1,
    );
    let agent = agent(&emu);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let agent = agent.clone();
            tokio::spawn(async move { agent.mcp_access_token("mcp.example.com").await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(emu.counters().calls(lime_emulator::Route::OAuthToken), 1);
    assert_eq!(emu.counters().mints("mcp.example.com"), 1);
}
