//! The profile flow.
#![forbid(unsafe_code)]

mod scenario;

use lime_core::{Error, drive::AGENT_TOKEN_HEADER};
use scenario::*;

#[test]
fn owner_id_is_read_from_user_id_or_owner_id() {
    for key in ["user_id", "owner_id"] {
        let run = scenario().reply(200, &profile_body(key)).profile();
        let p = run.result.unwrap();
        assert_eq!(p.owner_id, "user_9", "{key}");
        assert_eq!(p.agent_id, AGENT);
        assert_eq!(p.display_name.as_deref(), Some("Me"));
        assert_eq!(p.avatar_url, None);
        assert_eq!(p.owner_kyc_level, Some(2));
        assert_eq!(p.agent_reputation, Some(17));
        assert_eq!(run.requests[0].headers()[AGENT_TOKEN_HEADER], TOKEN);
        assert_eq!(
            run.requests[0].uri(),
            "http://127.0.0.1:9/api/v1/core/agents/me/profile"
        );
    }
}

#[test]
fn wrong_field_types_name_the_field() {
    for (field, value) in [
        ("agent_id", serde_json::json!(5)),
        ("display_name", serde_json::json!(["x"])),
        ("owner_kyc_level", serde_json::json!("2")),
        ("agent_reputation", serde_json::json!(1.5)),
        ("user_id", serde_json::json!(9)),
    ] {
        let mut data: serde_json::Value =
            serde_json::from_str::<serde_json::Value>(&profile_body("user_id")).unwrap()["data"]
                .clone();
        data[field] = value;
        let run = scenario().reply(200, &ok(data)).profile();
        match run.result {
            Err(Error::InvalidResponse {
                reason,
                http_status: Some(200),
                ..
            }) => {
                assert!(reason.contains(&format!("`{field}`")), "{reason}")
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    let run = scenario()
        .reply(200, &ok(serde_json::json!({ "agent_id": "a" })))
        .profile();
    assert!(
        matches!(run.result, Err(Error::InvalidResponse { reason, .. }) if reason.contains("owner_id"))
    );
}

#[test]
fn profile_retries_then_reports_authentication() {
    let run = scenario()
        .reply(503, "")
        .reply(401, &api_error("INVALID_AGENT_TOKEN", "who are you"))
        .profile();
    assert_eq!(run.requests.len(), 2);
    assert!(
        matches!(run.result, Err(Error::Authentication { code: Some(ref c), .. }) if c == "INVALID_AGENT_TOKEN")
    );
}
