//! Encoding Arrow rows as CSV records.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, Time32MillisecondType, Time32SecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use base64::Engine as _;
use headrace_sdk::changelog::ChangelogBatch;
use headrace_sdk::error::{Error, Result};
use headrace_sdk::format::{Encoder, FormatContext};

use crate::schema::{columns, Column, Kind, Scalar};
use crate::text;
use crate::{csv_error, Settings};

/// Encodes each row as one CSV line, without a line terminator.
pub struct CsvEncoder {
    s: Settings,
    context: String,
    cols: Vec<Column>,
    wtr: Option<csv::Writer<Vec<u8>>>,
    ends: Vec<usize>,
    fields: Vec<String>,
    tmp: String,
}

impl CsvEncoder {
    /// An encoder for `ctx.schema` with `ctx.options` (keys without the `csv.` prefix).
    pub fn new(ctx: &FormatContext) -> Result<Self> {
        let s = Settings::from_options(&ctx.options)?;
        let cols = columns(ctx.options.context(), &ctx.schema)?;
        Ok(CsvEncoder {
            fields: vec![String::new(); cols.len()],
            wtr: Some(writer(&s, Vec::new())),
            ends: Vec::new(),
            context: ctx.options.context().to_string(),
            s,
            cols,
            tmp: String::new(),
        })
    }
}

fn writer(s: &Settings, buf: Vec<u8>) -> csv::Writer<Vec<u8>> {
    let mut b = csv::WriterBuilder::new();
    b.delimiter(s.delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .quote(s.quote.unwrap_or(b'"'))
        .quote_style(if s.quote.is_some() {
            csv::QuoteStyle::Necessary
        } else {
            csv::QuoteStyle::Never
        });
    if let Some(e) = s.escape {
        b.escape(e).double_quote(false);
    }
    b.from_writer(buf)
}

fn write_null(s: &Settings, out: &mut String) {
    if let Some(n) = &s.null_literal {
        out.push_str(n);
    }
}

fn write_scalar(
    s: &Settings,
    sc: Scalar,
    a: &dyn Array,
    i: usize,
    out: &mut String,
    tmp: &mut String,
) {
    use std::fmt::Write as _;
    if a.is_null(i) {
        write_null(s, out);
        return;
    }
    match sc {
        Scalar::Bool => out.push_str(if a.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        Scalar::I8 => {
            let _ = write!(out, "{}", a.as_primitive::<Int8Type>().value(i));
        }
        Scalar::I16 => {
            let _ = write!(out, "{}", a.as_primitive::<Int16Type>().value(i));
        }
        Scalar::I32 => {
            let _ = write!(out, "{}", a.as_primitive::<Int32Type>().value(i));
        }
        Scalar::I64 => {
            let _ = write!(out, "{}", a.as_primitive::<Int64Type>().value(i));
        }
        Scalar::F32 => {
            let v = a.as_primitive::<Float32Type>().value(i);
            tmp.clear();
            let _ = write!(tmp, "{v:e}");
            text::write_java_float(out, tmp, f64::from(v));
        }
        Scalar::F64 => {
            let v = a.as_primitive::<Float64Type>().value(i);
            tmp.clear();
            let _ = write!(tmp, "{v:e}");
            text::write_java_float(out, tmp, v);
        }
        Scalar::Dec(_, scale) => {
            let v = a.as_primitive::<Decimal128Type>().value(i);
            text::write_decimal(out, v, scale, s.scientific);
        }
        Scalar::Str => out.push_str(a.as_string::<i32>().value(i)),
        Scalar::Bin => base64::engine::general_purpose::STANDARD
            .encode_string(a.as_binary::<i32>().value(i), out),
        Scalar::Date => text::write_date(out, i64::from(a.as_primitive::<Date32Type>().value(i))),
        Scalar::Time(TimeUnit::Second) => text::write_time(
            out,
            i64::from(a.as_primitive::<Time32SecondType>().value(i)) * 1_000_000_000,
        ),
        Scalar::Time(_) => text::write_time(
            out,
            i64::from(a.as_primitive::<Time32MillisecondType>().value(i)) * 1_000_000,
        ),
        Scalar::Ts(u, ltz) => {
            let v = match u {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
            };
            text::write_timestamp(out, v, u, ltz);
        }
    }
}

fn push_delim(s: &Settings, out: &mut String) {
    out.push_str(&String::from_utf8_lossy(&s.array_delimiter));
}

fn write_column(
    s: &Settings,
    c: &Column,
    a: &dyn Array,
    i: usize,
    out: &mut String,
    tmp: &mut String,
) {
    match &c.kind {
        Kind::Scalar(sc) => write_scalar(s, *sc, a, i, out, tmp),
        _ if a.is_null(i) => write_null(s, out),
        Kind::Array { elem, .. } => {
            let l = a.as_list::<i32>();
            let values = l.value(i);
            for k in 0..values.len() {
                if k > 0 {
                    push_delim(s, out);
                }
                write_scalar(s, *elem, values.as_ref(), k, out, tmp);
            }
        }
        Kind::Row { children, .. } => {
            let st = a.as_struct();
            for (k, ch) in children.iter().enumerate() {
                if k > 0 {
                    push_delim(s, out);
                }
                write_scalar(s, ch.scalar, st.column(k).as_ref(), i, out, tmp);
            }
        }
    }
}

impl Encoder for CsvEncoder {
    fn encode(
        &mut self,
        batch: &ChangelogBatch,
        emit: &mut dyn FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let b = &batch.batch;
        if b.num_columns() != self.cols.len() {
            return Err(Error::internal(format!(
                "{}: csv encoder expects {} columns, the batch has {}",
                self.context,
                self.cols.len(),
                b.num_columns()
            )));
        }
        for (c, a) in self.cols.iter().zip(b.columns()) {
            if a.data_type() != &c.data_type {
                return Err(Error::internal(format!(
                    "{}: column '{}' is {} in the batch but {} in the format's schema",
                    self.context,
                    c.name,
                    a.data_type(),
                    c.data_type
                )));
            }
        }
        let mut wtr = match self.wtr.take() {
            Some(w) => w,
            None => writer(&self.s, Vec::new()),
        };
        self.ends.clear();
        for row in 0..b.num_rows() {
            for (k, (c, a)) in self.cols.iter().zip(b.columns()).enumerate() {
                let f = &mut self.fields[k];
                f.clear();
                write_column(&self.s, c, a.as_ref(), row, f, &mut self.tmp);
            }
            wtr.write_record(self.fields.iter().map(String::as_bytes))
                .map_err(|e| csv_error(&self.context, "write", e))?;
            wtr.flush()
                .map_err(|e| csv_error(&self.context, "flush", e))?;
            self.ends.push(wtr.get_ref().len());
        }
        let mut start = 0;
        let buf = wtr.get_ref();
        for (row, &end) in self.ends.iter().enumerate() {
            // every record ends with the one-byte terminator, which is not part of the record
            emit(row, &buf[start..end.saturating_sub(1).max(start)])?;
            start = end;
        }
        let mut v = wtr
            .into_inner()
            .map_err(|e| csv_error(&self.context, "flush", e.error()))?;
        v.clear();
        self.wtr = Some(writer(&self.s, v));
        Ok(())
    }
}
