//! The test kit's schema registry (Apicurio, Confluent API) answers as Confluent's does for the
//! calls Headrace and confluent-kafka make.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use headrace_integration_tests::registry;
use serde_json::json;

const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#;
const V2: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":"x"}]}"#;
const BAD: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#;

#[test]
fn registers_looks_up_and_enforces_compatibility() {
    let reg = registry::start().unwrap();
    assert!(reg.url().starts_with("http://"), "{}", reg.url());
    let id = reg.register("t-value", V1).unwrap();
    // The same schema again: the same id, no new version.
    assert_eq!(reg.register("t-value", V1).unwrap(), id);
    assert_eq!(reg.versions("t-value").unwrap(), vec![1]);
    let text = reg.schema(id).unwrap();
    assert!(text.contains("\"a\""), "{text}");
    // Lookup without registering.
    let found = reg
        .request("POST", "/subjects/t-value", Some(&json!({ "schema": V1 })))
        .unwrap();
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.json()["id"].as_u64(), Some(u64::from(id)));
    let missing = reg
        .request(
            "POST",
            "/subjects/nobody-value",
            Some(&json!({ "schema": V1 })),
        )
        .unwrap();
    assert_eq!(missing.status, 404, "{}", missing.body);
    // An unknown id.
    let unknown = reg.request("GET", "/schemas/ids/987654", None).unwrap();
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    // BACKWARD: a field with a default may be added, a type may not change.
    reg.set_compatibility(Some("t-value"), "BACKWARD").unwrap();
    let id2 = reg.register("t-value", V2).unwrap();
    assert_ne!(id2, id);
    let refused = reg
        .request(
            "POST",
            "/subjects/t-value/versions",
            Some(&json!({ "schema": BAD })),
        )
        .unwrap();
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(reg.versions("t-value").unwrap(), vec![1, 2]);
    assert_eq!(reg.subjects().unwrap(), vec!["t-value".to_string()]);
}
