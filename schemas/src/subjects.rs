//! NATS subject, stream and consumer names.
//!
//! Everything lives under one namespace (`planexec` by default) so that several installations,
//! or several tests, can share one NATS server without seeing each other's messages.

use crate::Id;

/// The namespace that prefixes every subject and stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    prefix: String,
}

impl Default for Namespace {
    fn default() -> Self {
        Self {
            prefix: "planexec".to_owned(),
        }
    }
}

impl Namespace {
    /// `prefix` must be a valid subject token: letters, digits, `-` and `_`.
    pub fn new(prefix: &str) -> Result<Self, String> {
        if prefix.is_empty()
            || prefix.len() > 32
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "NATS namespace {prefix:?} must be 1 to 32 letters, digits, '-' or '_'"
            ));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn stream_prefix(&self) -> String {
        self.prefix.to_ascii_uppercase().replace('-', "_")
    }

    /// Stream of agent events (`<NS>_EVENTS`), file storage, duplicate window.
    pub fn events_stream(&self) -> String {
        format!("{}_EVENTS", self.stream_prefix())
    }

    /// Work-queue stream of tasks for agents (`<NS>_TASKS`).
    pub fn tasks_stream(&self) -> String {
        format!("{}_TASKS", self.stream_prefix())
    }

    /// `planexec.events.<agent_id>.<execution_id>`: the subject proves the sender.
    pub fn events_subject(&self, agent_id: Id, execution_id: Id) -> String {
        format!("{}.events.{agent_id}.{execution_id}", self.prefix)
    }

    /// Every execution's events of one agent: what that agent may publish.
    pub fn agent_events_wildcard(&self, agent_id: Id) -> String {
        format!("{}.events.{agent_id}.*", self.prefix)
    }

    pub fn events_wildcard(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// Parses the agent and execution ids out of an events subject.
    pub fn parse_events_subject(&self, subject: &str) -> Option<(Id, Id)> {
        let rest = subject
            .strip_prefix(&self.prefix)?
            .strip_prefix(".events.")?;
        let (agent, execution) = rest.split_once('.')?;
        Some((agent.parse().ok()?, execution.parse().ok()?))
    }

    /// `planexec.tasks.<agent_id>`: one durable consumer per agent reads it.
    pub fn tasks_subject(&self, agent_id: Id) -> String {
        format!("{}.tasks.{agent_id}", self.prefix)
    }

    pub fn tasks_wildcard(&self) -> String {
        format!("{}.tasks.>", self.prefix)
    }

    /// `planexec.cmd.<verb>`: request/reply to the coordinators' queue group.
    pub fn command_subject(&self, verb: &str) -> String {
        format!("{}.cmd.{verb}", self.prefix)
    }

    pub fn commands_wildcard(&self) -> String {
        format!("{}.cmd.*", self.prefix)
    }

    /// Queue group shared by all coordinator replicas for commands.
    pub fn command_queue_group(&self) -> String {
        format!("{}-coordinator", self.prefix)
    }

    /// `planexec.updates.<execution_id>`: compact live updates (core NATS).
    pub fn updates_subject(&self, execution_id: Id) -> String {
        format!("{}.updates.{execution_id}", self.prefix)
    }

    pub fn updates_wildcard(&self) -> String {
        format!("{}.updates.*", self.prefix)
    }

    /// `planexec.heartbeats.<agent_id>`: signs of life (core NATS; every replica listens).
    pub fn heartbeats_subject(&self, agent_id: Id) -> String {
        format!("{}.heartbeats.{agent_id}", self.prefix)
    }

    pub fn heartbeats_wildcard(&self) -> String {
        format!("{}.heartbeats.*", self.prefix)
    }

    /// Durable consumer of the events stream, shared by every coordinator replica.
    pub fn coordinator_consumer(&self) -> &'static str {
        "coordinator"
    }

    /// Durable consumer of one agent's task subject.
    pub fn agent_consumer(&self, agent_id: Id) -> String {
        format!("agent-{agent_id}")
    }

    /// `planexec.notices.<agent_id>`: core NATS notices to one agent (an event was rejected).
    pub fn notices_subject(&self, agent_id: Id) -> String {
        format!("{}.notices.{agent_id}", self.prefix)
    }

    /// The reply-inbox prefix of one agent's connections: with authentication an agent may
    /// receive replies only under it, so no agent reads another's replies.
    pub fn agent_inbox_prefix(&self, agent_id: Id) -> String {
        format!("_INBOX_{agent_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_subject_round_trips_agent_and_execution() {
        let ns = Namespace::default();
        let (agent, execution) = (crate::new_id(), crate::new_id());
        let subject = ns.events_subject(agent, execution);
        assert_eq!(ns.parse_events_subject(&subject), Some((agent, execution)));
        assert_eq!(ns.parse_events_subject("planexec.events.x.y"), None);
        assert_eq!(ns.parse_events_subject("other.events.a.b"), None);
    }

    #[test]
    fn namespace_rejects_subject_metacharacters() {
        assert!(Namespace::new("t_1-a").is_ok());
        for bad in ["", "a.b", "a*", "a>", "a b"] {
            assert!(Namespace::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            Namespace::new("t-1").map(|n| n.events_stream()),
            Ok("T_1_EVENTS".to_owned())
        );
    }
}

/// The servers of a NATS URL setting: one URL, or several separated by commas (the nodes of a
/// cluster; the client connects to any and fails over to the others). Blanks are ignored.
pub fn nats_servers(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod server_list_tests {
    use super::nats_servers;

    #[test]
    fn a_list_of_servers_is_split_on_commas() {
        assert_eq!(nats_servers("nats://a:4222"), ["nats://a:4222"]);
        assert_eq!(
            nats_servers("nats://a:4222, nats://b:4222,,nats://c:4222 "),
            ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        );
        assert!(nats_servers(" ").is_empty());
    }
}
