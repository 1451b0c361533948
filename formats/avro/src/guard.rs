//! A bounds check of one Avro datum before `apache-avro` decodes it into `Value`s.
//!
//! `apache-avro` 0.21 trusts the counts it reads: an array or map block announcing 67 million
//! items makes it reserve room for them (`items.reserve(len)`) before reading any, gigabytes for
//! a record of a few bytes, and a failed allocation aborts the process. [`check_datum`] walks
//! the datum as the writer schema lays it out, without allocating per value, and refuses it
//! when a count cannot be true:
//!
//! - every item of an array or map takes at least one byte, unless its type encodes to no bytes
//!   at all (`null`, a record of such fields, `fixed` of size 0); so a block's count may not
//!   exceed the bytes left;
//! - items of such empty types cost nothing to encode, so their total in one datum is capped at
//!   [`MAX_EMPTY_ITEMS`];
//! - lengths of `bytes` and `string` values may not exceed the bytes left;
//! - schemas that refer to themselves nest at most [`MAX_DEPTH`] levels (each level is a
//!   recursion in `apache-avro`).
//!
//! The walk also stops at the first value that cannot be read (truncated input, a union or enum
//! index out of range), which `apache-avro` would refuse as well.

use std::collections::HashMap;

use apache_avro::schema::{Name, Namespace, ResolvedSchema, Schema};

/// The most items of types that encode to no bytes one datum may hold.
pub const MAX_EMPTY_ITEMS: u64 = 1 << 20;

/// The deepest nesting of values accepted.
pub const MAX_DEPTH: usize = 256;

/// Check that `data` starts with a datum of `schema` whose counts and lengths fit in `data`
/// (see the module documentation). Bytes left over after the datum are not an error here.
pub fn check_datum(schema: &Schema, data: &[u8]) -> Result<(), String> {
    let mut w = Walker {
        root: schema,
        names: None,
        data,
        pos: 0,
        empty_items: 0,
    };
    w.walk(schema, &None, 0)
}

struct Walker<'s, 'd> {
    root: &'s Schema,
    /// The named types of `root`, resolved on the first reference.
    names: Option<HashMap<Name, &'s Schema>>,
    data: &'d [u8],
    pos: usize,
    empty_items: u64,
}

fn truncated() -> String {
    "truncated: the input ends in the middle of a value".into()
}

impl<'s> Walker<'s, '_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        if n > self.left() {
            return Err(truncated());
        }
        self.pos += n;
        Ok(())
    }

    fn long(&mut self) -> Result<i64, String> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.data.get(self.pos).ok_or_else(truncated)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((v >> 1) as i64 ^ -((v & 1) as i64));
            }
        }
        Err("a variable-length integer is longer than 10 bytes".into())
    }

    fn length(&mut self, what: &str) -> Result<usize, String> {
        let n = self.long()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.left() => Ok(n),
            Ok(n) => Err(format!(
                "a {what} of {n} bytes where only {} bytes are left",
                self.left()
            )),
            Err(_) => Err(format!("a {what} has the negative length {n}")),
        }
    }

    fn resolve(&mut self, name: &Name, ns: &Namespace) -> Result<&'s Schema, String> {
        if self.names.is_none() {
            let resolved = ResolvedSchema::try_from(self.root)
                .map_err(|e| format!("the schema's names cannot be resolved: {e}"))?;
            self.names = Some(resolved.get_names().clone());
        }
        let full = name.fully_qualified_name(ns);
        self.names
            .as_ref()
            .and_then(|n| n.get(&full).copied())
            .ok_or_else(|| {
                format!(
                    "the schema refers to an unknown type '{}'",
                    full.fullname(None)
                )
            })
    }

    /// Whether values of `schema` always encode to no bytes.
    fn is_empty_type(&mut self, schema: &'s Schema, ns: &Namespace, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match schema {
            Schema::Null => true,
            Schema::Fixed(f) => f.size == 0,
            Schema::Record(r) => {
                let inner = r.name.fully_qualified_name(ns).namespace;
                r.fields
                    .iter()
                    .all(|f| self.is_empty_type(&f.schema, &inner, depth + 1))
            }
            Schema::Ref { name } => match self.resolve(name, ns) {
                Ok(s) => {
                    let inner = name.fully_qualified_name(ns).namespace;
                    self.is_empty_type(s, &inner, depth + 1)
                }
                Err(_) => false,
            },
            _ => false,
        }
    }

    /// The items of one array or map, checking each block's count.
    fn blocks(
        &mut self,
        items: &'s Schema,
        ns: &Namespace,
        depth: usize,
        map: bool,
    ) -> Result<(), String> {
        let empty = !map && self.is_empty_type(items, ns, depth);
        loop {
            let mut count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                count = count
                    .checked_neg()
                    .ok_or_else(|| format!("a block has the count {count}"))?;
                // The block's size in bytes, which readers may use to skip it.
                self.long()?;
            }
            let what = if map { "map" } else { "array" };
            let n = count.unsigned_abs();
            if empty {
                self.empty_items = self.empty_items.saturating_add(n);
                if self.empty_items > MAX_EMPTY_ITEMS {
                    return Err(format!(
                        "an {what} block announces {n} items of a type that takes no bytes; at \
                         most {MAX_EMPTY_ITEMS} such items are read per record"
                    ));
                }
                continue;
            }
            if n > self.left() as u64 {
                return Err(format!(
                    "an {what} block announces {n} items but only {} bytes are left",
                    self.left()
                ));
            }
            for _ in 0..n {
                if map {
                    let k = self.length("map key")?;
                    self.skip(k)?;
                }
                self.walk(items, ns, depth + 1)?;
            }
        }
    }

    fn walk(&mut self, schema: &'s Schema, ns: &Namespace, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "values are nested more than {MAX_DEPTH} levels deep"
            ));
        }
        match schema {
            Schema::Null => Ok(()),
            Schema::Boolean => self.skip(1),
            Schema::Int
            | Schema::Long
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => self.long().map(|_| ()),
            Schema::Float => self.skip(4),
            Schema::Double => self.skip(8),
            Schema::Duration => self.skip(12),
            Schema::Bytes | Schema::BigDecimal | Schema::Uuid => {
                let n = self.length("bytes value")?;
                self.skip(n)
            }
            Schema::String => {
                let n = self.length("string")?;
                self.skip(n)
            }
            Schema::Fixed(f) => self.skip(f.size),
            Schema::Decimal(d) => self.walk(&d.inner, ns, depth + 1),
            Schema::Enum(e) => {
                let i = self.long()?;
                if usize::try_from(i).is_ok_and(|i| i < e.symbols.len()) {
                    Ok(())
                } else {
                    Err(format!(
                        "enum index {i} of '{}', which has {} symbols",
                        e.name.fullname(None),
                        e.symbols.len()
                    ))
                }
            }
            Schema::Union(u) => {
                let i = self.long()?;
                let v = usize::try_from(i)
                    .ok()
                    .and_then(|i| u.variants().get(i))
                    .ok_or_else(|| {
                        format!(
                            "union branch {i} of a union of {} types",
                            u.variants().len()
                        )
                    })?;
                self.walk(v, ns, depth + 1)
            }
            Schema::Array(a) => self.blocks(&a.items, ns, depth, false),
            Schema::Map(m) => self.blocks(&m.types, ns, depth, true),
            Schema::Record(r) => {
                let inner = r.name.fully_qualified_name(ns).namespace;
                for f in &r.fields {
                    self.walk(&f.schema, &inner, depth + 1)?;
                }
                Ok(())
            }
            Schema::Ref { name } => {
                let s = self.resolve(name, ns)?;
                let inner = name.fully_qualified_name(ns).namespace;
                self.walk(s, &inner, depth + 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(s: &str) -> Schema {
        Schema::parse_str(s).unwrap()
    }

    #[test]
    fn counts_must_fit_in_the_bytes_left() {
        let s = parse(r#"{"type": "array", "items": "string"}"#);
        // Two items "a", "b", end.
        assert!(check_datum(&s, &[4, 2, b'a', 2, b'b', 0]).is_ok());
        // 67,108,864 items announced in a few bytes.
        let e = check_datum(&s, &[0x80, 0x80, 0x80, 0x40, 2, b'a']).unwrap_err();
        assert!(e.contains("announces 67108864 items"), "{e}");
        // A negative count with a block size.
        assert!(check_datum(&s, &[3, 4, 2, b'a', 2, b'b', 0]).is_ok());
        let m = parse(r#"{"type": "map", "values": "null"}"#);
        let e = check_datum(&m, &[0xfe, 0xff, 0xff, 0xff, 0x0f, 0]).unwrap_err();
        assert!(e.contains("map block"), "{e}");
        let e = check_datum(&parse(r#""bytes""#), &[0x80, 0x01, 1, 2]).unwrap_err();
        assert!(e.contains("64 bytes"), "{e}");
    }

    #[test]
    fn empty_items_are_capped() {
        let s = parse(r#"{"type": "array", "items": "null"}"#);
        assert!(check_datum(&s, &[200, 1, 0]).is_ok(), "100 nulls");
        let e = check_datum(&s, &[0x80, 0x80, 0x80, 0x40, 0]).unwrap_err();
        assert!(e.contains("takes no bytes"), "{e}");
    }

    #[test]
    fn recursive_types_are_followed_and_bounded() {
        let s = parse(
            r#"{"type": "record", "name": "ns.node", "fields": [
                {"name": "v", "type": "int"},
                {"name": "next", "type": ["null", "node"]}]}"#,
        );
        // v=1, next=node(v=2, next=null)
        assert!(check_datum(&s, &[2, 2, 4, 0]).is_ok());
        let mut deep = Vec::new();
        for _ in 0..1000 {
            deep.extend_from_slice(&[2, 2]);
        }
        deep.extend_from_slice(&[2, 0]);
        let e = check_datum(&s, &deep).unwrap_err();
        assert!(e.contains("nested more than"), "{e}");
        let e = check_datum(&s, &[2, 6]).unwrap_err();
        assert!(e.contains("union branch 3"), "{e}");
    }
}
