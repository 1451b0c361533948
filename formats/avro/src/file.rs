//! Avro object container files: a writer that appends Arrow batches to a file with the derived
//! schema and the chosen codec, and a reader that resolves any file's writer schema to the
//! table's schema.
//!
//! The writer lays the file out as the Avro specification says: the magic `Obj\x01`, a metadata
//! map with `avro.schema` and `avro.codec`, a 16-byte sync marker, then blocks of (record count,
//! byte size, compressed records, sync marker). A block is closed every
//! [`AvroFileWriter::BLOCK_BYTES`] bytes of records and when the file is finished.

use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};

use apache_avro::Codec;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;

use crate::avro::{table_schema, AvroCodec, AvroConfig};
use crate::direct::{batch_writers, write_row};
use crate::error::AvroError;
use crate::rows::SharedSchema;
use crate::schema::Node;

/// The `apache-avro` codec for `avro.codec`, or why it is not available in this build.
pub fn codec(c: AvroCodec) -> Result<Codec, String> {
    match c {
        AvroCodec::Null => Ok(Codec::Null),
        AvroCodec::Deflate => Ok(Codec::Deflate(Default::default())),
        #[cfg(feature = "snappy")]
        AvroCodec::Snappy => Ok(Codec::Snappy),
        #[cfg(feature = "zstandard")]
        AvroCodec::Zstandard => Ok(Codec::Zstandard(Default::default())),
        #[cfg(feature = "bzip2")]
        AvroCodec::Bzip2 => Ok(Codec::Bzip2(Default::default())),
        #[cfg(feature = "xz")]
        AvroCodec::Xz => Ok(Codec::Xz(Default::default())),
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "this build of headrace-format-avro has no '{}' codec; rebuild with its cargo \
             feature or choose 'null', 'deflate' or 'snappy'",
            codec_name(other)
        )),
    }
}

fn codec_name(c: AvroCodec) -> &'static str {
    match c {
        AvroCodec::Null => "null",
        AvroCodec::Deflate => "deflate",
        AvroCodec::Snappy => "snappy",
        AvroCodec::Zstandard => "zstandard",
        AvroCodec::Bzip2 => "bzip2",
        AvroCodec::Xz => "xz",
    }
}

fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

fn sync_marker() -> [u8; 16] {
    let mut m = [0u8; 16];
    for (i, chunk) in m.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    m
}

/// Writes rows into one Avro object container file.
pub struct AvroFileWriter<W: Write> {
    out: W,
    node: Node,
    schema: SharedSchema,
    schema_json: String,
    codec: Codec,
    sync: [u8; 16],
    block: Vec<u8>,
    block_rows: i64,
    written: u64,
    what: String,
}

impl<W: Write> std::fmt::Debug for AvroFileWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroFileWriter")
            .field("file", &self.what)
            .field("written", &self.written)
            .finish()
    }
}

impl<W: Write> AvroFileWriter<W> {
    /// Bytes of encoded records after which a block is compressed and written (Avro's Java
    /// writer uses 64 KiB by default).
    pub const BLOCK_BYTES: usize = 64 * 1024;

    /// Start a file on `out` for rows of `schema`; `what` names the file in errors.
    pub fn new(
        out: W,
        schema: &SchemaRef,
        config: &AvroConfig,
        what: impl Into<String>,
    ) -> Result<Self, AvroError> {
        let (node, avro) = table_schema(schema, config.legacy_timestamps)?;
        let codec_v = codec(config.codec).map_err(AvroError::Schema)?;
        let mut w = AvroFileWriter {
            out,
            node: node.clone(),
            // Like Flink's file writer: the rows' type is nullable, so the file's schema is the
            // union of null and the record, and each record starts with branch 1.
            schema_json: serde_json::json!(["null", node.to_json()]).to_string(),
            schema: avro,
            codec: codec_v,
            sync: sync_marker(),
            block: Vec::new(),
            block_rows: 0,
            written: 0,
            what: what.into(),
        };
        let mut header = b"Obj\x01".to_vec();
        write_long(&mut header, 2);
        write_bytes(&mut header, b"avro.schema");
        write_bytes(&mut header, w.schema_json.as_bytes());
        write_bytes(&mut header, b"avro.codec");
        write_bytes(&mut header, codec_name(config.codec).as_bytes());
        write_long(&mut header, 0);
        header.extend_from_slice(&w.sync);
        w.put(&header)?;
        Ok(w)
    }

    fn put(&mut self, b: &[u8]) -> Result<(), AvroError> {
        self.out.write_all(b).map_err(|source| AvroError::Io {
            context: format!("avro: cannot write {}", self.what),
            source,
        })?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// Append the rows of `batch`.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), AvroError> {
        let cols = batch_writers(&self.node, batch)
            .map_err(|r| crate::avro::encode_error(crate::avro::FORMAT, r))?;
        for i in 0..batch.num_rows() {
            let start = self.block.len();
            self.block.push(2);
            if let Err(r) = write_row(&cols, i, &mut self.block) {
                self.block.truncate(start);
                return Err(crate::avro::encode_error(
                    crate::avro::FORMAT,
                    format!("row {i}: {r}"),
                ));
            }
            self.block_rows += 1;
            if self.block.len() >= Self::BLOCK_BYTES {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    /// Compress and write the open block, if it has rows.
    pub fn flush_block(&mut self) -> Result<(), AvroError> {
        if self.block_rows == 0 {
            return Ok(());
        }
        let mut data = std::mem::take(&mut self.block);
        self.codec.compress(&mut data).map_err(|e| {
            AvroError::Schema(format!(
                "avro: cannot compress a block of {}: {e}",
                self.what
            ))
        })?;
        let mut head = Vec::with_capacity(20);
        write_long(&mut head, self.block_rows);
        write_long(&mut head, data.len() as i64);
        self.put(&head)?;
        self.put(&data)?;
        let sync = self.sync;
        self.put(&sync)?;
        self.block_rows = 0;
        Ok(())
    }

    /// Bytes written to the output so far plus the open block's uncompressed size.
    pub fn bytes_written(&self) -> u64 {
        self.written + self.block.len() as u64
    }

    /// The Avro schema of the rows (the file's schema is the union of null and it, as in Flink's
    /// files).
    pub fn avro_schema(&self) -> &apache_avro::Schema {
        &self.schema
    }

    /// Write the last block, flush and return the output.
    pub fn finish(mut self) -> Result<W, AvroError> {
        self.flush_block()?;
        self.out.flush().map_err(|source| AvroError::Io {
            context: format!("avro: cannot flush {}", self.what),
            source,
        })?;
        Ok(self.out)
    }
}

fn read_varint<R: Read>(r: &mut R) -> std::io::Result<Option<i64>> {
    let mut v: u64 = 0;
    let mut shift = 0;
    let mut b = [0u8; 1];
    loop {
        if r.read(&mut b)? == 0 {
            if shift == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file ends inside a number",
            ));
        }
        if shift > 63 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a number is longer than 64 bits",
            ));
        }
        v |= ((b[0] & 0x7f) as u64) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(Some((v >> 1) as i64 ^ -((v & 1) as i64)));
        }
        shift += 7;
    }
}

fn codec_by_name(name: &str) -> Result<Codec, String> {
    let c = match name {
        "null" => AvroCodec::Null,
        "deflate" => AvroCodec::Deflate,
        "snappy" => AvroCodec::Snappy,
        "zstandard" => AvroCodec::Zstandard,
        "bzip2" => AvroCodec::Bzip2,
        "xz" => AvroCodec::Xz,
        other => return Err(format!("unknown codec '{other}'")),
    };
    codec(c)
}

/// Read every record of an Avro container file as rows of `schema`. When the file's writer
/// schema is the table's (as in files Headrace and Flink write) records are read straight into
/// Arrow columns; otherwise each is decoded with `apache-avro` and resolved to the table's schema
/// (fields matched by name, absent nullable fields NULL, numbers promoted as Avro allows). Rows
/// are handed to `emit` in batches of at most `batch_rows`. `path` names the file in errors
/// (record numbers are one-based).
pub fn read_file<R: Read>(
    input: R,
    schema: &SchemaRef,
    config: &AvroConfig,
    path: &str,
    batch_rows: usize,
    emit: &mut dyn FnMut(ChangelogBatch) -> Result<(), AvroError>,
) -> Result<u64, AvroError> {
    let mut input = Counted::new(std::io::BufReader::new(input));
    read_blocks(
        &mut input,
        &mut |_, _| {
            Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "this input cannot seek",
            ))
        },
        ReadJob::new(schema, config, path, (0, None), batch_rows),
        emit,
        None,
    )
}

/// Read the blocks of an Avro container file that a byte range `[start, end)` owns (`end` None:
/// to the end of the file), as [`read_file`] reads all of them. A block belongs to the range in
/// which the sync marker before it starts (for the first block, the header's), as Hadoop's and
/// Flink's Avro readers split files: the reader seeks to `start`, skips to the first sync marker
/// at or after it and reads blocks while the marker before the next block starts before `end`.
/// Ranges that tile a file thus read every record once. Record numbers in errors count from the
/// range's first record (the message names the range).
#[allow(clippy::too_many_arguments)]
pub fn read_file_range<R: Read + Seek>(
    input: R,
    schema: &SchemaRef,
    config: &AvroConfig,
    path: &str,
    start: u64,
    end: Option<u64>,
    batch_rows: usize,
    emit: &mut dyn FnMut(ChangelogBatch) -> Result<(), AvroError>,
) -> Result<u64, AvroError> {
    let how = ReadJob::new(schema, config, path, (start, end), batch_rows);
    read_seekable(input, how, emit, None)
}

/// A part of an Avro file that does not decode: a block (with the bytes up to the next sync
/// marker, where reading resumes) or the header (then the file's records are all skipped).
#[derive(Debug)]
pub struct BadBlock {
    /// The bytes of the block as read: from its record count to the next sync marker (or the
    /// end of the file, or [`RESYNC_BYTES`] of them when no marker follows that soon); empty
    /// for a bad header.
    pub raw: Vec<u8>,
    /// `file '<path>' block at byte <b>` (where the block starts, after the sync marker before
    /// it), or `file '<path>' header`.
    pub origin: RecordOrigin,
    /// Why it does not decode.
    pub error: AvroError,
}

/// How far past the start of a bad block [`read_file_range_skipping_bad`] looks for the next
/// sync marker (or past the end of a block that decoded wrongly, whichever is further). A file
/// with no marker that soon is damaged beyond resyncing: the rest of it is one bad block.
pub const RESYNC_BYTES: u64 = 16 << 20;

/// The largest block size a file may declare (as in Avro's Java reader, which Flink uses: a
/// block's size is a Java `int`).
pub const MAX_BLOCK_BYTES: i64 = i32::MAX as i64;

/// Blocks declaring more bytes than this have their sync marker checked (by seeking) before
/// their bytes are read, when the input can seek: a size damaged into a large number costs no
/// memory.
const CHECK_MARKER_ABOVE: i64 = 1 << 20;

/// Read the blocks a byte range owns as [`read_file_range`] does (`start` 0 and `end` None: the
/// whole file), but hand each block that does not decode to `bad` and go on with the block after
/// the next sync marker: a block whose record count, size or sync marker is wrong, that does not
/// decompress, or one of whose records does not decode or convert. None of a bad block's rows
/// are emitted (rows are emitted at block ends, in batches of at most `batch_rows`). A file
/// whose header does not read is reported once, by the range that starts the file, and yields no
/// rows. The next sync marker is looked for in the [`RESYNC_BYTES`] after the bad block's start
/// at the most: when there is none, the rest of the file is one bad block (its error says so and
/// names the byte) and the read ends. A block's bytes are held once, and read again from the
/// input only when it is bad. An error `bad` returns stops the read.
#[allow(clippy::too_many_arguments)]
pub fn read_file_range_skipping_bad<R: Read + Seek>(
    input: R,
    schema: &SchemaRef,
    config: &AvroConfig,
    path: &str,
    start: u64,
    end: Option<u64>,
    batch_rows: usize,
    emit: &mut dyn FnMut(ChangelogBatch) -> Result<(), AvroError>,
    bad: &mut dyn FnMut(BadBlock) -> Result<(), AvroError>,
) -> Result<u64, AvroError> {
    let how = ReadJob::new(schema, config, path, (start, end), batch_rows);
    read_seekable(input, how, emit, Some(bad))
}

/// What to read and how (the arguments the public readers share).
struct ReadJob<'a> {
    schema: &'a SchemaRef,
    config: &'a AvroConfig,
    path: &'a str,
    range: (u64, Option<u64>),
    batch_rows: usize,
}

impl<'a> ReadJob<'a> {
    fn new(
        schema: &'a SchemaRef,
        config: &'a AvroConfig,
        path: &'a str,
        range: (u64, Option<u64>),
        batch_rows: usize,
    ) -> Self {
        ReadJob {
            schema,
            config,
            path,
            range,
            batch_rows,
        }
    }
}

/// [`read_blocks`] on an input that can seek.
fn read_seekable<R: Read + Seek>(
    input: R,
    how: ReadJob<'_>,
    emit: &mut dyn FnMut(ChangelogBatch) -> Result<(), AvroError>,
    report: Option<&mut dyn FnMut(BadBlock) -> Result<(), AvroError>>,
) -> Result<u64, AvroError> {
    let mut input = Counted::new(std::io::BufReader::new(input));
    read_blocks(&mut input, &mut |r, to| r.seek(to), how, emit, report)
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Counted<R> {
    fn new(inner: R) -> Self {
        Counted { inner, pos: 0 }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Where [`skip_to_sync`] stopped.
enum Scan {
    /// After a sync marker that starts at this byte.
    Marker(u64),
    /// At the end of the input, without a marker.
    End,
    /// After `limit` bytes without a marker.
    GaveUp,
}

/// Skip to the end of the first `sync` marker at or after the current position, reading at most
/// `limit` bytes; with `raw`, what is read is appended to it (the marker too).
fn skip_to_sync<R: Read>(
    input: &mut Counted<R>,
    sync: &[u8; 16],
    limit: u64,
    mut raw: Option<&mut Vec<u8>>,
) -> std::io::Result<Scan> {
    let mut window = [0u8; 16];
    let mut read = 0u64;
    let mut b = [0u8; 1];
    loop {
        if read >= limit {
            return Ok(Scan::GaveUp);
        }
        if input.read(&mut b)? == 0 {
            return Ok(Scan::End);
        }
        read += 1;
        if let Some(raw) = raw.as_mut() {
            raw.push(b[0]);
        }
        window.copy_within(1.., 0);
        window[15] = b[0];
        if read >= 16 && window == *sync {
            return Ok(Scan::Marker(input.pos - 16));
        }
    }
}

/// What the header of a container file says.
struct Header {
    writer: apache_avro::Schema,
    codec_name: String,
    codec: Codec,
    sync: [u8; 16],
}

fn read_header<R: Read>(
    input: &mut Counted<R>,
    bad: &dyn Fn(u64, String) -> AvroError,
) -> Result<Header, AvroError> {
    let io = |e: std::io::Error| bad(0, format!("not a readable Avro file: {e}"));
    let mut magic = [0u8; 4];
    input.read_exact(&mut magic).map_err(io)?;
    if &magic != b"Obj\x01" {
        return Err(bad(
            0,
            "not an Avro object container file (no 'Obj\\x01' magic)".into(),
        ));
    }
    // The metadata map: blocks of (key, bytes value) pairs.
    let mut meta = std::collections::HashMap::new();
    loop {
        let n = read_varint(input)
            .map_err(io)?
            .ok_or_else(|| bad(0, "the file ends inside its header".into()))?;
        if n == 0 {
            break;
        }
        if n < 0 {
            read_varint(input).map_err(io)?;
        }
        for _ in 0..n.unsigned_abs() {
            let mut item = || -> Result<Vec<u8>, AvroError> {
                let len = read_varint(input)
                    .map_err(io)?
                    .filter(|l| (0..1 << 24).contains(l))
                    .ok_or_else(|| bad(0, "bad length in the file header".into()))?;
                let mut b = vec![0; len as usize];
                input.read_exact(&mut b).map_err(io)?;
                Ok(b)
            };
            let k = item()?;
            let v = item()?;
            meta.insert(String::from_utf8_lossy(&k).into_owned(), v);
        }
    }
    let mut sync = [0u8; 16];
    input.read_exact(&mut sync).map_err(io)?;
    let writer_text = meta
        .get("avro.schema")
        .ok_or_else(|| bad(0, "the file header has no 'avro.schema'".into()))?;
    let writer = crate::schema::parse_schema(&String::from_utf8_lossy(writer_text))
        .map_err(|e| bad(0, format!("the file's schema is not valid: {e}")))?;
    let codec_name = meta
        .get("avro.codec")
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_else(|| "null".into());
    let codec = codec_by_name(&codec_name).map_err(|e| bad(0, e))?;
    Ok(Header {
        writer,
        codec_name,
        codec,
        sync,
    })
}

/// Seeks the input under a [`Counted`] reader (an error when it cannot seek).
type SeekFn<'a, R> = dyn FnMut(&mut std::io::BufReader<R>, SeekFrom) -> std::io::Result<u64> + 'a;

/// Move a counted input to byte `to`.
fn seek_to<R: Read>(
    input: &mut Counted<std::io::BufReader<R>>,
    seek: &mut SeekFn<'_, R>,
    to: u64,
) -> std::io::Result<()> {
    seek(&mut input.inner, SeekFrom::Start(to))?;
    input.pos = to;
    Ok(())
}

/// One block's frame: its record count and (compressed) data; None at the end of the input.
/// `len` is the input's length when it can seek: a size beyond it is an error without reading,
/// and so is a large size without the sync marker after it.
fn read_frame<R: Read>(
    input: &mut Counted<std::io::BufReader<R>>,
    seek: &mut SeekFn<'_, R>,
    len: Option<u64>,
    sync: &[u8; 16],
) -> Result<Option<(i64, Vec<u8>)>, String> {
    let io = |e: std::io::Error| format!("not a readable Avro file: {e}");
    let Some(count) = read_varint(input).map_err(io)? else {
        return Ok(None);
    };
    let size = read_varint(input)
        .map_err(io)?
        .filter(|s| *s >= 0)
        .ok_or("a block ends early or has a negative size")?;
    if count < 0 {
        return Err(format!("a block has a negative count {count}"));
    }
    if size > MAX_BLOCK_BYTES {
        return Err(format!(
            "a block declares {size} bytes, more than the {MAX_BLOCK_BYTES} Avro readers accept"
        ));
    }
    let early = |what: &str| format!("the file ends {what} (the block declares {size} bytes)");
    let mismatch = || {
        format!(
            "a block's sync marker does not match the header's (the block declares {size} bytes)"
        )
    };
    if let Some(len) = len {
        let left = len.saturating_sub(input.pos);
        if size as u64 > left {
            return Err(early("inside a block"));
        }
        if size as u64 + 16 > left {
            return Err(early("before the block's sync marker"));
        }
        if size > CHECK_MARKER_ABOVE {
            let here = input.pos;
            let mut marker = [0u8; 16];
            seek(&mut input.inner, SeekFrom::Start(here + size as u64))
                .and_then(|_| input.inner.read_exact(&mut marker))
                .and_then(|_| seek_to(input, seek, here))
                .map_err(io)?;
            if marker != *sync {
                return Err(mismatch());
            }
        }
    }
    let mut data = Vec::new();
    (&mut *input)
        .take(size as u64)
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() as i64 != size {
        return Err(early("inside a block"));
    }
    let mut marker = [0u8; 16];
    input
        .read_exact(&mut marker)
        .map_err(|_| early("before the block's sync marker"))?;
    if marker != *sync {
        return Err(mismatch());
    }
    Ok(Some((count, data)))
}

/// The bad part of a file from `block_at` (where a bad block starts) to the next sync marker,
/// read again from the input; `known_end`: where the block's own marker starts, when its frame
/// read. Returns the bad block, and where the marker after it starts (None: the read ends).
fn bad_part<R: Read>(
    input: &mut Counted<std::io::BufReader<R>>,
    seek: &mut SeekFn<'_, R>,
    sync: &[u8; 16],
    (block_at, known_end): (u64, Option<u64>),
    path: &str,
    error: AvroError,
) -> Result<(BadBlock, Option<u64>), AvroError> {
    let origin = RecordOrigin::Other(format!("file '{path}' block at byte {block_at}"));
    let io = |e: std::io::Error| AvroError::Io {
        context: format!("avro: cannot read {origin} again to skip it"),
        source: e,
    };
    seek_to(input, seek, block_at).map_err(io)?;
    let limit = known_end.map_or(0, |m| m + 16 - block_at).max(RESYNC_BYTES);
    let mut raw = Vec::new();
    let (error, marker) = match skip_to_sync(input, sync, limit, Some(&mut raw)).map_err(io)? {
        Scan::Marker(m) => {
            raw.truncate(raw.len() - 16);
            (error, Some(m))
        }
        Scan::End => (error, None),
        Scan::GaveUp => (
            amend(error, |reason| {
                format!(
                    "{reason}; no sync marker follows in the {} MiB after the block, so the \
                     rest of the file from byte {block_at} is skipped: the file is damaged \
                     there, restore it from its source or move it out of the table's path",
                    RESYNC_BYTES >> 20
                )
            }),
            None,
        ),
    };
    tracing::debug!(%origin, bytes = raw.len(), "avro: a block of a file does not decode");
    Ok((BadBlock { raw, origin, error }, marker))
}

/// `e` with its reason as `reason` rewrites it (errors other than a record's unchanged).
fn amend(e: AvroError, reason: impl FnOnce(&str) -> String) -> AvroError {
    match e {
        AvroError::Record {
            format,
            origin,
            reason: r,
        } => AvroError::Record {
            format,
            origin,
            reason: reason(&r),
        },
        other => other,
    }
}

fn read_blocks<R: Read>(
    input: &mut Counted<std::io::BufReader<R>>,
    seek: &mut SeekFn<'_, R>,
    how: ReadJob<'_>,
    emit: &mut dyn FnMut(ChangelogBatch) -> Result<(), AvroError>,
    mut report: Option<&mut dyn FnMut(BadBlock) -> Result<(), AvroError>>,
) -> Result<u64, AvroError> {
    let ReadJob {
        schema,
        config,
        path,
        range: (start, end),
        batch_rows,
    } = how;
    let (node, avro) = table_schema(schema, config.legacy_timestamps)?;
    let bad = |line: u64, reason: String| AvroError::Record {
        format: crate::avro::FORMAT,
        origin: RecordOrigin::File {
            path: path.to_string(),
            line,
        },
        reason: if start > 0 && line > 0 {
            format!("{reason} (records counted from the split starting at byte {start})")
        } else {
            reason
        },
    };
    let io =
        |line: u64| move |e: std::io::Error| bad(line, format!("not a readable Avro file: {e}"));
    // The input's length, when it can seek.
    let len = match seek(&mut input.inner, SeekFrom::End(0)) {
        Ok(len) => {
            seek_to(input, seek, 0).map_err(io(0))?;
            Some(len)
        }
        Err(_) => None,
    };
    let header = match read_header(input, &bad) {
        Ok(h) => h,
        Err(error) => match report.as_mut() {
            // Every range reads the header: the one that starts the file reports it.
            Some(r) if start == 0 => {
                r(BadBlock {
                    raw: Vec::new(),
                    origin: RecordOrigin::Other(format!("file '{path}' header")),
                    error,
                })?;
                return Ok(0);
            }
            Some(_) => return Ok(0),
            None => return Err(error),
        },
    };
    let Header {
        writer,
        codec_name,
        codec: file_codec,
        sync,
    } = header;
    // Where the sync marker before the next block starts.
    let mut marker_at = input.pos - 16;
    // Flink (and Headrace) write the union of null and the record; other writers the record.
    let (direct, in_union) = match &writer {
        apache_avro::Schema::Union(u)
            if u.variants().len() == 2 && matches!(u.variants()[0], apache_avro::Schema::Null) =>
        {
            (crate::schema::same_layout(&u.variants()[1], &avro), true)
        }
        w => (crate::schema::same_layout(w, &avro), false),
    };
    // Records of another schema are decoded as written and mapped by field name, unless decimals
    // differ in scale (then apache-avro resolves them).
    let by_name = crate::schema::decimals_agree(&writer, &node);
    let mut rows = crate::rows::Buffer::new(crate::avro::FORMAT, schema.clone(), node);
    let resolve_with = if by_name && matches!(rows, crate::rows::Buffer::Direct(..)) {
        None
    } else {
        Some(&*avro)
    };
    let tolerant = report.is_some();
    let batch_rows = batch_rows.max(1);
    let mut n = 0u64;
    if start > marker_at {
        seek_to(input, seek, start).map_err(io(0))?;
        // A marker found must start before `end` for a block to be the range's.
        let limit = end.map_or(u64::MAX, |e| (e + 15).saturating_sub(start));
        match skip_to_sync(input, &sync, limit, None).map_err(io(0))? {
            Scan::Marker(at) => marker_at = at,
            // No block starts in the range.
            Scan::End | Scan::GaveUp => return Ok(0),
        }
    }
    loop {
        if end.is_some_and(|e| marker_at >= e) {
            break;
        }
        let block_at = input.pos;
        let in_block = |e: AvroError| {
            amend(e, |reason| {
                format!("{reason} (in the block at byte {block_at})")
            })
        };
        let mark = (rows.len(), n);
        let mut known_end = None;
        let decoded = match read_frame(input, seek, len, &sync) {
            Ok(None) => break,
            Err(reason) => Err(bad(n + 1, reason)),
            Ok(Some((count, mut data))) => {
                marker_at = input.pos - 16;
                known_end = Some(marker_at);
                decode_block(
                    DecodeBlock {
                        codec: &file_codec,
                        codec_name: &codec_name,
                        writer: &writer,
                        resolve_with,
                        direct,
                        in_union,
                        path,
                        // Strict reads emit as rows come; a tolerant one at block ends only.
                        emit_at: if tolerant { usize::MAX } else { batch_rows },
                    },
                    &mut data,
                    count,
                    &mut rows,
                    &mut n,
                    &bad,
                    emit,
                )
            }
        };
        let error = match decoded {
            Ok(()) => None,
            Err(e) if !tolerant => return Err(in_block(e)),
            Err(e) => Some(e),
        };
        let Some(r) = report.as_mut() else {
            continue;
        };
        if let Some(error) = error {
            // None of the block's rows: back to the rows before it.
            rows.truncate(mark.0);
            n = mark.1;
            let error = in_block(error);
            if !matches!(error, AvroError::Record { .. }) {
                // An error of `emit` (the reader stopped) is not the block's.
                return Err(error);
            }
            // The bad part runs to the next sync marker, where reading resumes.
            let (unit, next) = bad_part(input, seek, &sync, (block_at, known_end), path, error)?;
            r(unit)?;
            match next {
                Some(m) => marker_at = m,
                None => break,
            }
            continue;
        }
        // Rows kept as values are checked when their batch is built: build it for each block,
        // so that a bad value is the block's.
        if rows.len() >= batch_rows || (rows.is_values() && !rows.is_empty()) {
            let b = match rows.finish(crate::avro::FORMAT) {
                Ok(b) => b,
                Err(e) if rows.is_values() => {
                    let origin =
                        RecordOrigin::Other(format!("file '{path}' block at byte {block_at}"));
                    r(BadBlock {
                        raw: Vec::new(),
                        origin,
                        error: in_block(e),
                    })?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let total = b.num_rows();
            if total <= batch_rows {
                emit(b)?;
            } else {
                let mut at = 0;
                while at < total {
                    let k = batch_rows.min(total - at);
                    emit(b.slice(at, k))?;
                    at += k;
                }
            }
        }
    }
    if !rows.is_empty() {
        emit(rows.finish(crate::avro::FORMAT)?)?;
    }
    Ok(n)
}

/// How to decode the records of one block.
struct DecodeBlock<'a> {
    codec: &'a Codec,
    codec_name: &'a str,
    writer: &'a apache_avro::Schema,
    resolve_with: Option<&'a apache_avro::Schema>,
    direct: bool,
    in_union: bool,
    path: &'a str,
    /// Emit the buffered rows once this many are buffered.
    emit_at: usize,
}

/// Decompress a block's `data` and read its `count` records into `rows` (counting them in `n`).
#[allow(clippy::too_many_arguments)]
fn decode_block(
    how: DecodeBlock<'_>,
    data: &mut Vec<u8>,
    count: i64,
    rows: &mut crate::rows::Buffer,
    n: &mut u64,
    bad: &dyn Fn(u64, String) -> AvroError,
    emit: &mut dyn FnMut(ChangelogBatch) -> Result<(), AvroError>,
) -> Result<(), AvroError> {
    how.codec.decompress(data).map_err(|e| {
        bad(
            *n + 1,
            format!("cannot decompress a '{}' block: {e}", how.codec_name),
        )
    })?;
    let mut cur = crate::read::Cursor::new(data);
    for _ in 0..count {
        *n += 1;
        let n = *n;
        match (&mut *rows, how.direct) {
            (crate::rows::Buffer::Direct(r, _), true) => {
                if how.in_union {
                    let b = cur.long().map_err(|e| bad(n, e))?;
                    if b != 1 {
                        return Err(bad(
                            n,
                            format!("union branch {b} where a row (branch 1) was expected"),
                        ));
                    }
                }
                r.read_next(&mut cur).map_err(|e| bad(n, e))?
            }
            _ => {
                let mut g = crate::avro::Guarded {
                    data: cur.rest(),
                    eof: false,
                };
                let before = g.data.len();
                crate::guard::check_datum(how.writer, g.data).map_err(|e| bad(n, e))?;
                let v = apache_avro::from_avro_datum(how.writer, &mut g, how.resolve_with)
                    .map_err(|e| bad(n, e.to_string()))?;
                if g.eof {
                    return Err(bad(n, "truncated record".into()));
                }
                cur.advance(before - g.data.len());
                rows.push_value(
                    crate::avro::FORMAT,
                    v,
                    &RecordOrigin::File {
                        path: how.path.to_string(),
                        line: n,
                    },
                )?;
            }
        }
        if rows.len() >= how.emit_at {
            emit(rows.finish(crate::avro::FORMAT)?)?;
        }
    }
    if cur.remaining() > 0 {
        return Err(bad(
            *n,
            format!("{} bytes left over at the end of a block", cur.remaining()),
        ));
    }
    Ok(())
}

impl<W: Write + Send> headrace_sdk::format::BulkWriter for AvroFileWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> headrace_sdk::Result<()> {
        Ok(AvroFileWriter::write(self, batch)?)
    }

    fn bytes_written(&self) -> u64 {
        AvroFileWriter::bytes_written(self)
    }

    fn finish(self: Box<Self>) -> headrace_sdk::Result<()> {
        AvroFileWriter::finish(*self)?;
        Ok(())
    }
}

/// Reads Avro container files as rows of a table (the format's
/// [`BulkReader`](headrace_sdk::format::BulkReader)).
#[derive(Debug, Clone)]
pub struct AvroFileReader {
    /// The table's rows.
    pub schema: SchemaRef,
    /// The format's settings.
    pub config: AvroConfig,
}

impl headrace_sdk::format::BulkReader for AvroFileReader {
    fn read(
        &mut self,
        input: Box<dyn Read + Send>,
        path: &str,
        batch_rows: usize,
        emit: &mut dyn FnMut(ChangelogBatch) -> headrace_sdk::Result<()>,
    ) -> headrace_sdk::Result<u64> {
        let relayed = Relayed::default();
        let r = read_file(
            input,
            &self.schema,
            &self.config,
            path,
            batch_rows,
            &mut |b| emit(b).map_err(|e| relayed.keep(e)),
        );
        relayed.result(r)
    }

    fn splittable(&self) -> bool {
        true
    }

    fn read_range(
        &mut self,
        input: Box<dyn headrace_sdk::format::SeekRead>,
        path: &str,
        start: u64,
        end: Option<u64>,
        batch_rows: usize,
        emit: &mut dyn FnMut(ChangelogBatch) -> headrace_sdk::Result<()>,
    ) -> headrace_sdk::Result<u64> {
        self.read_relayed(input, path, (start, end), batch_rows, emit, None)
    }

    fn read_skipping_bad(
        &mut self,
        input: Box<dyn headrace_sdk::format::SeekRead>,
        path: &str,
        start: u64,
        end: Option<u64>,
        batch_rows: usize,
        emit: &mut dyn FnMut(ChangelogBatch) -> headrace_sdk::Result<()>,
        bad: &mut dyn FnMut(headrace_sdk::format::BadUnit) -> headrace_sdk::Result<()>,
    ) -> headrace_sdk::Result<u64> {
        self.read_relayed(input, path, (start, end), batch_rows, emit, Some(bad))
    }
}

/// The bad-unit handler of [`BulkReader::read_skipping_bad`](headrace_sdk::format::BulkReader::read_skipping_bad).
type BadUnitHandler<'a> =
    &'a mut dyn FnMut(headrace_sdk::format::BadUnit) -> headrace_sdk::Result<()>;

impl AvroFileReader {
    /// Read the blocks of `range` (with `bad`, past bad blocks, which go to it as
    /// [`BadUnit`](headrace_sdk::format::BadUnit)s); an error `emit` or `bad` returns comes back
    /// unchanged.
    fn read_relayed(
        &self,
        input: Box<dyn headrace_sdk::format::SeekRead>,
        path: &str,
        range: (u64, Option<u64>),
        batch_rows: usize,
        emit: &mut dyn FnMut(ChangelogBatch) -> headrace_sdk::Result<()>,
        bad: Option<BadUnitHandler<'_>>,
    ) -> headrace_sdk::Result<u64> {
        let relayed = &Relayed::default();
        let how = ReadJob::new(&self.schema, &self.config, path, range, batch_rows);
        let mut report = bad.map(|bad| {
            move |b: BadBlock| {
                bad(headrace_sdk::format::BadUnit {
                    raw: b.raw,
                    origin: b.origin,
                    error: b.error.into(),
                })
                .map_err(|e| relayed.keep(e))
            }
        });
        let r = read_seekable(
            input,
            how,
            &mut |b| emit(b).map_err(|e| relayed.keep(e)),
            report
                .as_mut()
                .map(|r| r as &mut dyn FnMut(BadBlock) -> Result<(), AvroError>),
        );
        relayed.result(r)
    }
}

/// The first error one of the SDK's callbacks (`emit`, `bad`) returned while an Avro file reader
/// ran: it stops the read and comes back unchanged (not wrapped in an Avro error); the reader's
/// own errors convert.
#[derive(Default)]
struct Relayed(std::cell::RefCell<Option<headrace_sdk::Error>>);

impl Relayed {
    /// Keep `e` to return it; the Avro error that stops the reader.
    fn keep(&self, e: headrace_sdk::Error) -> AvroError {
        let m = e.to_string();
        self.0.borrow_mut().get_or_insert(e);
        AvroError::Schema(m)
    }

    /// The reader's result: the kept error if there is one.
    fn result(&self, r: Result<u64, AvroError>) -> headrace_sdk::Result<u64> {
        match (r, self.0.borrow_mut().take()) {
            (_, Some(e)) => Err(e),
            (Ok(n), None) => Ok(n),
            (Err(e), None) => Err(e.into()),
        }
    }
}
