//! Avro object container files: a writer that appends Arrow batches to a file with the derived
//! schema and the chosen codec, and a reader that resolves any file's writer schema to the
//! table's schema.
//!
//! The writer lays the file out as the Avro specification says: the magic `Obj\x01`, a metadata
//! map with `avro.schema` and `avro.codec`, a 16-byte sync marker, then blocks of (record count,
//! byte size, compressed records, sync marker). A block is closed every
//! [`AvroFileWriter::BLOCK_BYTES`] bytes of records and when the file is finished.

use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};

use apache_avro::{Codec, Reader};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::RecordOrigin;

use crate::avro::{table_schema, AvroCodec, AvroConfig};
use crate::direct::{batch_writers, write_row};
use crate::error::AvroError;
use crate::rows::{RowBuffer, SharedSchema};
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
            schema_json: node.to_json().to_string(),
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

    /// The Avro schema of the file.
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

/// Read every record of an Avro container file as rows of `schema`, resolving the file's
/// writer schema to the table's derived schema (fields matched by name, absent nullable
/// fields NULL, numbers promoted as Avro allows). Rows are handed to `emit` in batches of at
/// most `batch_rows`. `path` names the file in errors (record numbers are one-based).
pub fn read_file<R: Read>(
    input: R,
    schema: &SchemaRef,
    config: &AvroConfig,
    path: &str,
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
        reason,
    };
    let reader = Reader::with_schema(&avro, input).map_err(|e| {
        bad(
            0,
            format!("not a readable Avro file for the table's schema: {e}"),
        )
    })?;
    let mut rows = RowBuffer::new(crate::avro::FORMAT, schema.clone(), node);
    let mut n = 0u64;
    for v in reader {
        n += 1;
        let v = v.map_err(|e| bad(n, e.to_string()))?;
        rows.push(
            v,
            &RecordOrigin::File {
                path: path.to_string(),
                line: n,
            },
        );
        if rows.len() >= batch_rows.max(1) {
            emit(rows.finish()?)?;
        }
    }
    if !rows.is_empty() {
        emit(rows.finish()?)?;
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
        let mut failed: Option<headrace_sdk::Error> = None;
        let r = read_file(
            input,
            &self.schema,
            &self.config,
            path,
            batch_rows,
            &mut |b| {
                emit(b).map_err(|e| {
                    let m = e.to_string();
                    failed = Some(e);
                    AvroError::Schema(m)
                })
            },
        );
        match (r, failed) {
            (_, Some(e)) => Err(e),
            (Ok(n), None) => Ok(n),
            (Err(e), None) => Err(e.into()),
        }
    }
}
