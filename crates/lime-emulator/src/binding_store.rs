//! The binding requests and their one-time codes, apart from the handlers
//! that serve them (`binding`): bounded by [`MAX_BINDINGS`], each forgotten
//! at its expiry, the time passed in.

use std::collections::HashMap;
use std::time::Duration;

use time::OffsetDateTime;

use crate::ids::random_hex;

/// How long a binding request waits for the user.
pub const BINDING_TTL: Duration = Duration::from_secs(600);
/// How long a binding code may wait for its exchange.
pub const BINDING_CODE_TTL: Duration = Duration::from_secs(60);
/// Binding requests kept at once (429 beyond).
pub const MAX_BINDINGS: usize = 10_000;

/// One binding request.
#[derive(Debug)]
struct Binding {
    site_id: String,
    expires_at: OffsetDateTime,
    /// The agent the user chose, once they did.
    agent_id: Option<String>,
}

/// Every binding request and its unspent code.
#[derive(Debug, Default)]
pub(crate) struct Bindings {
    requests: HashMap<String, Binding>,
    /// Code → (binding id, expiry); spent codes are removed.
    codes: HashMap<String, (String, OffsetDateTime)>,
}

impl Bindings {
    fn forget_expired(&mut self, now: OffsetDateTime) {
        self.requests.retain(|_, b| b.expires_at > now);
        self.codes.retain(|_, (_, expires)| *expires > now);
    }

    /// A new binding request of `site_id`: its id and expiry, or `None`
    /// when [`MAX_BINDINGS`] are pending.
    pub(crate) fn open(
        &mut self,
        site_id: String,
        now: OffsetDateTime,
    ) -> Option<(String, OffsetDateTime)> {
        self.forget_expired(now);
        if self.requests.len() >= MAX_BINDINGS {
            return None;
        }
        let binding_id = format!("bd_{}", random_hex(8));
        let expires_at = later(now, BINDING_TTL);
        let binding = Binding {
            site_id,
            expires_at,
            agent_id: None,
        };
        self.requests.insert(binding_id.clone(), binding);
        Some((binding_id, expires_at))
    }

    /// The user chose `agent_id` for `binding_id`: its one-time code.
    pub(crate) fn complete(
        &mut self,
        binding_id: &str,
        agent_id: &str,
        now: OffsetDateTime,
    ) -> Option<String> {
        self.forget_expired(now);
        let binding = self.requests.get_mut(binding_id)?;
        if binding.agent_id.is_some() {
            return None;
        }
        binding.agent_id = Some(agent_id.to_owned());
        let code = format!("bc_{}", random_hex(16));
        self.codes.insert(
            code.clone(),
            (binding_id.to_owned(), later(now, BINDING_CODE_TTL)),
        );
        Some(code)
    }

    /// Spends `code` for `site_id`, the site that created its binding: the
    /// binding id and the agent chosen; `None` for a code that is unknown,
    /// spent, expired or another site's.
    pub(crate) fn redeem(
        &mut self,
        code: &str,
        site_id: &str,
        now: OffsetDateTime,
    ) -> Option<(String, String)> {
        self.forget_expired(now);
        let (binding_id, _) = self.codes.get(code)?;
        let binding = self.requests.get(binding_id)?;
        if binding.site_id != site_id {
            return None;
        }
        let agent_id = binding.agent_id.clone().unwrap_or_default();
        let (binding_id, _) = self.codes.remove(code)?;
        self.requests.remove(&binding_id);
        Some((binding_id, agent_id))
    }
}

fn later(now: OffsetDateTime, by: Duration) -> OffsetDateTime {
    now + time::Duration::try_from(by).unwrap_or(time::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    #[test]
    fn a_code_is_spent_once_by_the_site_that_made_the_binding() {
        let mut store = Bindings::default();
        let (id, _) = store.open("site_a".into(), at(0)).unwrap();
        let code = store.complete(&id, "agent_1", at(1)).unwrap();
        assert_eq!(store.complete(&id, "agent_2", at(1)), None, "chosen once");
        assert_eq!(store.redeem(&code, "site_b", at(2)), None, "another site's");
        assert_eq!(
            store.redeem(&code, "site_a", at(2)),
            Some((id, "agent_1".to_owned()))
        );
        assert_eq!(store.redeem(&code, "site_a", at(3)), None, "spent");
    }

    #[test]
    fn codes_and_requests_expire_and_the_store_is_bounded() {
        let mut store = Bindings::default();
        let (id, _) = store.open("site_a".into(), at(0)).unwrap();
        let code = store.complete(&id, "agent_1", at(0)).unwrap();
        let late = BINDING_CODE_TTL.as_secs() as i64 + 1;
        assert_eq!(
            store.redeem(&code, "site_a", at(late)),
            None,
            "code expired"
        );
        // Filled directly: MAX_BINDINGS opens would each sweep the store.
        let until = at(late + 1);
        for i in store.requests.len()..MAX_BINDINGS - 1 {
            let binding = Binding {
                site_id: "site_a".into(),
                expires_at: until,
                agent_id: None,
            };
            store.requests.insert(format!("bd_{i}"), binding);
        }
        assert!(
            store.open("site_a".into(), at(late)).is_some(),
            "the last one"
        );
        assert_eq!(store.open("site_a".into(), at(late)), None, "full");
        let after = late + BINDING_TTL.as_secs() as i64 + 1;
        assert!(
            store.open("site_a".into(), at(after)).is_some(),
            "expired ones go"
        );
    }
}
