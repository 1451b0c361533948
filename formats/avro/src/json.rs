//! Avro's JSON encoding of a datum (`avro.encoding` = `json`), as the Avro specification
//! defines it: records and maps as objects, unions as `null` or `{"<branch type>": value}`,
//! bytes as strings whose code points are the byte values.

use std::collections::HashMap;

use apache_avro::schema::{Schema, UnionSchema};
use apache_avro::types::Value;
use apache_avro::Decimal;
use serde_json::{Map, Number, Value as Json};

type R<T> = Result<T, String>;

fn bytes_to_json(b: &[u8]) -> Json {
    Json::String(b.iter().map(|&c| c as char).collect())
}

fn json_to_bytes(s: &str) -> R<Vec<u8>> {
    s.chars()
        .map(|c| {
            u8::try_from(c as u32).map_err(|_| format!("'{c}' is not a byte in a bytes string"))
        })
        .collect()
}

/// The type name a union branch is written under.
fn branch_name(s: &Schema) -> String {
    match s {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int | Schema::Date | Schema::TimeMillis => "int".into(),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes | Schema::BigDecimal => "bytes".into(),
        Schema::Decimal(d) => branch_name(&d.inner),
        Schema::String | Schema::Uuid => "string".into(),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        Schema::Record(r) => r.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(f) => f.name.fullname(None),
        other => format!("{:?}", apache_avro::schema::SchemaKind::from(other)).to_lowercase(),
    }
}

fn to_json(s: &Schema, v: &Value) -> R<Json> {
    let num = |n: Option<Number>| n.map(Json::Number).ok_or("not a finite number".to_string());
    Ok(match (s, v) {
        (Schema::Union(u), Value::Union(i, inner)) => {
            let b = u
                .variants()
                .get(*i as usize)
                .ok_or_else(|| format!("union branch {i} does not exist"))?;
            if matches!(b, Schema::Null) {
                Json::Null
            } else {
                let mut m = Map::new();
                m.insert(branch_name(b), to_json(b, inner)?);
                Json::Object(m)
            }
        }
        (_, Value::Null) => Json::Null,
        (_, Value::Boolean(b)) => Json::Bool(*b),
        (_, Value::Int(x) | Value::Date(x) | Value::TimeMillis(x)) => Json::from(*x),
        (
            _,
            Value::Long(x)
            | Value::TimeMicros(x)
            | Value::TimestampMillis(x)
            | Value::TimestampMicros(x)
            | Value::TimestampNanos(x)
            | Value::LocalTimestampMillis(x)
            | Value::LocalTimestampMicros(x)
            | Value::LocalTimestampNanos(x),
        ) => Json::from(*x),
        (_, Value::Float(x)) => num(Number::from_f64(*x as f64))?,
        (_, Value::Double(x)) => num(Number::from_f64(*x))?,
        (_, Value::String(x)) => Json::String(x.clone()),
        (_, Value::Bytes(b) | Value::Fixed(_, b)) => bytes_to_json(b),
        (_, Value::Decimal(d)) => {
            bytes_to_json(&<Vec<u8>>::try_from(d).map_err(|e| e.to_string())?)
        }
        (Schema::Array(a), Value::Array(xs)) => {
            Json::Array(xs.iter().map(|x| to_json(&a.items, x)).collect::<R<_>>()?)
        }
        (Schema::Map(m), Value::Map(h)) => {
            let mut keys: Vec<_> = h.keys().collect();
            keys.sort();
            let mut o = Map::new();
            for k in keys {
                o.insert(k.clone(), to_json(&m.types, &h[k])?);
            }
            Json::Object(o)
        }
        (Schema::Record(r), Value::Record(fs)) => {
            let mut o = Map::new();
            for (f, (n, x)) in r.fields.iter().zip(fs) {
                o.insert(n.clone(), to_json(&f.schema, x)?);
            }
            Json::Object(o)
        }
        (s, v) => return Err(format!("value {v:?} does not fit schema {s:?}")),
    })
}

/// Encode a datum in Avro's JSON encoding.
pub fn encode(schema: &Schema, v: &Value) -> R<Vec<u8>> {
    serde_json::to_vec(&to_json(schema, v)?).map_err(|e| e.to_string())
}

fn from_json(s: &Schema, j: &Json, path: &str) -> R<Value> {
    let bad = |what: &str| format!("field '{path}': expected {what}, found {j}");
    let int = || -> R<i32> {
        j.as_i64()
            .and_then(|x| i32::try_from(x).ok())
            .ok_or_else(|| bad("an int"))
    };
    let long = || j.as_i64().ok_or_else(|| bad("a long"));
    Ok(match s {
        Schema::Null => {
            if !j.is_null() {
                return Err(bad("null"));
            }
            Value::Null
        }
        Schema::Boolean => Value::Boolean(j.as_bool().ok_or_else(|| bad("a boolean"))?),
        Schema::Int => Value::Int(int()?),
        Schema::Date => Value::Date(int()?),
        Schema::TimeMillis => Value::TimeMillis(int()?),
        Schema::Long => Value::Long(long()?),
        Schema::TimeMicros => Value::TimeMicros(long()?),
        Schema::TimestampMillis => Value::TimestampMillis(long()?),
        Schema::TimestampMicros => Value::TimestampMicros(long()?),
        Schema::TimestampNanos => Value::TimestampNanos(long()?),
        Schema::LocalTimestampMillis => Value::LocalTimestampMillis(long()?),
        Schema::LocalTimestampMicros => Value::LocalTimestampMicros(long()?),
        Schema::LocalTimestampNanos => Value::LocalTimestampNanos(long()?),
        Schema::Float => Value::Float(j.as_f64().ok_or_else(|| bad("a float"))? as f32),
        Schema::Double => Value::Double(j.as_f64().ok_or_else(|| bad("a double"))?),
        Schema::String => Value::String(j.as_str().ok_or_else(|| bad("a string"))?.to_string()),
        Schema::Bytes => Value::Bytes(json_to_bytes(j.as_str().ok_or_else(|| bad("bytes"))?)?),
        Schema::Decimal(_) => Value::Decimal(Decimal::from(json_to_bytes(
            j.as_str().ok_or_else(|| bad("decimal bytes"))?,
        )?)),
        Schema::Array(a) => Value::Array(
            j.as_array()
                .ok_or_else(|| bad("an array"))?
                .iter()
                .map(|x| from_json(&a.items, x, &format!("{path}[]")))
                .collect::<R<_>>()?,
        ),
        Schema::Map(m) => Value::Map(
            j.as_object()
                .ok_or_else(|| bad("an object"))?
                .iter()
                .map(|(k, x)| Ok((k.clone(), from_json(&m.types, x, &format!("{path}{{}}"))?)))
                .collect::<R<HashMap<_, _>>>()?,
        ),
        Schema::Union(u) => union_from_json(u, j, path)?,
        Schema::Record(r) => {
            let o = j.as_object().ok_or_else(|| bad("an object"))?;
            let mut fs = Vec::with_capacity(r.fields.len());
            for f in &r.fields {
                let p = if path.is_empty() {
                    f.name.clone()
                } else {
                    format!("{path}.{}", f.name)
                };
                let x = match o.get(&f.name) {
                    Some(x) => from_json(&f.schema, x, &p)?,
                    None if matches!(&f.schema, Schema::Union(u) if u.is_nullable()) => {
                        Value::Union(0, Box::new(Value::Null))
                    }
                    None => return Err(format!("field '{p}' is missing")),
                };
                fs.push((f.name.clone(), x));
            }
            Value::Record(fs)
        }
        other => return Err(format!("field '{path}': schema {other:?} is not supported")),
    })
}

fn union_from_json(u: &UnionSchema, j: &Json, path: &str) -> R<Value> {
    if j.is_null() {
        let i = u
            .variants()
            .iter()
            .position(|b| matches!(b, Schema::Null))
            .ok_or_else(|| format!("field '{path}' is null but its union has no null branch"))?;
        return Ok(Value::Union(i as u32, Box::new(Value::Null)));
    }
    let o = j.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
        format!("field '{path}': a union value must be {{\"<type>\": value}}, found {j}")
    })?;
    let (name, x) = o
        .iter()
        .next()
        .ok_or_else(|| format!("field '{path}': empty union object"))?;
    let (i, b) = u
        .variants()
        .iter()
        .enumerate()
        .find(|(_, b)| branch_name(b) == *name || branch_name(b).rsplit('.').next() == Some(name))
        .ok_or_else(|| format!("field '{path}': the union has no branch '{name}'"))?;
    Ok(Value::Union(i as u32, Box::new(from_json(b, x, path)?)))
}

/// Decode a datum in Avro's JSON encoding.
pub fn decode(schema: &Schema, record: &[u8]) -> R<Value> {
    let j: Json = serde_json::from_slice(record).map_err(|e| format!("not valid JSON: {e}"))?;
    from_json(schema, &j, "")
}
