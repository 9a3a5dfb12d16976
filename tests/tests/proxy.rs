//! Proxies, for both adapters: one decision (lime-core's), plain HTTP never
//! proxied, `NO_PROXY` read as curl reads it. The "proxy" is a listener that
//! counts every byte it receives and answers nothing.
#![forbid(unsafe_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lime_core::{Config, Error};
use lime_emulator::{BlockingEmulator, Emulator, TlsSource};
use lime_tests::Adapter;

/// Every proxy variable any HTTP client reads.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// A listener that records how many bytes reach it, then hangs up.
struct Sink {
    url: String,
    received: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (r, c) = (received.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                c.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).unwrap_or(0);
                r.fetch_add(n, Ordering::SeqCst);
            }
        });
        Sink {
            url,
            received,
            connections,
        }
    }

    fn bytes(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

fn env_naming(
    pairs: Vec<(&'static str, String)>,
) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

fn https_emulator(bind: SocketAddr) -> BlockingEmulator {
    Emulator::builder()
        .difficulty(6)
        .bind(bind)
        .tls(TlsSource::Generated)
        .start_blocking()
        .unwrap()
}

fn an_http_base_never_reaches_a_proxy_named_in_every_variable<A: Adapter>() {
    let sink = Sink::start();
    let emu = Emulator::builder().difficulty(6).start_blocking().unwrap();
    let env = PROXY_VARIABLES
        .iter()
        .map(|v| (*v, sink.url.clone()))
        .collect();
    let config = Config::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .env_lookup(env_naming(env))
        .build()
        .unwrap();
    let agent = A::new(config);
    let id = emu.create_request();
    assert_eq!(agent.login(&id).unwrap().request_id, id);
    agent.profile().unwrap();
    assert_eq!(sink.bytes(), 0, "the proxy received cleartext");
    assert_eq!(sink.connections.load(Ordering::SeqCst), 0);
}

/// A login to an https:// emulator bound at `bind`, with `HTTPS_PROXY`
/// naming a sink and `NO_PROXY` as given: its outcome, and the bytes the
/// sink received.
fn https_login_with_no_proxy<A: Adapter>(bind: &str, no_proxy: &str) -> (Result<(), Error>, usize) {
    let sink = Sink::start();
    let emu = https_emulator(bind.parse().unwrap());
    let config = Config::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .max_retries(0)
        .env_lookup(env_naming(vec![
            ("HTTPS_PROXY", sink.url.clone()),
            ("NO_PROXY", no_proxy.to_owned()),
        ]));
    let agent = A::trusting(config, emu.ca_pem().unwrap());
    let outcome = agent.login(&emu.create_request()).map(|_| ());
    (outcome, sink.bytes())
}

/// The host is in `no_proxy`: the login succeeds and the proxy sees nothing.
fn https_login_bypassing_the_proxy<A: Adapter>(bind: &str, no_proxy: &str) {
    let (outcome, proxied) = https_login_with_no_proxy::<A>(bind, no_proxy);
    assert!(outcome.is_ok(), "{no_proxy:?}: {outcome:?}");
    assert_eq!(proxied, 0, "{no_proxy:?}: the proxy was used");
}

fn no_proxy_entries_with_spaces_are_trimmed<A: Adapter>() {
    https_login_bypassing_the_proxy::<A>("127.0.0.1:0", "localhost, 127.0.0.1");
}

fn no_proxy_cidr_entries_match<A: Adapter>() {
    https_login_bypassing_the_proxy::<A>("127.0.0.1:0", "10.0.0.0/8 , 127.0.0.0/8");
}

fn no_proxy_ipv6_entries_match_with_or_without_brackets<A: Adapter>() {
    https_login_bypassing_the_proxy::<A>("[::1]:0", "[::1]");
    https_login_bypassing_the_proxy::<A>("[::1]:0", "::1");
}

/// The control: the same set-up without a matching entry does go to the
/// proxy, so the tests above would see a leak.
fn an_https_base_outside_no_proxy_goes_to_the_proxy<A: Adapter>() {
    let (outcome, proxied) = https_login_with_no_proxy::<A>("127.0.0.1:0", "localhost, 10.0.0.0/8");
    assert!(matches!(outcome, Err(Error::Transport(_))), "{outcome:?}");
    assert!(proxied > 0, "the proxy was not asked for a tunnel");
}

lime_tests::for_both_adapters!(
    an_http_base_never_reaches_a_proxy_named_in_every_variable,
    no_proxy_entries_with_spaces_are_trimmed,
    no_proxy_cidr_entries_match,
    no_proxy_ipv6_entries_match_with_or_without_brackets,
    an_https_base_outside_no_proxy_goes_to_the_proxy,
);

/// The process environment itself, as a user's shell sets it: this test runs
/// itself again in a child process with every proxy variable naming the
/// sink, where both adapters log in over plain HTTP using their defaults
/// (lime-core's reading, and whatever ureq or hyper-util would read).
#[test]
fn the_real_process_environment_never_proxies_plain_http() {
    const CHILD: &str = "LIME_TEST_PROXY_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let emu = Emulator::builder().difficulty(6).start_blocking().unwrap();
        let config = || {
            Config::builder()
                .token(emu.agent_token())
                .base_url(emu.base_url())
                .build()
                .unwrap()
        };
        let tokio = lime_tests::Tokio::new(config());
        let blocking = lime_tests::Blocking::new(config());
        tokio.login(&emu.create_request()).unwrap();
        blocking.login(&emu.create_request()).unwrap();
        blocking.profile().unwrap();
        return;
    }
    let sink = Sink::start();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "the_real_process_environment_never_proxies_plain_http",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for variable in PROXY_VARIABLES {
        child.env(variable, &sink.url);
    }
    let output = child.output().unwrap();
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child did not run the test"
    );
    assert_eq!(
        sink.bytes(),
        0,
        "a proxy from the environment saw cleartext"
    );
}

#[test]
fn proxy_credentials_never_appear_in_either_builders_debug() {
    let tokio = lime_tokio::LimeAgent::builder()
        .token("at_example-token")
        .https_proxy("http://alice:hunter2@proxy.corp:3128", "");
    let blocking = lime_blocking::LimeAgent::builder()
        .token("at_example-token")
        .https_proxy("http://alice:hunter2@proxy.corp:3128", "");
    for debug in [format!("{tokio:?}"), format!("{blocking:?}")] {
        assert!(
            !debug.contains("hunter2") && !debug.contains("alice"),
            "{debug}"
        );
        assert!(!debug.contains("example-token"), "{debug}");
    }
    let agent = blocking
        .base_url("https://lime.example/api/v1")
        .build()
        .unwrap();
    assert!(!format!("{agent:?}").contains("hunter2"));
}
