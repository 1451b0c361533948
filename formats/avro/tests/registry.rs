//! avro-confluent against a real Confluent-compatible schema registry: Apicurio Registry from the
//! test kit (`headrace_integration_tests::registry`, its Confluent API), not a fake. Registration
//! under the subject, writer schemas resolved by id (cached), schema evolution under the
//! registry's compatibility rules, the errors a user sees, and, on a real Kafka broker, records
//! exchanged with confluent-kafka's AvroSerializer / AvroDeserializer and with Apache Flink's own
//! avro-confluent format through that registry.
//!
//! Needs `java` (17+) and `mvn` (the registry is built once into `~/.cache/headrace/registry` by
//! `integration-tests/registry/setup.sh`, or named by `HEADRACE_REGISTRY_APP`); the Kafka test
//! also needs the test kit's Kafka image, `HEADRACE_AVRO_PYTHON` (a Python with confluent-kafka),
//! `HEADRACE_PYFLINK_PYTHON` (PyFlink) and Flink's Kafka and avro-confluent SQL jars in `~/.m2`.
//! `scripts/test-all.sh` sets all of it up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use arrow::array::RecordBatch;
use headrace_format_avro::schema::table_schema_json;
use headrace_format_avro::AvroConfluentFormatFactory;
use headrace_integration_tests::registry::{self, SchemaRegistry};
use headrace_sdk::error::{ErrorDomain, Retry};
use headrace_sdk::format::FormatFactory;
use serde_json::{json, Value as Json};

use common::*;

/// One registry for the tests of this file that do not stop it (distinct subjects each).
fn shared() -> &'static SchemaRegistry {
    static R: OnceLock<SchemaRegistry> = OnceLock::new();
    R.get_or_init(|| {
        registry::start().unwrap_or_else(|e| panic!("cannot start the test schema registry: {e}"))
    })
}

fn schema_id(record: &[u8]) -> u32 {
    assert_eq!(record[0], 0, "magic byte");
    u32::from_be_bytes([record[1], record[2], record[3], record[4]])
}

fn decode_all(c: &headrace_sdk::format::FormatContext, records: &[Vec<u8>]) -> RecordBatch {
    let mut d = AvroConfluentFormatFactory.create_decoder(c).unwrap();
    for (i, r) in records.iter().enumerate() {
        d.decode(r, &origin(i as i64))
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
    }
    d.finish().unwrap().batch
}

const ORDERS: &str = "id BIGINT NOT NULL, name STRING, amount DECIMAL(10, 2), ts TIMESTAMP(3)";

fn orders() -> RecordBatch {
    rows(
        ORDERS,
        &[
            json!({"id": 1, "name": "first", "amount": 12.5, "ts": "2026-11-25 10:00:00.123"}),
            json!({"id": 2, "name": null, "amount": null, "ts": null}),
            json!({"id": 3, "name": "", "amount": -0.01, "ts": "1969-12-31 23:59:59.999"}),
        ],
    )
}

/// The encoder registers the derived schema under the subject once; the decoder fetches the
/// writer schema by id and keeps it: with the registry gone, known ids still decode (and the
/// encoder still has its id), an id never seen fails naming the registry.
#[test]
fn registers_under_the_subject_and_resolves_ids_through_a_cache() {
    let reg = registry::start().unwrap();
    let url = reg.url().to_string();
    let input = orders();
    let c = ctx(
        input.schema(),
        "avro-confluent",
        &[("url", url.as_str()), ("subject", "orders-value")],
    );
    let mut e = AvroConfluentFormatFactory.create_encoder(&c).unwrap();
    let first = encode(&mut *e, &input).unwrap();
    let again = encode(&mut *e, &input).unwrap();
    assert_eq!(first, again);
    assert_eq!(reg.subjects().unwrap(), vec!["orders-value".to_string()]);
    assert_eq!(
        reg.versions("orders-value").unwrap(),
        vec![1],
        "one version"
    );
    let id = schema_id(&first[0]);
    let registered: Json = serde_json::from_str(&reg.schema(id).unwrap()).unwrap();
    let derived: Json =
        serde_json::from_str(&table_schema_json(&input.schema(), true).unwrap()).unwrap();
    assert_eq!(
        registered, derived,
        "the registered schema is the derived one"
    );
    assert_eq!(decode_all(&c, &first), input);

    drop(reg);
    // Served from the process-wide caches, without the registry.
    assert_eq!(decode_all(&c, &first), input);
    let mut e2 = AvroConfluentFormatFactory.create_encoder(&c).unwrap();
    assert_eq!(encode(&mut *e2, &input).unwrap(), first);
    // An id not seen yet needs the registry: the error names it.
    let mut d = AvroConfluentFormatFactory.create_decoder(&c).unwrap();
    let mut unseen = first[0].clone();
    unseen[1..5].copy_from_slice(&(id + 1000).to_be_bytes());
    let err = d.decode(&unseen, &origin(7)).unwrap_err();
    // An unreachable registry is the outside world's fault, worth retrying.
    assert_eq!(err.domain(), ErrorDomain::External, "{err}");
    assert_eq!(err.retry(), Retry::Backoff, "{err}");
    let err = err.to_string();
    assert!(err.contains(&url), "{err}");
}

/// Records written with an older writer schema (a column since removed, another not there yet)
/// read with the table's schema: the removed field is skipped, the added one is NULL (the
/// derived schema's default) or the default of a reader schema given in 'avro-confluent.schema'.
/// The registry's BACKWARD rule accepts the new version.
#[test]
fn older_writer_schemas_read_with_the_tables_schema() {
    let reg = shared();
    let subject = "evolution-value";
    reg.set_compatibility(Some(subject), "BACKWARD").unwrap();
    let old_cols = "id BIGINT NOT NULL, name STRING, legacy INT";
    let new_cols = "id BIGINT NOT NULL, name STRING, added STRING";
    let old = rows(
        old_cols,
        &[
            json!({"id": 1, "name": "old", "legacy": 7}),
            json!({"id": 2, "name": null, "legacy": null}),
        ],
    );
    let new = rows(new_cols, &[json!({"id": 3, "name": "new", "added": "x"})]);
    let opts = [("url", reg.url()), ("subject", subject)];
    let c_old = ctx(old.schema(), "avro-confluent", &opts);
    let c_new = ctx(new.schema(), "avro-confluent", &opts);
    let mut records = encode(
        &mut *AvroConfluentFormatFactory.create_encoder(&c_old).unwrap(),
        &old,
    )
    .unwrap();
    records.extend(
        encode(
            &mut *AvroConfluentFormatFactory.create_encoder(&c_new).unwrap(),
            &new,
        )
        .unwrap(),
    );
    assert_eq!(reg.versions(subject).unwrap(), vec![1, 2]);
    assert_ne!(schema_id(&records[0]), schema_id(&records[2]));

    let expected = rows(
        new_cols,
        &[
            json!({"id": 1, "name": "old", "added": null}),
            json!({"id": 2, "name": null, "added": null}),
            json!({"id": 3, "name": "new", "added": "x"}),
        ],
    );
    assert_eq!(decode_all(&c_new, &records), expected);

    // A reader schema with a default for the added field.
    let reader = json!({"type": "record", "name": "record", "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"], "default": null},
        {"name": "added", "type": ["string", "null"], "default": "n/a"}
    ]})
    .to_string();
    let c_given = ctx(
        new.schema(),
        "avro-confluent",
        &[("url", reg.url()), ("schema", reader.as_str())],
    );
    let expected = rows(
        new_cols,
        &[
            json!({"id": 1, "name": "old", "added": "n/a"}),
            json!({"id": 2, "name": null, "added": "n/a"}),
            json!({"id": 3, "name": "new", "added": "x"}),
        ],
    );
    assert_eq!(decode_all(&c_given, &records), expected);
}

/// A schema the subject's compatibility rule refuses: the write fails naming the subject, the
/// registry URL and the rule, before any record is emitted.
#[test]
fn an_incompatible_schema_is_refused_naming_the_subject_and_the_registry() {
    let reg = shared();
    let subject = "strict-value";
    reg.set_compatibility(Some(subject), "BACKWARD").unwrap();
    let v1 = rows("id BIGINT NOT NULL", &[json!({"id": 1})]);
    let c1 = ctx(
        v1.schema(),
        "avro-confluent",
        &[("url", reg.url()), ("subject", subject)],
    );
    encode(
        &mut *AvroConfluentFormatFactory.create_encoder(&c1).unwrap(),
        &v1,
    )
    .unwrap();
    let v2 = rows("id STRING NOT NULL", &[json!({"id": "1"})]);
    let c2 = ctx(
        v2.schema(),
        "avro-confluent",
        &[("url", reg.url()), ("subject", subject)],
    );
    let mut e = AvroConfluentFormatFactory.create_encoder(&c2).unwrap();
    let err = encode(&mut *e, &v2).unwrap_err();
    // The user's to fix; retrying cannot help.
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert_eq!(err.retry(), Retry::No, "{err}");
    let err = err.to_string();
    for part in [subject, reg.url(), "HTTP 409", "compatib"] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert_eq!(
        reg.versions(subject).unwrap(),
        vec![1],
        "nothing registered"
    );
}

/// With 'avro-confluent.auto.register.schemas' = 'false' the schema is looked up, never
/// registered: before someone registers it the write fails naming the subject and the option,
/// after it the records carry the registered id.
#[test]
fn without_auto_registration_the_schema_is_looked_up() {
    let reg = shared();
    let subject = "manual-value";
    let input = rows(
        "id BIGINT NOT NULL, name STRING",
        &[json!({"id": 1, "name": "a"})],
    );
    let c = ctx(
        input.schema(),
        "avro-confluent",
        &[
            ("url", reg.url()),
            ("subject", subject),
            ("auto.register.schemas", "false"),
        ],
    );
    let err = encode(
        &mut *AvroConfluentFormatFactory.create_encoder(&c).unwrap(),
        &input,
    )
    .unwrap_err()
    .to_string();
    for part in [subject, "auto.register.schemas", reg.url()] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert!(!reg.subjects().unwrap().contains(&subject.to_string()));
    let id = reg
        .register(subject, &table_schema_json(&input.schema(), true).unwrap())
        .unwrap();
    let records = encode(
        &mut *AvroConfluentFormatFactory.create_encoder(&c).unwrap(),
        &input,
    )
    .unwrap();
    assert_eq!(schema_id(&records[0]), id);
    assert_eq!(reg.versions(subject).unwrap(), vec![1]);
    assert_eq!(decode_all(&c, &records), input);
}

/// A record whose schema id the registry does not know: the error names the id, the registry
/// and the record's topic, partition and offset.
#[test]
fn an_unknown_schema_id_names_the_id_and_the_record() {
    let reg = shared();
    let c = ctx(schema(ORDERS), "avro-confluent", &[("url", reg.url())]);
    let mut d = AvroConfluentFormatFactory.create_decoder(&c).unwrap();
    let record = [0u8, 0, 0, 0x30, 0x39, 2, 0];
    let err = d.decode(&record, &origin(42)).unwrap_err().to_string();
    for part in [
        "schema id 12345",
        reg.url(),
        "topic 'orders' partition 1 offset 42",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
}

fn python() -> String {
    let py = std::env::var("HEADRACE_AVRO_PYTHON")
        .or_else(|_| std::env::var("HEADRACE_KAFKA_PYTHON"))
        .expect(
            "set HEADRACE_AVRO_PYTHON to a Python with confluent-kafka[avro,schemaregistry]; \
             scripts/test-all.sh does it",
        );
    let ok = Command::new(&py)
        .args([
            "-c",
            "import confluent_kafka, confluent_kafka.schema_registry.avro",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{py} cannot import confluent_kafka.schema_registry.avro: run `{py} -m pip install \
         'confluent-kafka[avro,schemaregistry]'` (scripts/test-all.sh does it)"
    );
    py
}

fn run_py(args: &[&str]) -> Json {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/registry_kafka.py");
    let out = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "registry_kafka.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pyflink() -> String {
    std::env::var("HEADRACE_PYFLINK_PYTHON").expect(
        "set HEADRACE_PYFLINK_PYTHON to a Python with apache-flink installed; \
         scripts/test-all.sh does it",
    )
}

/// Flink's Kafka SQL connector and avro-confluent format jars: `HEADRACE_FLINK_KAFKA_JAR` and
/// `HEADRACE_FLINK_AVRO_CONFLUENT_JAR`, else the ones Maven put in `~/.m2`.
fn flink_jars() -> Vec<String> {
    let home = std::env::var("HOME").unwrap_or_default();
    let m2 = format!("{home}/.m2/repository/org/apache/flink");
    [
        (
            "HEADRACE_FLINK_KAFKA_JAR",
            "org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2",
            format!("{m2}/flink-sql-connector-kafka/5.0.0-2.2/flink-sql-connector-kafka-5.0.0-2.2.jar"),
        ),
        (
            "HEADRACE_FLINK_AVRO_CONFLUENT_JAR",
            "org.apache.flink:flink-sql-avro-confluent-registry:2.3.0",
            format!(
                "{m2}/flink-sql-avro-confluent-registry/2.3.0/flink-sql-avro-confluent-registry-2.3.0.jar"
            ),
        ),
    ]
    .into_iter()
    .map(|(var, artifact, default)| {
        let j = std::env::var(var).unwrap_or(default);
        assert!(
            Path::new(&j).exists(),
            "{j} is missing: run `mvn dependency:get -Dartifact={artifact} -Dtransitive=false` \
             or set {var} (scripts/test-all.sh does it)"
        );
        j
    })
    .collect()
}

fn run_job(sql: &str) {
    let mut r = headrace_sdk::registry::Registry::new();
    r.register_connector(headrace_connector_kafka::factory());
    r.register_connector(headrace_connector_datagen::factory());
    r.register_format(headrace_format_avro::confluent_factory());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(headrace_runtime::harness::run_sql(
            sql,
            &r,
            None,
            None,
            Duration::from_secs(180),
        ))
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

/// Every Avro-mappable type of the legacy mapping, through Kafka and the real registry both ways:
/// records Headrace encodes are read by confluent-kafka's AvroDeserializer, which hands the values
/// to its AvroSerializer to produce topic A; a Headrace job reads A with 'value.format' =
/// 'avro-confluent' and writes B the same way (subject 'B-value' by default); confluent-kafka
/// consumes B. Flink's own avro-confluent format copies B to E, Headrace E to F, confluent-kafka
/// reads F. The values match the input at each step. Then the producer's schema evolves and a
/// Headrace table of the newest shape reads records of both versions.
#[test]
fn kafka_topics_exchanged_with_confluent_kafka_and_flink_through_the_registry() {
    let _ = python();
    let reg = shared();
    let kafka = headrace_integration_tests::kafka::start().unwrap();
    let bootstrap = kafka.bootstrap_servers().to_string();
    let (topic_a, topic_b) = ("registry-py-in", "registry-headrace-out");
    kafka.create_topic(topic_a, 1).unwrap();
    kafka.create_topic(topic_b, 1).unwrap();

    let input = rows(LEGACY, &legacy_rows());
    let c = ctx(
        input.schema(),
        "avro-confluent",
        &[("url", reg.url()), ("subject", "legacy-value")],
    );
    let records = encode(
        &mut *AvroConfluentFormatFactory.create_encoder(&c).unwrap(),
        &input,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hex_path = dir.path().join("in.hex");
    let hex: Vec<String> = records
        .iter()
        .map(|r| r.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    std::fs::write(&hex_path, hex.join("\n")).unwrap();
    let produced = run_py(&[
        "produce",
        reg.url(),
        &bootstrap,
        topic_a,
        hex_path.to_str().unwrap(),
    ]);
    let sent = produced["rows"].as_array().unwrap().clone();
    assert_eq!(sent.len(), input.num_rows());
    assert_eq!(sent[0], expected_first_legacy_row(), "{:#}", sent[0]);
    assert!(reg
        .subjects()
        .unwrap()
        .contains(&format!("{topic_a}-value")));

    // Headrace: A -> B, both avro-confluent against the registry.
    let cols = LEGACY;
    let url = reg.url();
    run_job(&format!(
        "CREATE TABLE a ({cols}) WITH (
            'connector' = 'kafka', 'topic' = '{topic_a}',
            'properties.bootstrap.servers' = '{bootstrap}',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}');
         CREATE TABLE b ({cols}) WITH (
            'connector' = 'kafka', 'topic' = '{topic_b}',
            'properties.bootstrap.servers' = '{bootstrap}',
            'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}');
         INSERT INTO b SELECT * FROM a;"
    ));
    assert!(reg
        .subjects()
        .unwrap()
        .contains(&format!("{topic_b}-value")));

    let consumed = run_py(&[
        "consume",
        reg.url(),
        &bootstrap,
        topic_b,
        &input.num_rows().to_string(),
    ]);
    assert_eq!(consumed["rows"].as_array().unwrap(), &sent, "{consumed:#}");
    let ids = consumed["ids"].as_array().unwrap();
    assert!(
        ids.iter().all(|i| i == &ids[0]),
        "one writer schema: {ids:?}"
    );

    // Apache Flink's own avro-confluent format and Kafka connector copy B (written by Headrace)
    // to E against the same registry; Headrace copies E to F; confluent-kafka reads F.
    let (topic_e, topic_f) = ("registry-flink-out", "registry-headrace-from-flink");
    kafka.create_topic(topic_e, 1).unwrap();
    kafka.create_topic(topic_f, 1).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/flink_confluent.py");
    let out = Command::new(pyflink())
        .arg(script)
        .args([LEGACY, &bootstrap, reg.url(), topic_b, topic_e])
        .args(flink_jars())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "flink_confluent.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(reg
        .subjects()
        .unwrap()
        .contains(&format!("{topic_e}-value")));
    run_job(&format!(
        "CREATE TABLE e ({cols}) WITH (
            'connector' = 'kafka', 'topic' = '{topic_e}',
            'properties.bootstrap.servers' = '{bootstrap}',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}');
         CREATE TABLE f ({cols}) WITH (
            'connector' = 'kafka', 'topic' = '{topic_f}',
            'properties.bootstrap.servers' = '{bootstrap}',
            'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}');
         INSERT INTO f SELECT * FROM e;"
    ));
    let consumed = run_py(&[
        "consume",
        reg.url(),
        &bootstrap,
        topic_f,
        &input.num_rows().to_string(),
    ]);
    assert_eq!(
        consumed["rows"].as_array().unwrap(),
        &sent,
        "after Flink: {consumed:#}"
    );

    // confluent-kafka's producer evolves its schema (BACKWARD: a field removed, one added with a
    // default); a Headrace table with the newest shape reads records of both versions.
    let (topic_c, topic_d) = ("registry-py-evolving", "registry-headrace-evolved");
    kafka.create_topic(topic_c, 1).unwrap();
    kafka.create_topic(topic_d, 1).unwrap();
    reg.set_compatibility(Some(&format!("{topic_c}-value")), "BACKWARD")
        .unwrap();
    let produced = run_py(&["produce-evolving", reg.url(), &bootstrap, topic_c, "-"]);
    let ids = produced["ids"].as_array().unwrap();
    assert_ne!(ids[0], ids[2], "two writer schemas: {ids:?}");
    assert_eq!(
        reg.versions(&format!("{topic_c}-value")).unwrap(),
        vec![1, 2]
    );
    let cols = "id BIGINT NOT NULL, name STRING, added STRING";
    run_job(&format!(
        "CREATE TABLE c ({cols}) WITH (
            'connector' = 'kafka', 'topic' = '{topic_c}',
            'properties.bootstrap.servers' = '{bootstrap}',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}');
         CREATE TABLE d ({cols}) WITH (
            'connector' = 'kafka', 'topic' = '{topic_d}',
            'properties.bootstrap.servers' = '{bootstrap}',
            'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}');
         INSERT INTO d SELECT * FROM c;"
    ));
    let consumed = run_py(&["consume", reg.url(), &bootstrap, topic_d, "3"]);
    assert_eq!(
        consumed["rows"],
        json!([
            {"id": 1, "name": "old", "added": null},
            {"id": 2, "name": null, "added": null},
            {"id": 3, "name": "new", "added": "x"}
        ]),
        "{consumed:#}"
    );
}

/// The latest schema under `subject`, as JSON.
fn latest(reg: &SchemaRegistry, subject: &str) -> Json {
    let r = reg
        .request("GET", &format!("/subjects/{subject}/versions/latest"), None)
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(r.json()["schema"].as_str().unwrap()).unwrap()
}

/// With avro-confluent as both key and value format, the Kafka sink registers the key columns
/// under '<topic>-key' and the value columns under '<topic>-value' (Flink's defaults), and
/// confluent-kafka decodes both.
#[test]
fn key_and_value_register_under_the_topics_subjects() {
    let _ = python();
    let reg = shared();
    let kafka = headrace_integration_tests::kafka::start().unwrap();
    let bootstrap = kafka.bootstrap_servers().to_string();
    let topic = "registry-keyed";
    kafka.create_topic(topic, 1).unwrap();
    let url = reg.url();
    run_job(&format!(
        "CREATE TABLE gen (id BIGINT NOT NULL, name STRING) WITH (
            'connector' = 'datagen', 'number-of-rows' = '20',
            'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20');
         CREATE TABLE k (id BIGINT NOT NULL, name STRING) WITH (
            'connector' = 'kafka', 'topic' = '{topic}',
            'properties.bootstrap.servers' = '{bootstrap}',
            'key.format' = 'avro-confluent', 'key.avro-confluent.url' = '{url}',
            'key.fields' = 'id', 'value.fields-include' = 'EXCEPT_KEY',
            'value.format' = 'avro-confluent', 'value.avro-confluent.url' = '{url}');
         INSERT INTO k SELECT * FROM gen;"
    ));
    let names = |s: &Json| -> Vec<String> {
        s["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&latest(reg, &format!("{topic}-key"))), ["id"]);
    assert_eq!(names(&latest(reg, &format!("{topic}-value"))), ["name"]);
    let consumed = run_py(&["consume", reg.url(), &bootstrap, topic, "20"]);
    let mut ids: Vec<i64> = consumed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=20).collect::<Vec<i64>>());
    assert!(consumed["rows"].as_array().unwrap().iter().all(|r| r
        .as_object()
        .unwrap()
        .keys()
        .eq(["name"].iter())));
}
