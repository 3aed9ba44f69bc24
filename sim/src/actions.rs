//! What Larry can do: each capability as an action with a typical duration, the steps it goes
//! through (one progress report each), and the ways it fails for a while.

use std::time::Duration;

use planexec_schemas::agent::capability;

/// One of Larry's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SendEmail,
    MakePhoneCall,
    SearchGoogleMaps,
    ScheduleCalendarEvent,
    ConductInterview,
    DocumentFindings,
    DraftDocument,
    ManageCsv,
    /// A person's sign-off, simulated.
    HumanReview,
}

impl Action {
    pub const ALL: [Self; 9] = [
        Self::SendEmail,
        Self::MakePhoneCall,
        Self::SearchGoogleMaps,
        Self::ScheduleCalendarEvent,
        Self::ConductInterview,
        Self::DocumentFindings,
        Self::DraftDocument,
        Self::ManageCsv,
        Self::HumanReview,
    ];

    /// The action behind a capability name.
    pub fn of(capability: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.capability() == capability)
    }

    pub fn capability(self) -> &'static str {
        match self {
            Self::SendEmail => capability::SEND_EMAIL,
            Self::MakePhoneCall => capability::MAKE_PHONE_CALL,
            Self::SearchGoogleMaps => capability::SEARCH_GOOGLE_MAPS,
            Self::ScheduleCalendarEvent => capability::SCHEDULE_CALENDAR_EVENT,
            Self::ConductInterview => capability::CONDUCT_INTERVIEW,
            Self::DocumentFindings => capability::DOCUMENT_FINDINGS,
            Self::DraftDocument => capability::DRAFT_DOCUMENT,
            Self::ManageCsv => capability::MANAGE_CSV,
            Self::HumanReview => capability::HUMAN_REVIEW,
        }
    }

    /// How long it typically takes a real assistant.
    pub fn typical_duration(self) -> Duration {
        let minutes = match self {
            Self::SendEmail => 2,
            Self::MakePhoneCall => 8,
            Self::SearchGoogleMaps => 1,
            Self::ScheduleCalendarEvent => 3,
            Self::ConductInterview => 45,
            Self::DocumentFindings => 20,
            Self::DraftDocument => 30,
            Self::ManageCsv => 5,
            Self::HumanReview => 15,
        };
        Duration::from_secs(minutes * 60)
    }

    /// The steps it goes through; progress is reported after each.
    pub fn steps(self) -> &'static [&'static str] {
        match self {
            Self::SendEmail => &["writing the message", "sending", "delivered"],
            Self::MakePhoneCall => &["dialling", "talking", "writing call notes"],
            Self::SearchGoogleMaps => &["searching the map", "reading listings"],
            Self::ScheduleCalendarEvent => &[
                "checking availability",
                "booking the slot",
                "sending invitations",
            ],
            Self::ConductInterview => &[
                "preparing questions",
                "interviewing",
                "follow-up questions",
                "writing up notes",
            ],
            Self::DocumentFindings => &["collecting notes", "writing the summary", "filing"],
            Self::DraftDocument => &["outlining", "drafting", "revising"],
            Self::ManageCsv => &["reading the file", "updating rows", "saving"],
            Self::HumanReview => &["reading the material", "signing off"],
        }
    }

    /// Passing troubles of this action; a failed attempt reports one (retryable).
    pub fn troubles(self) -> &'static [&'static str] {
        match self {
            Self::SendEmail => &[
                "the mail server answered 451 (try again later)",
                "the mail server timed out",
            ],
            Self::MakePhoneCall => &["the line was busy", "nobody answered the phone"],
            Self::SearchGoogleMaps => &["the maps search was rate limited (429)"],
            Self::ScheduleCalendarEvent => &["the calendar service is unavailable (503)"],
            Self::ConductInterview => &["the interviewee did not show up"],
            Self::DocumentFindings => &["the shared drive is read-only for maintenance"],
            Self::DraftDocument => &["the document editor lost the connection"],
            Self::ManageCsv => &["the CSV file is locked by another user"],
            Self::HumanReview => &["the reviewer is away until tomorrow"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_larry_capability_and_human_review_is_an_action() {
        for name in capability::LARRY
            .iter()
            .chain(std::iter::once(&capability::HUMAN_REVIEW))
        {
            let action = Action::of(name).expect("an action");
            assert_eq!(action.capability(), *name);
            assert!(!action.steps().is_empty() && !action.troubles().is_empty());
        }
        assert_eq!(Action::of("fly_a_plane"), None);
    }

    #[test]
    fn typical_durations_are_those_of_a_real_assistant() {
        let minutes = |a: Action| a.typical_duration().as_secs() / 60;
        assert_eq!(minutes(Action::SendEmail), 2);
        assert_eq!(minutes(Action::MakePhoneCall), 8);
        assert_eq!(minutes(Action::SearchGoogleMaps), 1);
        assert_eq!(minutes(Action::ConductInterview), 45);
        assert_eq!(minutes(Action::DraftDocument), 30);
    }
}
