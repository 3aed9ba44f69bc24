//! The capability mapper on single leaves: the words that decide, and the ones that must not.

use planexec_decompose::map_capability;
use planexec_schemas::agent::capability as cap;

fn mapped(title: &str, description: &str) -> String {
    map_capability(title, description, &[]).capability
}

#[test]
fn email_words_map_to_send_email() {
    let c = map_capability("Send introduction emails to breeders", "", &[]);
    assert_eq!(c.capability, cap::SEND_EMAIL);
    assert_eq!(c.chosen_by, "auto");
    assert!(c.evidence.contains("title: \"emails\""), "{}", c.evidence);
    assert_eq!(
        mapped("Publish the monthly newsletter", ""),
        cap::SEND_EMAIL
    );
    assert_eq!(mapped("Follow up by e-mail", ""), cap::SEND_EMAIL);
}

#[test]
fn phone_words_map_to_make_phone_call() {
    assert_eq!(
        mapped("Call breeders who did not reply", ""),
        cap::MAKE_PHONE_CALL
    );
    assert_eq!(
        mapped(
            "Telephone the venue",
            "Ask about availability by telephone."
        ),
        cap::MAKE_PHONE_CALL
    );
}

#[test]
fn finding_places_maps_to_search_google_maps() {
    let c = map_capability(
        "Find dog breeders nearby",
        "Look for kennels within 30 miles.",
        &[],
    );
    assert_eq!(c.capability, cap::SEARCH_GOOGLE_MAPS);
    assert!(
        c.evidence.contains("\"find\" + \"breeders\""),
        "{}",
        c.evidence
    );
    assert_eq!(
        mapped("Search Google Maps for pet shops", ""),
        cap::SEARCH_GOOGLE_MAPS
    );
}

#[test]
fn interviews_map_to_conduct_interview_with_evidence_by_field() {
    let c = map_capability(
        "Interview breeders",
        "Ask the prepared questions to each breeder.",
        &[],
    );
    assert_eq!(c.capability, cap::CONDUCT_INTERVIEW);
    assert!(
        c.evidence
            .starts_with("title: \"interview\"; description: \"questions\", \"ask\""),
        "{}",
        c.evidence
    );
    assert!(c.match_score > 0.7, "{}", c.match_score);
}

#[test]
fn spreadsheets_and_contact_lists_map_to_manage_csv() {
    assert_eq!(mapped("Update the contact list", ""), cap::MANAGE_CSV);
    assert_eq!(mapped("Export leads to CSV", ""), cap::MANAGE_CSV);
    assert_eq!(
        mapped("Keep the tracker spreadsheet current", ""),
        cap::MANAGE_CSV
    );
}

#[test]
fn scheduling_findings_and_drafting_have_their_capabilities() {
    assert_eq!(
        mapped("Schedule a call-back appointment in the calendar", ""),
        cap::SCHEDULE_CALENDAR_EVENT
    );
    assert_eq!(
        mapped("Summarize findings from the visits", ""),
        cap::DOCUMENT_FINDINGS
    );
    assert_eq!(
        mapped("Draft a partnership proposal", ""),
        cap::DRAFT_DOCUMENT
    );
}

#[test]
fn construction_and_other_physical_work_go_to_human_review() {
    let c = map_capability(
        "Construct the habitat module",
        "Assemble and install the pressure hull on site.",
        &["Construction crew".to_owned()],
    );
    assert_eq!(c.capability, cap::HUMAN_REVIEW);
    assert!(c.evidence.contains("construct"), "{}", c.evidence);
    assert_eq!(mapped("Negotiate the lease", ""), cap::HUMAN_REVIEW);
    assert_eq!(mapped("Procure radiation shielding", ""), cap::HUMAN_REVIEW);
}

#[test]
fn nothing_recognisable_goes_to_human_review_with_a_reason() {
    let c = map_capability("Ponder the universe", "", &[]);
    assert_eq!(c.capability, cap::HUMAN_REVIEW);
    assert_eq!(c.match_score, 0.0);
    assert!(
        c.evidence.starts_with("no capability fits"),
        "{}",
        c.evidence
    );
}

#[test]
fn only_whole_words_match() {
    // "recall" is not "call", "mapping" is not "map", "emailing" is "email".
    assert_ne!(
        mapped("Recall the prototype batch", ""),
        cap::MAKE_PHONE_CALL
    );
    assert_ne!(mapped("Stakeholder mapping", ""), cap::SEARCH_GOOGLE_MAPS);
    assert_eq!(
        mapped("Emailing the shortlisted kennels", ""),
        cap::SEND_EMAIL
    );
}

#[test]
fn the_title_outweighs_the_description() {
    let c = map_capability(
        "Phone the suppliers",
        "Ask them to confirm the order by email.",
        &[],
    );
    assert_eq!(c.capability, cap::MAKE_PHONE_CALL, "{}", c.evidence);
    assert!(
        c.evidence.contains("runner-up: send_email"),
        "{}",
        c.evidence
    );
}

#[test]
fn resources_add_weak_evidence() {
    let without = map_capability("Reach out to the breeders", "", &[]);
    let with = map_capability(
        "Reach out to the breeders",
        "",
        &["Email account".to_owned(), "Mailing tool".to_owned()],
    );
    assert_eq!(without.capability, cap::HUMAN_REVIEW);
    assert_eq!(with.capability, cap::SEND_EMAIL, "{}", with.evidence);
    assert!(
        with.evidence.contains("resources: \"email\""),
        "{}",
        with.evidence
    );
}

#[test]
fn mapping_is_deterministic() {
    let a = map_capability(
        "Schedule interviews",
        "Book a meeting with each breeder.",
        &[],
    );
    let b = map_capability(
        "Schedule interviews",
        "Book a meeting with each breeder.",
        &[],
    );
    assert_eq!(a, b);
}
