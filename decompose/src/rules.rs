//! The keyword rules of the capability mapper, as data, so they can be read and tuned in one
//! place.
//!
//! Each rule gives weight to one capability when its words appear as whole words (with common
//! inflections: `calls`, `scheduling`, `summaries`) in one field of a leaf. A phrase needs its
//! words in sequence; a pair needs one word of each list anywhere in the same field ("find" ...
//! "breeders"). Weights are on one scale: about 3 for a word that alone names the capability,
//! 1–2 for supporting words. `human_review` has rules too, for work no agent capability covers
//! (physical work, procurement, hiring, engineering), so that such words can outweigh a stray
//! agent keyword.

use planexec_schemas::agent::capability::{
    CONDUCT_INTERVIEW, DOCUMENT_FINDINGS, DRAFT_DOCUMENT, HUMAN_REVIEW, MAKE_PHONE_CALL,
    MANAGE_CSV, SCHEDULE_CALENDAR_EVENT, SEARCH_GOOGLE_MAPS, SEND_EMAIL,
};

#[derive(Debug)]
pub(crate) enum Pattern {
    /// Words in sequence, separated by spaces.
    Phrase(&'static str),
    /// One word of each list, anywhere in the same field.
    Pair(&'static [&'static str], &'static [&'static str]),
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub capability: &'static str,
    pub pattern: Pattern,
    pub weight: f64,
}

const fn p(capability: &'static str, phrase: &'static str, weight: f64) -> Rule {
    Rule {
        capability,
        pattern: Pattern::Phrase(phrase),
        weight,
    }
}

const fn pair(
    capability: &'static str,
    verbs: &'static [&'static str],
    objects: &'static [&'static str],
    weight: f64,
) -> Rule {
    Rule {
        capability,
        pattern: Pattern::Pair(verbs, objects),
        weight,
    }
}

/// Ties go to the first capability here, so `human_review` wins a tie: when in doubt, a person.
pub(crate) const CANDIDATES: [&str; 9] = [
    HUMAN_REVIEW,
    SEND_EMAIL,
    MAKE_PHONE_CALL,
    SEARCH_GOOGLE_MAPS,
    SCHEDULE_CALENDAR_EVENT,
    CONDUCT_INTERVIEW,
    DOCUMENT_FINDINGS,
    DRAFT_DOCUMENT,
    MANAGE_CSV,
];

const SEARCH_VERBS: &[&str] = &[
    "find", "locate", "search", "scout", "look", "lookup", "discover",
];
const PLACES: &[&str] = &[
    "breeder",
    "business",
    "location",
    "venue",
    "supplier",
    "nearby",
    "address",
    "map",
    "kennel",
    "shop",
    "store",
    "clinic",
    "vendor",
    "dealer",
    "retailer",
    "outlet",
    "restaurant",
    "premises",
];
const WRITE_VERBS: &[&str] = &[
    "draft", "write", "prepare", "create", "compose", "produce", "develop", "author", "revise",
];
const WRITINGS: &[&str] = &[
    "document",
    "letter",
    "proposal",
    "template",
    "report",
    "memo",
    "brief",
    "policy",
    "plan",
    "contract",
    "agreement",
    "presentation",
    "script",
    "guide",
    "manual",
    "charter",
    "specification",
    "brochure",
    "article",
    "outline",
    "faq",
    "handbook",
    "announcement",
];

pub(crate) const RULES: &[Rule] = &[
    // send_email
    p(SEND_EMAIL, "email", 3.0),
    p(SEND_EMAIL, "e mail", 3.0),
    p(SEND_EMAIL, "newsletter", 2.5),
    p(SEND_EMAIL, "mailshot", 2.5),
    p(SEND_EMAIL, "mailing", 2.0),
    p(SEND_EMAIL, "mail", 1.5),
    p(SEND_EMAIL, "inbox", 1.5),
    p(SEND_EMAIL, "outreach", 1.0),
    // make_phone_call
    p(MAKE_PHONE_CALL, "call", 3.0),
    p(MAKE_PHONE_CALL, "phone", 3.0),
    p(MAKE_PHONE_CALL, "telephone", 3.0),
    p(MAKE_PHONE_CALL, "voicemail", 2.0),
    p(MAKE_PHONE_CALL, "dial", 1.5),
    p(MAKE_PHONE_CALL, "hotline", 1.0),
    // search_google_maps
    p(SEARCH_GOOGLE_MAPS, "google map", 4.0),
    pair(SEARCH_GOOGLE_MAPS, SEARCH_VERBS, PLACES, 3.0),
    p(SEARCH_GOOGLE_MAPS, "map", 1.5),
    p(SEARCH_GOOGLE_MAPS, "geocode", 2.0),
    p(SEARCH_GOOGLE_MAPS, "nearby", 1.0),
    p(SEARCH_GOOGLE_MAPS, "radius", 1.0),
    p(SEARCH_GOOGLE_MAPS, "directions", 1.0),
    // schedule_calendar_event
    p(SCHEDULE_CALENDAR_EVENT, "schedule", 3.0),
    p(SCHEDULE_CALENDAR_EVENT, "reschedule", 3.0),
    p(SCHEDULE_CALENDAR_EVENT, "calendar", 3.0),
    p(SCHEDULE_CALENDAR_EVENT, "appointment", 3.0),
    p(SCHEDULE_CALENDAR_EVENT, "book a meeting", 3.0),
    p(SCHEDULE_CALENDAR_EVENT, "book meeting", 3.0),
    p(SCHEDULE_CALENDAR_EVENT, "invitation", 1.5),
    p(SCHEDULE_CALENDAR_EVENT, "invite", 1.5),
    p(SCHEDULE_CALENDAR_EVENT, "slot", 1.5),
    p(SCHEDULE_CALENDAR_EVENT, "reminder", 1.5),
    p(SCHEDULE_CALENDAR_EVENT, "rsvp", 1.5),
    p(SCHEDULE_CALENDAR_EVENT, "meeting", 1.0),
    p(SCHEDULE_CALENDAR_EVENT, "availability", 1.0),
    // conduct_interview
    p(CONDUCT_INTERVIEW, "interview", 3.0),
    p(CONDUCT_INTERVIEW, "focus group", 3.0),
    p(CONDUCT_INTERVIEW, "listening session", 2.0),
    p(CONDUCT_INTERVIEW, "feedback session", 2.0),
    p(CONDUCT_INTERVIEW, "survey", 1.5),
    p(CONDUCT_INTERVIEW, "questionnaire", 1.5),
    p(CONDUCT_INTERVIEW, "talk to", 1.5),
    p(CONDUCT_INTERVIEW, "conversation", 1.5),
    p(CONDUCT_INTERVIEW, "consultation", 1.0),
    p(CONDUCT_INTERVIEW, "question", 1.0),
    p(CONDUCT_INTERVIEW, "ask", 1.0),
    // document_findings
    p(DOCUMENT_FINDINGS, "document findings", 4.0),
    p(DOCUMENT_FINDINGS, "finding", 3.0),
    p(DOCUMENT_FINDINGS, "summarize", 3.0),
    p(DOCUMENT_FINDINGS, "summarise", 3.0),
    p(DOCUMENT_FINDINGS, "record notes", 3.0),
    p(DOCUMENT_FINDINGS, "lessons learned", 2.5),
    p(DOCUMENT_FINDINGS, "write up", 2.0),
    p(DOCUMENT_FINDINGS, "debrief", 2.0),
    p(DOCUMENT_FINDINGS, "notes", 1.5),
    p(DOCUMENT_FINDINGS, "minutes", 1.5),
    p(DOCUMENT_FINDINGS, "summary", 1.5),
    p(DOCUMENT_FINDINGS, "report", 1.5),
    p(DOCUMENT_FINDINGS, "insight", 1.5),
    p(DOCUMENT_FINDINGS, "observation", 1.5),
    p(DOCUMENT_FINDINGS, "takeaway", 1.5),
    p(DOCUMENT_FINDINGS, "document", 1.5),
    p(DOCUMENT_FINDINGS, "record", 1.0),
    p(DOCUMENT_FINDINGS, "log", 1.0),
    p(DOCUMENT_FINDINGS, "logging", 1.0),
    p(DOCUMENT_FINDINGS, "results", 1.0),
    // draft_document
    p(DRAFT_DOCUMENT, "draft", 4.0),
    pair(DRAFT_DOCUMENT, WRITE_VERBS, WRITINGS, 3.0),
    p(DRAFT_DOCUMENT, "compose", 2.5),
    p(DRAFT_DOCUMENT, "press release", 2.5),
    p(DRAFT_DOCUMENT, "write", 2.0),
    p(DRAFT_DOCUMENT, "template", 2.0),
    p(DRAFT_DOCUMENT, "letter", 2.0),
    p(DRAFT_DOCUMENT, "proposal", 2.0),
    p(DRAFT_DOCUMENT, "memo", 2.0),
    p(DRAFT_DOCUMENT, "outline", 1.5),
    p(DRAFT_DOCUMENT, "script", 1.5),
    p(DRAFT_DOCUMENT, "brief", 1.0),
    p(DRAFT_DOCUMENT, "guide", 1.0),
    p(DRAFT_DOCUMENT, "edit", 1.0),
    // manage_csv
    p(MANAGE_CSV, "csv", 4.0),
    p(MANAGE_CSV, "spreadsheet", 3.5),
    p(MANAGE_CSV, "contact list", 3.5),
    p(MANAGE_CSV, "tracker", 3.0),
    p(MANAGE_CSV, "tracking sheet", 3.0),
    p(MANAGE_CSV, "crm", 3.0),
    p(MANAGE_CSV, "excel", 3.0),
    p(MANAGE_CSV, "google sheet", 3.0),
    p(MANAGE_CSV, "database", 2.5),
    p(MANAGE_CSV, "data entry", 2.5),
    p(MANAGE_CSV, "deduplicate", 2.5),
    p(MANAGE_CSV, "dedupe", 2.5),
    p(MANAGE_CSV, "inventory", 2.0),
    p(MANAGE_CSV, "sheet", 1.5),
    p(MANAGE_CSV, "list", 1.0),
    p(MANAGE_CSV, "table", 1.0),
    p(MANAGE_CSV, "row", 1.0),
    p(MANAGE_CSV, "column", 1.0),
    p(MANAGE_CSV, "import", 1.0),
    p(MANAGE_CSV, "export", 1.0),
    // human_review: work for a person
    p(HUMAN_REVIEW, "project schedule", 4.0),
    p(HUMAN_REVIEW, "construct", 3.0),
    p(HUMAN_REVIEW, "construction", 3.0),
    p(HUMAN_REVIEW, "install", 3.0),
    p(HUMAN_REVIEW, "installation", 3.0),
    p(HUMAN_REVIEW, "assemble", 3.0),
    p(HUMAN_REVIEW, "manufacture", 3.0),
    p(HUMAN_REVIEW, "manufacturing", 3.0),
    p(HUMAN_REVIEW, "fabricate", 3.0),
    p(HUMAN_REVIEW, "fabrication", 3.0),
    p(HUMAN_REVIEW, "excavate", 3.0),
    p(HUMAN_REVIEW, "procure", 3.0),
    p(HUMAN_REVIEW, "procurement", 3.0),
    p(HUMAN_REVIEW, "negotiate", 3.0),
    p(HUMAN_REVIEW, "negotiation", 3.0),
    p(HUMAN_REVIEW, "hire", 3.0),
    p(HUMAN_REVIEW, "recruit", 3.0),
    p(HUMAN_REVIEW, "recruitment", 3.0),
    p(HUMAN_REVIEW, "build", 2.5),
    p(HUMAN_REVIEW, "purchase", 2.5),
    p(HUMAN_REVIEW, "buy", 2.5),
    p(HUMAN_REVIEW, "engineer", 2.5),
    p(HUMAN_REVIEW, "engineering", 2.5),
    p(HUMAN_REVIEW, "prototype", 2.5),
    p(HUMAN_REVIEW, "hardware", 2.5),
    p(HUMAN_REVIEW, "repair", 2.5),
    p(HUMAN_REVIEW, "inspect", 2.5),
    p(HUMAN_REVIEW, "inspection", 2.5),
    p(HUMAN_REVIEW, "permit", 2.5),
    p(HUMAN_REVIEW, "physical", 2.5),
    p(HUMAN_REVIEW, "evacuate", 2.5),
    p(HUMAN_REVIEW, "drill", 2.5),
    p(HUMAN_REVIEW, "assembly", 2.0),
    p(HUMAN_REVIEW, "test", 2.0),
    p(HUMAN_REVIEW, "deploy", 2.0),
    p(HUMAN_REVIEW, "deployment", 2.0),
    p(HUMAN_REVIEW, "launch", 2.0),
    p(HUMAN_REVIEW, "train", 2.0),
    p(HUMAN_REVIEW, "legal", 2.0),
    p(HUMAN_REVIEW, "license", 2.0),
    p(HUMAN_REVIEW, "licence", 2.0),
    p(HUMAN_REVIEW, "approval", 2.0),
    p(HUMAN_REVIEW, "approve", 2.0),
    p(HUMAN_REVIEW, "funding", 2.0),
    p(HUMAN_REVIEW, "design", 2.0),
    p(HUMAN_REVIEW, "transport", 2.0),
    p(HUMAN_REVIEW, "relocate", 2.0),
    p(HUMAN_REVIEW, "shipping", 2.0),
    p(HUMAN_REVIEW, "equipment", 2.0),
    p(HUMAN_REVIEW, "infrastructure", 2.0),
    p(HUMAN_REVIEW, "facility", 2.0),
    p(HUMAN_REVIEW, "vehicle", 2.0),
    p(HUMAN_REVIEW, "budget", 1.5),
    p(HUMAN_REVIEW, "sign", 1.5),
    p(HUMAN_REVIEW, "audit", 1.5),
    p(HUMAN_REVIEW, "implement", 1.5),
    p(HUMAN_REVIEW, "integrate", 1.5),
    p(HUMAN_REVIEW, "safety", 1.5),
    p(HUMAN_REVIEW, "software", 1.5),
    p(HUMAN_REVIEW, "secure", 1.0),
    p(HUMAN_REVIEW, "contract", 1.0),
    p(HUMAN_REVIEW, "develop", 1.0),
    p(HUMAN_REVIEW, "establish", 1.0),
    p(HUMAN_REVIEW, "site", 1.0),
    p(HUMAN_REVIEW, "monitor", 1.0),
];
