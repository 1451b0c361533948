//! Starts each service container, does a real round trip through it, and puts it
//! through pause/unpause and stop/start. These tests fail (never skip) when a
//! container cannot start; the message says why and which script to run.
//!
//! Needs the images: `integration-tests/containers/setup.sh` then
//! `integration-tests/containers/build-images.sh`, and
//! `DOCKER_HOST=unix:///run/podman/podman.sock` (the default when that socket exists).

use std::time::{Duration, Instant};

use headrace_integration_tests::{hbase, kafka, mariadb, opensearch, postgres, Result};

/// Unwraps or fails the test with the kit's explanation.
fn must<T>(what: &str, result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// Runs `f`, printing how long it took.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    eprintln!("{what}: {:.2?}", started.elapsed());
    value
}

const SHORT: Duration = Duration::from_secs(2);

/// Pauses `$svc` (named `$name`), runs `$paused`, unpauses it and runs `$unpaused`; then stops it
/// and starts it again (timed). `$svc.$answer(SHORT)`, a call with a time limit, must fail while
/// the service is paused and while it is stopped.
macro_rules! pause_then_restart {
    ($name:expr, $svc:ident, $answer:ident, paused: $paused:block, unpaused: $unpaused:block) => {{
        must("pause", $svc.pause());
        let err = $svc
            .$answer(SHORT)
            .expect_err("a paused server must not answer");
        eprintln!("paused {}: {err}", $name);
        $paused
        must("unpause", $svc.unpause());
        $unpaused
        must("stop", $svc.stop());
        let err = $svc
            .$answer(SHORT)
            .expect_err("a stopped server must not answer");
        eprintln!("stopped {}: {err}", $name);
        timed(&format!("{} restart to ready", $name), || {
            must("start", $svc.start())
        });
    }};
}

/// The round trip of a SQL server (PostgreSQL, MariaDB) `$db`, whose SQL helper is the method
/// `$sql`: `$connect` reaches it by its URL as an external server; a table with `$columns` gets
/// two rows, read back as `$rows` (the client's output); `$setting` answers `$value`; an SQL error
/// is an error naming the missing table.
macro_rules! sql_server_round_trip {
    ($db:expr, $sql:ident, $connect:path, $columns:literal, $rows:literal,
     $setting:literal => $value:literal) => {{
        let db = &$db;
        let external = must("connect by URL", $connect(db.url()));
        assert!(external.is_external() && !db.is_external());
        assert_eq!(
            (external.url(), external.port(), external.user()),
            (db.url(), db.port(), db.user())
        );
        must(
            "create",
            db.$sql(concat!("CREATE TABLE items (", $columns, ")")),
        );
        must(
            "insert",
            db.$sql("INSERT INTO items VALUES (1, 'one'), (2, 'two')"),
        );
        assert_eq!(
            must("select", db.$sql("SELECT id, name FROM items ORDER BY id")),
            $rows
        );
        assert_eq!(must($setting, db.$sql($setting)), $value);
        let err = db
            .$sql("SELECT * FROM missing")
            .expect_err("SQL errors are errors");
        assert!(err.to_string().contains("missing"), "{err}");
    }};
}

/// The fault test of a SQL server (PostgreSQL, MariaDB), started by `$start`, whose SQL helper is
/// the method `$sql` and which `$create` fills with one row `before`: the probe fails while the
/// server is paused or stopped, so does SQL while paused; after the restart the port is the same
/// and the data is still there.
macro_rules! sql_server_faults {
    ($name:literal, $start:expr, $sql:ident, $create:literal) => {{
        let db = must(concat!($name, "::start_container"), $start);
        let port = db.port();
        must("create", db.$sql($create));

        pause_then_restart!($name, db, probe, paused: {
            assert!(
                db.$sql("SELECT 1").is_err(),
                "no exec in a paused container"
            );
        }, unpaused: {
            must("probe after unpause", db.probe(Duration::from_secs(10)));
            assert_eq!(must("select", db.$sql("SELECT v FROM f")), "before");
        });
        assert_eq!(db.port(), port);
        must(
            "insert after restart",
            db.$sql("INSERT INTO f VALUES ('after')"),
        );
        assert_eq!(
            must("select", db.$sql("SELECT v FROM f ORDER BY v DESC")),
            "before\nafter"
        );
    }};
}

#[test]
fn kafka_round_trip_and_transactions() {
    let kafka = timed("kafka start to ready", || {
        must("kafka::start_container", kafka::start_container())
    });
    eprintln!("bootstrap.servers={}", kafka.bootstrap_servers());

    // The broker advertises exactly the address the host connects to.
    let meta = must("metadata", kafka.metadata(Duration::from_secs(10)));
    assert!(
        meta.brokers
            .iter()
            .any(|b| format!("{}:{}", b.host, b.port) == kafka.bootstrap_servers()),
        "{meta:?}"
    );
    assert!(meta.cluster_id.is_some());

    // Time retention is off: tests write records with timestamps years old, which the default
    // 7-day retention would delete at its first check.
    let config = must(
        "describe broker config",
        kafka.tool(
            "kafka-configs.sh",
            &[
                "--bootstrap-server",
                kafka::INTERNAL_BOOTSTRAP,
                "--describe",
                "--entity-type",
                "brokers",
                "--entity-name",
                "1",
                "--all",
            ],
        ),
    );
    assert!(
        config
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("log.retention.ms=-1 ")),
        "{}",
        config.stdout
    );

    must("create topic", kafka.create_topic("round-trip", 2));
    must(
        "produce",
        kafka.produce("round-trip", &["one", "two's", "three four"]),
    );
    let mut got = must(
        "consume",
        kafka.consume("round-trip", 3, Duration::from_secs(30)),
    );
    got.sort();
    assert_eq!(got, ["one", "three four", "two's"]);

    // Transactions: a transactional producer's records are visible to read_committed.
    must(
        "transactional produce",
        kafka.tool(
            "kafka-producer-perf-test.sh",
            &[
                "--topic",
                "tx",
                "--num-records",
                "50",
                "--record-size",
                "16",
                "--throughput",
                "-1",
                "--transactional-id",
                "headrace-test-tx",
                "--transaction-duration-ms",
                "100",
                "--command-property",
                &format!("bootstrap.servers={}", kafka::INTERNAL_BOOTSTRAP),
            ],
        ),
    );
    let committed = must(
        "consume tx",
        kafka.consume("tx", 50, Duration::from_secs(30)),
    );
    assert_eq!(committed.len(), 50);
}

#[test]
fn kafka_faults() {
    let kafka = must(
        "kafka::start_container_with",
        kafka::start_container_with(&[("num.partitions", "2")]),
    );
    let bootstrap = kafka.bootstrap_servers().to_string();
    must("produce", kafka.produce("faults", &["before"]));
    let described = must(
        "describe",
        kafka.tool(
            "kafka-topics.sh",
            &[
                "--bootstrap-server",
                kafka::INTERNAL_BOOTSTRAP,
                "--describe",
                "--topic",
                "faults",
            ],
        ),
    );
    assert!(
        described.stdout.contains("PartitionCount: 2"),
        "broker property applied: {}",
        described.stdout
    );

    pause_then_restart!("kafka", kafka, metadata, paused: {}, unpaused: {
        must(
            "metadata after unpause",
            kafka.metadata(Duration::from_secs(10)),
        );
    });
    assert_eq!(
        kafka.bootstrap_servers(),
        bootstrap,
        "same host port after restart"
    );
    must("produce after restart", kafka.produce("faults", &["after"]));
    // Two partitions: no order across them.
    let mut got = must(
        "consume",
        kafka.consume("faults", 2, Duration::from_secs(30)),
    );
    got.sort();
    assert_eq!(got, ["after", "before"], "data survives a restart");
}

#[test]
fn postgres_round_trip() {
    let pg = timed("postgres start to ready", || {
        must("postgres::start_container", postgres::start_container())
    });
    eprintln!("url={}", pg.url());
    assert!(pg
        .url()
        .starts_with("postgres://headrace:headrace@127.0.0.1:"));
    must("probe", pg.probe(Duration::from_secs(5)));
    sql_server_round_trip!(
        pg,
        psql,
        postgres::connect,
        "id int PRIMARY KEY, name text",
        "1|one\n2|two",
        "SHOW wal_level" => "logical"
    );
}

#[test]
fn postgres_faults() {
    sql_server_faults!(
        "postgres",
        postgres::start_container(),
        psql,
        "CREATE TABLE f (v text); INSERT INTO f VALUES ('before')"
    );
}

#[test]
fn mariadb_round_trip() {
    let db = timed("mariadb start to ready", || {
        must("mariadb::start_container", mariadb::start_container())
    });
    eprintln!("url={}", db.url());
    assert!(db.url().starts_with("mysql://headrace:headrace@127.0.0.1:"));
    let version = must("probe", db.probe(Duration::from_secs(5)));
    assert!(version.contains("MariaDB"), "{version}");
    sql_server_round_trip!(
        db,
        sql,
        mariadb::connect,
        "id INT PRIMARY KEY, name VARCHAR(20)",
        "1\tone\n2\ttwo",
        "SELECT @@binlog_format" => "ROW"
    );
}

#[test]
fn mariadb_faults() {
    sql_server_faults!(
        "mariadb",
        mariadb::start_container(),
        sql,
        "CREATE TABLE f (v VARCHAR(10)); INSERT INTO f VALUES ('before')"
    );
}

#[test]
fn opensearch_round_trip() {
    let os = timed("opensearch start to ready", || {
        must("opensearch::start_container", opensearch::start_container())
    });
    eprintln!("url={}", os.url());
    let version = must("probe", os.probe(Duration::from_secs(5)));
    assert!(version.starts_with("2."), "{version}");

    let bulk = concat!(
        "{\"index\":{\"_index\":\"items\",\"_id\":\"1\"}}\n{\"name\":\"one\"}\n",
        "{\"index\":{\"_index\":\"items\",\"_id\":\"2\"}}\n{\"name\":\"two\"}\n"
    );
    let resp = must(
        "bulk",
        os.request("POST", "/_bulk?refresh=true", Some(bulk)),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.body.contains("\"errors\":false"), "{}", resp.body);
    let resp = must(
        "search",
        os.request(
            "POST",
            "/items/_search",
            Some(r#"{"query":{"match":{"name":"two"}}}"#),
        ),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.body.contains("\"_id\":\"2\""), "{}", resp.body);
    let health = must(
        "health",
        os.request(
            "GET",
            "/_cluster/health/items?wait_for_status=green&timeout=10s",
            None,
        ),
    );
    assert!(
        health.body.contains("\"status\":\"green\""),
        "no replicas: {}",
        health.body
    );
}

#[test]
fn opensearch_faults() {
    let os = must("opensearch::start_container", opensearch::start_container());
    let url = os.url().to_string();
    let put = must(
        "index",
        os.request("PUT", "/f/_doc/1?refresh=true", Some(r#"{"v":"before"}"#)),
    );
    assert_eq!(put.status, 201, "{}", put.body);

    pause_then_restart!("opensearch", os, probe, paused: {}, unpaused: {
        must("probe after unpause", os.probe(Duration::from_secs(10)));
    });
    assert_eq!(os.url(), url);
    let got = must("get", os.request("GET", "/f/_doc/1", None));
    assert!(
        got.body.contains("before"),
        "data survives a restart: {}",
        got.body
    );
}

#[test]
fn hbase_round_trip_over_thrift() {
    let hbase = timed("hbase start to ready", || {
        must("hbase::start_container", hbase::start_container())
    });
    eprintln!("thrift={}", hbase.thrift_address());
    must("create", hbase.create_table("items", &["cf", "meta"]));
    must("create again", hbase.create_table("items", &["cf"]));
    assert!(must("tables", hbase.table_names()).contains(&"items".to_string()));
    must("put", hbase.put("items", b"row-1", "cf:name", b"one"));
    must("put", hbase.put("items", b"row-1", "meta:n", &[0, 1, 2]));
    assert_eq!(
        must("get", hbase.get("items", b"row-1", "cf:name")),
        Some(b"one".to_vec())
    );
    assert_eq!(
        must("get", hbase.get("items", b"row-1", "meta:n")),
        Some(vec![0, 1, 2])
    );
    assert_eq!(
        must("get missing", hbase.get("items", b"row-2", "cf:name")),
        None
    );
    assert!(hbase.put("missing", b"r", "cf:q", b"v").is_err());

    // The Java client inside the container sees the same data.
    let out = must(
        "java client",
        hbase.exec(&[
            "java",
            "-cp",
            "/opt/hbase/conf:/opt/hbase/lib/*",
            "-Dlog4j.configuration=file:/opt/hbase/conf/log4j.properties",
            "-Dhbase.root.logger=WARN,console",
            "/opt/hbase/HeadraceHBaseCheck.java",
            "from_java",
            "r",
            "v",
        ]),
    );
    assert_eq!(out.stdout.trim(), "v", "{}", out.stderr);
    assert_eq!(
        must("get", hbase.get("from_java", b"r", "cf:q")),
        Some(b"v".to_vec())
    );
    must("delete", hbase.delete_table("items"));
    assert!(!must("tables", hbase.table_names()).contains(&"items".to_string()));
}

#[test]
fn hbase_faults() {
    let hbase = must("hbase::start_container", hbase::start_container());
    let address = hbase.thrift_address().to_string();
    must("create", hbase.create_table("f", &["cf"]));
    must("put", hbase.put("f", b"r", "cf:q", b"before"));

    pause_then_restart!("hbase", hbase, table_names_within, paused: {}, unpaused: {
        must("tables after unpause", hbase.table_names());
    });
    assert_eq!(hbase.thrift_address(), address);
    assert_eq!(
        must("get after restart", hbase.get("f", b"r", "cf:q")),
        Some(b"before".to_vec()),
        "data survives a restart"
    );
}
