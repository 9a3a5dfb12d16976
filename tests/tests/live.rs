//! The live suite, against the real service: never run by CI (no network
//! there). Run it with
//!
//! ```text
//! LIME_INTEGRATION=1 LIME_API_BASE=https://lime.pics/api/v1 \
//! LIME_AGENT_TOKEN=... LIME_SITE_TOKEN=... cargo test -p lime-tests --test live -- --ignored
//! ```
#![forbid(unsafe_code)]

use lime_tests::{Adapter, Blocking, Tokio};

struct Live {
    base: String,
    site_token: String,
}

/// The live settings; panics with what is missing (an ignored test that was
/// asked to run must not pass quietly).
fn live() -> Live {
    assert_eq!(
        std::env::var("LIME_INTEGRATION").as_deref(),
        Ok("1"),
        "set LIME_INTEGRATION=1 to run the live suite"
    );
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("the live suite needs {name}"));
    let _ = var("LIME_AGENT_TOKEN");
    Live {
        base: var("LIME_API_BASE"),
        site_token: var("LIME_SITE_TOKEN"),
    }
}

/// Creates a login request as a site, over HTTPS.
fn create_request(live: &Live) -> String {
    let mut response = ureq::post(format!("{}/modules/agent-login/requests", live.base))
        .header("X-Site-Token", &live.site_token)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .send("{}")
        .expect("the site can create a request");
    let body: serde_json::Value =
        serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    body["data"]["login_request_id"]
        .as_str()
        .expect("a login_request_id")
        .to_owned()
}

fn full_cycle<A: Adapter>() {
    let live = live();
    let config = lime_core::Config::from_env().expect("LIME_AGENT_TOKEN and LIME_API_BASE");
    let agent = A::new(config);
    let profile = agent.profile().expect("the profile reads");
    let id = create_request(&live);
    let approval = agent.login(&id).expect("the login is confirmed");
    assert_eq!(approval.request_id, id);
    assert_eq!(
        approval.approved_agent_id.as_deref(),
        Some(profile.agent_id.as_str())
    );
    let again = agent
        .login(&id)
        .expect("a second login of a request this agent approved is success");
    assert_eq!(again.request_id, id);
}

#[test]
#[ignore = "live: needs LIME_INTEGRATION=1, LIME_API_BASE, LIME_AGENT_TOKEN, LIME_SITE_TOKEN and network"]
fn live_full_cycle_tokio() {
    full_cycle::<Tokio>();
}

#[test]
#[ignore = "live: needs LIME_INTEGRATION=1, LIME_API_BASE, LIME_AGENT_TOKEN, LIME_SITE_TOKEN and network"]
fn live_full_cycle_blocking() {
    full_cycle::<Blocking>();
}
