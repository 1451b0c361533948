//! The datagen source driven through the SDK traits: bounds, splits, determinism, checkpoints
//! and rate limiting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{build, builder, concat, count, i64s, reader_ctx, run, take_batches};
use headrace_sdk::prelude::*;

fn sequence(start: i64, end: i64) -> headrace_connector_datagen::DatagenSourceBuilder {
    builder()
        .columns("id BIGINT, v INT, s STRING")
        .unwrap()
        .field("id", "kind", "sequence")
        .field("id", "start", start.to_string())
        .field("id", "end", end.to_string())
        .rows_per_second(1_000_000_000_i64)
}

#[tokio::test]
async fn sequence_is_split_across_readers_without_gap_or_duplicate() {
    for parallelism in [1, 2, 4] {
        let source = build(sequence(-5, 994)).unwrap();
        assert_eq!(source.boundedness(), Boundedness::Bounded);
        let out = run(&source, parallelism, 64).await;
        let mut ids: Vec<i64> = out.iter().flat_map(|b| i64s(b, "id")).collect();
        assert_eq!(ids.len(), 1000, "parallelism {parallelism}");
        ids.sort_unstable();
        assert_eq!(
            ids,
            (-5..=994).collect::<Vec<_>>(),
            "parallelism {parallelism}"
        );
        if parallelism > 1 {
            assert!(
                out.iter().all(|b| count(b) > 0),
                "every reader gets a share"
            );
        }
    }
}

#[tokio::test]
async fn shortest_sequence_and_number_of_rows_bound_the_source() {
    let source = build(
        builder()
            .columns("a BIGINT, b STRING, c DOUBLE")
            .unwrap()
            .field("a", "kind", "sequence")
            .field("a", "start", "1")
            .field("a", "end", "100")
            .field("b", "kind", "sequence")
            .field("b", "start", "10")
            .field("b", "end", "39")
            .rows_per_second(1_000_000_000_i64),
    )
    .unwrap();
    let out = run(&source, 3, 7).await;
    let all: Vec<_> = out.concat();
    assert_eq!(count(&all), 30);
    let mut a = i64s(&all, "a");
    a.sort_unstable();
    assert_eq!(a, (1..=30).collect::<Vec<_>>());
    let rows = headrace_sdk::row::rows(&ChangelogBatch::inserts(concat(&all))).unwrap();
    let mut b: Vec<i64> = rows
        .iter()
        .map(|r| r.get_string(1).unwrap().parse().unwrap())
        .collect();
    b.sort_unstable();
    assert_eq!(
        b,
        (10..=39).collect::<Vec<_>>(),
        "string sequence is the number as text"
    );

    let bounded = build(sequence(1, 1000).number_of_rows(250)).unwrap();
    assert_eq!(count(&run(&bounded, 2, 64).await.concat()), 250);

    let random = build(
        builder()
            .columns("x INT, y STRING")
            .unwrap()
            .number_of_rows(1234)
            .rows_per_second(1_000_000_000_i64),
    )
    .unwrap();
    assert_eq!(random.boundedness(), Boundedness::Bounded);
    assert_eq!(count(&run(&random, 4, 100).await.concat()), 1234);

    let zero = build(builder().columns("x INT").unwrap().number_of_rows(0)).unwrap();
    assert_eq!(count(&run(&zero, 2, 100).await.concat()), 0);

    let unbounded = build(builder().columns("x INT").unwrap()).unwrap();
    assert_eq!(unbounded.boundedness(), Boundedness::Unbounded);
}

#[tokio::test]
async fn unbounded_readers_run_until_cancelled() {
    let source = build(
        builder()
            .columns("x BIGINT")
            .unwrap()
            .rows_per_second(1_000_000_000_i64),
    )
    .unwrap();
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 2 }, None)
        .unwrap();
    let mut r = source.create_reader(reader_ctx(1, 2, 1000)).unwrap();
    let batches = take_batches(&mut r, &mut en, 1, 50).await;
    assert_eq!(batches.len(), 50);
    assert_eq!(count(&batches), 50_000);
}

fn seeded(seed: i64) -> headrace_connector_datagen::DatagenSourceBuilder {
    builder()
        .columns(
            "i INT, b BIGINT, d DOUBLE, s STRING, ts TIMESTAMP(3), dt DATE, m MAP<STRING, INT>, \
             a ARRAY<DECIMAL(38, 4)>, r ROW<x BOOLEAN, y VARBINARY(20)>",
        )
        .unwrap()
        .field("s", "length", "12")
        .field("s", "var-len", "true")
        .field("ts", "max-past", "10 d")
        .field("i", "null-rate", "0.2")
        .number_of_rows(3000)
        .rows_per_second(1_000_000_000_i64)
        .seed(seed)
}

#[tokio::test]
async fn same_seed_same_rows_whatever_the_batch_size() {
    let a = concat(&run(&build(seeded(42)).unwrap(), 1, 100).await.concat());
    let b = concat(&run(&build(seeded(42)).unwrap(), 1, 100).await.concat());
    assert_eq!(a, b, "same seed, same batches");
    let c = concat(&run(&build(seeded(42)).unwrap(), 1, 37).await.concat());
    assert_eq!(a, c, "batch boundaries do not change the values");
    let d = concat(&run(&build(seeded(43)).unwrap(), 1, 100).await.concat());
    assert_ne!(a, d, "another seed, other values");
    for (col, f) in a.schema().fields().iter().enumerate() {
        if f.name() == "dt" {
            // DATE is the (reference) date, as in Flink: no randomness.
            continue;
        }
        assert_ne!(
            a.column(col),
            d.column(col),
            "column {} depends on the seed",
            f.name()
        );
    }
    // Same rows for the same indices with 3 readers (each reader's range in order).
    let e = concat(&run(&build(seeded(42)).unwrap(), 3, 64).await.concat());
    assert_eq!(a, e, "readers split the same row sequence");
}

#[tokio::test]
async fn unseeded_sources_differ() {
    let mk = || build(builder().columns("x BIGINT").unwrap().number_of_rows(100)).unwrap();
    let a = concat(&run(&mk(), 1, 100).await.concat());
    let b = concat(&run(&mk(), 1, 100).await.concat());
    assert_ne!(a, b);
}

#[tokio::test]
async fn checkpoint_restore_continues_without_gap_or_duplicate() {
    let source = build(sequence(1, 500).seed(9)).unwrap();
    let expected = concat(&run(&source, 2, 16).await.concat());

    // Run both readers a little, checkpoint, then restore into fresh readers and a fresh enumerator.
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 2 }, None)
        .unwrap();
    let mut r0 = source.create_reader(reader_ctx(0, 2, 16)).unwrap();
    let mut r1 = source.create_reader(reader_ctx(1, 2, 16)).unwrap();
    let mut first0 = take_batches(&mut r0, &mut en, 0, 3).await;
    let first1 = take_batches(&mut r1, &mut en, 1, 5).await;
    let state0 = r0.snapshot_state(1).unwrap();
    let state1 = r1.snapshot_state(1).unwrap();
    let en_state = en.snapshot_state(1).unwrap();
    // Rows generated after the checkpoint are lost with the failure.
    let _lost = take_batches(&mut r0, &mut en, 0, 2).await;
    assert_eq!(state0.len(), 1);
    assert_eq!(state1.len(), 1);

    let mut en2 = source
        .create_enumerator(EnumeratorContext { parallelism: 2 }, Some(en_state))
        .unwrap();
    let mut r0b = source.create_reader(reader_ctx(0, 2, 16)).unwrap();
    let mut r1b = source.create_reader(reader_ctx(1, 2, 16)).unwrap();
    r0b.add_splits(state0).unwrap();
    r1b.add_splits(state1).unwrap();
    let rest0 = take_batches(&mut r0b, &mut en2, 0, usize::MAX).await;
    let rest1 = take_batches(&mut r1b, &mut en2, 1, usize::MAX).await;
    first0.extend(rest0);
    first0.extend(first1);
    first0.extend(rest1);
    let got = concat(&first0);
    assert_eq!(got.num_rows(), 500);
    assert_eq!(got, expected, "restored readers continue exactly");
    let mut ids = i64s(&[got], "id");
    ids.sort_unstable();
    assert_eq!(ids, (1..=500).collect::<Vec<_>>());
}

#[tokio::test]
async fn splits_given_back_are_read_again() {
    let source = build(sequence(0, 99)).unwrap();
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut r = source.create_reader(reader_ctx(0, 1, 10)).unwrap();
    let _ = take_batches(&mut r, &mut en, 0, 2).await;
    // The reader fails before a checkpoint covered anything: its split comes back unread.
    let SplitAssignment::NoMoreSplits = en.handle_split_request(0).await.unwrap() else {
        panic!("the only split is assigned");
    };
    let fresh = DatagenSplitState::initial(0, 100);
    en.add_splits_back(vec![fresh]);
    let mut r2 = source.create_reader(reader_ctx(0, 1, 10)).unwrap();
    let all = take_batches(&mut r2, &mut en, 0, usize::MAX).await;
    assert_eq!(i64s(&all, "id"), (0..100).collect::<Vec<_>>());
}

struct DatagenSplitState;
impl DatagenSplitState {
    fn initial(from: u64, to: u64) -> SourceSplit {
        headrace_connector_datagen::source::DatagenSplit {
            index: 0,
            next: from,
            end: Some(to),
        }
        .to_source_split()
        .unwrap()
    }
}

#[tokio::test]
async fn rate_limit_is_respected() {
    // 20 rows/s over one reader: batches of 2 rows (about ten per second).
    let source = build(builder().columns("x INT").unwrap().rows_per_second(20)).unwrap();
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut r = source.create_reader(reader_ctx(0, 1, 1000)).unwrap();
    let t = Instant::now();
    let batches = take_batches(&mut r, &mut en, 0, 3).await;
    let elapsed = t.elapsed();
    assert_eq!(count(&batches), 6);
    // The third batch may only go out once the first 4 rows are due: 4 / 20 s = 200 ms.
    assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");

    // Two readers share the rate: 10 rows/s each, so 1-row batches.
    let source = build(builder().columns("x INT").unwrap().rows_per_second(20)).unwrap();
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 2 }, None)
        .unwrap();
    let mut r = source.create_reader(reader_ctx(1, 2, 1000)).unwrap();
    let t = Instant::now();
    let batches = take_batches(&mut r, &mut en, 1, 3).await;
    assert_eq!(count(&batches), 3);
    assert!(
        t.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t.elapsed()
    );

    // A fast rate is not slowed down.
    let source = build(
        builder()
            .columns("x INT")
            .unwrap()
            .rows_per_second(1_000_000_000_i64),
    )
    .unwrap();
    let mut en = source
        .create_enumerator(EnumeratorContext { parallelism: 1 }, None)
        .unwrap();
    let mut r = source.create_reader(reader_ctx(0, 1, 1000)).unwrap();
    let batches = take_batches(&mut r, &mut en, 0, 3).await;
    assert_eq!(count(&batches), 3000);
}

#[test]
fn registered_globally_and_explicitly() {
    let r = Registry::from_inventory();
    let f = r.connector("datagen").unwrap();
    assert!(f.supports_source() && !f.supports_sink());
    assert_eq!(
        headrace_connector_datagen::factory().identifier(),
        "datagen"
    );
    let keys: Vec<&str> = f.options().templates.iter().map(|t| t.template).collect();
    assert!(keys.contains(&"fields.#.null-rate"), "{keys:?}");
}
