//! The plain-words helpers of the run diagnosis; the diagnosis itself is tested end to end in
//! `tests/it/workflow_view.rs`, against receivers answering like the workflow SDK.

use super::*;

#[test]
fn the_sdks_json_error_is_quoted_by_its_message_and_other_bodies_as_they_are() {
    let sdk = br#"{"error":"WorkflowError","message":"boom"}"#;
    assert_eq!(answer_text(sdk), "boom");
    assert_eq!(answer_text(b"  plain text \n"), "plain text");
    assert_eq!(answer_text(b"{\"status\":1}"), "{\"status\":1}");
    let advice = br#"{"message":"Failed to verify: bad\n\nIf signature is missing, ..."}"#;
    assert_eq!(answer_text(advice), "Failed to verify: bad");
}

#[test]
fn long_bodies_are_cut_at_300_characters_on_a_character_boundary() {
    let long = "é".repeat(400);
    let cut = short(long.as_bytes());
    assert_eq!(cut.chars().count(), 301);
    assert!(cut.ends_with('…'));
}

#[test]
fn counts_and_capitals_read_as_words() {
    assert_eq!(count(1, "attempt"), "1 attempt");
    assert_eq!(count(3, "time"), "3 times");
    assert_eq!(
        capital("the run's first delivery"),
        "The run's first delivery"
    );
    assert_eq!(capital(""), "");
}

#[test]
fn only_runs_with_nothing_to_go_on_are_stopped() {
    for c in [
        Code::Finished,
        Code::Canceled,
        Code::WaitingForEvent,
        Code::Sleeping,
    ] {
        assert!(!c.stopped(), "{}", c.as_str());
    }
    for c in [
        Code::SignatureRejected,
        Code::NoNextStep,
        Code::NotWorkflowResponse,
    ] {
        assert!(c.stopped(), "{}", c.as_str());
    }
}
