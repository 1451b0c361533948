//! Scalar expressions: compiled from sqlparser's AST against a schema, evaluated with Arrow kernels.
//!
//! Types follow Flink: integer literals are INT (BIGINT when they do not fit), decimal literals are
//! DECIMAL(p, s), `1e3` is DOUBLE, string literals are CHAR(n). Result types of arithmetic are what
//! Arrow's kernels produce on the coerced inputs, read back as Flink types.

use std::sync::Arc;

use arrow::array::{
    new_empty_array, new_null_array, Array, ArrayRef, AsArray, BooleanArray, Datum, Int64Array,
    RecordBatch, Scalar, StringArray, UInt32Array,
};
use arrow::compute::kernels::{boolean, cmp, numeric, zip::zip};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType as ArrowType, Schema, TimeUnit};
use headrace_sdk::types::{DataType, LogicalType};
use sqlparser::ast::{BinaryOperator, CastKind, Expr, UnaryOperator, Value};

use crate::error::{RuntimeError, RuntimeResult};

/// Flink built-in functions the local runner does not evaluate: aggregates, windows, table
/// functions. Using one is valid Flink SQL, so validation exits with 2 and says so.
const FLINK_ONLY_FUNCTIONS: &[&str] = &[
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "VAR_POP",
    "VAR_SAMP",
    "COLLECT",
    "LISTAGG",
    "ARRAY_AGG",
    "JSON_OBJECTAGG",
    "JSON_ARRAYAGG",
    "FIRST_VALUE",
    "LAST_VALUE",
    "ROW_NUMBER",
    "RANK",
    "DENSE_RANK",
    "LEAD",
    "LAG",
    "TUMBLE",
    "HOP",
    "SESSION",
    "CUMULATE",
    "TUMBLE_START",
    "TUMBLE_END",
    "HOP_START",
    "HOP_END",
    "SESSION_START",
    "SESSION_END",
    "PROCTIME",
    "NOW",
    "CURRENT_TIMESTAMP",
    "LOCALTIMESTAMP",
    "CURRENT_DATE",
    "TO_TIMESTAMP",
    "TO_TIMESTAMP_LTZ",
    "DATE_FORMAT",
    "JSON_VALUE",
    "JSON_QUERY",
    "REGEXP",
    "REGEXP_EXTRACT",
    "REGEXP_REPLACE",
    "SUBSTRING",
    "SUBSTR",
    "REPLACE",
    "SPLIT_INDEX",
    "UNIX_TIMESTAMP",
    "FROM_UNIXTIME",
    "MD5",
    "SHA1",
    "SHA256",
    "UUID",
    "RAND",
    "RAND_INTEGER",
    "ROUND",
    "FLOOR",
    "CEIL",
    "POWER",
    "SQRT",
    "LN",
    "LOG",
    "EXP",
    "HASH_CODE",
    "IFNULL",
    "IF",
    "NULLIF",
    "GREATEST",
    "LEAST",
    "CARDINALITY",
    "ELEMENT",
    "MAP",
    "ARRAY",
    "ROW",
];

/// A compiled expression with its Flink type.
#[derive(Debug, Clone)]
pub struct Typed {
    /// The expression.
    pub expr: PhysExpr,
    /// Its Flink type.
    pub data_type: DataType,
}

/// A compiled, typed expression tree.
#[derive(Debug, Clone)]
pub enum PhysExpr {
    /// Column `index` of the input batch.
    Column(usize),
    /// A constant (an array of length 1).
    Literal(ArrayRef),
    /// `CAST`/`TRY_CAST` (safe = TRY_CAST: NULL instead of an error).
    Cast(Box<PhysExpr>, ArrowType, bool),
    /// Arithmetic.
    Arith(ArithOp, Box<PhysExpr>, Box<PhysExpr>),
    /// Comparison.
    Cmp(CmpOp, Box<PhysExpr>, Box<PhysExpr>),
    /// AND (Kleene logic).
    And(Box<PhysExpr>, Box<PhysExpr>),
    /// OR (Kleene logic).
    Or(Box<PhysExpr>, Box<PhysExpr>),
    /// NOT.
    Not(Box<PhysExpr>),
    /// Unary minus.
    Neg(Box<PhysExpr>),
    /// IS NULL / IS NOT NULL (true = IS NOT NULL).
    IsNull(Box<PhysExpr>, bool),
    /// CASE WHEN c THEN v ... ELSE e END.
    Case(Vec<(PhysExpr, PhysExpr)>, Box<PhysExpr>),
    /// String concatenation.
    Concat(Vec<PhysExpr>),
    /// UPPER / LOWER / CHAR_LENGTH.
    StrFn(StrFn, Box<PhysExpr>),
    /// LIKE (negated, pattern).
    Like(bool, Box<PhysExpr>, Box<PhysExpr>),
    /// COALESCE.
    Coalesce(Vec<PhysExpr>),
    /// A TIMESTAMP or TIMESTAMP_LTZ plus a fixed number of microseconds (`ts - INTERVAL '5'
    /// SECOND`).
    TimeShift(Box<PhysExpr>, i64),
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy)]
pub enum ArithOp {
    /// +
    Add,
    /// -
    Sub,
    /// *
    Mul,
    /// /
    Div,
    /// %
    Rem,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy)]
pub enum CmpOp {
    /// =
    Eq,
    /// <>
    NotEq,
    /// <
    Lt,
    /// <=
    LtEq,
    /// >
    Gt,
    /// >=
    GtEq,
}

/// String functions.
#[derive(Debug, Clone, Copy)]
pub enum StrFn {
    /// UPPER
    Upper,
    /// LOWER
    Lower,
    /// CHAR_LENGTH
    CharLength,
}

/// Columns an expression can refer to.
#[derive(Debug, Clone)]
pub struct Scope {
    /// (name, Flink type) per input column, in batch order.
    pub columns: Vec<(String, DataType)>,
}

impl Scope {
    fn lookup(&self, name: &str) -> RuntimeResult<(usize, DataType)> {
        if let Some(i) = self.columns.iter().position(|(n, _)| n == name) {
            return Ok((i, self.columns[i].1.clone()));
        }
        if let Some(i) = self
            .columns
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            return Ok((i, self.columns[i].1.clone()));
        }
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
        Err(RuntimeError::Plan(format!(
            "unknown column '{name}'.{} Columns: {}",
            headrace_sdk::error::did_you_mean(name, names.iter().copied()),
            names.join(", ")
        )))
    }

    fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|(n, t)| t.to_arrow_field(n))
                .collect::<Vec<_>>(),
        )
    }
}

fn plan_err<T>(msg: impl Into<String>) -> RuntimeResult<T> {
    Err(RuntimeError::Plan(msg.into()))
}

/// Compile an expression against a scope.
pub fn compile(e: &Expr, scope: &Scope) -> RuntimeResult<Typed> {
    let t = compile_inner(e, scope)?;
    Ok(t)
}

fn flink_type(t: &ArrowType) -> RuntimeResult<DataType> {
    if *t == ArrowType::Null {
        return Ok(DataType::new(LogicalType::VarChar(
            headrace_sdk::types::MAX_LENGTH,
        )));
    }
    Ok(DataType::from_arrow(t)?)
}

/// Infer the result type of an operation by running it on empty inputs of the operand types.
fn infer(expr: &PhysExpr, scope: &Scope) -> RuntimeResult<ArrowType> {
    let schema = Arc::new(scope.arrow_schema());
    let batch = RecordBatch::new_empty(schema);
    match eval(expr, &batch)? {
        Value2::Array(a) | Value2::Scalar(a) => Ok(a.data_type().clone()),
    }
}

fn typed(expr: PhysExpr, scope: &Scope, nullable: bool) -> RuntimeResult<Typed> {
    let at = infer(&expr, scope)?;
    let data_type = flink_type(&at)?.with_nullable(nullable);
    Ok(Typed { expr, data_type })
}

fn literal(a: ArrayRef, t: DataType) -> Typed {
    Typed {
        expr: PhysExpr::Literal(a),
        data_type: t,
    }
}

fn compile_value(v: &Value) -> RuntimeResult<Typed> {
    Ok(match v {
        Value::Number(n, _) => {
            let s = n.to_string();
            if let Ok(i) = s.parse::<i32>() {
                literal(
                    Arc::new(arrow::array::Int32Array::from(vec![i])),
                    DataType::new(LogicalType::Int).not_null(),
                )
            } else if let Ok(i) = s.parse::<i64>() {
                literal(
                    Arc::new(Int64Array::from(vec![i])),
                    DataType::new(LogicalType::BigInt).not_null(),
                )
            } else if s.contains(['e', 'E']) {
                let f: f64 = s
                    .parse()
                    .map_err(|_| RuntimeError::Plan(format!("bad number literal {s}")))?;
                literal(
                    Arc::new(arrow::array::Float64Array::from(vec![f])),
                    DataType::new(LogicalType::Double).not_null(),
                )
            } else {
                let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
                let int = int.trim_start_matches(['-', '+']);
                let scale = frac.len() as u8;
                let precision = ((int.trim_start_matches('0').len() as u8) + scale).max(1);
                if precision > 38 {
                    return plan_err(format!("number literal {s} has more than 38 digits"));
                }
                let at = ArrowType::Decimal128(precision, scale as i8);
                let a = cast_with_options(
                    &StringArray::from(vec![s.clone()]),
                    &at,
                    &CastOptions {
                        safe: false,
                        ..Default::default()
                    },
                )?;
                literal(
                    a,
                    DataType::new(LogicalType::Decimal { precision, scale }).not_null(),
                )
            }
        }
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => literal(
            Arc::new(StringArray::from(vec![s.clone()])),
            DataType::new(LogicalType::Char((s.chars().count() as u32).max(1))).not_null(),
        ),
        Value::Boolean(b) => literal(
            Arc::new(BooleanArray::from(vec![*b])),
            DataType::new(LogicalType::Boolean).not_null(),
        ),
        Value::Null => literal(
            new_null_array(&ArrowType::Null, 1),
            DataType::new(LogicalType::VarChar(headrace_sdk::types::MAX_LENGTH)),
        ),
        other => return plan_err(format!("unsupported literal {other}")),
    })
}

fn sql_type(t: &sqlparser::ast::DataType) -> RuntimeResult<DataType> {
    Ok(DataType::parse(&t.to_string())?)
}

fn cast_to(e: Typed, to: &DataType, safe: bool) -> Typed {
    if e.data_type.to_arrow() == to.to_arrow() {
        return Typed {
            expr: e.expr,
            data_type: to.clone().with_nullable(e.data_type.nullable),
        };
    }
    Typed {
        expr: PhysExpr::Cast(Box::new(e.expr), to.to_arrow(), safe),
        data_type: to.clone().with_nullable(e.data_type.nullable || safe),
    }
}

fn rank_int(l: &LogicalType) -> Option<u8> {
    Some(match l {
        LogicalType::TinyInt => 1,
        LogicalType::SmallInt => 2,
        LogicalType::Int => 3,
        LogicalType::BigInt => 4,
        _ => return None,
    })
}

/// The common type two operands are coerced to for comparison or arithmetic.
fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    use LogicalType as L;
    let (la, lb) = (&a.logical, &b.logical);
    if la == lb {
        return Some(a.clone());
    }
    if let (Some(ra), Some(rb)) = (rank_int(la), rank_int(lb)) {
        return Some(if ra >= rb { a.clone() } else { b.clone() });
    }
    let float = |l: &L| matches!(l, L::Float | L::Double);
    if a.is_numeric() && b.is_numeric() {
        if float(la) || float(lb) {
            return Some(DataType::new(if matches!((la, lb), (L::Float, L::Float)) {
                L::Float
            } else {
                L::Double
            }));
        }
        let dec = |l: &L| match l {
            L::Decimal { precision, scale } => (*precision, *scale),
            L::TinyInt => (3, 0),
            L::SmallInt => (5, 0),
            L::Int => (10, 0),
            _ => (19, 0),
        };
        let ((pa, sa), (pb, sb)) = (dec(la), dec(lb));
        let scale = sa.max(sb);
        let int_digits = (pa - sa).max(pb - sb);
        return Some(DataType::new(L::Decimal {
            precision: (int_digits + scale).min(38),
            scale,
        }));
    }
    if a.is_string() && b.is_string() {
        return Some(DataType::new(L::VarChar(headrace_sdk::types::MAX_LENGTH)));
    }
    // string literal against a temporal or numeric column: cast the string
    if a.is_string() {
        return Some(b.clone());
    }
    if b.is_string() {
        return Some(a.clone());
    }
    match (la, lb) {
        (L::Timestamp(p), L::Timestamp(q)) => Some(DataType::new(L::Timestamp(*p.max(q)))),
        (L::TimestampLtz(p), L::TimestampLtz(q)) => Some(DataType::new(L::TimestampLtz(*p.max(q)))),
        (L::Time(p), L::Time(q)) => Some(DataType::new(L::Time(*p.max(q)))),
        (L::Timestamp(p), L::Date) | (L::Date, L::Timestamp(p)) => {
            Some(DataType::new(L::Timestamp(*p)))
        }
        _ => None,
    }
}

fn is_null_literal(t: &Typed) -> bool {
    matches!(&t.expr, PhysExpr::Literal(a) if *a.data_type() == ArrowType::Null)
}

fn coerce_pair(l: Typed, r: Typed, what: &str) -> RuntimeResult<(Typed, Typed)> {
    if is_null_literal(&l) {
        let t = r.data_type.clone();
        return Ok((cast_to(l, &t, false), r));
    }
    if is_null_literal(&r) {
        let t = l.data_type.clone();
        return Ok((l.clone(), cast_to(r, &t, false)));
    }
    let Some(t) = common_type(&l.data_type, &r.data_type) else {
        return plan_err(format!(
            "cannot apply {what} to {} and {}",
            l.data_type, r.data_type
        ));
    };
    Ok((cast_to(l, &t, false), cast_to(r, &t, false)))
}

fn bool_operand(t: Typed, what: &str) -> RuntimeResult<Typed> {
    if is_null_literal(&t) {
        return Ok(cast_to(t, &DataType::new(LogicalType::Boolean), false));
    }
    if t.data_type.logical != LogicalType::Boolean {
        return plan_err(format!(
            "{what} needs BOOLEAN operands, got {}",
            t.data_type
        ));
    }
    Ok(t)
}

fn compile_inner(e: &Expr, scope: &Scope) -> RuntimeResult<Typed> {
    match e {
        Expr::Identifier(id) => {
            let (i, t) = scope.lookup(&id.value)?;
            Ok(Typed {
                expr: PhysExpr::Column(i),
                data_type: t,
            })
        }
        Expr::CompoundIdentifier(parts) => {
            let last = parts
                .last()
                .ok_or_else(|| RuntimeError::Plan("empty identifier".into()))?;
            let (i, t) = scope.lookup(&last.value)?;
            Ok(Typed {
                expr: PhysExpr::Column(i),
                data_type: t,
            })
        }
        Expr::Value(v) => compile_value(&v.value),
        Expr::Nested(inner) => compile_inner(inner, scope),
        Expr::TypedString(ts) => {
            let to = sql_type(&ts.data_type)?;
            let s = compile_value(&ts.value.value)?;
            Ok(cast_to(s, &to.not_null(), false))
        }
        Expr::Cast {
            kind,
            expr,
            data_type,
            ..
        } => {
            let inner = compile_inner(expr, scope)?;
            let to = sql_type(data_type)?;
            let safe = matches!(kind, CastKind::TryCast | CastKind::SafeCast);
            let out = cast_to(inner, &to, safe);
            // check the cast is possible
            infer(&out.expr, scope).map_err(|_| {
                RuntimeError::Plan(format!("cannot CAST {expr} to {to}"))
            })?;
            Ok(out)
        }
        Expr::IsNull(x) | Expr::IsNotNull(x) => {
            let inner = compile_inner(x, scope)?;
            Ok(Typed {
                expr: PhysExpr::IsNull(Box::new(inner.expr), matches!(e, Expr::IsNotNull(_))),
                data_type: DataType::new(LogicalType::Boolean).not_null(),
            })
        }
        Expr::IsTrue(x) | Expr::IsFalse(x) | Expr::IsNotTrue(x) | Expr::IsNotFalse(x) => {
            let inner = bool_operand(compile_inner(x, scope)?, "IS TRUE/FALSE")?;
            let want = matches!(e, Expr::IsTrue(_) | Expr::IsNotTrue(_));
            let lit = literal(
                Arc::new(BooleanArray::from(vec![want])),
                DataType::new(LogicalType::Boolean).not_null(),
            );
            let eq = PhysExpr::Cmp(CmpOp::Eq, Box::new(inner.expr.clone()), Box::new(lit.expr));
            let not_null = PhysExpr::IsNull(Box::new(inner.expr), true);
            let is = PhysExpr::And(Box::new(not_null), Box::new(eq));
            let out = if matches!(e, Expr::IsNotTrue(_) | Expr::IsNotFalse(_)) {
                PhysExpr::Not(Box::new(is))
            } else {
                is
            };
            Ok(Typed {
                expr: out,
                data_type: DataType::new(LogicalType::Boolean).not_null(),
            })
        }
        Expr::UnaryOp { op, expr } => {
            let inner = compile_inner(expr, scope)?;
            match op {
                UnaryOperator::Not => {
                    let inner = bool_operand(inner, "NOT")?;
                    Ok(Typed {
                        expr: PhysExpr::Not(Box::new(inner.expr)),
                        data_type: inner.data_type,
                    })
                }
                UnaryOperator::Minus => {
                    if !inner.data_type.is_numeric() {
                        return plan_err(format!("cannot negate {}", inner.data_type));
                    }
                    Ok(Typed {
                        expr: PhysExpr::Neg(Box::new(inner.expr)),
                        data_type: inner.data_type,
                    })
                }
                UnaryOperator::Plus => Ok(inner),
                other => plan_err(format!("unsupported operator {other}")),
            }
        }
        Expr::BinaryOp { left, op, right }
            if matches!(op, BinaryOperator::Plus | BinaryOperator::Minus)
                && matches!(right.as_ref(), Expr::Interval(_)) =>
        {
            let l = compile_inner(left, scope)?;
            if !matches!(
                l.data_type.logical,
                LogicalType::Timestamp(_) | LogicalType::TimestampLtz(_)
            ) {
                return plan_err(format!(
                    "'{e}': an INTERVAL can only be added to or subtracted from a TIMESTAMP or \
                     TIMESTAMP_LTZ, {left} is {}",
                    l.data_type
                ));
            }
            let Expr::Interval(iv) = right.as_ref() else {
                return plan_err(format!("unsupported expression: {e}"));
            };
            let micros = interval_micros(iv)?;
            let micros = if matches!(op, BinaryOperator::Minus) {
                -micros
            } else {
                micros
            };
            Ok(Typed {
                expr: PhysExpr::TimeShift(Box::new(l.expr), micros),
                data_type: l.data_type,
            })
        }
        Expr::BinaryOp { left, op, right } => {
            let l = compile_inner(left, scope)?;
            let r = compile_inner(right, scope)?;
            let nullable = l.data_type.nullable || r.data_type.nullable;
            match op {
                BinaryOperator::And | BinaryOperator::Or => {
                    let l = bool_operand(l, "AND/OR")?;
                    let r = bool_operand(r, "AND/OR")?;
                    let expr = if matches!(op, BinaryOperator::And) {
                        PhysExpr::And(Box::new(l.expr), Box::new(r.expr))
                    } else {
                        PhysExpr::Or(Box::new(l.expr), Box::new(r.expr))
                    };
                    Ok(Typed {
                        expr,
                        data_type: DataType::new(LogicalType::Boolean).with_nullable(nullable),
                    })
                }
                BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq => {
                    let (l, r) = coerce_pair(l, r, &format!("'{op}'"))?;
                    let c = match op {
                        BinaryOperator::Eq => CmpOp::Eq,
                        BinaryOperator::NotEq => CmpOp::NotEq,
                        BinaryOperator::Lt => CmpOp::Lt,
                        BinaryOperator::LtEq => CmpOp::LtEq,
                        BinaryOperator::Gt => CmpOp::Gt,
                        _ => CmpOp::GtEq,
                    };
                    let t = Typed {
                        expr: PhysExpr::Cmp(c, Box::new(l.expr), Box::new(r.expr)),
                        data_type: DataType::new(LogicalType::Boolean).with_nullable(nullable),
                    };
                    infer(&t.expr, scope).map_err(|err| {
                        RuntimeError::Plan(format!("cannot compare {left} and {right}: {err}"))
                    })?;
                    Ok(t)
                }
                BinaryOperator::Plus
                | BinaryOperator::Minus
                | BinaryOperator::Multiply
                | BinaryOperator::Divide
                | BinaryOperator::Modulo => {
                    if !(l.data_type.is_numeric() || is_null_literal(&l))
                        || !(r.data_type.is_numeric() || is_null_literal(&r))
                    {
                        return plan_err(format!(
                            "arithmetic '{op}' needs numeric operands: {left} is {}, {right} is {}",
                            l.data_type, r.data_type
                        ));
                    }
                    let (l, r) = if matches!(
                        (&l.data_type.logical, &r.data_type.logical),
                        (LogicalType::Decimal { .. }, LogicalType::Decimal { .. })
                    ) {
                        (l, r)
                    } else {
                        coerce_pair(l, r, &format!("'{op}'"))?
                    };
                    let a = match op {
                        BinaryOperator::Plus => ArithOp::Add,
                        BinaryOperator::Minus => ArithOp::Sub,
                        BinaryOperator::Multiply => ArithOp::Mul,
                        BinaryOperator::Divide => ArithOp::Div,
                        _ => ArithOp::Rem,
                    };
                    typed(PhysExpr::Arith(a, Box::new(l.expr), Box::new(r.expr)), scope, true)
                }
                BinaryOperator::StringConcat => {
                    let l = cast_to(l, &DataType::parse("STRING")?, false);
                    let r = cast_to(r, &DataType::parse("STRING")?, false);
                    Ok(Typed {
                        expr: PhysExpr::Concat(vec![l.expr, r.expr]),
                        data_type: DataType::parse("STRING")?.with_nullable(nullable),
                    })
                }
                other => plan_err(format!("unsupported operator '{other}'")),
            }
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let ge = Expr::BinaryOp {
                left: expr.clone(),
                op: BinaryOperator::GtEq,
                right: low.clone(),
            };
            let le = Expr::BinaryOp {
                left: expr.clone(),
                op: BinaryOperator::LtEq,
                right: high.clone(),
            };
            let both = Expr::BinaryOp {
                left: Box::new(ge),
                op: BinaryOperator::And,
                right: Box::new(le),
            };
            if *negated {
                compile_inner(
                    &Expr::UnaryOp {
                        op: UnaryOperator::Not,
                        expr: Box::new(both),
                    },
                    scope,
                )
            } else {
                compile_inner(&both, scope)
            }
        }
        Expr::In {
            expr,
            target: sqlparser::ast::InTarget::List(list),
            negated,
            ..
        } => {
            let mut acc: Option<Expr> = None;
            for item in list {
                let eq = Expr::BinaryOp {
                    left: expr.clone(),
                    op: BinaryOperator::Eq,
                    right: Box::new(item.clone()),
                };
                acc = Some(match acc {
                    None => eq,
                    Some(a) => Expr::BinaryOp {
                        left: Box::new(a),
                        op: BinaryOperator::Or,
                        right: Box::new(eq),
                    },
                });
            }
            let Some(any) = acc else {
                return plan_err("IN needs at least one value");
            };
            let e = if *negated {
                Expr::UnaryOp {
                    op: UnaryOperator::Not,
                    expr: Box::new(any),
                }
            } else {
                any
            };
            compile_inner(&e, scope)
        }
        Expr::Like {
            negated,
            expr,
            pattern,
            escape_char,
            ..
        } => {
            if escape_char.is_some() {
                return plan_err("LIKE ... ESCAPE is not supported by the local runner");
            }
            let s = cast_to(compile_inner(expr, scope)?, &DataType::parse("STRING")?, false);
            let p = cast_to(
                compile_inner(pattern, scope)?,
                &DataType::parse("STRING")?,
                false,
            );
            let nullable = s.data_type.nullable || p.data_type.nullable;
            Ok(Typed {
                expr: PhysExpr::Like(*negated, Box::new(s.expr), Box::new(p.expr)),
                data_type: DataType::new(LogicalType::Boolean).with_nullable(nullable),
            })
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            let mut branches = Vec::new();
            let mut results = Vec::new();
            for w in conditions {
                let cond = match operand {
                    Some(op) => Expr::BinaryOp {
                        left: op.clone(),
                        op: BinaryOperator::Eq,
                        right: Box::new(w.condition.clone()),
                    },
                    None => w.condition.clone(),
                };
                branches.push(bool_operand(compile_inner(&cond, scope)?, "CASE WHEN")?);
                results.push(compile_inner(&w.result, scope)?);
            }
            let mut else_t = match else_result {
                Some(e) => compile_inner(e, scope)?,
                None => compile_value(&Value::Null)?,
            };
            let mut t = results
                .iter()
                .find(|r| !is_null_literal(r))
                .map(|r| r.data_type.clone())
                .unwrap_or_else(|| else_t.data_type.clone());
            for r in results.iter().chain(std::iter::once(&else_t)) {
                if is_null_literal(r) {
                    continue;
                }
                t = common_type(&t, &r.data_type).ok_or_else(|| {
                    RuntimeError::Plan(format!(
                        "CASE branches have incompatible types {t} and {}",
                        r.data_type
                    ))
                })?;
            }
            let t = t.with_nullable(true);
            else_t = cast_to(else_t, &t, false);
            let pairs = branches
                .into_iter()
                .zip(results)
                .map(|(c, r)| (c.expr, cast_to(r, &t, false).expr))
                .collect();
            Ok(Typed {
                expr: PhysExpr::Case(pairs, Box::new(else_t.expr)),
                data_type: t,
            })
        }
        Expr::Function(f) => compile_function(f, scope),
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::In { .. } => Err(
            RuntimeError::Unsupported(format!(
                "subqueries ({e}) need Apache Flink; the local runner evaluates row-by-row expressions only"
            )),
        ),
        Expr::Interval(_) => Err(RuntimeError::Unsupported(format!(
            "interval values ({e}) need Apache Flink; the local runner evaluates an INTERVAL \
             only added to or subtracted from a timestamp (e.g. ts - INTERVAL '5' SECOND)"
        ))),
        other => plan_err(format!("unsupported expression: {other}")),
    }
}

/// The length of a day-time `INTERVAL 'n' UNIT` in microseconds (`n` may have a fraction).
fn interval_micros(iv: &sqlparser::ast::Interval) -> RuntimeResult<i64> {
    use sqlparser::ast::DateTimeField as F;
    let text = match iv.value.as_ref() {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::Number(s, _) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    };
    let unit: i64 = match &iv.leading_field {
        Some(F::Millisecond | F::Milliseconds) => 1_000,
        Some(F::Second | F::Seconds) => 1_000_000,
        Some(F::Minute | F::Minutes) => 60_000_000,
        Some(F::Hour | F::Hours) => 3_600_000_000,
        Some(F::Day | F::Days) => 86_400_000_000,
        other => {
            return Err(RuntimeError::Unsupported(format!(
                "INTERVAL '{text}'{}: the local runner evaluates day-time intervals of one unit \
                 (MILLISECOND, SECOND, MINUTE, HOUR or DAY), e.g. INTERVAL '5' SECOND",
                other.as_ref().map(|f| format!(" {f}")).unwrap_or_default()
            )))
        }
    };
    if iv.last_field.is_some() {
        return Err(RuntimeError::Unsupported(format!(
            "INTERVAL '{text}' with a range of units: write one unit, e.g. INTERVAL '90' SECOND"
        )));
    }
    let n: f64 = text.trim().parse().map_err(|_| {
        RuntimeError::Plan(format!(
            "INTERVAL '{text}': '{text}' is not a number of units (e.g. INTERVAL '5' SECOND)"
        ))
    })?;
    Ok((n * unit as f64).round() as i64)
}

fn compile_function(f: &sqlparser::ast::Function, scope: &Scope) -> RuntimeResult<Typed> {
    let name = f.name.to_string().to_ascii_uppercase();
    let args: Vec<&Expr> = match &f.args {
        sqlparser::ast::FunctionArguments::None => vec![],
        sqlparser::ast::FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(e)) => {
                    Some(e)
                }
                _ => None,
            })
            .collect(),
        sqlparser::ast::FunctionArguments::Subquery(_) => {
            return Err(RuntimeError::Unsupported(format!(
                "{name} with a subquery needs Apache Flink"
            )))
        }
    };
    let arity = |n: usize| -> RuntimeResult<()> {
        if args.len() != n {
            plan_err(format!("{name} takes {n} argument(s), got {}", args.len()))
        } else {
            Ok(())
        }
    };
    let string = DataType::parse("STRING")?;
    match name.as_str() {
        "UPPER" | "LOWER" | "CHAR_LENGTH" | "CHARACTER_LENGTH" => {
            arity(1)?;
            let a = cast_to(compile_inner(args[0], scope)?, &string, false);
            let (func, t) = match name.as_str() {
                "UPPER" => (StrFn::Upper, string.clone()),
                "LOWER" => (StrFn::Lower, string.clone()),
                _ => (StrFn::CharLength, DataType::new(LogicalType::Int)),
            };
            Ok(Typed {
                data_type: t.with_nullable(a.data_type.nullable),
                expr: PhysExpr::StrFn(func, Box::new(a.expr)),
            })
        }
        "CONCAT" => {
            let parts = args
                .iter()
                .map(|a| Ok(cast_to(compile_inner(a, scope)?, &string, false)))
                .collect::<RuntimeResult<Vec<_>>>()?;
            let nullable = parts.iter().any(|p| p.data_type.nullable);
            Ok(Typed {
                expr: PhysExpr::Concat(parts.into_iter().map(|p| p.expr).collect()),
                data_type: string.with_nullable(nullable),
            })
        }
        "COALESCE" => {
            if args.is_empty() {
                return plan_err("COALESCE needs at least one argument");
            }
            let parts = args
                .iter()
                .map(|a| compile_inner(a, scope))
                .collect::<RuntimeResult<Vec<_>>>()?;
            let mut t: Option<DataType> = None;
            for p in parts.iter().filter(|p| !is_null_literal(p)) {
                t = Some(match t {
                    None => p.data_type.clone(),
                    Some(t) => common_type(&t, &p.data_type).ok_or_else(|| {
                        RuntimeError::Plan(format!(
                            "COALESCE arguments have incompatible types {t} and {}",
                            p.data_type
                        ))
                    })?,
                });
            }
            let t = t.unwrap_or_else(|| string.clone());
            let nullable = parts.iter().all(|p| p.data_type.nullable);
            let exprs = parts
                .into_iter()
                .map(|p| cast_to(p, &t, false).expr)
                .collect();
            Ok(Typed {
                expr: PhysExpr::Coalesce(exprs),
                data_type: t.with_nullable(nullable),
            })
        }
        "ABS" => {
            arity(1)?;
            let a = compile_inner(args[0], scope)?;
            if !a.data_type.is_numeric() {
                return plan_err(format!("ABS needs a number, got {}", a.data_type));
            }
            // ABS(x) = CASE WHEN x < 0 THEN -x ELSE x END
            let zero = cast_to(
                literal(
                    Arc::new(arrow::array::Int32Array::from(vec![0])),
                    DataType::new(LogicalType::Int),
                ),
                &a.data_type,
                false,
            );
            let lt = PhysExpr::Cmp(CmpOp::Lt, Box::new(a.expr.clone()), Box::new(zero.expr));
            Ok(Typed {
                expr: PhysExpr::Case(
                    vec![(lt, PhysExpr::Neg(Box::new(a.expr.clone())))],
                    Box::new(a.expr),
                ),
                data_type: a.data_type,
            })
        }
        "MOD" => {
            arity(2)?;
            compile_inner(
                &Expr::BinaryOp {
                    left: Box::new(args[0].clone()),
                    op: BinaryOperator::Modulo,
                    right: Box::new(args[1].clone()),
                },
                scope,
            )
        }
        n if FLINK_ONLY_FUNCTIONS.contains(&n) => Err(RuntimeError::Unsupported(format!(
            "function {n} is Flink SQL that the local runner does not evaluate \
             (it runs filters and projections: column references, literals, CAST, arithmetic, \
             comparisons, AND/OR/NOT, IS [NOT] NULL, CASE, LIKE, IN, BETWEEN, UPPER, LOWER, \
             CHAR_LENGTH, CONCAT, COALESCE, ABS, MOD); run this job in Apache Flink"
        ))),
        other => plan_err(format!(
            "unknown function {other}; the local runner knows UPPER, LOWER, CHAR_LENGTH, CONCAT, \
             COALESCE, ABS and MOD"
        )),
    }
}

/// A value during evaluation: a full column or a constant.
#[derive(Debug, Clone)]
enum Value2 {
    Array(ArrayRef),
    Scalar(ArrayRef),
}

impl Value2 {
    fn datum(&self) -> Box<dyn Datum + '_> {
        match self {
            Value2::Array(a) => Box::new(a.clone()),
            Value2::Scalar(a) => Box::new(Scalar::new(a.clone())),
        }
    }

    fn into_array(self, len: usize) -> RuntimeResult<ArrayRef> {
        match self {
            Value2::Array(a) => Ok(a),
            Value2::Scalar(s) => {
                if len == 0 {
                    return Ok(new_empty_array(s.data_type()));
                }
                let idx = UInt32Array::from(vec![0u32; len]);
                Ok(arrow::compute::take(s.as_ref(), &idx, None)?)
            }
        }
    }

    fn wrap(is_scalar: bool, a: ArrayRef) -> Value2 {
        if is_scalar {
            Value2::Scalar(a)
        } else {
            Value2::Array(a)
        }
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Value2::Scalar(_))
    }
}

/// Timestamps `a` moved by `micros` microseconds (in the array's own unit, saturating).
fn shift_time(a: &ArrayRef, micros: i64) -> RuntimeResult<ArrayRef> {
    use arrow::array::{
        TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
        TimestampSecondArray,
    };
    use arrow::datatypes::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    let not_ts = || RuntimeError::Plan(format!("expected a timestamp, got {}", a.data_type()));
    let out: ArrayRef = match a.data_type() {
        ArrowType::Timestamp(TimeUnit::Second, tz) => {
            let d = micros / 1_000_000;
            let p = a
                .as_primitive_opt::<TimestampSecondType>()
                .ok_or_else(not_ts)?;
            let r: TimestampSecondArray = p.unary(|v| v.saturating_add(d));
            Arc::new(r.with_timezone_opt(tz.clone()))
        }
        ArrowType::Timestamp(TimeUnit::Millisecond, tz) => {
            let d = micros / 1_000;
            let p = a
                .as_primitive_opt::<TimestampMillisecondType>()
                .ok_or_else(not_ts)?;
            let r: TimestampMillisecondArray = p.unary(|v| v.saturating_add(d));
            Arc::new(r.with_timezone_opt(tz.clone()))
        }
        ArrowType::Timestamp(TimeUnit::Microsecond, tz) => {
            let p = a
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(not_ts)?;
            let r: TimestampMicrosecondArray = p.unary(|v| v.saturating_add(micros));
            Arc::new(r.with_timezone_opt(tz.clone()))
        }
        ArrowType::Timestamp(TimeUnit::Nanosecond, tz) => {
            let d = micros.saturating_mul(1_000);
            let p = a
                .as_primitive_opt::<TimestampNanosecondType>()
                .ok_or_else(not_ts)?;
            let r: TimestampNanosecondArray = p.unary(|v| v.saturating_add(d));
            Arc::new(r.with_timezone_opt(tz.clone()))
        }
        _ => return Err(not_ts()),
    };
    Ok(out)
}

/// The greatest value of a timestamp column in epoch milliseconds (the column's local
/// date-times read as UTC), or None when it has no non-null value.
pub fn max_timestamp_ms(a: &ArrayRef) -> RuntimeResult<Option<i64>> {
    use arrow::datatypes::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    let not_ts = || {
        RuntimeError::Plan(format!(
            "a watermark must be a TIMESTAMP(3) or TIMESTAMP_LTZ(3), got {}",
            a.data_type()
        ))
    };
    use arrow::compute::kernels::aggregate::max;
    Ok(match a.data_type() {
        ArrowType::Timestamp(TimeUnit::Second, _) => max(a
            .as_primitive_opt::<TimestampSecondType>()
            .ok_or_else(not_ts)?)
        .map(|v| v.saturating_mul(1000)),
        ArrowType::Timestamp(TimeUnit::Millisecond, _) => max(a
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(not_ts)?),
        ArrowType::Timestamp(TimeUnit::Microsecond, _) => max(a
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or_else(not_ts)?)
        .map(|v| v.div_euclid(1000)),
        ArrowType::Timestamp(TimeUnit::Nanosecond, _) => max(a
            .as_primitive_opt::<TimestampNanosecondType>()
            .ok_or_else(not_ts)?)
        .map(|v| v.div_euclid(1_000_000)),
        _ => return Err(not_ts()),
    })
}

/// Evaluate to a full column of `batch.num_rows()` values.
pub fn evaluate(expr: &PhysExpr, batch: &RecordBatch) -> RuntimeResult<ArrayRef> {
    eval(expr, batch)?.into_array(batch.num_rows())
}

fn bool_of(v: Value2, len: usize) -> RuntimeResult<BooleanArray> {
    let a = v.into_array(len)?;
    Ok(a.as_boolean_opt()
        .ok_or_else(|| RuntimeError::Plan("expected a BOOLEAN".into()))?
        .clone())
}

fn eval(expr: &PhysExpr, batch: &RecordBatch) -> RuntimeResult<Value2> {
    let n = batch.num_rows();
    Ok(match expr {
        PhysExpr::Column(i) => Value2::Array(batch.column(*i).clone()),
        PhysExpr::Literal(a) => Value2::Scalar(a.clone()),
        PhysExpr::Cast(inner, to, safe) => {
            let v = eval(inner, batch)?;
            let s = v.is_scalar();
            let a = match v {
                Value2::Array(a) | Value2::Scalar(a) => a,
            };
            let out = cast_with_options(
                &a,
                to,
                &CastOptions {
                    safe: *safe,
                    ..Default::default()
                },
            )
            .map_err(|e| RuntimeError::Plan(format!("CAST to {to} failed: {e}")))?;
            Value2::wrap(s, out)
        }
        PhysExpr::TimeShift(inner, micros) => {
            let v = eval(inner, batch)?;
            let s = v.is_scalar();
            let a = match v {
                Value2::Array(a) | Value2::Scalar(a) => a,
            };
            Value2::wrap(s, shift_time(&a, *micros)?)
        }
        PhysExpr::Arith(op, l, r) => {
            let (lv, rv) = (eval(l, batch)?, eval(r, batch)?);
            let s = lv.is_scalar() && rv.is_scalar();
            let (ld, rd) = (lv.datum(), rv.datum());
            let out = match op {
                ArithOp::Add => numeric::add(ld.as_ref(), rd.as_ref()),
                ArithOp::Sub => numeric::sub(ld.as_ref(), rd.as_ref()),
                ArithOp::Mul => numeric::mul(ld.as_ref(), rd.as_ref()),
                ArithOp::Div => numeric::div(ld.as_ref(), rd.as_ref()),
                ArithOp::Rem => numeric::rem(ld.as_ref(), rd.as_ref()),
            }?;
            Value2::wrap(s, out)
        }
        PhysExpr::Cmp(op, l, r) => {
            let (lv, rv) = (eval(l, batch)?, eval(r, batch)?);
            let s = lv.is_scalar() && rv.is_scalar();
            let (ld, rd) = (lv.datum(), rv.datum());
            let out = match op {
                CmpOp::Eq => cmp::eq(ld.as_ref(), rd.as_ref()),
                CmpOp::NotEq => cmp::neq(ld.as_ref(), rd.as_ref()),
                CmpOp::Lt => cmp::lt(ld.as_ref(), rd.as_ref()),
                CmpOp::LtEq => cmp::lt_eq(ld.as_ref(), rd.as_ref()),
                CmpOp::Gt => cmp::gt(ld.as_ref(), rd.as_ref()),
                CmpOp::GtEq => cmp::gt_eq(ld.as_ref(), rd.as_ref()),
            }?;
            Value2::wrap(s, Arc::new(out))
        }
        PhysExpr::And(l, r) | PhysExpr::Or(l, r) => {
            let (lv, rv) = (eval(l, batch)?, eval(r, batch)?);
            let s = lv.is_scalar() && rv.is_scalar();
            let len = if s { 1 } else { n };
            let (la, ra) = (bool_of(lv, len)?, bool_of(rv, len)?);
            let out = if matches!(expr, PhysExpr::And(..)) {
                boolean::and_kleene(&la, &ra)?
            } else {
                boolean::or_kleene(&la, &ra)?
            };
            Value2::wrap(s, Arc::new(out))
        }
        PhysExpr::Not(inner) => {
            let v = eval(inner, batch)?;
            let s = v.is_scalar();
            let a = bool_of(v, if s { 1 } else { n })?;
            Value2::wrap(s, Arc::new(boolean::not(&a)?))
        }
        PhysExpr::Neg(inner) => {
            let v = eval(inner, batch)?;
            let s = v.is_scalar();
            let a = match v {
                Value2::Array(a) | Value2::Scalar(a) => a,
            };
            Value2::wrap(s, numeric::neg(a.as_ref())?)
        }
        PhysExpr::IsNull(inner, not) => {
            let v = eval(inner, batch)?;
            let s = v.is_scalar();
            let a = match v {
                Value2::Array(a) | Value2::Scalar(a) => a,
            };
            let out = if *not {
                boolean::is_not_null(a.as_ref())?
            } else {
                boolean::is_null(a.as_ref())?
            };
            Value2::wrap(s, Arc::new(out))
        }
        PhysExpr::Case(branches, else_e) => {
            let mut acc = eval(else_e, batch)?.into_array(n)?;
            for (cond, val) in branches.iter().rev() {
                let c = bool_of(eval(cond, batch)?, n)?;
                // NULL conditions count as false
                let c = if c.null_count() > 0 {
                    arrow::compute::prep_null_mask_filter(&c)
                } else {
                    c
                };
                let v = eval(val, batch)?.into_array(n)?;
                acc = zip(&c, &v, &acc)?;
            }
            Value2::Array(acc)
        }
        PhysExpr::Concat(parts) => {
            let mut acc: Option<ArrayRef> = None;
            for p in parts {
                let a = eval(p, batch)?.into_array(n)?;
                acc = Some(match acc {
                    None => a,
                    Some(prev) => {
                        let (x, y) = (prev.as_string::<i32>(), a.as_string::<i32>());
                        Arc::new(
                            arrow::compute::kernels::concat_elements::concat_elements_utf8(x, y)?,
                        )
                    }
                });
            }
            Value2::Array(acc.unwrap_or_else(|| new_null_array(&ArrowType::Utf8, n)))
        }
        PhysExpr::StrFn(func, inner) => {
            let a = eval(inner, batch)?.into_array(n)?;
            let s = a.as_string::<i32>();
            let out: ArrayRef = match func {
                StrFn::Upper => Arc::new(
                    s.iter()
                        .map(|v| v.map(|x| x.to_uppercase()))
                        .collect::<StringArray>(),
                ),
                StrFn::Lower => Arc::new(
                    s.iter()
                        .map(|v| v.map(|x| x.to_lowercase()))
                        .collect::<StringArray>(),
                ),
                StrFn::CharLength => Arc::new(
                    s.iter()
                        .map(|v| v.map(|x| x.chars().count() as i32))
                        .collect::<arrow::array::Int32Array>(),
                ),
            };
            Value2::Array(out)
        }
        PhysExpr::Like(negated, s, p) => {
            let sv = eval(s, batch)?;
            let pv = eval(p, batch)?;
            let (sd, pd) = (sv.datum(), pv.datum());
            let out = if *negated {
                arrow::compute::kernels::comparison::nlike(sd.as_ref(), pd.as_ref())?
            } else {
                arrow::compute::kernels::comparison::like(sd.as_ref(), pd.as_ref())?
            };
            Value2::Array(Arc::new(out))
        }
        PhysExpr::Coalesce(parts) => {
            let mut acc: Option<ArrayRef> = None;
            for p in parts.iter().rev() {
                let a = eval(p, batch)?.into_array(n)?;
                acc = Some(match acc {
                    None => a,
                    Some(rest) => {
                        let mask = boolean::is_not_null(a.as_ref())?;
                        zip(&mask, &a, &rest)?
                    }
                });
            }
            Value2::Array(acc.unwrap_or_else(|| new_null_array(&ArrowType::Utf8, n)))
        }
    })
}

/// Cast a column to the type a sink expects, as Flink's implicit INSERT cast does.
pub fn cast_column(a: &ArrayRef, to: &ArrowType) -> RuntimeResult<ArrayRef> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    if let (ArrowType::Timestamp(u1, _), ArrowType::Timestamp(u2, _)) = (a.data_type(), to) {
        if u1 == u2 {
            return Ok(cast_with_options(a, to, &CastOptions::default())?);
        }
    }
    let _ = TimeUnit::Millisecond;
    Ok(cast_with_options(
        a,
        to,
        &CastOptions {
            safe: false,
            ..Default::default()
        },
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int32Array};
    use sqlparser::dialect::GenericDialect;
    use sqlparser::parser::Parser;

    fn scope() -> Scope {
        Scope {
            columns: vec![
                ("a".into(), DataType::parse("INT").unwrap()),
                ("b".into(), DataType::parse("DOUBLE").unwrap()),
                ("s".into(), DataType::parse("STRING").unwrap()),
                ("d".into(), DataType::parse("DECIMAL(10, 2)").unwrap()),
            ],
        }
    }

    fn batch() -> RecordBatch {
        let s = Arc::new(scope().arrow_schema());
        let d = cast_with_options(
            &StringArray::from(vec!["1.50", "2.25", "-3.00"]),
            &ArrowType::Decimal128(10, 2),
            &CastOptions::default(),
        )
        .unwrap();
        RecordBatch::try_new(
            s,
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
                Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5])),
                Arc::new(StringArray::from(vec![Some("x"), Some("yy"), None])),
                d,
            ],
        )
        .unwrap()
    }

    fn run(sql: &str) -> (ArrayRef, DataType) {
        let e = Parser::new(&GenericDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap();
        let t = compile(&e, &scope()).unwrap();
        (evaluate(&t.expr, &batch()).unwrap(), t.data_type)
    }

    fn err(sql: &str) -> RuntimeError {
        let e = Parser::new(&GenericDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap();
        compile(&e, &scope()).unwrap_err()
    }

    #[test]
    fn arithmetic_and_types() {
        let (a, t) = run("a + 1");
        assert_eq!(t.logical, LogicalType::Int);
        assert_eq!(a.as_primitive::<arrow::datatypes::Int32Type>().value(2), 4);
        assert!(a.is_null(1));
        let (a, t) = run("a * b");
        assert_eq!(t.logical, LogicalType::Double);
        assert_eq!(
            a.as_primitive::<arrow::datatypes::Float64Type>().value(2),
            7.5
        );
        let (_, t) = run("d + 1.5");
        assert!(matches!(t.logical, LogicalType::Decimal { .. }), "{t}");
        let (a, _) = run("-a");
        assert_eq!(a.as_primitive::<arrow::datatypes::Int32Type>().value(0), -1);
    }

    #[test]
    fn predicates() {
        let (a, _) = run("a > 1 AND s IS NOT NULL");
        let b = a.as_boolean();
        assert!(!b.value(0));
        assert!(b.is_null(1) || !b.value(1));
        let (a, _) = run("s LIKE 'y%'");
        assert!(a.as_boolean().value(1));
        let (a, _) = run("a IN (1, 3)");
        assert!(a.as_boolean().value(0) && a.as_boolean().value(2));
        let (a, _) = run("b BETWEEN 1 AND 2");
        assert!(!a.as_boolean().value(0) && a.as_boolean().value(1));
        let (a, _) = run("NOT (a = 1)");
        assert!(!a.as_boolean().value(0));
        let (a, _) = run("d < 0");
        assert!(a.as_boolean().value(2));
    }

    #[test]
    fn functions_case_cast() {
        let (a, _) = run("UPPER(s) || '!'");
        assert_eq!(a.as_string::<i32>().value(1), "YY!");
        let (a, _) = run("COALESCE(a, 42)");
        assert_eq!(a.as_primitive::<arrow::datatypes::Int32Type>().value(1), 42);
        let (a, _) = run("CASE WHEN a IS NULL THEN 'none' ELSE 'some' END");
        assert_eq!(a.as_string::<i32>().value(1), "none");
        let (a, t) = run("CAST(a AS STRING)");
        assert_eq!(t.to_string(), "STRING");
        assert_eq!(a.as_string::<i32>().value(0), "1");
        let (a, _) = run("CAST('2024-01-02 03:04:05' AS TIMESTAMP(3))");
        assert_eq!(a.len(), 3);
        let (a, _) = run("ABS(d)");
        assert_eq!(
            cast_with_options(&a, &ArrowType::Utf8, &CastOptions::default())
                .unwrap()
                .as_string::<i32>()
                .value(2),
            "3.00"
        );
    }

    #[test]
    fn errors() {
        assert!(err("nope + 1")
            .to_string()
            .contains("unknown column 'nope'"));
        assert!(err("s + 1").to_string().contains("numeric"));
        assert!(err("COUNT(a)").is_unsupported());
        assert!(!err("FOO(a)").is_unsupported());
        assert!(err("a AND b").to_string().contains("BOOLEAN"));
    }
}
