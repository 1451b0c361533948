//! Arrow rows straight to Avro binary, without building `apache_avro` values: the columns of a
//! batch are normalised once (casts to the Arrow type each Avro type reads from), then each row is
//! written field by field. Map entries are written in their Arrow order, so equal rows give equal
//! bytes.

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float32Array, Float64Array, Int32Array, Int64Array, ListArray, MapArray, RecordBatch,
    StringArray, StructArray,
};
use arrow::datatypes::{DataType as ArrowType, Int64Type, TimeUnit};

use crate::convert::decimal_bytes;
use crate::schema::{Kind, Node, TsUnit};

type R<T> = Result<T, String>;

/// A column ready to be written.
enum Col {
    Bool(BooleanArray),
    Int(Int32Array),
    Long(Int64Array),
    Float(Float32Array),
    Double(Float64Array),
    Str(StringArray),
    Bin(BinaryArray),
    Dec(Decimal128Array),
    Date(Date32Array),
    /// Time of day in milliseconds, or timestamps in the Avro unit.
    Millis(Int64Array),
    List(ListArray, Box<Writer>),
    Map(MapArray, StringArray, Box<Writer>),
    Record(StructArray, Vec<Writer>),
}

/// Writes the values of one column (and its children) as Avro binary.
pub struct Writer {
    col: Col,
    nullable: bool,
    path: String,
}

fn cast(a: &ArrayRef, t: &ArrowType, path: &str) -> R<ArrayRef> {
    if a.data_type() == t {
        return Ok(a.clone());
    }
    arrow::compute::cast(a, t).map_err(|e| {
        format!(
            "column '{path}': cannot write {} as {t}: {e}",
            a.data_type()
        )
    })
}

fn down<T: Clone + 'static>(a: &ArrayRef, path: &str) -> R<T> {
    a.as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| format!("column '{path}': unexpected Arrow type {}", a.data_type()))
}

/// Integer values of a time or timestamp column converted to `per_second` units (floor).
fn rescale(a: &ArrayRef, per_second: i64, path: &str) -> R<Int64Array> {
    let from = match a.data_type() {
        ArrowType::Time32(u) | ArrowType::Time64(u) | ArrowType::Timestamp(u, _) => match u {
            TimeUnit::Second => 1,
            TimeUnit::Millisecond => 1_000,
            TimeUnit::Microsecond => 1_000_000,
            TimeUnit::Nanosecond => 1_000_000_000,
        },
        other => {
            return Err(format!(
                "column '{path}': expected a time or timestamp, found {other}"
            ))
        }
    };
    let raw = cast(a, &ArrowType::Int64, path)?;
    let raw = raw
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| format!("column '{path}': cannot read the time values"))?;
    Ok(if from == per_second {
        raw.clone()
    } else if from < per_second {
        let m = per_second / from;
        raw.unary(|v| v.saturating_mul(m))
    } else {
        let d = from / per_second;
        raw.unary(|v| v.div_euclid(d))
    })
}

impl Writer {
    /// A writer for `array`, whose Avro shape is `node`.
    pub fn new(node: &Node, array: &ArrayRef, path: &str) -> R<Writer> {
        let col = match &node.kind {
            Kind::Boolean => Col::Bool(down(&cast(array, &ArrowType::Boolean, path)?, path)?),
            Kind::Int => Col::Int(down(&cast(array, &ArrowType::Int32, path)?, path)?),
            Kind::Long => Col::Long(down(&cast(array, &ArrowType::Int64, path)?, path)?),
            Kind::Float => Col::Float(down(&cast(array, &ArrowType::Float32, path)?, path)?),
            Kind::Double => Col::Double(down(&cast(array, &ArrowType::Float64, path)?, path)?),
            Kind::String => Col::Str(down(&cast(array, &ArrowType::Utf8, path)?, path)?),
            Kind::Bytes => Col::Bin(down(&cast(array, &ArrowType::Binary, path)?, path)?),
            Kind::Decimal { precision, scale } => Col::Dec(down(
                &cast(
                    array,
                    &ArrowType::Decimal128(*precision, *scale as i8),
                    path,
                )?,
                path,
            )?),
            Kind::Date => Col::Date(down(&cast(array, &ArrowType::Date32, path)?, path)?),
            Kind::TimeMillis => Col::Millis(rescale(array, 1_000, path)?),
            Kind::Timestamp { unit, .. } => Col::Millis(rescale(
                array,
                match unit {
                    TsUnit::Millis => 1_000,
                    TsUnit::Micros => 1_000_000,
                    TsUnit::Nanos => 1_000_000_000,
                },
                path,
            )?),
            Kind::Array(e) => {
                let l = array
                    .as_list_opt::<i32>()
                    .ok_or_else(|| format!("column '{path}': expected an Arrow list"))?
                    .clone();
                let child = Writer::new(e, l.values(), &format!("{path}[]"))?;
                Col::List(l, Box::new(child))
            }
            Kind::Map(v) => {
                let m = array
                    .as_map_opt()
                    .ok_or_else(|| format!("column '{path}': expected an Arrow map"))?
                    .clone();
                let keys: StringArray = down(&cast(m.keys(), &ArrowType::Utf8, path)?, path)?;
                let child = Writer::new(v, m.values(), &format!("{path}{{}}"))?;
                Col::Map(m, keys, Box::new(child))
            }
            Kind::Record { fields, .. } => {
                let s = array
                    .as_struct_opt()
                    .ok_or_else(|| format!("column '{path}': expected an Arrow struct"))?
                    .clone();
                if s.num_columns() != fields.len() {
                    return Err(format!(
                        "column '{path}': {} fields, the schema has {}",
                        s.num_columns(),
                        fields.len()
                    ));
                }
                let children = fields
                    .iter()
                    .zip(s.columns())
                    .map(|((n, f), c)| Writer::new(f, c, &format!("{path}.{n}")))
                    .collect::<R<_>>()?;
                Col::Record(s, children)
            }
        };
        Ok(Writer {
            col,
            nullable: node.nullable,
            path: path.to_string(),
        })
    }

    fn is_null(&self, i: usize) -> bool {
        match &self.col {
            Col::Bool(a) => a.is_null(i),
            Col::Int(a) => a.is_null(i),
            Col::Long(a) | Col::Millis(a) => a.is_null(i),
            Col::Float(a) => a.is_null(i),
            Col::Double(a) => a.is_null(i),
            Col::Str(a) => a.is_null(i),
            Col::Bin(a) => a.is_null(i),
            Col::Dec(a) => a.is_null(i),
            Col::Date(a) => a.is_null(i),
            Col::List(a, _) => a.is_null(i),
            Col::Map(a, _, _) => a.is_null(i),
            Col::Record(a, _) => a.is_null(i),
        }
    }

    /// Append the value at row `i`.
    pub fn write(&self, i: usize, out: &mut Vec<u8>) -> R<()> {
        if self.is_null(i) {
            if self.nullable {
                out.push(0);
                return Ok(());
            }
            return Err(format!(
                "column '{}' is NULL in row {i} but its type is NOT NULL",
                self.path
            ));
        }
        if self.nullable {
            out.push(2);
        }
        match &self.col {
            Col::Bool(a) => out.push(a.value(i) as u8),
            Col::Int(a) => long(a.value(i) as i64, out),
            Col::Date(a) => long(a.value(i) as i64, out),
            Col::Long(a) => long(a.value(i), out),
            Col::Millis(a) => long(a.value(i), out),
            Col::Float(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            Col::Double(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            Col::Str(a) => bytes(a.value(i).as_bytes(), out),
            Col::Bin(a) => bytes(a.value(i), out),
            Col::Dec(a) => bytes(&decimal_bytes(a.value(i)), out),
            Col::List(a, child) => {
                let o = a.value_offsets();
                let (s, e) = (o[i] as usize, o[i + 1] as usize);
                if e > s {
                    long((e - s) as i64, out);
                    for j in s..e {
                        child.write(j, out)?;
                    }
                }
                out.push(0);
            }
            Col::Map(a, keys, child) => {
                let o = a.value_offsets();
                let (s, e) = (o[i] as usize, o[i + 1] as usize);
                if e > s {
                    long((e - s) as i64, out);
                    for j in s..e {
                        if keys.is_null(j) {
                            return Err(format!("column '{}': a map key is NULL", self.path));
                        }
                        bytes(keys.value(j).as_bytes(), out);
                        child.write(j, out)?;
                    }
                }
                out.push(0);
            }
            Col::Record(_, children) => {
                for c in children {
                    c.write(i, out)?;
                }
            }
        }
        Ok(())
    }
}

fn long(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    long(b.len() as i64, out);
    out.extend_from_slice(b);
}

/// Writers for the columns of `batch` (the top-level record `node`).
pub fn batch_writers(node: &Node, batch: &RecordBatch) -> R<Vec<Writer>> {
    let Kind::Record { fields, .. } = &node.kind else {
        return Err("the table schema is not a record".into());
    };
    if fields.len() != batch.num_columns() {
        return Err(format!(
            "the batch has {} columns, the schema {}",
            batch.num_columns(),
            fields.len()
        ));
    }
    fields
        .iter()
        .zip(batch.columns())
        .map(|((n, f), c)| Writer::new(f, c, n))
        .collect()
}

/// Append row `i` of the batch whose writers are `cols`.
pub fn write_row(cols: &[Writer], i: usize, out: &mut Vec<u8>) -> R<()> {
    for c in cols {
        c.write(i, out)?;
    }
    Ok(())
}
