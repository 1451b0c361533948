//! Table schemas: physical, computed and metadata columns, primary key and watermark.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::types::DataType;

/// What kind of column a column is.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnKind {
    /// A column stored in the external system and read by the connector/format.
    Physical,
    /// `name AS expr`: computed from other columns by the engine.
    Computed {
        /// The SQL expression, as written.
        expr: String,
    },
    /// `name TYPE METADATA [FROM 'key'] [VIRTUAL]`: read from (and maybe written to) connector metadata.
    Metadata {
        /// The metadata key (defaults to the column name).
        key: Option<String>,
        /// Virtual metadata columns are read-only and excluded when writing.
        is_virtual: bool,
    },
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Type (for computed columns, the type the expression yields, once resolved).
    pub data_type: DataType,
    /// Kind.
    pub kind: ColumnKind,
    /// `COMMENT '...'`.
    pub comment: Option<String>,
}

impl Column {
    /// A physical column.
    pub fn physical(name: impl Into<String>, data_type: DataType) -> Self {
        Column {
            name: name.into(),
            data_type,
            kind: ColumnKind::Physical,
            comment: None,
        }
    }

    /// A metadata column reading `key` (or its own name).
    pub fn metadata(
        name: impl Into<String>,
        data_type: DataType,
        key: Option<&str>,
        is_virtual: bool,
    ) -> Self {
        Column {
            name: name.into(),
            data_type,
            kind: ColumnKind::Metadata {
                key: key.map(String::from),
                is_virtual,
            },
            comment: None,
        }
    }

    /// The metadata key of a metadata column.
    pub fn metadata_key(&self) -> Option<&str> {
        match &self.kind {
            ColumnKind::Metadata { key, .. } => Some(key.as_deref().unwrap_or(&self.name)),
            _ => None,
        }
    }

    /// Whether this is a physical column.
    pub fn is_physical(&self) -> bool {
        matches!(self.kind, ColumnKind::Physical)
    }
}

/// `WATERMARK FOR column AS expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct WatermarkSpec {
    /// The rowtime column.
    pub column: String,
    /// The watermark expression, as written.
    pub expr: String,
}

/// A table's schema as declared in DDL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableSchema {
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// `PRIMARY KEY (...) NOT ENFORCED` columns.
    pub primary_key: Vec<String>,
    /// Watermark declarations.
    pub watermarks: Vec<WatermarkSpec>,
    /// `PARTITIONED BY (...)` columns.
    pub partition_keys: Vec<String>,
}

impl TableSchema {
    /// A schema of physical columns only.
    pub fn physical(columns: impl IntoIterator<Item = (String, DataType)>) -> Self {
        TableSchema {
            columns: columns
                .into_iter()
                .map(|(n, t)| Column::physical(n, t))
                .collect(),
            ..Default::default()
        }
    }

    /// Parse a column list such as `id BIGINT NOT NULL, name STRING, off BIGINT METADATA FROM
    /// 'offset' VIRTUAL` (physical and metadata columns), optionally ending with
    /// `, PRIMARY KEY (id) NOT ENFORCED`.
    pub fn parse_columns(spec: &str) -> Result<Self> {
        let dialect = sqlparser::dialect::GenericDialect {};
        let mut p = sqlparser::parser::Parser::new(&dialect)
            .try_with_sql(spec)
            .map_err(|e| Error::Schema(e.to_string()))?;
        let mut cols = Vec::new();
        let mut primary_key = Vec::new();
        let is_kw = |p: &sqlparser::parser::Parser<'_>, w: &str| matches!(&p.peek_token().token, sqlparser::tokenizer::Token::Word(x) if x.value.eq_ignore_ascii_case(w));
        loop {
            let unquoted = |t: &sqlparser::tokenizer::Token, w: &str| matches!(t, sqlparser::tokenizer::Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
            if unquoted(&p.peek_token().token, "PRIMARY")
                && unquoted(&p.peek_nth_token(1).token, "KEY")
            {
                // `PRIMARY KEY (a, b) NOT ENFORCED`, last in the list (as Flink's bridge sends it);
                // a column named `primary` is still a column.
                p.next_token();
                p.next_token();
                let ids = p
                    .parse_parenthesized_column_list(
                        sqlparser::parser::IsOptional::Mandatory,
                        false,
                    )
                    .map_err(|e| Error::Schema(format!("PRIMARY KEY: {e}")))?;
                primary_key = ids.into_iter().map(|i| i.value).collect();
                if is_kw(&p, "NOT") {
                    p.next_token();
                    if !is_kw(&p, "ENFORCED") {
                        return Err(Error::Schema("expected ENFORCED after NOT".into()));
                    }
                    p.next_token();
                }
                break;
            }
            let name = p
                .parse_identifier()
                .map_err(|e| Error::Schema(e.to_string()))?;
            let mut pending = 0;
            let t = crate::types::parse_data_type(&mut p, &mut pending)
                .map_err(|e| Error::Schema(format!("column '{}': {e}", name.value)))?;
            let is_word = |p: &sqlparser::parser::Parser<'_>, w: &str| matches!(&p.peek_token().token, sqlparser::tokenizer::Token::Word(x) if x.value.eq_ignore_ascii_case(w));
            if is_word(&p, "METADATA") {
                p.next_token();
                let key = if is_word(&p, "FROM") {
                    p.next_token();
                    Some(
                        p.parse_literal_string()
                            .map_err(|e| Error::Schema(format!("column '{}': {e}", name.value)))?,
                    )
                } else {
                    None
                };
                let is_virtual = is_word(&p, "VIRTUAL");
                if is_virtual {
                    p.next_token();
                }
                cols.push(Column::metadata(name.value, t, key.as_deref(), is_virtual));
            } else {
                cols.push(Column::physical(name.value, t));
            }
            if !p.consume_token(&sqlparser::tokenizer::Token::Comma) {
                break;
            }
        }
        let next = p.peek_token();
        if next.token != sqlparser::tokenizer::Token::EOF {
            return Err(Error::Schema(format!(
                "unexpected '{}' in the column list",
                next.token
            )));
        }
        let schema = TableSchema {
            columns: cols,
            primary_key,
            ..Default::default()
        };
        schema.validate()?;
        Ok(schema)
    }

    /// Check names are unique and key/watermark columns exist.
    pub fn validate(&self) -> Result<()> {
        for (i, c) in self.columns.iter().enumerate() {
            if self.columns[..i].iter().any(|o| o.name == c.name) {
                return Err(Error::Schema(format!("duplicate column '{}'", c.name)));
            }
        }
        for k in &self.primary_key {
            let c = self.column(k).ok_or_else(|| {
                Error::Schema(format!(
                    "primary key column '{k}' is not a column of the table"
                ))
            })?;
            if !c.is_physical() {
                return Err(Error::Schema(format!(
                    "primary key column '{k}' must be a physical column"
                )));
            }
        }
        for w in &self.watermarks {
            if self.column(&w.column).is_none() {
                return Err(Error::Schema(format!(
                    "watermark column '{}' is not a column of the table",
                    w.column
                )));
            }
        }
        for p in &self.partition_keys {
            if self.column(p).is_none() {
                return Err(Error::Schema(format!(
                    "partition column '{p}' is not a column of the table"
                )));
            }
        }
        Ok(())
    }

    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Physical columns in order.
    pub fn physical_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.is_physical())
    }

    /// Metadata columns in order.
    pub fn metadata_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Metadata { .. }))
    }

    /// The Arrow schema of the physical columns (what a format decodes).
    pub fn physical_arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.physical_columns()
                .map(|c| c.data_type.to_arrow_field(&c.name))
                .collect::<Vec<_>>(),
        ))
    }

    /// The Arrow schema a source produces: physical columns, then metadata columns, in order.
    pub fn produced_arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.physical_columns()
                .chain(self.metadata_columns())
                .map(|c| c.data_type.to_arrow_field(&c.name))
                .collect::<Vec<_>>(),
        ))
    }

    /// The Arrow schema a sink consumes: physical columns, then persisted (non-virtual) metadata.
    pub fn consumed_arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.physical_columns()
                .chain(self.metadata_columns().filter(|c| {
                    matches!(
                        c.kind,
                        ColumnKind::Metadata {
                            is_virtual: false,
                            ..
                        }
                    )
                }))
                .map(|c| c.data_type.to_arrow_field(&c.name))
                .collect::<Vec<_>>(),
        ))
    }

    /// Indices (within the physical columns) of the primary key.
    pub fn primary_key_indices(&self) -> Vec<usize> {
        let phys: Vec<&str> = self.physical_columns().map(|c| c.name.as_str()).collect();
        self.primary_key
            .iter()
            .filter_map(|k| phys.iter().position(|p| p == k))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_columns_takes_a_trailing_primary_key() {
        let s = TableSchema::parse_columns(
            "`id` BIGINT NOT NULL, v STRING, PRIMARY KEY (`id`) NOT ENFORCED",
        )
        .unwrap();
        assert_eq!(s.primary_key, vec!["id".to_string()]);
        assert_eq!(s.columns.len(), 2);
        assert!(TableSchema::parse_columns("id BIGINT, PRIMARY KEY (nope)").is_err());
        assert!(TableSchema::parse_columns("id BIGINT, PRIMARY KEY (id), v STRING").is_err());
        let s = TableSchema::parse_columns("primary BOOLEAN, `primary` INT").unwrap_err();
        assert!(s.to_string().contains("duplicate column"), "{s}");
        let s = TableSchema::parse_columns("primary BOOLEAN, key INT").unwrap();
        assert_eq!(s.columns.len(), 2);
        assert!(s.primary_key.is_empty());
    }

    #[test]
    fn parse_and_validate() {
        let s = TableSchema::parse_columns(
            "id BIGINT NOT NULL, tags ARRAY<STRING>, m MAP<STRING, INT>",
        )
        .unwrap();
        assert_eq!(s.columns.len(), 3);
        assert!(!s.physical_arrow_schema().field(0).is_nullable());
        assert!(TableSchema::parse_columns("a INT, a STRING")
            .unwrap_err()
            .to_string()
            .contains("duplicate column 'a'"));
        let mut s2 = s.clone();
        s2.primary_key = vec!["nope".into()];
        assert!(s2.validate().unwrap_err().to_string().contains("'nope'"));
    }

    #[test]
    fn metadata_columns_in_column_lists() {
        let s = TableSchema::parse_columns(
            "v STRING, off BIGINT METADATA FROM 'offset' VIRTUAL, ts TIMESTAMP_LTZ(3) METADATA",
        )
        .unwrap();
        assert_eq!(s.metadata_columns().count(), 2);
        assert_eq!(s.columns[1].metadata_key(), Some("offset"));
        assert_eq!(s.columns[2].metadata_key(), Some("ts"));
        assert!(TableSchema::parse_columns("a INT b INT").is_err());
    }

    #[test]
    fn produced_and_consumed() {
        let mut s = TableSchema::parse_columns("a INT, b STRING").unwrap();
        s.columns.insert(
            1,
            Column::metadata(
                "off",
                DataType::parse("BIGINT").unwrap(),
                Some("offset"),
                true,
            ),
        );
        s.columns.push(Column::metadata(
            "ts",
            DataType::parse("TIMESTAMP_LTZ(3)").unwrap(),
            Some("timestamp"),
            false,
        ));
        let names = |sc: SchemaRef| {
            sc.fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(s.produced_arrow_schema()), ["a", "b", "off", "ts"]);
        assert_eq!(names(s.consumed_arrow_schema()), ["a", "b", "ts"]);
        assert_eq!(s.columns[1].metadata_key(), Some("offset"));
    }
}
