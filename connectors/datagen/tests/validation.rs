//! Every datagen option error names the key and says how to fix it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{build, build_err, builder};

fn has(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "expected {p:?} in: {e}");
    }
}

#[test]
fn valid_configuration_builds() {
    let s = build(
        builder()
            .columns("id BIGINT, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3)")
            .unwrap()
            .field("id", "kind", "sequence")
            .field("id", "start", "1")
            .field("id", "end", "10")
            .field("name", "length", "5")
            .field("name", "var-len", "true")
            .field("price", "min", "1.50")
            .field("price", "max", "99.99")
            .field("ts", "max-past", "1 h")
            .field("name", "null-rate", "0.5")
            .rows_per_second(5)
            .scan_parallelism(2)
            .seed(7),
    )
    .unwrap();
    assert_eq!(s.parallelism(), Some(2));
}

#[test]
fn sequence_without_start_or_end() {
    let e = build_err(
        builder()
            .columns("id BIGINT")
            .unwrap()
            .field("id", "kind", "sequence")
            .field("id", "end", "10"),
    );
    has(
        &e,
        &[
            "'fields.id.start' is not set",
            "'fields.id.end'",
            "set both",
        ],
    );
    let e = build_err(
        builder()
            .columns("id BIGINT")
            .unwrap()
            .field("id", "kind", "sequence")
            .field("id", "start", "1"),
    );
    has(&e, &["'fields.id.end' is not set"]);
}

#[test]
fn min_greater_than_max() {
    let e = build_err(
        builder()
            .columns("n INT")
            .unwrap()
            .field("n", "min", "10")
            .field("n", "max", "5"),
    );
    has(
        &e,
        &[
            "'fields.n.min' = '10' is greater than 'fields.n.max' = '5'",
            "Set 'fields.n.min' to a value less than or equal",
        ],
    );
    let e = build_err(
        builder()
            .columns("d DECIMAL(5, 1)")
            .unwrap()
            .field("d", "min", "3.5")
            .field("d", "max", "-1"),
    );
    has(
        &e,
        &["'fields.d.min' = '3.5' is greater than 'fields.d.max' = '-1'"],
    );
    let e = build_err(
        builder()
            .columns("x DOUBLE")
            .unwrap()
            .field("x", "max", "-5"),
    );
    has(
        &e,
        &["'fields.x.min' (not set: default 5e-324, as in Flink) is greater than 'fields.x.max' = '-5'"],
    );
    let e = build_err(
        builder()
            .columns("id INT")
            .unwrap()
            .field("id", "kind", "sequence")
            .field("id", "start", "9")
            .field("id", "end", "1"),
    );
    has(
        &e,
        &["'fields.id.start' = '9' is greater than 'fields.id.end' = '1'"],
    );
}

#[test]
fn unknown_field_names_column_and_suggests() {
    let e = build_err(
        builder()
            .columns("id BIGINT, name STRING")
            .unwrap()
            .field("nmae", "length", "5"),
    );
    has(
        &e,
        &[
            "option 'fields.nmae.length'",
            "field 'nmae'",
            "Did you mean 'name'?",
            "Known fields: id, name",
        ],
    );
    let e = build_err(
        builder()
            .columns("buyer ROW<first_name STRING, last_name STRING>")
            .unwrap()
            .field("buyer.frist_name", "length", "5"),
    );
    has(
        &e,
        &[
            "field 'buyer.frist_name'",
            "Did you mean 'buyer.first_name'?",
        ],
    );
    let e = build_err(builder().columns("tags ARRAY<INT>").unwrap().field(
        "tgs.element",
        "max",
        "5",
    ));
    has(&e, &["field 'tgs.element'", "Did you mean 'tags.element'?"]);
}

#[test]
fn kind_that_does_not_fit_the_type() {
    for t in [
        "BOOLEAN",
        "DATE",
        "TIMESTAMP(3)",
        "ARRAY<INT>",
        "ROW<a INT>",
    ] {
        let e = build_err(
            builder()
                .columns(&format!("x {t}"))
                .unwrap()
                .field("x", "kind", "sequence")
                .field("x", "start", "1")
                .field("x", "end", "2"),
        );
        has(
            &e,
            &[
                "'fields.x.kind' = 'sequence' does not fit field 'x'",
                "use 'random'",
            ],
        );
    }
    let e = build_err(
        builder()
            .columns("x INT")
            .unwrap()
            .field("x", "kind", "seq"),
    );
    has(&e, &["'fields.x.kind'", "random, sequence"]);
    let e = build_err(
        builder()
            .columns("r ROW<a INT>")
            .unwrap()
            .field("r.a", "kind", "random"),
    );
    has(&e, &["'fields.r.a.kind'", "top-level column"]);
}

#[test]
fn options_that_do_not_apply() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("s STRING", "s", "min", "1", "only apply to numeric types"),
        ("n INT", "n", "max-past", "1 h", "only applies to TIMESTAMP"),
        ("n INT", "n", "length", "4", "'length' only applies to"),
        (
            "c CHAR(3)",
            "c",
            "length",
            "4",
            "CHAR(n) and BINARY(n) always have length n",
        ),
        (
            "c CHAR(3)",
            "c",
            "var-len",
            "true",
            "only applies to variable-length types",
        ),
        ("n INT", "n", "start", "1", "only applies to sequences"),
    ];
    for (cols, f, opt, v, msg) in cases {
        let e = build_err(builder().columns(cols).unwrap().field(f, opt, *v));
        has(&e, &[&format!("option 'fields.{f}.{opt}'"), msg]);
    }
    let e = build_err(
        builder()
            .columns("id INT")
            .unwrap()
            .field("id", "kind", "sequence")
            .field("id", "start", "1")
            .field("id", "end", "5")
            .field("id", "max", "3"),
    );
    has(&e, &["'fields.id.max'", "only applies to random fields"]);
}

#[test]
fn bad_values() {
    let e = build_err(
        builder()
            .columns("v VARCHAR(10)")
            .unwrap()
            .field("v", "length", "20"),
    );
    has(&e, &["'fields.v.length'", "at most 10"]);
    let e = build_err(
        builder()
            .columns("t TINYINT")
            .unwrap()
            .field("t", "max", "200"),
    );
    has(&e, &["'fields.t.max'", "between -128 and 127"]);
    let e = build_err(
        builder()
            .columns("d DECIMAL(4, 2)")
            .unwrap()
            .field("d", "max", "1.234"),
    );
    has(
        &e,
        &["'fields.d.max'", "more than 2 digits after the point"],
    );
    let e = build_err(
        builder()
            .columns("s STRING")
            .unwrap()
            .field("s", "null-rate", "1.5"),
    );
    has(&e, &["'fields.s.null-rate'", "between 0 and 1"]);
    let e = build_err(builder().columns("s STRING NOT NULL").unwrap().field(
        "s",
        "null-rate",
        "0.1",
    ));
    has(&e, &["'fields.s.null-rate'", "NOT NULL"]);
    let e = build_err(builder().columns("m MAP<STRING, INT>").unwrap().field(
        "m.key",
        "null-rate",
        "0.1",
    ));
    has(&e, &["'fields.m.key.null-rate'", "map keys cannot be NULL"]);
    let e = build_err(
        builder()
            .columns("s STRING")
            .unwrap()
            .field("s", "length", "-1"),
    );
    has(&e, &["'fields.s.length'", "0 or more"]);
    let e = build_err(builder().columns("n INT").unwrap().rows_per_second(0));
    has(&e, &["'rows-per-second'", "at least 1 row per second"]);
    let e = build_err(builder().columns("n INT").unwrap().number_of_rows(-1));
    has(&e, &["'number-of-rows'", "0 or more"]);
    let e = build_err(builder().columns("n INT").unwrap().scan_parallelism(0));
    has(&e, &["'scan.parallelism'", "at least 1"]);
    let e = build_err(
        builder()
            .columns("n INT")
            .unwrap()
            .option("rows-per-secnd", "5"),
    );
    has(&e, &["'rows-per-secnd'", "Did you mean 'rows-per-second'?"]);
}
