//! The `custom-client` escape hatch: an injected ureq agent's own settings
//! cannot send a plain-HTTP request through its proxy, follow a redirect or
//! turn an error status into a ureq error. The emulator runs plain HTTP on
//! loopback; the "proxy" is a loopback listener that must see nothing.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::time::Duration;

use lime_blocking::{Error, LimeAgent, ureq};
use lime_emulator::Emulator;

fn agent_over(http: ureq::Agent, base_url: &str, token: &str) -> LimeAgent {
    LimeAgent::builder()
        .token(token)
        .base_url(base_url)
        // A proxy that never answers fails the login in seconds, not minutes.
        .configure(|c| c.env_lookup(|_| None).timeout(Duration::from_secs(5)))
        .ureq_agent(http)
        .build()
        .unwrap()
}

#[test]
fn an_injected_agents_proxy_never_sees_a_plain_http_request_and_statuses_stay_answers() {
    let emu = Emulator::builder().difficulty(4).start_blocking().unwrap();
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let http: ureq::Agent = ureq::Agent::config_builder()
        .proxy(Some(ureq::Proxy::new(&proxy_url).unwrap()))
        .http_status_as_error(true)
        .max_redirects(10)
        .build()
        .into();
    let agent = agent_over(http, &emu.base_url(), emu.agent_token());

    let request_id = emu.create_request();
    let approved = agent.login(&request_id).unwrap();
    assert_eq!(approved.approved_agent_id.as_deref(), Some(emu.agent_id()));
    // A 404 is the API's answer (its code read), not ureq's status error.
    let unknown = agent.login("lr_doesnotexist").unwrap_err();
    assert!(
        matches!(&unknown, Error::Api { .. }),
        "expected the API's answer, got {unknown:?}"
    );
    assert!(
        proxy.accept().is_err(),
        "the injected agent's proxy got a cleartext connection"
    );
}
