//! Flink SQL statements, parsed with the `sqlparser` crate.
//!
//! Standard statements (`INSERT INTO ... SELECT ...`) go through sqlparser's own statement parser.
//! Flink's DDL extensions, which no sqlparser dialect has (`METADATA` and computed columns,
//! `WATERMARK FOR`, `PRIMARY KEY ... NOT ENFORCED`, `WITH ('k' = 'v')`, `EXECUTE STATEMENT SET`),
//! are read with sqlparser's parser primitives (keywords, identifiers, expressions, literals) and
//! the SDK's Flink type reader.

use headrace_sdk::options::RawOptions;
use headrace_sdk::schema::{Column, ColumnKind, TableSchema, WatermarkSpec};
use headrace_sdk::types::parse_data_type;
use headrace_sdk::types::DataType;
use sqlparser::ast::{Expr, Query, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token};

use crate::error::{RuntimeError, RuntimeResult};

/// `CREATE [TEMPORARY] TABLE`.
#[derive(Debug, Clone)]
pub struct CreateTable {
    /// Table name (last part of a qualified name).
    pub name: String,
    /// Declared schema (computed columns typed later, by the planner).
    pub schema: TableSchema,
    /// Computed-column expressions, by column name.
    pub computed: Vec<(String, Expr)>,
    /// `WITH (...)` options.
    pub options: RawOptions,
    /// `TEMPORARY`.
    pub temporary: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `LIKE other`, if used.
    pub like: Option<String>,
    /// Where the statement starts.
    pub location: Location,
}

/// `INSERT INTO t [(cols)] SELECT ...`.
#[derive(Debug, Clone)]
pub struct InsertInto {
    /// Target table.
    pub table: String,
    /// Explicit target columns, if listed.
    pub columns: Vec<String>,
    /// The query.
    pub query: Box<Query>,
    /// `INSERT OVERWRITE`.
    pub overwrite: bool,
    /// Where the statement starts.
    pub location: Location,
}

/// One statement of a job file.
#[derive(Debug, Clone)]
pub enum FlinkStatement {
    /// `SET 'key' = 'value'`.
    Set(String, String),
    /// `RESET 'key'`.
    Reset(String),
    /// `CREATE TABLE`.
    CreateTable(Box<CreateTable>),
    /// `INSERT INTO`.
    Insert(Box<InsertInto>),
    /// `EXECUTE STATEMENT SET BEGIN ... END` / `BEGIN STATEMENT SET; ... END;`.
    StatementSet(Vec<InsertInto>),
    /// A statement that is valid SQL but not something the local runner runs (e.g. `SELECT`).
    Other(Box<Statement>, Location),
}

fn loc_err(loc: Location, msg: impl Into<String>) -> RuntimeError {
    RuntimeError::Sql {
        line: loc.line,
        column: loc.column,
        message: msg.into(),
    }
}

fn parse_err(e: ParserError) -> RuntimeError {
    let msg = e.to_string();
    // sqlparser reports "... at Line: L, Column: C"
    let (line, column) = msg
        .rsplit_once("Line: ")
        .and_then(|(_, rest)| {
            let (l, c) = rest.split_once(", Column: ")?;
            Some((l.trim().parse().ok()?, c.trim().parse().ok()?))
        })
        .unwrap_or((0, 0));
    RuntimeError::Sql {
        line,
        column,
        message: msg,
    }
}

/// Parse a job file into statements.
pub fn parse_statements(sql: &str) -> RuntimeResult<Vec<FlinkStatement>> {
    let dialect = GenericDialect {};
    let mut p = Parser::new(&dialect).try_with_sql(sql).map_err(parse_err)?;
    let mut out = Vec::new();
    loop {
        while p.consume_token(&Token::SemiColon) {}
        let t = p.peek_token();
        if t.token == Token::EOF {
            break;
        }
        let loc = t.span.start;
        let stmt = parse_one(&mut p, loc)?;
        out.push(stmt);
        let next = p.peek_token();
        if next.token != Token::SemiColon && next.token != Token::EOF {
            return Err(loc_err(
                next.span.start,
                format!("expected ';' after the statement, found '{}'", next.token),
            ));
        }
    }
    Ok(out)
}

fn word_is(p: &Parser<'_>, n: usize, s: &str) -> bool {
    matches!(&p.peek_nth_token(n).token, Token::Word(w) if w.value.eq_ignore_ascii_case(s))
}

fn parse_one(p: &mut Parser<'_>, loc: Location) -> RuntimeResult<FlinkStatement> {
    if word_is(p, 0, "SET") {
        p.next_token();
        let key = p.parse_literal_string().map_err(|_| {
            loc_err(
                loc,
                "SET takes a quoted key and value: SET 'key' = 'value';",
            )
        })?;
        p.expect_token(&Token::Eq).map_err(parse_err)?;
        let value = p.parse_literal_string().map_err(parse_err)?;
        return Ok(FlinkStatement::Set(key, value));
    }
    if word_is(p, 0, "RESET") {
        p.next_token();
        let key = p.parse_literal_string().map_err(parse_err)?;
        return Ok(FlinkStatement::Reset(key));
    }
    if word_is(p, 0, "CREATE")
        && (word_is(p, 1, "TABLE") || (word_is(p, 1, "TEMPORARY") && word_is(p, 2, "TABLE")))
    {
        return Ok(FlinkStatement::CreateTable(Box::new(parse_create_table(
            p, loc,
        )?)));
    }
    if word_is(p, 0, "EXECUTE") && word_is(p, 1, "STATEMENT") && word_is(p, 2, "SET") {
        for _ in 0..3 {
            p.next_token();
        }
        p.expect_keyword(Keyword::BEGIN).map_err(parse_err)?;
        return Ok(FlinkStatement::StatementSet(parse_insert_block(p)?));
    }
    if word_is(p, 0, "BEGIN") && word_is(p, 1, "STATEMENT") && word_is(p, 2, "SET") {
        for _ in 0..3 {
            p.next_token();
        }
        return Ok(FlinkStatement::StatementSet(parse_insert_block(p)?));
    }
    if word_is(p, 0, "EXECUTE") && word_is(p, 1, "INSERT") {
        p.next_token();
    }
    let stmt = p.parse_statement().map_err(parse_err)?;
    match stmt {
        Statement::Insert(_) => Ok(FlinkStatement::Insert(Box::new(insert_from(stmt, loc)?))),
        other => Ok(FlinkStatement::Other(Box::new(other), loc)),
    }
}

fn parse_insert_block(p: &mut Parser<'_>) -> RuntimeResult<Vec<InsertInto>> {
    let mut inserts = Vec::new();
    loop {
        while p.consume_token(&Token::SemiColon) {}
        if p.parse_keyword(Keyword::END) {
            break;
        }
        let t = p.peek_token();
        if t.token == Token::EOF {
            return Err(loc_err(t.span.start, "statement set is missing its END"));
        }
        let stmt = p.parse_statement().map_err(parse_err)?;
        if !matches!(stmt, Statement::Insert(_)) {
            return Err(loc_err(
                t.span.start,
                "a statement set may only contain INSERT statements",
            ));
        }
        inserts.push(insert_from(stmt, t.span.start)?);
    }
    if inserts.is_empty() {
        return Err(RuntimeError::Plan("statement set has no INSERT".into()));
    }
    Ok(inserts)
}

fn insert_from(stmt: Statement, loc: Location) -> RuntimeResult<InsertInto> {
    let Statement::Insert(ins) = stmt else {
        return Err(loc_err(loc, "expected INSERT"));
    };
    let table = match &ins.table {
        sqlparser::ast::TableObject::TableName(n) => last_name(n),
        other => return Err(loc_err(loc, format!("cannot insert into {other}"))),
    };
    let query = ins
        .source
        .ok_or_else(|| loc_err(loc, "INSERT needs a SELECT (INSERT INTO t SELECT ...)"))?;
    Ok(InsertInto {
        table,
        columns: ins.columns.iter().map(|c| c.to_string()).collect(),
        query,
        overwrite: ins.overwrite,
        location: loc,
    })
}

/// The unquoted last part of a possibly qualified name (`cat.db.t` -> `t`).
pub fn last_name(n: &sqlparser::ast::ObjectName) -> String {
    n.0.last()
        .and_then(|part| part.as_ident().map(|i| i.value.clone()))
        .unwrap_or_else(|| n.to_string())
}

fn parse_create_table(p: &mut Parser<'_>, loc: Location) -> RuntimeResult<CreateTable> {
    p.expect_keyword(Keyword::CREATE).map_err(parse_err)?;
    let temporary = p.parse_keyword(Keyword::TEMPORARY);
    p.expect_keyword(Keyword::TABLE).map_err(parse_err)?;
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = last_name(&p.parse_object_name(false).map_err(parse_err)?);
    let mut schema = TableSchema::default();
    let mut computed = Vec::new();
    if p.consume_token(&Token::LParen) {
        loop {
            let here = p.peek_token().span.start;
            if word_is(p, 0, "WATERMARK") {
                p.next_token();
                p.expect_keyword(Keyword::FOR).map_err(parse_err)?;
                let column = p.parse_identifier().map_err(parse_err)?.value;
                p.expect_keyword(Keyword::AS).map_err(parse_err)?;
                let expr = p.parse_expr().map_err(parse_err)?;
                schema.watermarks.push(WatermarkSpec {
                    column,
                    expr: expr.to_string(),
                });
            } else if p.peek_keyword(Keyword::PRIMARY) || p.peek_keyword(Keyword::CONSTRAINT) {
                if p.parse_keyword(Keyword::CONSTRAINT) {
                    p.parse_identifier().map_err(parse_err)?;
                }
                p.expect_keywords(&[Keyword::PRIMARY, Keyword::KEY])
                    .map_err(parse_err)?;
                p.expect_token(&Token::LParen).map_err(parse_err)?;
                let cols = p
                    .parse_comma_separated(|p| p.parse_identifier())
                    .map_err(parse_err)?;
                p.expect_token(&Token::RParen).map_err(parse_err)?;
                expect_not_enforced(p, here)?;
                if !schema.primary_key.is_empty() {
                    return Err(loc_err(here, "a table can have only one primary key"));
                }
                schema.primary_key = cols.into_iter().map(|i| i.value).collect();
            } else {
                let col_name = p.parse_identifier().map_err(parse_err)?.value;
                if p.parse_keyword(Keyword::AS) {
                    let expr = p.parse_expr().map_err(parse_err)?;
                    let comment = parse_comment(p)?;
                    schema.columns.push(Column {
                        name: col_name.clone(),
                        data_type: DataType::new(headrace_sdk::types::LogicalType::Int),
                        kind: ColumnKind::Computed {
                            expr: expr.to_string(),
                        },
                        comment,
                    });
                    computed.push((col_name, expr));
                } else {
                    let mut pending = 0;
                    let data_type = parse_data_type(p, &mut pending)
                        .map_err(|e| loc_err(here, format!("column '{col_name}': {e}")))?;
                    let mut kind = ColumnKind::Physical;
                    if word_is(p, 0, "METADATA") {
                        p.next_token();
                        let key = if p.parse_keyword(Keyword::FROM) {
                            Some(p.parse_literal_string().map_err(parse_err)?)
                        } else {
                            None
                        };
                        let is_virtual = if word_is(p, 0, "VIRTUAL") {
                            p.next_token();
                            true
                        } else {
                            false
                        };
                        kind = ColumnKind::Metadata { key, is_virtual };
                    }
                    let comment = parse_comment(p)?;
                    if p.peek_keyword(Keyword::PRIMARY) {
                        p.expect_keywords(&[Keyword::PRIMARY, Keyword::KEY])
                            .map_err(parse_err)?;
                        expect_not_enforced(p, here)?;
                        if !schema.primary_key.is_empty() {
                            return Err(loc_err(here, "a table can have only one primary key"));
                        }
                        schema.primary_key = vec![col_name.clone()];
                    }
                    schema.columns.push(Column {
                        name: col_name,
                        data_type,
                        kind,
                        comment,
                    });
                }
            }
            if p.consume_token(&Token::Comma) {
                continue;
            }
            p.expect_token(&Token::RParen).map_err(parse_err)?;
            break;
        }
    }
    let _ = parse_comment(p)?;
    if p.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
        p.expect_token(&Token::LParen).map_err(parse_err)?;
        let cols = p
            .parse_comma_separated(|p| p.parse_identifier())
            .map_err(parse_err)?;
        p.expect_token(&Token::RParen).map_err(parse_err)?;
        schema.partition_keys = cols.into_iter().map(|i| i.value).collect();
    }
    let mut options = RawOptions::new();
    if p.parse_keyword(Keyword::WITH) {
        p.expect_token(&Token::LParen).map_err(parse_err)?;
        if !p.consume_token(&Token::RParen) {
            loop {
                let at = p.peek_token().span.start;
                let key = p.parse_literal_string().map_err(|_| {
                    loc_err(
                        at,
                        "option keys are quoted strings: WITH ('key' = 'value', ...)",
                    )
                })?;
                p.expect_token(&Token::Eq).map_err(parse_err)?;
                let value = p.parse_literal_string().map_err(|_| {
                    loc_err(
                        at,
                        format!("option '{key}': values are quoted strings ('{key}' = '...')"),
                    )
                })?;
                if options.insert(key.clone(), value).is_some() {
                    return Err(loc_err(at, format!("option '{key}' is given twice")));
                }
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
            p.expect_token(&Token::RParen).map_err(parse_err)?;
        }
    }
    let like = if p.parse_keyword(Keyword::LIKE) {
        let n = last_name(&p.parse_object_name(false).map_err(parse_err)?);
        if p.consume_token(&Token::LParen) {
            // LIKE options such as (EXCLUDING ALL): accepted, with the default merging below.
            let mut depth = 1;
            while depth > 0 {
                match p.next_token().token {
                    Token::LParen => depth += 1,
                    Token::RParen => depth -= 1,
                    Token::EOF => return Err(loc_err(loc, "unclosed LIKE options")),
                    _ => {}
                }
            }
        }
        Some(n)
    } else {
        None
    };
    Ok(CreateTable {
        name,
        schema,
        computed,
        options,
        temporary,
        if_not_exists,
        like,
        location: loc,
    })
}

fn expect_not_enforced(p: &mut Parser<'_>, here: Location) -> RuntimeResult<()> {
    if p.parse_keywords(&[Keyword::NOT, Keyword::ENFORCED]) {
        Ok(())
    } else {
        Err(loc_err(
            here,
            "Flink does not enforce primary keys: write PRIMARY KEY (...) NOT ENFORCED",
        ))
    }
}

fn parse_comment(p: &mut Parser<'_>) -> RuntimeResult<Option<String>> {
    if p.parse_keyword(Keyword::COMMENT) {
        Ok(Some(p.parse_literal_string().map_err(parse_err)?))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_ddl() {
        let sql = r#"
            SET 'parallelism.default' = '2';
            CREATE TEMPORARY TABLE IF NOT EXISTS `orders` (
                id BIGINT NOT NULL,
                price DECIMAL(10, 2),
                qty INT COMMENT 'quantity',
                cost AS price * qty,
                ts TIMESTAMP(3),
                `offset` BIGINT METADATA VIRTUAL,
                part INT METADATA FROM 'partition' VIRTUAL,
                headers MAP<STRING, BYTES> METADATA,
                WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
                PRIMARY KEY (id) NOT ENFORCED
            ) COMMENT 'orders' PARTITIONED BY (qty) WITH (
                'connector' = 'datagen',
                'rows-per-second' = '5'
            );
            INSERT INTO sink SELECT id, cost FROM orders WHERE qty > 1;
            EXECUTE STATEMENT SET BEGIN
              INSERT INTO a SELECT * FROM orders;
              INSERT INTO b SELECT * FROM orders;
            END;
        "#;
        let stmts = parse_statements(sql).unwrap();
        assert_eq!(stmts.len(), 4);
        let FlinkStatement::Set(k, v) = &stmts[0] else {
            panic!()
        };
        assert_eq!((k.as_str(), v.as_str()), ("parallelism.default", "2"));
        let FlinkStatement::CreateTable(ct) = &stmts[1] else {
            panic!()
        };
        assert_eq!(ct.name, "orders");
        assert!(ct.temporary && ct.if_not_exists);
        assert_eq!(ct.schema.columns.len(), 8);
        assert_eq!(ct.schema.primary_key, vec!["id"]);
        assert_eq!(ct.schema.partition_keys, vec!["qty"]);
        assert_eq!(ct.schema.watermarks[0].column, "ts");
        assert_eq!(ct.computed[0].0, "cost");
        assert_eq!(ct.schema.columns[5].metadata_key(), Some("offset"));
        assert_eq!(ct.schema.columns[6].metadata_key(), Some("partition"));
        assert_eq!(ct.schema.columns[2].comment.as_deref(), Some("quantity"));
        assert_eq!(ct.options.get("rows-per-second").unwrap(), "5");
        let FlinkStatement::Insert(ins) = &stmts[2] else {
            panic!()
        };
        assert_eq!(ins.table, "sink");
        let FlinkStatement::StatementSet(set) = &stmts[3] else {
            panic!()
        };
        assert_eq!(set.len(), 2);
        assert_eq!(set[1].table, "b");
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_statements("CREATE TABLE t (id BIGINT, PRIMARY KEY (id)) WITH ('a'='b');")
            .unwrap_err()
            .to_string();
        assert!(e.contains("NOT ENFORCED"), "{e}");
        assert!(e.contains("line 1"), "{e}");
        let e = parse_statements("CREATE TABLE t (id FOO) WITH ();")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown type 'FOO'"), "{e}");
        let e = parse_statements("CREATE TABLE t (id INT) WITH ('a' = 1);")
            .unwrap_err()
            .to_string();
        assert!(e.contains("values are quoted"), "{e}");
        let e = parse_statements("CREATE TABLE t (id INT) WITH ('a' = '1', 'a' = '2');")
            .unwrap_err()
            .to_string();
        assert!(e.contains("given twice"), "{e}");
        let e = parse_statements("INSERT INTO t SELEC * FROM s;")
            .unwrap_err()
            .to_string();
        assert!(e.to_lowercase().contains("line"), "{e}");
    }

    #[test]
    fn begin_statement_set_and_other() {
        let s = parse_statements(
            "BEGIN STATEMENT SET; INSERT INTO a SELECT 1 FROM s; END; SELECT * FROM s;",
        )
        .unwrap();
        assert!(matches!(s[0], FlinkStatement::StatementSet(ref v) if v.len() == 1));
        assert!(matches!(s[1], FlinkStatement::Other(..)));
    }
}
