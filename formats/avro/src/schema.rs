//! Avro schemas derived from table schemas, the way Flink's `AvroSchemaConverter` derives them.
//!
//! The derivation walks the Flink type of every column and builds a [`Node`] tree that both the
//! schema text and the value conversions follow, so the bytes written always match the schema.

use apache_avro::Schema;
use arrow::datatypes::SchemaRef;
use headrace_sdk::types::{DataType, LogicalType};
use serde_json::{json, Map, Value as Json};

use crate::error::AvroError;

/// The full name Flink gives the top-level record (`org.apache.flink.avro.generated.record`).
pub const DEFAULT_RECORD_NAME: &str = "org.apache.flink.avro.generated.record";

/// Time unit of an Avro timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsUnit {
    /// `*-millis`
    Millis,
    /// `*-micros`
    Micros,
    /// `*-nanos`
    Nanos,
}

/// The Avro shape of one Flink type.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `boolean`
    Boolean,
    /// `int` (TINYINT, SMALLINT, INT)
    Int,
    /// `long`
    Long,
    /// `float`
    Float,
    /// `double`
    Double,
    /// `bytes` with logical type `decimal`
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// `string` (CHAR, VARCHAR)
    String,
    /// `bytes` (BINARY, VARBINARY)
    Bytes,
    /// `int` with logical type `date`
    Date,
    /// `int` with logical type `time-millis`
    TimeMillis,
    /// `long` with logical type `timestamp-*` (`local == false`) or `local-timestamp-*`.
    Timestamp {
        /// The unit.
        unit: TsUnit,
        /// Whether the logical type is a local timestamp.
        local: bool,
    },
    /// `array`
    Array(Box<Node>),
    /// `map` with string keys (MAP, or MULTISET with int counts)
    Map(Box<Node>),
    /// `record`
    Record {
        /// Full name of the record.
        name: String,
        /// Fields in order.
        fields: Vec<(String, Node)>,
    },
}

/// One Flink type with its Avro shape and nullability.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The Avro shape.
    pub kind: Kind,
    /// Whether the schema is the union `["null", T]`.
    pub nullable: bool,
}

/// Derive the node of a Flink type: `row_name` is the record name used if the type is a ROW
/// (nested rows are named `{row_name}_{field}`), `legacy` is `avro.timestamp_mapping.legacy`.
pub fn derive(dt: &DataType, row_name: &str, legacy: bool) -> Result<Node, String> {
    let kind = match &dt.logical {
        LogicalType::Boolean => Kind::Boolean,
        LogicalType::TinyInt | LogicalType::SmallInt | LogicalType::Int => Kind::Int,
        LogicalType::BigInt => Kind::Long,
        LogicalType::Float => Kind::Float,
        LogicalType::Double => Kind::Double,
        LogicalType::Char(_) | LogicalType::VarChar(_) => Kind::String,
        LogicalType::Binary(_) | LogicalType::VarBinary(_) => Kind::Bytes,
        LogicalType::Decimal { precision, scale } => Kind::Decimal {
            precision: *precision,
            scale: *scale,
        },
        LogicalType::Date => Kind::Date,
        LogicalType::Time(p) => {
            if *p > 3 {
                return Err(format!(
                    "Avro does not support TIME({p}): Flink writes TIME as int time-millis, so \
                     the precision must be at most 3; declare the column as TIME(3)"
                ));
            }
            Kind::TimeMillis
        }
        LogicalType::Timestamp(p) => {
            if legacy {
                if *p > 3 {
                    return Err(format!(
                        "Avro does not support TIMESTAMP({p}) with the legacy timestamp mapping \
                         (precision at most 3, written as timestamp-millis); declare TIMESTAMP(3) \
                         or set 'avro.timestamp_mapping.legacy' = 'false' to write \
                         local-timestamp-micros/nanos (Flink derives ARRAY elements and MAP values \
                         with the legacy mapping in any case)"
                    ));
                }
                Kind::Timestamp {
                    unit: TsUnit::Millis,
                    local: false,
                }
            } else {
                Kind::Timestamp {
                    unit: unit(*p),
                    local: true,
                }
            }
        }
        LogicalType::TimestampLtz(p) => {
            if legacy {
                return Err(format!(
                    "Avro cannot derive a schema for TIMESTAMP_LTZ({p}) with the legacy \
                     timestamp mapping; set 'avro.timestamp_mapping.legacy' = 'false' to write \
                     it as timestamp-millis/micros/nanos (Flink derives ARRAY elements and MAP \
                     values with the legacy mapping in any case)"
                ));
            }
            Kind::Timestamp {
                unit: unit(*p),
                local: false,
            }
        }
        // Flink passes no legacy flag for elements and values: they always use the legacy mapping.
        LogicalType::Array(e) => Kind::Array(Box::new(derive(e, row_name, true)?)),
        LogicalType::Map(k, v) => {
            if !k.is_string() {
                return Err(format!(
                    "Avro maps have string keys, so the key type of {} must be STRING, CHAR or \
                     VARCHAR",
                    dt.logical
                ));
            }
            Kind::Map(Box::new(derive(v, row_name, true)?))
        }
        LogicalType::Multiset(e) => {
            if !e.is_string() {
                return Err(format!(
                    "Avro maps have string keys, so the element type of {} must be STRING, CHAR \
                     or VARCHAR",
                    dt.logical
                ));
            }
            // Flink's counts are a nullable INT.
            Kind::Map(Box::new(Node {
                kind: Kind::Int,
                nullable: true,
            }))
        }
        LogicalType::Row(fields) => Kind::Record {
            name: row_name.to_string(),
            fields: fields
                .iter()
                .map(|f| {
                    derive(&f.data_type, &format!("{row_name}_{}", f.name), legacy)
                        .map(|n| (f.name.clone(), n))
                        .map_err(|e| format!("field '{}': {e}", f.name))
                })
                .collect::<Result<_, _>>()?,
        },
    };
    Ok(Node {
        kind,
        nullable: dt.nullable,
    })
}

fn unit(p: u8) -> TsUnit {
    match p {
        0..=3 => TsUnit::Millis,
        4..=6 => TsUnit::Micros,
        _ => TsUnit::Nanos,
    }
}

/// The top-level (NOT NULL) record node of a table schema.
pub fn derive_table(schema: &SchemaRef, record_name: &str, legacy: bool) -> Result<Node, String> {
    let fields = schema
        .fields()
        .iter()
        .map(|f| {
            let dt =
                DataType::from_arrow_field(f).map_err(|e| format!("column '{}': {e}", f.name()))?;
            derive(&dt, &format!("{record_name}_{}", f.name()), legacy)
                .map(|n| (f.name().clone(), n))
                .map_err(|e| format!("column '{}': {e}", f.name()))
        })
        .collect::<Result<_, String>>()?;
    Ok(Node {
        kind: Kind::Record {
            name: record_name.to_string(),
            fields,
        },
        nullable: false,
    })
}

fn split_name(full: &str) -> (Option<&str>, &str) {
    match full.rfind('.') {
        Some(i) => (Some(&full[..i]), &full[i + 1..]),
        None => (None, full),
    }
}

impl Node {
    /// The Avro schema as JSON, written the way Avro's Java `Schema.toString()` writes it
    /// (names relative to the enclosing namespace).
    pub fn to_json(&self) -> Json {
        self.json_in(None)
    }

    fn json_in(&self, ns: Option<&str>) -> Json {
        let t = self.kind_json(ns);
        if self.nullable {
            json!(["null", t])
        } else {
            t
        }
    }

    fn kind_json(&self, ns: Option<&str>) -> Json {
        let logical = |base: &str, lt: &str| json!({"type": base, "logicalType": lt});
        match &self.kind {
            Kind::Boolean => json!("boolean"),
            Kind::Int => json!("int"),
            Kind::Long => json!("long"),
            Kind::Float => json!("float"),
            Kind::Double => json!("double"),
            Kind::String => json!("string"),
            Kind::Bytes => json!("bytes"),
            Kind::Decimal { precision, scale } => json!({
                "type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale
            }),
            Kind::Date => logical("int", "date"),
            Kind::TimeMillis => logical("int", "time-millis"),
            Kind::Timestamp { unit, local } => {
                let u = match unit {
                    TsUnit::Millis => "millis",
                    TsUnit::Micros => "micros",
                    TsUnit::Nanos => "nanos",
                };
                let prefix = if *local {
                    "local-timestamp"
                } else {
                    "timestamp"
                };
                logical("long", &format!("{prefix}-{u}"))
            }
            Kind::Array(e) => json!({"type": "array", "items": e.json_in(ns)}),
            Kind::Map(v) => json!({"type": "map", "values": v.json_in(ns)}),
            Kind::Record { name, fields } => {
                let (space, simple) = split_name(name);
                let mut o = Map::new();
                o.insert("type".into(), json!("record"));
                o.insert("name".into(), json!(simple));
                if space != ns {
                    if let Some(s) = space {
                        o.insert("namespace".into(), json!(s));
                    }
                }
                let fs: Vec<Json> = fields
                    .iter()
                    .map(|(n, f)| {
                        let mut fo = Map::new();
                        fo.insert("name".into(), json!(n));
                        fo.insert("type".into(), f.json_in(space));
                        if f.nullable {
                            fo.insert("default".into(), Json::Null);
                        }
                        Json::Object(fo)
                    })
                    .collect();
                o.insert("fields".into(), Json::Array(fs));
                Json::Object(o)
            }
        }
    }

    /// The parsed Avro schema.
    pub fn to_schema(&self) -> Result<Schema, AvroError> {
        let text = self.to_json().to_string();
        Schema::parse_str(&text).map_err(|e| AvroError::Schema(format!("{e} in {text}")))
    }
}

/// The Avro schema Flink derives for a table schema (record name [`DEFAULT_RECORD_NAME`]), as
/// JSON text.
pub fn table_schema_json(schema: &SchemaRef, legacy: bool) -> Result<String, AvroError> {
    derive_table(schema, DEFAULT_RECORD_NAME, legacy)
        .map(|n| n.to_json().to_string())
        .map_err(AvroError::Schema)
}

fn strip_names(j: &mut Json) {
    match j {
        Json::Object(o) => {
            for k in ["name", "namespace", "doc", "aliases", "default", "order"] {
                // A field or type named "name" keeps its key: only attributes are removed.
                if o.get(k)
                    .is_some_and(|v| !v.is_object() && !v.is_array() || k == "aliases")
                {
                    o.remove(k);
                }
            }
            o.values_mut().for_each(strip_names);
        }
        Json::Array(a) => a.iter_mut().for_each(strip_names),
        _ => {}
    }
}

/// Whether data written with `a` has exactly the layout and meaning of data written with `b`:
/// equal but for names, namespaces, docs, aliases and defaults (unlike Avro's Parsing Canonical
/// Form, logical types, precision and scale count).
pub fn same_layout(a: &Schema, b: &Schema) -> bool {
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(mut x), Ok(mut y)) => {
            strip_names(&mut x);
            strip_names(&mut y);
            x == y
        }
        _ => false,
    }
}

/// Whether every DECIMAL of the table (`node`) that `writer` also has (fields matched by name)
/// has the same scale there, so that a writer value can be taken as is (see
/// [`crate::rows::Buffer::push_value`]) instead of going through `apache-avro`'s resolution, whose
/// decimal checks reject values Java and Headrace write (`Precision 10 too small to hold decimal
/// values with 4 bytes` in 0.21).
pub fn decimals_agree(writer: &Schema, node: &Node) -> bool {
    match writer {
        Schema::Union(u) => u.variants().iter().all(|v| decimals_agree(v, node)),
        Schema::Decimal(d) => match &node.kind {
            Kind::Decimal { scale, .. } => d.scale == *scale as usize,
            _ => true,
        },
        Schema::Record(r) => match &node.kind {
            Kind::Record { fields, .. } => fields.iter().all(|(name, n)| {
                r.fields
                    .iter()
                    .find(|f| &f.name == name)
                    .is_none_or(|f| decimals_agree(&f.schema, n))
            }),
            _ => true,
        },
        Schema::Array(a) => match &node.kind {
            Kind::Array(e) => decimals_agree(&a.items, e),
            _ => true,
        },
        Schema::Map(m) => match &node.kind {
            Kind::Map(v) => decimals_agree(&m.types, v),
            _ => true,
        },
        _ => true,
    }
}

/// Parse an Avro schema from JSON text that may come from outside (a file header, a registry,
/// an option). apache-avro 0.21 panics on a record, enum or fixed name that breaks Avro's name
/// rule, so names are checked first: an invalid one is an error naming it.
pub fn parse_schema(text: &str) -> std::result::Result<Schema, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    check_names(&json)?;
    Schema::parse(&json).map_err(|e| e.to_string())
}

/// Whether `name` (dot-separated, as a full name may be) follows Avro's name rule.
fn valid_full_name(name: &str) -> bool {
    name.split('.').all(|part| {
        let mut chars = part.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn check_names(json: &Json) -> std::result::Result<(), String> {
    match json {
        Json::Array(items) => items.iter().try_for_each(check_names),
        Json::Object(o) => {
            let named = matches!(
                o.get("type").and_then(Json::as_str),
                Some("record" | "enum" | "fixed" | "error")
            );
            if named {
                if let Some(name) = o.get("name").and_then(Json::as_str) {
                    if !valid_full_name(name) {
                        return Err(format!(
                            "invalid schema name {name:?}: a name is letters, digits and '_', \
                             not starting with a digit (dot-separated with its namespace)"
                        ));
                    }
                }
            }
            o.values().try_for_each(check_names)
        }
        _ => Ok(()),
    }
}
