//! Which columns the CSV format can carry, derived from the Arrow schema.

use arrow::datatypes::{DataType as ArrowType, Field, FieldRef, Fields, SchemaRef, TimeUnit};
use headrace_sdk::error::{Error, Result};
use headrace_sdk::types::DataType;

/// A non-nested value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Bool,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    Dec(u8, i8),
    Str,
    Bin,
    Date,
    Time(TimeUnit),
    Ts(TimeUnit, bool),
}

impl Scalar {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scalar::Bool => "BOOLEAN",
            Scalar::I8 => "TINYINT",
            Scalar::I16 => "SMALLINT",
            Scalar::I32 => "INT",
            Scalar::I64 => "BIGINT",
            Scalar::F32 => "FLOAT",
            Scalar::F64 => "DOUBLE",
            Scalar::Dec(..) => "DECIMAL",
            Scalar::Str => "STRING",
            Scalar::Bin => "BYTES (base64)",
            Scalar::Date => "DATE (yyyy-MM-dd)",
            Scalar::Time(_) => "TIME (HH:mm:ss[.fff])",
            Scalar::Ts(_, false) => "TIMESTAMP (yyyy-MM-dd HH:mm:ss[.fffffffff])",
            Scalar::Ts(_, true) => "TIMESTAMP_LTZ (yyyy-MM-dd HH:mm:ss[.fffffffff]Z)",
        }
    }
}

/// One field of a nested ROW.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub name: String,
    pub scalar: Scalar,
    pub nullable: bool,
}

/// The shape of a column.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Array {
        elem: Scalar,
        elem_nullable: bool,
        elem_field: FieldRef,
    },
    Row {
        children: Vec<Child>,
        fields: Fields,
    },
}

/// A column of the format's schema.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    pub nullable: bool,
    pub kind: Kind,
    pub data_type: ArrowType,
}

fn flink_name(t: &ArrowType) -> String {
    DataType::from_arrow(t)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| t.to_string())
}

fn scalar(t: &ArrowType) -> std::result::Result<Scalar, String> {
    Ok(match t {
        ArrowType::Boolean => Scalar::Bool,
        ArrowType::Int8 => Scalar::I8,
        ArrowType::Int16 => Scalar::I16,
        ArrowType::Int32 => Scalar::I32,
        ArrowType::Int64 => Scalar::I64,
        ArrowType::Float32 => Scalar::F32,
        ArrowType::Float64 => Scalar::F64,
        ArrowType::Decimal128(p, s) => Scalar::Dec(*p, *s),
        ArrowType::Utf8 => Scalar::Str,
        ArrowType::Binary => Scalar::Bin,
        ArrowType::Date32 => Scalar::Date,
        ArrowType::Time32(u @ (TimeUnit::Second | TimeUnit::Millisecond)) => Scalar::Time(*u),
        ArrowType::Time64(_) => {
            return Err("the CSV format supports TIME with a precision of 0 to 3 only (as Flink's)".into())
        }
        ArrowType::Timestamp(u, tz) => Scalar::Ts(*u, tz.is_some()),
        ArrowType::Map(..) => {
            return Err("MAP and MULTISET values cannot be represented in CSV (Flink's CSV format does not support them either)".into())
        }
        ArrowType::List(_) | ArrowType::Struct(_) => {
            return Err("ARRAY and ROW may be nested only one level deep in CSV: their elements must be simple types".into())
        }
        _ => return Err("this type is not supported by the CSV format".into()),
    })
}

fn describe(context: &str, name: &str, t: &ArrowType, why: String) -> Error {
    Error::Unsupported(format!(
        "{context}: column '{name}' has type {}: {why}",
        flink_name(t)
    ))
}

fn column(context: &str, f: &Field) -> Result<Column> {
    let name = f.name().clone();
    let t = f.data_type();
    let kind = match t {
        ArrowType::List(e) => Kind::Array {
            elem: scalar(e.data_type()).map_err(|w| describe(context, &name, t, w))?,
            elem_nullable: e.is_nullable(),
            elem_field: e.clone(),
        },
        ArrowType::Struct(fields) => Kind::Row {
            children: fields
                .iter()
                .map(|c| {
                    Ok(Child {
                        name: c.name().clone(),
                        scalar: scalar(c.data_type()).map_err(|w| {
                            describe(context, &name, t, format!("field '{}': {w}", c.name()))
                        })?,
                        nullable: c.is_nullable(),
                    })
                })
                .collect::<Result<_>>()?,
            fields: fields.clone(),
        },
        other => match scalar(other).map_err(|w| describe(context, &name, t, w))? {
            // the SDK keeps TIMESTAMP_LTZ in the field metadata (Arrow's type is the same)
            Scalar::Ts(u, false)
                if DataType::from_arrow_field(f).is_ok_and(|d| {
                    matches!(d.logical, headrace_sdk::types::LogicalType::TimestampLtz(_))
                }) =>
            {
                Kind::Scalar(Scalar::Ts(u, true))
            }
            sc => Kind::Scalar(sc),
        },
    };
    Ok(Column {
        name,
        nullable: f.is_nullable(),
        kind,
        data_type: t.clone(),
    })
}

/// The columns of `schema`, or an error naming the first column the format cannot carry.
pub(crate) fn columns(context: &str, schema: &SchemaRef) -> Result<Vec<Column>> {
    schema.fields().iter().map(|f| column(context, f)).collect()
}
