//! The bad-record policy for bulk files: an Avro block or a Parquet row group that does not
//! decode (bytes flipped in a file Headrace wrote, a truncated file) is skipped and counted,
//! becomes a dead letter naming the file and the block or row group, or fails the read naming
//! them; reading goes on with the next block (after the next sync marker), row group or file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use headrace_format_avro::avro::AvroCodec;
use headrace_format_avro::file::RESYNC_BYTES;
use headrace_format_avro::{AvroConfig, AvroFileWriter};
use headrace_sdk::bad_records::{BadRecordConfig, BadRecordPolicy, DeadLetter, Stage};
use headrace_sdk::prelude::*;
use headrace_sdk::source::SourceMetrics;

const ROWS: i64 = 6_000;

/// Rows of a file of about 20 MiB, more than a reader looks through for a sync marker.
const BIG_ROWS: i64 = 200_000;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, true),
    ]))
}

fn batch(ids: &[i64]) -> RecordBatch {
    let payloads = StringArray::from(
        ids.iter()
            .map(|i| format!("{i}-{}", "p".repeat(40 + (*i as usize * 7) % 90)))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        schema(),
        vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(payloads)],
    )
    .unwrap()
}

/// An Avro file of `ROWS` rows in several 64 KiB blocks; returns where each sync marker starts
/// (the header's first) and the record count of each block.
fn write_avro(path: &Path, codec: AvroCodec) -> (Vec<u64>, Vec<i64>) {
    write_avro_rows(path, codec, ROWS)
}

/// [`write_avro`] with `rows` rows.
fn write_avro_rows(path: &Path, codec: AvroCodec, rows: i64) -> (Vec<u64>, Vec<i64>) {
    let config = AvroConfig {
        codec,
        encoding: headrace_format_avro::avro::AvroEncoding::Binary,
        legacy_timestamps: true,
    };
    let file = std::fs::File::create(path).unwrap();
    let mut w = AvroFileWriter::new(file, &schema(), &config, "test").unwrap();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(1000) {
        w.write(&batch(chunk)).unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::read(path).unwrap();
    let sync = bytes[bytes.len() - 16..].to_vec();
    let markers: Vec<u64> = (0..=bytes.len() - 16)
        .filter(|i| bytes[*i..*i + 16] == sync[..])
        .map(|i| i as u64)
        .collect();
    let counts: Vec<i64> = markers[..markers.len() - 1]
        .iter()
        .map(|m| varint(&bytes[*m as usize + 16..]))
        .collect();
    assert!(markers.len() > 6, "{} blocks", markers.len() - 1);
    assert_eq!(counts.iter().sum::<i64>(), rows);
    (markers, counts)
}

/// The Avro (zig-zag) encoding of `n`.
fn zigzag(n: i64) -> Vec<u8> {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    let mut out = Vec::new();
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
    out
}

/// How many bytes the number at the start of `b` takes.
fn varint_len(b: &[u8]) -> usize {
    b.iter().position(|x| x & 0x80 == 0).unwrap() + 1
}

fn varint(b: &[u8]) -> i64 {
    let (mut v, mut shift) = (0u64, 0);
    for x in b {
        v |= ((x & 0x7f) as u64) << shift;
        if x & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn source(path: &Path, format: &str, split_bytes: Option<u64>) -> Arc<dyn DynamicSource> {
    let registry = common::registry()
        .with_format(headrace_format_avro::AvroFormatFactory)
        .with_format(headrace_connector_filesystem::ParquetFormat);
    let cols = "id BIGINT NOT NULL, payload STRING";
    common::factory_source(&registry, path, format, cols, split_bytes)
}

fn metrics(policy: BadRecordPolicy) -> (ReaderContext, Arc<SourceMetrics>) {
    let ctx = common::reader_ctx(0, 1, 700);
    ctx.metrics.bad_records.configure(BadRecordConfig {
        policy,
        table: "t".into(),
        connector: "filesystem".into(),
    });
    let m = ctx.metrics.clone();
    (ctx, m)
}

/// Read everything with one reader; the ids read, or the error. With `stop_after_bad`, stop
/// at the first bad record handled and return the reader's state then instead.
async fn read(
    src: &Arc<dyn DynamicSource>,
    ctx: ReaderContext,
    restored: Option<Vec<SourceSplit>>,
    stop_after_bad: bool,
) -> Result<(Vec<i64>, Option<Vec<SourceSplit>>)> {
    read_until(src, ctx, restored, &|_, handled| {
        stop_after_bad && handled > 0
    })
    .await
}

/// [`read`], stopping (with the reader's state) once `stop(rows read, bad units handled)`.
async fn read_until(
    src: &Arc<dyn DynamicSource>,
    ctx: ReaderContext,
    restored: Option<Vec<SourceSplit>>,
    stop: &dyn Fn(usize, u64) -> bool,
) -> Result<(Vec<i64>, Option<Vec<SourceSplit>>)> {
    let metrics = ctx.metrics.clone();
    let mut reader = src.create_reader(ctx)?;
    let mut enumerator = src.create_enumerator(EnumeratorContext { parallelism: 1 }, None)?;
    if let Some(s) = restored {
        reader.add_splits(s)?;
        reader.no_more_splits();
    }
    let mut ids = Vec::new();
    loop {
        match reader.poll_next().await? {
            ReadEvent::Batch(b) => {
                let c = b
                    .batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap();
                ids.extend(c.values().iter().copied());
            }
            ReadEvent::NeedSplits => match enumerator.handle_split_request(0).await? {
                SplitAssignment::Splits(v) => reader.add_splits(v)?,
                SplitAssignment::NotYet => {}
                SplitAssignment::NoMoreSplits => reader.no_more_splits(),
            },
            ReadEvent::Idle => {}
            ReadEvent::End => return Ok((ids, None)),
        }
        let handled = metrics.bad_records.skipped() + metrics.bad_records.dead_lettered();
        if stop(ids.len(), handled) {
            return Ok((ids, Some(reader.snapshot_state(1)?)));
        }
    }
}

/// Read everything with the dead-letter policy: the rows must be `want` and the only dead letter
/// the block of `path` at byte `at`, which is returned.
async fn one_dead_letter(
    src: &Arc<dyn DynamicSource>,
    path: &Path,
    want: &[i64],
    at: u64,
) -> DeadLetter {
    let (ctx, m) = metrics(BadRecordPolicy::DeadLetter);
    let (ids, _) = read(src, ctx, None, false).await.unwrap();
    assert_eq!(ids, want);
    let mut letters = m.bad_records.take_dead_letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].origin.to_string(),
        format!("file '{}' block at byte {at}", path.display())
    );
    letters.remove(0)
}

/// The ids of the blocks other than `bad` (indices into `counts`).
fn ids_without(counts: &[i64], bad: &[usize]) -> Vec<i64> {
    let mut out = Vec::new();
    let mut first = 0;
    for (i, c) in counts.iter().enumerate() {
        if !bad.contains(&i) {
            out.extend(first..first + c);
        }
        first += c;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_avro_block_follows_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    for codec in [AvroCodec::Null, AvroCodec::Deflate] {
        let path = tmp.path().join("data.avro");
        let (markers, counts) = write_avro(&path, codec);
        // Block 3 (index 2): its record count, the byte after the sync marker before it, is
        // changed, so its records no longer match its bytes.
        let mut bytes = std::fs::read(&path).unwrap();
        let block_at = markers[2] + 16;
        bytes[block_at as usize] ^= 0x02;
        std::fs::write(&path, &bytes).unwrap();
        let src = source(&path, "avro", None);
        let want = ids_without(&counts, &[2]);

        // fail: the error names the file, the record and the block's byte
        let (ctx, _) = metrics(BadRecordPolicy::Fail);
        let e = read(&src, ctx, None, false).await.unwrap_err().to_string();
        assert!(e.contains(&format!("file '{}'", path.display())), "{e}");
        assert!(
            e.contains(&format!("in the block at byte {block_at}")),
            "{e}"
        );
        assert!(e.contains("headrace.bad-records.policy"), "{e}");

        // skip: every other block's rows, in order, and one skipped unit
        let (ctx, m) = metrics(BadRecordPolicy::Skip);
        let (ids, _) = read(&src, ctx, None, false).await.unwrap();
        assert_eq!(ids, want, "{codec:?}");
        assert_eq!(m.bad_records.skipped(), 1);

        // dead-letter: the block's bytes up to the next sync marker, named by file and block
        let letter = one_dead_letter(&src, &path, &want, block_at).await;
        assert_eq!(
            letter.raw,
            bytes[block_at as usize..markers[3] as usize].to_vec()
        );
        assert_eq!(letter.stage, Stage::Decode);
        assert_eq!(letter.format.as_deref(), Some("avro"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_sync_marker_and_a_truncated_avro_file_resume_or_end() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data.avro");
    let (markers, counts) = write_avro(&path, AvroCodec::Null);
    let mut bytes = std::fs::read(&path).unwrap();
    // The marker after block 2 (index 1) is damaged: blocks 2 and 3 read as one bad unit, up to
    // the marker after block 3.
    bytes[markers[2] as usize + 5] ^= 0xff;
    // The file is cut inside its last block.
    let last = markers[markers.len() - 2];
    bytes.truncate(last as usize + 16 + 100);
    std::fs::write(&path, &bytes).unwrap();
    let src = source(&path, "avro", None);
    let (ctx, m) = metrics(BadRecordPolicy::DeadLetter);
    let (ids, _) = read(&src, ctx, None, false).await.unwrap();
    assert_eq!(ids, ids_without(&counts, &[1, 2, counts.len() - 1]));
    let letters = m.bad_records.take_dead_letters();
    let origins: Vec<String> = letters.iter().map(|l| l.origin.to_string()).collect();
    let at = |m: u64| m + 16;
    assert_eq!(
        origins,
        vec![
            format!("file '{}' block at byte {}", path.display(), at(markers[1])),
            format!("file '{}' block at byte {}", path.display(), at(last)),
        ]
    );
    assert_eq!(letters[0].raw.len() as u64, markers[3] - at(markers[1]));
    assert_eq!(letters[1].raw.len(), 100);
    assert!(
        letters[1].error.contains("ends inside a block"),
        "{}",
        letters[1].error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_avro_blocks_in_byte_range_splits_are_reported_once_also_after_a_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data.avro");
    let (markers, counts) = write_avro(&path, AvroCodec::Null);
    let mut bytes = std::fs::read(&path).unwrap();
    for b in [1usize, 4] {
        bytes[markers[b] as usize + 16] ^= 0x02;
    }
    std::fs::write(&path, &bytes).unwrap();
    let want = ids_without(&counts, &[1, 4]);
    // Splits boundaries inside blocks, at a bad block's start, inside a bad block.
    for split in [
        30_000,
        markers[1] + 16,
        markers[4] + 1000,
        (markers[2] + markers[3]) / 2,
    ] {
        let src = source(&path, "avro", Some(split));
        let (ctx, m) = metrics(BadRecordPolicy::DeadLetter);
        let (ids, _) = read(&src, ctx, None, false).await.unwrap();
        assert_eq!(ids, want, "split {split}");
        let mut origins: Vec<String> = m
            .bad_records
            .take_dead_letters()
            .iter()
            .map(|l| l.origin.to_string())
            .collect();
        origins.sort();
        let mut expect: Vec<String> = [1usize, 4]
            .iter()
            .map(|b| format!("at byte {}", markers[*b] + 16))
            .collect();
        expect.sort();
        assert_eq!(origins.len(), 2, "split {split}: {origins:?}");
        for (o, e) in origins.iter().zip(&expect) {
            assert!(o.ends_with(e.as_str()), "split {split}: {o} / {e}");
        }
    }
    // A checkpoint right after the first bad block was handled: the restored read goes on
    // with the rows after it and reports only the second.
    let src = source(&path, "avro", None);
    let (ctx, m) = metrics(BadRecordPolicy::DeadLetter);
    let (before, state) = read(&src, ctx, None, true).await.unwrap();
    assert_eq!(m.bad_records.take_dead_letters().len(), 1);
    let (ctx, m) = metrics(BadRecordPolicy::DeadLetter);
    let (after, _) = read(&src, ctx, state, false).await.unwrap();
    let mut all = before;
    all.extend(after);
    assert_eq!(all, want);
    let letters = m.bad_records.take_dead_letters();
    assert_eq!(letters.len(), 1);
    // A checkpoint after the first rows (the reading thread may have read further): the bad
    // blocks reported before it and those the restored read reports are the two, once each.
    let (ctx, m) = metrics(BadRecordPolicy::DeadLetter);
    let (before, state) = read_until(&src, ctx, None, &|rows, _| rows > 0)
        .await
        .unwrap();
    let first = m.bad_records.dead_lettered();
    let (ctx, m) = metrics(BadRecordPolicy::DeadLetter);
    let (after, _) = read(&src, ctx, state, false).await.unwrap();
    let mut all = before;
    all.extend(after);
    assert_eq!(all, want);
    assert_eq!(first + m.bad_records.dead_lettered(), 2);
    assert!(letters[0]
        .origin
        .to_string()
        .ends_with(&format!("block at byte {}", markers[4] + 16)));
}

/// A Parquet file of `groups` row groups of 1000 rows each, uncompressed.
fn write_parquet(path: &Path, groups: i64) -> PathBuf {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(1000))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema(), Some(props)).unwrap();
    for g in 0..groups {
        w.write(&batch(&(g * 1000..(g + 1) * 1000).collect::<Vec<_>>()))
            .unwrap();
    }
    w.close().unwrap();
    path.to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_parquet_row_group_and_a_truncated_parquet_file_follow_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    std::fs::create_dir(&dir).unwrap();
    let a = write_parquet(&dir.join("a.parquet"), 3);
    let b = write_parquet(&dir.join("b.parquet"), 2);
    // a.parquet: the page header of row group 1's 'payload' chunk is overwritten.
    let meta = {
        let f = std::fs::File::open(&a).unwrap();
        parquet::file::reader::FileReader::metadata(
            &parquet::file::serialized_reader::SerializedFileReader::new(f).unwrap(),
        )
        .clone()
    };
    let (start, _) = meta.row_group(1).column(1).byte_range();
    let mut bytes = std::fs::read(&a).unwrap();
    for x in &mut bytes[start as usize..start as usize + 12] {
        *x = 0xff;
    }
    std::fs::write(&a, &bytes).unwrap();
    // b.parquet: cut in the middle, so its footer is gone.
    let bb = std::fs::read(&b).unwrap();
    std::fs::write(&b, &bb[..bb.len() / 2]).unwrap();
    let src = source(&dir, "parquet", None);
    let want: Vec<i64> = (0..1000).chain(2000..3000).collect();

    let (ctx, _) = metrics(BadRecordPolicy::Fail);
    let e = read(&src, ctx, None, false).await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("file '{}' row group 1", a.display())),
        "{e}"
    );
    assert!(e.contains("headrace.bad-records.policy"), "{e}");

    let (ctx, m) = metrics(BadRecordPolicy::Skip);
    let (ids, _) = read(&src, ctx, None, false).await.unwrap();
    assert_eq!(ids, want);
    assert_eq!(m.bad_records.skipped(), 2);

    let (ctx, m) = metrics(BadRecordPolicy::DeadLetter);
    let (ids, _) = read(&src, ctx, None, false).await.unwrap();
    assert_eq!(ids, want);
    let letters = m.bad_records.take_dead_letters();
    let got: Vec<String> = letters.iter().map(|l| l.origin.to_string()).collect();
    assert_eq!(
        got,
        vec![
            format!("file '{}' row group 1", a.display()),
            format!("file '{}' row group 0", b.display()),
        ]
    );
    assert!(letters[1].error.contains("footer"), "{}", letters[1].error);
    assert!(letters
        .iter()
        .all(|l| l.raw.is_empty() && l.stage == Stage::Decode));
}

const FASTAVRO_WRITE: &str = r#"
import sys, fastavro
schema = {"type": "record", "name": "r", "fields": [
    {"name": "id", "type": "long"},
    {"name": "payload", "type": ["null", "string"]}]}
rows = ({"id": i, "payload": "%d-%s" % (i, "q" * (i % 50))} for i in range(3000))
with open(sys.argv[1], "wb") as f:
    fastavro.writer(f, schema, rows, codec="null", sync_interval=8000)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_block_of_a_file_fastavro_wrote_is_skipped() {
    let py = std::env::var("HEADRACE_AVRO_PYTHON").expect(
        "set HEADRACE_AVRO_PYTHON to a Python with fastavro installed; scripts/test-all.sh does it",
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("fast.avro");
    let out = std::process::Command::new(&py)
        .args(["-c", FASTAVRO_WRITE])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fastavro failed ({py}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bytes = std::fs::read(&path).unwrap();
    let sync = bytes[bytes.len() - 16..].to_vec();
    let markers: Vec<usize> = (0..=bytes.len() - 16)
        .filter(|i| bytes[*i..*i + 16] == sync[..])
        .collect();
    assert!(markers.len() > 5, "{} blocks", markers.len() - 1);
    let counts: Vec<i64> = markers[..markers.len() - 1]
        .iter()
        .map(|m| varint(&bytes[m + 16..]))
        .collect();
    // Block 4 (index 3): its record count is changed, so its records no longer match its bytes.
    let at = markers[3] + 16;
    bytes[at] ^= 0x02;
    std::fs::write(&path, &bytes).unwrap();
    let src = source(&path, "avro", None);
    one_dead_letter(&src, &path, &ids_without(&counts, &[3]), at as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avro_file_whose_sync_markers_are_gone_ends_with_one_bad_block_after_a_bounded_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data.avro");
    let (markers, counts) = write_avro_rows(&path, AvroCodec::Null, BIG_ROWS);
    let mut bytes = std::fs::read(&path).unwrap();
    // Every sync marker after block 3 (index 2) is damaged: no marker follows it.
    for m in &markers[3..] {
        bytes[*m as usize + 7] ^= 0xff;
    }
    std::fs::write(&path, &bytes).unwrap();
    let at = markers[2] + 16;
    assert!(
        bytes.len() as u64 > at + RESYNC_BYTES + (1 << 20),
        "the file ({} bytes) runs on well past the scan",
        bytes.len()
    );
    let src = source(&path, "avro", None);
    let bad: Vec<usize> = (2..counts.len()).collect();
    let want = ids_without(&counts, &bad);

    let (ctx, m) = metrics(BadRecordPolicy::Skip);
    let (ids, _) = read(&src, ctx, None, false).await.unwrap();
    assert_eq!(ids, want);
    assert_eq!(
        m.bad_records.skipped(),
        1,
        "the rest of the file is one unit"
    );

    // dead-letter: the scanned bytes, the block's byte and the fix
    let letter = one_dead_letter(&src, &path, &want, at).await;
    assert_eq!(letter.raw.len() as u64, RESYNC_BYTES);
    assert!(letter.raw[..] == bytes[at as usize..(at + RESYNC_BYTES) as usize]);
    let e = &letter.error;
    for needle in [
        &path.display().to_string(),
        "sync marker does not match",
        "no sync marker follows in the 16 MiB after the block",
        &format!("the rest of the file from byte {at} is skipped"),
        "restore it from its source or move it out of the table's path",
    ] {
        assert!(e.contains(needle), "no {needle:?} in: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avro_block_declaring_a_huge_size_is_one_bad_block() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data.avro");
    for (rows, size, says) in [
        (
            ROWS,
            1i64 << 40,
            "declares 1099511627776 bytes, more than the 2147483647 Avro readers accept",
        ),
        (
            ROWS,
            100 << 20,
            "the file ends inside a block (the block declares 104857600 bytes)",
        ),
        // Within the file, but the bytes there are not followed by a sync marker.
        (
            BIG_ROWS,
            3 << 20,
            "a block's sync marker does not match the header's (the block declares 3145728 bytes)",
        ),
    ] {
        let (markers, counts) = write_avro_rows(&path, AvroCodec::Null, rows);
        let bytes = std::fs::read(&path).unwrap();
        // Block 3 (index 2): its size, the number after its record count, is replaced.
        let at = markers[2] as usize + 16;
        let size_at = at + varint_len(&bytes[at..]);
        let size_end = size_at + varint_len(&bytes[size_at..]);
        let mut damaged = bytes[..size_at].to_vec();
        damaged.extend(zigzag(size));
        damaged.extend_from_slice(&bytes[size_end..]);
        let shift = damaged.len() - bytes.len();
        std::fs::write(&path, &damaged).unwrap();
        let src = source(&path, "avro", None);
        let want = ids_without(&counts, &[2]);

        let (ctx, _) = metrics(BadRecordPolicy::Fail);
        let e = read(&src, ctx, None, false).await.unwrap_err().to_string();
        assert!(e.contains(says), "{size}: {e}");
        assert!(e.contains(&format!("in the block at byte {at}")), "{e}");

        let letter = one_dead_letter(&src, &path, &want, at as u64).await;
        assert!(
            letter.raw[..] == damaged[at..markers[3] as usize + shift],
            "{size}"
        );
        assert!(letter.error.contains(says), "{size}: {}", letter.error);
    }
}
