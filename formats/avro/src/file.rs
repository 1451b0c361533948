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
    let mut input = Counted {
        inner: std::io::BufReader::new(input),
        pos: 0,
    };
    read_blocks(
        &mut input,
        &mut |_, _| Ok(()),
        schema,
        config,
        path,
        (0, None),
        batch_rows,
        emit,
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
    let mut input = Counted {
        inner: std::io::BufReader::new(input),
        pos: 0,
    };
    read_blocks(
        &mut input,
        &mut |r, to| r.seek(SeekFrom::Start(to)).map(|_| ()),
        schema,
        config,
        path,
        (start, end),
        batch_rows,
        emit,
    )
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Skip to the end of the first `sync` marker at or after the current position; returns where the
/// marker starts, or None when the input ends first.
fn skip_to_sync<R: Read>(input: &mut Counted<R>, sync: &[u8; 16]) -> std::io::Result<Option<u64>> {
    let mut window = [0u8; 16];
    let mut filled = 0usize;
    let mut b = [0u8; 1];
    loop {
        if input.read(&mut b)? == 0 {
            return Ok(None);
        }
        window.copy_within(1.., 0);
        window[15] = b[0];
        filled = (filled + 1).min(16);
        if filled == 16 && window == *sync {
            return Ok(Some(input.pos - 16));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn read_blocks<R: Read>(
    input: &mut Counted<std::io::BufReader<R>>,
    seek: &mut dyn FnMut(&mut std::io::BufReader<R>, u64) -> std::io::Result<()>,
    schema: &SchemaRef,
    config: &AvroConfig,
    path: &str,
    (start, end): (u64, Option<u64>),
    batch_rows: usize,
    emit: &mut dyn FnMut(ChangelogBatch) -> Result<(), AvroError>,
) -> Result<u64, AvroError> {
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
    let mut magic = [0u8; 4];
    input.read_exact(&mut magic).map_err(io(0))?;
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
            .map_err(io(0))?
            .ok_or_else(|| bad(0, "the file ends inside its header".into()))?;
        if n == 0 {
            break;
        }
        if n < 0 {
            read_varint(input).map_err(io(0))?;
        }
        for _ in 0..n.unsigned_abs() {
            let mut item = || -> Result<Vec<u8>, AvroError> {
                let len = read_varint(input)
                    .map_err(io(0))?
                    .filter(|l| (0..1 << 24).contains(l))
                    .ok_or_else(|| bad(0, "bad length in the file header".into()))?;
                let mut b = vec![0; len as usize];
                input.read_exact(&mut b).map_err(io(0))?;
                Ok(b)
            };
            let k = item()?;
            let v = item()?;
            meta.insert(String::from_utf8_lossy(&k).into_owned(), v);
        }
    }
    let mut sync = [0u8; 16];
    input.read_exact(&mut sync).map_err(io(0))?;
    // Where the sync marker before the next block starts.
    let mut marker_at = input.pos - 16;
    let writer_text = meta
        .get("avro.schema")
        .ok_or_else(|| bad(0, "the file header has no 'avro.schema'".into()))?;
    let writer = crate::schema::parse_schema(&String::from_utf8_lossy(writer_text))
        .map_err(|e| bad(0, format!("the file's schema is not valid: {e}")))?;
    let codec_name = meta
        .get("avro.codec")
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_else(|| "null".into());
    let file_codec = codec_by_name(&codec_name).map_err(|e| bad(0, e))?;
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
    let mut n = 0u64;
    if start > marker_at {
        seek(&mut input.inner, start).map_err(io(0))?;
        input.pos = start;
        match skip_to_sync(input, &sync).map_err(io(0))? {
            Some(at) => marker_at = at,
            // No block starts in the range.
            None => return Ok(0),
        }
    }
    loop {
        if end.is_some_and(|e| marker_at >= e) {
            break;
        }
        let Some(count) = read_varint(input).map_err(io(n + 1))? else {
            break;
        };
        let size = read_varint(input)
            .map_err(io(n + 1))?
            .filter(|s| *s >= 0)
            .ok_or_else(|| bad(n + 1, "a block ends early or has a negative size".into()))?;
        if count < 0 {
            return Err(bad(n + 1, format!("a block has a negative count {count}")));
        }
        let mut data = Vec::new();
        (&mut *input)
            .take(size as u64)
            .read_to_end(&mut data)
            .map_err(io(n + 1))?;
        if data.len() as i64 != size {
            return Err(bad(n + 1, "the file ends inside a block".into()));
        }
        let mut marker = [0u8; 16];
        input.read_exact(&mut marker).map_err(io(n + 1))?;
        marker_at = input.pos - 16;
        if marker != sync {
            return Err(bad(
                n + 1,
                "a block's sync marker does not match the header's".into(),
            ));
        }
        file_codec.decompress(&mut data).map_err(|e| {
            bad(
                n + 1,
                format!("cannot decompress a '{codec_name}' block: {e}"),
            )
        })?;
        let mut cur = crate::read::Cursor::new(&data);
        for _ in 0..count {
            n += 1;
            match (&mut rows, direct) {
                (crate::rows::Buffer::Direct(r, _), true) => {
                    if in_union {
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
                    crate::guard::check_datum(&writer, g.data).map_err(|e| bad(n, e))?;
                    let v = apache_avro::from_avro_datum(&writer, &mut g, resolve_with)
                        .map_err(|e| bad(n, e.to_string()))?;
                    if g.eof {
                        return Err(bad(n, "truncated record".into()));
                    }
                    cur.advance(before - g.data.len());
                    rows.push_value(
                        crate::avro::FORMAT,
                        v,
                        &RecordOrigin::File {
                            path: path.to_string(),
                            line: n,
                        },
                    )?;
                }
            }
            if rows.len() >= batch_rows.max(1) {
                emit(rows.finish(crate::avro::FORMAT)?)?;
            }
        }
        if cur.remaining() > 0 {
            return Err(bad(
                n,
                format!("{} bytes left over at the end of a block", cur.remaining()),
            ));
        }
    }
    if !rows.is_empty() {
        emit(rows.finish(crate::avro::FORMAT)?)?;
    }
    Ok(n)
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
        relay_emit(emit, |cb| {
            read_file(input, &self.schema, &self.config, path, batch_rows, cb)
        })
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
        relay_emit(emit, |cb| {
            read_file_range(
                input,
                &self.schema,
                &self.config,
                path,
                start,
                end,
                batch_rows,
                cb,
            )
        })
    }
}

/// Run one of the Avro file readers with the SDK's `emit`: an error `emit` returns stops the read
/// and comes back unchanged (not wrapped in an Avro error); the reader's own errors convert.
fn relay_emit(
    emit: &mut dyn FnMut(ChangelogBatch) -> headrace_sdk::Result<()>,
    read: impl FnOnce(&mut dyn FnMut(ChangelogBatch) -> Result<(), AvroError>) -> Result<u64, AvroError>,
) -> headrace_sdk::Result<u64> {
    let mut failed: Option<headrace_sdk::Error> = None;
    let r = read(&mut |b| {
        emit(b).map_err(|e| {
            let m = e.to_string();
            failed = Some(e);
            AvroError::Schema(m)
        })
    });
    match (r, failed) {
        (_, Some(e)) => Err(e),
        (Ok(n), None) => Ok(n),
        (Err(e), None) => Err(e.into()),
    }
}
