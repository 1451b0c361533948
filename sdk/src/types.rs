//! Flink's logical types, parsed from SQL type strings and mapped to Arrow.
//!
//! The Arrow mapping follows the one Flink's own Python bridge (`ArrowUtils`) uses: CHAR/VARCHAR as
//! `Utf8`, BINARY/VARBINARY as `Binary`, DECIMAL as `Decimal128`, DATE as `Date32`, TIME and
//! TIMESTAMP / TIMESTAMP_LTZ with the unit chosen by precision (0: seconds, 1-3: milliseconds, 4-6:
//! microseconds, 7-9: nanoseconds) and no time zone, ARRAY as `List`, MAP as `Map`, ROW as `Struct`.
//! MULTISET, which Flink's bridge does not map, is a `Map` from element to `Int32` count, as Flink
//! represents a multiset internally.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field, Fields, TimeUnit};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::error::{Error, Result};

/// Arrow field metadata key holding the Flink type string where the Arrow type loses it.
pub const FLINK_TYPE_METADATA_KEY: &str = "headrace.flink-type";

/// Length Flink uses for `STRING` and `BYTES` (`VARCHAR(2147483647)`).
pub const MAX_LENGTH: u32 = i32::MAX as u32;

/// A field of a `ROW` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowField {
    /// Field name.
    pub name: String,
    /// Field type.
    pub data_type: DataType,
    /// Optional description (`ROW<a INT 'the a'>`).
    pub description: Option<String>,
}

/// A Flink logical type without nullability.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogicalType {
    /// `BOOLEAN`
    Boolean,
    /// `TINYINT` (8-bit signed)
    TinyInt,
    /// `SMALLINT` (16-bit signed)
    SmallInt,
    /// `INT` / `INTEGER` (32-bit signed)
    Int,
    /// `BIGINT` (64-bit signed)
    BigInt,
    /// `FLOAT` (32-bit IEEE)
    Float,
    /// `DOUBLE` / `DOUBLE PRECISION` (64-bit IEEE)
    Double,
    /// `DECIMAL(p, s)`, 1 <= p <= 38, 0 <= s <= p
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// `CHAR(n)`
    Char(u32),
    /// `VARCHAR(n)`; `STRING` is `VARCHAR(2147483647)`
    VarChar(u32),
    /// `BINARY(n)`
    Binary(u32),
    /// `VARBINARY(n)`; `BYTES` is `VARBINARY(2147483647)`
    VarBinary(u32),
    /// `DATE`
    Date,
    /// `TIME(p)`, 0 <= p <= 9 (default 0)
    Time(u8),
    /// `TIMESTAMP(p)` (without time zone), 0 <= p <= 9 (default 6)
    Timestamp(u8),
    /// `TIMESTAMP_LTZ(p)` / `TIMESTAMP(p) WITH LOCAL TIME ZONE`, 0 <= p <= 9 (default 6)
    TimestampLtz(u8),
    /// `ARRAY<t>`
    Array(Box<DataType>),
    /// `MAP<k, v>`
    Map(Box<DataType>, Box<DataType>),
    /// `MULTISET<t>`
    Multiset(Box<DataType>),
    /// `ROW<name type, ...>`
    Row(Vec<RowField>),
}

/// A logical type with its nullability, e.g. `INT NOT NULL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DataType {
    /// The logical type.
    pub logical: LogicalType,
    /// Whether NULL is allowed (true unless `NOT NULL`).
    pub nullable: bool,
}

impl DataType {
    /// A nullable type.
    pub fn new(logical: LogicalType) -> Self {
        DataType {
            logical,
            nullable: true,
        }
    }

    /// The same type with `NOT NULL`.
    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    /// The same type with the given nullability.
    pub fn with_nullable(mut self, nullable: bool) -> Self {
        self.nullable = nullable;
        self
    }

    /// Parse a Flink SQL type string such as `DECIMAL(10, 2) NOT NULL` or `MAP<STRING, ARRAY<INT>>`.
    pub fn parse(input: &str) -> Result<DataType> {
        let err = |reason: String| Error::InvalidType {
            input: input.to_string(),
            reason,
        };
        let dialect = GenericDialect {};
        let mut parser = Parser::new(&dialect)
            .try_with_sql(input)
            .map_err(|e| err(e.to_string()))?;
        let mut pending = 0usize;
        let ty = parse_data_type(&mut parser, &mut pending).map_err(|e| err(e.to_string()))?;
        if pending > 0 {
            return Err(err("unbalanced '>'".into()));
        }
        let next = parser.peek_token();
        if next.token != Token::EOF {
            return Err(err(format!("unexpected '{}' after the type", next.token)));
        }
        Ok(ty)
    }

    /// The Arrow type that carries values of this type.
    pub fn to_arrow(&self) -> ArrowType {
        self.logical.to_arrow()
    }

    /// An Arrow field with this type and nullability. Where the Arrow type alone does not tell the
    /// Flink type (TIMESTAMP_LTZ, CHAR(n), BINARY(n), exact TIME/TIMESTAMP precision, MULTISET),
    /// the Flink type string is kept in the field metadata under [`FLINK_TYPE_METADATA_KEY`] for
    /// formats (nested fields carry their own).
    pub fn to_arrow_field(&self, name: &str) -> Field {
        let f = Field::new(name, self.to_arrow(), self.nullable);
        let lossy = match &self.logical {
            LogicalType::TimestampLtz(_) | LogicalType::Char(_) | LogicalType::Binary(_) => true,
            LogicalType::Timestamp(p) | LogicalType::Time(p) => !matches!(p, 0 | 3 | 6 | 9),
            // Arrow carries a multiset as a map to counts, like MAP<t, INT NOT NULL>.
            LogicalType::Multiset(_) => true,
            _ => false,
        };
        if lossy {
            f.with_metadata(std::collections::HashMap::from([(
                FLINK_TYPE_METADATA_KEY.to_string(),
                self.logical.to_string(),
            )]))
        } else {
            f
        }
    }

    /// The Flink type of an Arrow field: the metadata written by [`DataType::to_arrow_field`]
    /// when present, else the type Flink maps the Arrow type back to.
    pub fn from_arrow_field(f: &Field) -> Result<DataType> {
        if let Some(t) = f.metadata().get(FLINK_TYPE_METADATA_KEY) {
            if let Ok(d) = DataType::parse(t) {
                return Ok(d.with_nullable(f.is_nullable()));
            }
        }
        Ok(DataType::from_arrow(f.data_type())?.with_nullable(f.is_nullable()))
    }

    /// Whether this is a numeric type (integer, floating point or decimal).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self.logical,
            LogicalType::TinyInt
                | LogicalType::SmallInt
                | LogicalType::Int
                | LogicalType::BigInt
                | LogicalType::Float
                | LogicalType::Double
                | LogicalType::Decimal { .. }
        )
    }

    /// Whether this is a character string type.
    pub fn is_string(&self) -> bool {
        matches!(self.logical, LogicalType::Char(_) | LogicalType::VarChar(_))
    }

    /// The type Flink maps an Arrow type back to (used for batches built outside a schema).
    pub fn from_arrow(t: &ArrowType) -> Result<DataType> {
        let l = match t {
            ArrowType::Boolean => LogicalType::Boolean,
            ArrowType::Int8 => LogicalType::TinyInt,
            ArrowType::Int16 => LogicalType::SmallInt,
            ArrowType::Int32 => LogicalType::Int,
            ArrowType::Int64 => LogicalType::BigInt,
            ArrowType::Float32 => LogicalType::Float,
            ArrowType::Float64 => LogicalType::Double,
            ArrowType::Decimal128(p, s) => LogicalType::Decimal {
                precision: *p,
                scale: (*s).max(0) as u8,
            },
            ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => {
                LogicalType::VarChar(MAX_LENGTH)
            }
            ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView => {
                LogicalType::VarBinary(MAX_LENGTH)
            }
            ArrowType::FixedSizeBinary(n) => LogicalType::Binary((*n).max(1) as u32),
            ArrowType::Date32 => LogicalType::Date,
            ArrowType::Time32(u) | ArrowType::Time64(u) => LogicalType::Time(unit_precision(u)),
            ArrowType::Timestamp(u, None) => LogicalType::Timestamp(unit_precision(u)),
            ArrowType::Timestamp(u, Some(_)) => LogicalType::TimestampLtz(unit_precision(u)),
            ArrowType::List(f) | ArrowType::LargeList(f) => {
                LogicalType::Array(Box::new(field_type(f)?))
            }
            ArrowType::Map(f, _) => match f.data_type() {
                ArrowType::Struct(kv) if kv.len() == 2 => {
                    LogicalType::Map(Box::new(field_type(&kv[0])?), Box::new(field_type(&kv[1])?))
                }
                other => {
                    return Err(Error::InvalidType {
                        input: format!("{other}"),
                        reason: "map entries must be a struct of key and value".into(),
                    })
                }
            },
            ArrowType::Struct(fields) => LogicalType::Row(
                fields
                    .iter()
                    .map(|f| {
                        Ok(RowField {
                            name: f.name().clone(),
                            data_type: field_type(f)?,
                            description: None,
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
            other => {
                return Err(Error::InvalidType {
                    input: format!("{other}"),
                    reason: "this Arrow type has no Flink equivalent".into(),
                })
            }
        };
        Ok(DataType::new(l))
    }
}

/// Whether values of type `from` can be cast to `to` (as Flink's explicit CAST allows): within a
/// family (numbers, character strings, binary strings, timestamps and dates), anything to a string,
/// strings to any non-nested type, and nested types to the same kind of nested type.
pub fn castable(from: &DataType, to: &DataType) -> bool {
    use LogicalType as L;
    let family = |l: &L| -> u8 {
        match l {
            L::Boolean => 1,
            L::TinyInt
            | L::SmallInt
            | L::Int
            | L::BigInt
            | L::Float
            | L::Double
            | L::Decimal { .. } => 2,
            L::Char(_) | L::VarChar(_) => 3,
            L::Binary(_) | L::VarBinary(_) => 4,
            L::Date | L::Timestamp(_) | L::TimestampLtz(_) => 5,
            L::Time(_) => 6,
            L::Array(_) => 7,
            L::Map(..) => 8,
            L::Multiset(_) => 9,
            L::Row(_) => 10,
        }
    };
    let (f, t) = (family(&from.logical), family(&to.logical));
    f == t || t == 3 || (f == 3 && t < 7) || (f == 2 && t == 1) || (f == 1 && t == 2)
}

fn field_type(f: &Field) -> Result<DataType> {
    Ok(DataType::from_arrow(f.data_type())?.with_nullable(f.is_nullable()))
}

fn unit_precision(u: &TimeUnit) -> u8 {
    match u {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    }
}

/// The Arrow time unit for a fractional-second precision, as Flink's Arrow bridge chooses it.
pub fn precision_unit(precision: u8) -> TimeUnit {
    match precision {
        0 => TimeUnit::Second,
        1..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

impl LogicalType {
    /// The Arrow type that carries values of this type.
    pub fn to_arrow(&self) -> ArrowType {
        match self {
            LogicalType::Boolean => ArrowType::Boolean,
            LogicalType::TinyInt => ArrowType::Int8,
            LogicalType::SmallInt => ArrowType::Int16,
            LogicalType::Int => ArrowType::Int32,
            LogicalType::BigInt => ArrowType::Int64,
            LogicalType::Float => ArrowType::Float32,
            LogicalType::Double => ArrowType::Float64,
            LogicalType::Decimal { precision, scale } => {
                ArrowType::Decimal128(*precision, *scale as i8)
            }
            LogicalType::Char(_) | LogicalType::VarChar(_) => ArrowType::Utf8,
            LogicalType::Binary(_) | LogicalType::VarBinary(_) => ArrowType::Binary,
            LogicalType::Date => ArrowType::Date32,
            LogicalType::Time(p) => match precision_unit(*p) {
                u @ (TimeUnit::Second | TimeUnit::Millisecond) => ArrowType::Time32(u),
                u => ArrowType::Time64(u),
            },
            LogicalType::Timestamp(p) | LogicalType::TimestampLtz(p) => {
                ArrowType::Timestamp(precision_unit(*p), None)
            }
            LogicalType::Array(e) => {
                ArrowType::List(Arc::new(Field::new("element", e.to_arrow(), e.nullable)))
            }
            LogicalType::Map(k, v) => map_type(k.to_arrow_field("key"), v.to_arrow_field("value")),
            LogicalType::Multiset(e) => map_type(
                e.to_arrow_field("key"),
                Field::new("value", ArrowType::Int32, false),
            ),
            LogicalType::Row(fields) => ArrowType::Struct(Fields::from(
                fields
                    .iter()
                    .map(|f| f.data_type.to_arrow_field(&f.name))
                    .collect::<Vec<_>>(),
            )),
        }
    }
}

fn map_type(key: Field, value: Field) -> ArrowType {
    let key = key.with_nullable(false);
    ArrowType::Map(
        Arc::new(Field::new(
            "entries",
            ArrowType::Struct(Fields::from(vec![key, value])),
            false,
        )),
        false,
    )
}

impl fmt::Display for LogicalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogicalType::Boolean => f.write_str("BOOLEAN"),
            LogicalType::TinyInt => f.write_str("TINYINT"),
            LogicalType::SmallInt => f.write_str("SMALLINT"),
            LogicalType::Int => f.write_str("INT"),
            LogicalType::BigInt => f.write_str("BIGINT"),
            LogicalType::Float => f.write_str("FLOAT"),
            LogicalType::Double => f.write_str("DOUBLE"),
            LogicalType::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            LogicalType::Char(n) => write!(f, "CHAR({n})"),
            LogicalType::VarChar(n) if *n == MAX_LENGTH => f.write_str("STRING"),
            LogicalType::VarChar(n) => write!(f, "VARCHAR({n})"),
            LogicalType::Binary(n) => write!(f, "BINARY({n})"),
            LogicalType::VarBinary(n) if *n == MAX_LENGTH => f.write_str("BYTES"),
            LogicalType::VarBinary(n) => write!(f, "VARBINARY({n})"),
            LogicalType::Date => f.write_str("DATE"),
            LogicalType::Time(p) => write!(f, "TIME({p})"),
            LogicalType::Timestamp(p) => write!(f, "TIMESTAMP({p})"),
            LogicalType::TimestampLtz(p) => write!(f, "TIMESTAMP_LTZ({p})"),
            LogicalType::Array(e) => write!(f, "ARRAY<{e}>"),
            LogicalType::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            LogicalType::Multiset(e) => write!(f, "MULTISET<{e}>"),
            LogicalType::Row(fields) => {
                f.write_str("ROW<")?;
                for (i, fld) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{}` {}", fld.name.replace('`', "``"), fld.data_type)?;
                    if let Some(d) = &fld.description {
                        write!(f, " '{}'", d.replace('\'', "''"))?;
                    }
                }
                f.write_str(">")
            }
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.logical)?;
        if !self.nullable {
            f.write_str(" NOT NULL")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for DataType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        DataType::parse(s)
    }
}

type PResult<T> = std::result::Result<T, sqlparser::parser::ParserError>;

fn perr<T>(msg: impl Into<String>) -> PResult<T> {
    Err(sqlparser::parser::ParserError::ParserError(msg.into()))
}

/// Parse a Flink data type at the parser's position. `pending_gt` counts a `>` already consumed as
/// part of a `>>` token, so nested `ARRAY<ARRAY<INT>>` closes correctly.
pub fn parse_data_type(parser: &mut Parser<'_>, pending_gt: &mut usize) -> PResult<DataType> {
    let tok = parser.next_token();
    let name = match &tok.token {
        Token::Word(w) => w.value.to_ascii_uppercase(),
        other => return perr(format!("expected a type name, found '{other}'")),
    };
    let mut logical = match name.as_str() {
        "BOOLEAN" | "BOOL" => LogicalType::Boolean,
        "TINYINT" => LogicalType::TinyInt,
        "SMALLINT" => LogicalType::SmallInt,
        "INT" | "INTEGER" => LogicalType::Int,
        "BIGINT" => LogicalType::BigInt,
        "FLOAT" | "REAL" => LogicalType::Float,
        "DOUBLE" => {
            let _ = parser.parse_keyword(sqlparser::keywords::Keyword::PRECISION);
            LogicalType::Double
        }
        "DECIMAL" | "DEC" | "NUMERIC" => {
            let (p, s) = optional_two(parser, 10, 0)?;
            if !(1..=38).contains(&p) {
                return perr(format!(
                    "DECIMAL precision must be between 1 and 38, got {p}"
                ));
            }
            if s > p {
                return perr(format!(
                    "DECIMAL scale must be between 0 and the precision {p}, got {s}"
                ));
            }
            LogicalType::Decimal {
                precision: p as u8,
                scale: s as u8,
            }
        }
        "CHAR" | "CHARACTER" => {
            if parser.parse_keyword(sqlparser::keywords::Keyword::VARYING) {
                LogicalType::VarChar(length(parser, 1)?)
            } else {
                LogicalType::Char(length(parser, 1)?)
            }
        }
        "VARCHAR" => LogicalType::VarChar(length(parser, 1)?),
        "STRING" => LogicalType::VarChar(MAX_LENGTH),
        "BINARY" => LogicalType::Binary(length(parser, 1)?),
        "VARBINARY" => LogicalType::VarBinary(length(parser, 1)?),
        "BYTES" => LogicalType::VarBinary(MAX_LENGTH),
        "DATE" => LogicalType::Date,
        "TIME" => {
            let p = precision(parser, 0)?;
            skip_without_time_zone(parser);
            LogicalType::Time(p)
        }
        "TIMESTAMP" => {
            let p = precision(parser, 6)?;
            use sqlparser::keywords::Keyword::{LOCAL, TIME, WITH, ZONE};
            if parser.parse_keywords(&[WITH, LOCAL, TIME, ZONE]) {
                LogicalType::TimestampLtz(p)
            } else if parser.parse_keywords(&[WITH, TIME, ZONE]) {
                return perr(
                    "TIMESTAMP WITH TIME ZONE is not supported by Flink; use TIMESTAMP_LTZ",
                );
            } else {
                skip_without_time_zone(parser);
                LogicalType::Timestamp(p)
            }
        }
        "TIMESTAMP_LTZ" => LogicalType::TimestampLtz(precision(parser, 6)?),
        "ARRAY" => {
            open_angle(parser)?;
            let e = parse_data_type(parser, pending_gt)?;
            close_angle(parser, pending_gt)?;
            LogicalType::Array(Box::new(e))
        }
        "MULTISET" => {
            open_angle(parser)?;
            let e = parse_data_type(parser, pending_gt)?;
            close_angle(parser, pending_gt)?;
            LogicalType::Multiset(Box::new(e))
        }
        "MAP" => {
            open_angle(parser)?;
            let k = parse_data_type(parser, pending_gt)?;
            if *pending_gt > 0 || !parser.consume_token(&Token::Comma) {
                return perr("MAP needs a key and a value type: MAP<key, value>");
            }
            let v = parse_data_type(parser, pending_gt)?;
            close_angle(parser, pending_gt)?;
            LogicalType::Map(Box::new(k), Box::new(v))
        }
        "ROW" => {
            let angle = if parser.consume_token(&Token::Lt) {
                true
            } else if parser.consume_token(&Token::LParen) {
                false
            } else {
                return perr("ROW needs fields: ROW<name type, ...>");
            };
            let mut fields = Vec::new();
            let empty = if angle {
                parser.consume_token(&Token::Gt)
            } else {
                parser.consume_token(&Token::RParen)
            };
            if !empty {
                loop {
                    let fname = parser.parse_identifier()?.value;
                    let ftype = parse_data_type(parser, pending_gt)?;
                    let description = match parser.peek_token().token {
                        Token::SingleQuotedString(_) if *pending_gt == 0 => {
                            Some(parser.parse_literal_string()?)
                        }
                        _ => None,
                    };
                    if fields.iter().any(|f: &RowField| f.name == fname) {
                        return perr(format!("duplicate ROW field name '{fname}'"));
                    }
                    fields.push(RowField {
                        name: fname,
                        data_type: ftype,
                        description,
                    });
                    if *pending_gt > 0 || !parser.consume_token(&Token::Comma) {
                        break;
                    }
                }
                if angle {
                    close_angle(parser, pending_gt)?;
                } else {
                    parser.expect_token(&Token::RParen)?;
                }
            }
            LogicalType::Row(fields)
        }
        other => return perr(format!("unknown type '{other}'")),
    };
    let mut nullable = true;
    if *pending_gt == 0 {
        loop {
            use sqlparser::keywords::Keyword::{ARRAY, MULTISET, NOT, NULL};
            if parser.parse_keywords(&[NOT, NULL]) {
                nullable = false;
            } else if parser.parse_keyword(NULL) {
                nullable = true;
            } else if parser.parse_keyword(ARRAY) {
                logical = LogicalType::Array(Box::new(DataType { logical, nullable }));
                nullable = true;
            } else if parser.parse_keyword(MULTISET) {
                logical = LogicalType::Multiset(Box::new(DataType { logical, nullable }));
                nullable = true;
            } else {
                break;
            }
        }
    }
    Ok(DataType { logical, nullable })
}

fn skip_without_time_zone(parser: &mut Parser<'_>) {
    use sqlparser::keywords::Keyword::{TIME, WITHOUT, ZONE};
    let _ = parser.parse_keywords(&[WITHOUT, TIME, ZONE]);
}

fn open_angle(parser: &mut Parser<'_>) -> PResult<()> {
    if parser.consume_token(&Token::Lt) {
        Ok(())
    } else {
        perr(format!(
            "expected '<', found '{}'",
            parser.peek_token().token
        ))
    }
}

fn close_angle(parser: &mut Parser<'_>, pending_gt: &mut usize) -> PResult<()> {
    if *pending_gt > 0 {
        *pending_gt -= 1;
        return Ok(());
    }
    let t = parser.next_token();
    match t.token {
        Token::Gt => Ok(()),
        Token::ShiftRight => {
            *pending_gt += 1;
            Ok(())
        }
        other => perr(format!("expected '>', found '{other}'")),
    }
}

fn paren_numbers(parser: &mut Parser<'_>) -> PResult<Vec<u64>> {
    if !parser.consume_token(&Token::LParen) {
        return Ok(vec![]);
    }
    let nums = parser.parse_comma_separated(|p| p.parse_literal_uint())?;
    parser.expect_token(&Token::RParen)?;
    Ok(nums)
}

fn optional_two(parser: &mut Parser<'_>, dp: u64, ds: u64) -> PResult<(u64, u64)> {
    let n = paren_numbers(parser)?;
    match n.as_slice() {
        [] => Ok((dp, ds)),
        [p] => Ok((*p, 0)),
        [p, s] => Ok((*p, *s)),
        _ => perr("expected at most two numbers: (precision, scale)"),
    }
}

fn length(parser: &mut Parser<'_>, default: u32) -> PResult<u32> {
    match paren_numbers(parser)?.as_slice() {
        [] => Ok(default),
        [n] if *n >= 1 && *n <= MAX_LENGTH as u64 => Ok(*n as u32),
        [n] => perr(format!(
            "length must be between 1 and {MAX_LENGTH}, got {n}"
        )),
        _ => perr("expected one length"),
    }
}

fn precision(parser: &mut Parser<'_>, default: u8) -> PResult<u8> {
    match paren_numbers(parser)?.as_slice() {
        [] => Ok(default),
        [n] if *n <= 9 => Ok(*n as u8),
        [n] => perr(format!("precision must be between 0 and 9, got {n}")),
        _ => perr("expected one precision"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(s: &str) -> String {
        DataType::parse(s).unwrap().to_string()
    }

    #[test]
    fn primitives() {
        assert_eq!(rt("int"), "INT");
        assert_eq!(rt("INTEGER NOT NULL"), "INT NOT NULL");
        assert_eq!(rt("STRING"), "STRING");
        assert_eq!(rt("VARCHAR(10)"), "VARCHAR(10)");
        assert_eq!(rt("varchar"), "VARCHAR(1)");
        assert_eq!(rt("BYTES"), "BYTES");
        assert_eq!(rt("DECIMAL"), "DECIMAL(10, 0)");
        assert_eq!(rt("DECIMAL(38, 18)"), "DECIMAL(38, 18)");
        assert_eq!(rt("TIMESTAMP"), "TIMESTAMP(6)");
        assert_eq!(rt("TIMESTAMP(3) WITH LOCAL TIME ZONE"), "TIMESTAMP_LTZ(3)");
        assert_eq!(rt("TIMESTAMP(3) WITHOUT TIME ZONE"), "TIMESTAMP(3)");
        assert_eq!(rt("TIME"), "TIME(0)");
        assert_eq!(rt("DOUBLE PRECISION"), "DOUBLE");
    }

    #[test]
    fn nested() {
        assert_eq!(rt("ARRAY<ARRAY<INT>>"), "ARRAY<ARRAY<INT>>");
        assert_eq!(
            rt("MAP<STRING, ARRAY<MAP<INT, BIGINT NOT NULL>>>"),
            "MAP<STRING, ARRAY<MAP<INT, BIGINT NOT NULL>>>"
        );
        assert_eq!(
            rt("ROW<a INT NOT NULL, b ROW<c STRING 'desc'>>"),
            "ROW<`a` INT NOT NULL, `b` ROW<`c` STRING 'desc'>>"
        );
        assert_eq!(rt("ROW(a INT, b STRING)"), "ROW<`a` INT, `b` STRING>");
        assert_eq!(rt("MULTISET<STRING> NOT NULL"), "MULTISET<STRING> NOT NULL");
        assert_eq!(rt("INT ARRAY"), "ARRAY<INT>");
    }

    #[test]
    fn errors() {
        for bad in [
            "DECIMAL(39, 2)",
            "DECIMAL(5, 6)",
            "TIMESTAMP(10)",
            "FOO",
            "ARRAY<INT",
            "MAP<INT>",
            "INT INT",
            "VARCHAR(0)",
            "ROW<a INT, a STRING>",
            "TIMESTAMP WITH TIME ZONE",
        ] {
            let e = DataType::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn arrow_mapping() {
        let t = |s: &str| DataType::parse(s).unwrap().to_arrow();
        assert_eq!(
            t("TIMESTAMP(3)"),
            ArrowType::Timestamp(TimeUnit::Millisecond, None)
        );
        assert_eq!(
            t("TIMESTAMP_LTZ(9)"),
            ArrowType::Timestamp(TimeUnit::Nanosecond, None)
        );
        assert_eq!(t("TIME(0)"), ArrowType::Time32(TimeUnit::Second));
        assert_eq!(t("TIME(6)"), ArrowType::Time64(TimeUnit::Microsecond));
        assert_eq!(t("DECIMAL(12, 3)"), ArrowType::Decimal128(12, 3));
        assert_eq!(t("CHAR(3)"), ArrowType::Utf8);
        assert!(matches!(t("MAP<STRING, INT>"), ArrowType::Map(_, false)));
        let ltz = DataType::parse("TIMESTAMP_LTZ(3) NOT NULL").unwrap();
        let f = ltz.to_arrow_field("ts");
        assert_eq!(DataType::from_arrow_field(&f).unwrap(), ltz);
        let plain = DataType::parse("TIMESTAMP(3)")
            .unwrap()
            .to_arrow_field("ts");
        assert!(plain.metadata().is_empty());
        let back = DataType::from_arrow(&t("ROW<a INT, b ARRAY<STRING>>")).unwrap();
        assert_eq!(back.to_string(), "ROW<`a` INT, `b` ARRAY<STRING>>");
    }

    #[test]
    fn multiset_survives_the_arrow_field() {
        // In Arrow a multiset is a map to INT NOT NULL counts: only the metadata tells them apart.
        for ty in ["MULTISET<STRING>", "MULTISET<INT> NOT NULL"] {
            let d = DataType::parse(ty).unwrap();
            let f = d.to_arrow_field("ms");
            assert_eq!(DataType::from_arrow_field(&f).unwrap(), d, "{ty}");
        }
        let f = DataType::parse("MULTISET<STRING>")
            .unwrap()
            .to_arrow_field("ms");
        assert_eq!(
            f.metadata()
                .get(FLINK_TYPE_METADATA_KEY)
                .map(String::as_str),
            Some("MULTISET<STRING>")
        );
        let map = DataType::parse("MAP<STRING, INT NOT NULL>")
            .unwrap()
            .to_arrow_field("m");
        assert!(map.metadata().is_empty());
        // (Arrow map keys are never NULL.)
        assert_eq!(
            DataType::from_arrow_field(&map).unwrap().to_string(),
            "MAP<STRING NOT NULL, INT NOT NULL>"
        );
    }
}
