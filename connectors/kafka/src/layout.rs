//! Which table columns live in the message key, which in the value, and which are metadata.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use headrace_sdk::schema::{ColumnKind, TableSchema};
use headrace_sdk::{Error, Result};

use crate::options::ValueFieldsInclude;

/// The metadata keys of the Kafka connectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// `topic`
    Topic,
    /// `partition`
    Partition,
    /// `headers`
    Headers,
    /// `leader-epoch`
    LeaderEpoch,
    /// `offset`
    Offset,
    /// `timestamp`
    Timestamp,
    /// `timestamp-type`
    TimestampType,
}

impl MetaKey {
    /// From the key as written in `METADATA FROM '...'`.
    pub fn parse(key: &str) -> Option<MetaKey> {
        Some(match key {
            "topic" => MetaKey::Topic,
            "partition" => MetaKey::Partition,
            "headers" => MetaKey::Headers,
            "leader-epoch" => MetaKey::LeaderEpoch,
            "offset" => MetaKey::Offset,
            "timestamp" => MetaKey::Timestamp,
            "timestamp-type" => MetaKey::TimestampType,
            _ => return None,
        })
    }
}

/// Which columns make the message key, and whether the value repeats them.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec<'a> {
    /// Table column names of the key fields (with the prefix).
    pub fields: &'a [String],
    /// `key.fields-prefix`.
    pub prefix: Option<&'a str>,
    /// `value.fields-include`.
    pub include: ValueFieldsInclude,
}

/// Where an output column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnSource {
    /// Column `i` of the decoded key.
    Key(usize),
    /// Column `i` of the decoded value.
    Value(usize),
    /// Connector metadata.
    Meta(MetaKey),
    /// Metadata of the value format (`value.<key>`): column `position` after the value columns
    /// of the decoded value batch.
    FormatMeta(usize),
}

/// The mapping between a table's columns and Kafka messages.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Schema of the key format's rows (names without `key.fields-prefix`), if there is a key.
    pub key_schema: Option<SchemaRef>,
    /// Schema of the value format's rows.
    pub value_schema: SchemaRef,
    /// Table column index of each key field.
    pub key_columns: Vec<usize>,
    /// Table column index of each value field.
    pub value_columns: Vec<usize>,
    /// For each produced (source) or consumed (sink) column, where it comes from / goes.
    pub columns: Vec<ColumnSource>,
    /// The produced (source) or consumed (sink) Arrow schema.
    pub schema: SchemaRef,
}

impl Layout {
    /// Work out the layout. Key field names are table column names (with the prefix);
    /// `for_sink` selects the consumed schema (persisted metadata only) instead of the produced one.
    pub fn new(
        context: &str,
        schema: &TableSchema,
        keys: &KeySpec<'_>,
        for_sink: bool,
        upsert: bool,
        format_keys: &[String],
    ) -> Result<Layout> {
        let (key_fields, prefix, include) = (keys.fields, keys.prefix, keys.include);
        let physical: Vec<(usize, &headrace_sdk::schema::Column)> = schema
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_physical())
            .collect();
        let mut key_columns = Vec::new();
        let mut key_fields_out = Vec::new();
        for k in key_fields {
            let Some((i, c)) = physical.iter().find(|(_, c)| &c.name == k) else {
                let names: Vec<&str> = physical.iter().map(|(_, c)| c.name.as_str()).collect();
                return Err(Error::user(format!(
                    "{context}: key field '{k}' is not a physical column of the table.{} Physical columns: {}",
                    headrace_sdk::error::did_you_mean(k, names.iter().copied()),
                    names.join(", ")
                )));
            };
            let name = match prefix {
                Some(p) => c.name.strip_prefix(p).ok_or_else(|| {
                    Error::user(format!(
                        "{context}: key column '{}' must start with the 'key.fields-prefix' '{p}'",
                        c.name
                    ))
                })?,
                None => c.name.as_str(),
            };
            key_columns.push(*i);
            key_fields_out.push(c.data_type.to_arrow_field(name));
        }
        if prefix.is_some() && include == ValueFieldsInclude::All {
            return Err(Error::user(format!(
                "{context}: 'key.fields-prefix' needs 'value.fields-include' = 'EXCEPT_KEY' \
                 (otherwise the value would hold the prefixed names)"
            )));
        }
        let mut value_columns = Vec::new();
        let mut value_fields = Vec::new();
        for (i, c) in &physical {
            if include == ValueFieldsInclude::ExceptKey && key_columns.contains(i) {
                continue;
            }
            value_columns.push(*i);
            let f = c.data_type.to_arrow_field(&c.name);
            value_fields.push(if upsert { f.with_nullable(true) } else { f });
        }
        let mut columns = Vec::new();
        let mut out_fields: Vec<Field> = Vec::new();
        // Physical columns first, then metadata columns, as the SDK's produced/consumed schemas.
        let ordered = schema
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_physical())
            .chain(
                schema
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c.kind, ColumnKind::Metadata { .. })),
            );
        for (i, c) in ordered {
            match &c.kind {
                ColumnKind::Physical => {
                    let src = if let Some(v) = value_columns.iter().position(|x| *x == i) {
                        ColumnSource::Value(v)
                    } else if let Some(k) = key_columns.iter().position(|x| *x == i) {
                        ColumnSource::Key(k)
                    } else {
                        return Err(Error::internal(format!(
                            "{context}: column '{}' is neither in the key nor in the value",
                            c.name
                        )));
                    };
                    let f = c.data_type.to_arrow_field(&c.name);
                    let f = if upsert && !key_columns.contains(&i) {
                        f.with_nullable(true)
                    } else {
                        f
                    };
                    columns.push(src);
                    out_fields.push(f);
                }
                ColumnKind::Metadata { is_virtual, .. } => {
                    if for_sink && *is_virtual {
                        continue;
                    }
                    let key = c.metadata_key().unwrap_or(&c.name);
                    if let Some(pos) = key
                        .strip_prefix("value.")
                        .and_then(|k| format_keys.iter().position(|f| f == k))
                        .filter(|_| MetaKey::parse(key).is_none())
                    {
                        columns.push(ColumnSource::FormatMeta(pos));
                        out_fields.push(c.data_type.to_arrow_field(&c.name));
                        continue;
                    }
                    let Some(m) = MetaKey::parse(key) else {
                        return Err(Error::user(format!(
                            "{context}: metadata key '{key}' (column '{}') is not offered by the Kafka connector",
                            c.name
                        )));
                    };
                    columns.push(ColumnSource::Meta(m));
                    out_fields.push(c.data_type.to_arrow_field(&c.name));
                }
                ColumnKind::Computed { .. } => {}
            }
        }
        Ok(Layout {
            key_schema: if key_columns.is_empty() {
                None
            } else {
                Some(Arc::new(Schema::new(key_fields_out)))
            },
            value_schema: Arc::new(Schema::new(value_fields)),
            key_columns,
            value_columns,
            columns,
            schema: Arc::new(Schema::new(out_fields)),
        })
    }
}
