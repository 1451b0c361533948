//! Just enough of Thrift's binary protocol (strict, unframed, i.e. buffered
//! transport) to call HBase's Thrift 1 service.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::net::{self, io_reason};

/// Thrift type ids.
pub(crate) mod ty {
    pub(crate) const STOP: u8 = 0;
    pub(crate) const BOOL: u8 = 2;
    pub(crate) const BYTE: u8 = 3;
    pub(crate) const DOUBLE: u8 = 4;
    pub(crate) const I16: u8 = 6;
    pub(crate) const I32: u8 = 8;
    pub(crate) const I64: u8 = 10;
    pub(crate) const STRING: u8 = 11;
    pub(crate) const STRUCT: u8 = 12;
    pub(crate) const MAP: u8 = 13;
    pub(crate) const SET: u8 = 14;
    pub(crate) const LIST: u8 = 15;
}

const VERSION_1: u32 = 0x8001_0000;
const CALL: u32 = 1;
const REPLY: u32 = 2;
const EXCEPTION: u32 = 3;

/// A decoded Thrift value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Byte(i8),
    Double(f64),
    I16(i16),
    I32(i32),
    I64(i64),
    Binary(Vec<u8>),
    Struct(Vec<(i16, Value)>),
    List(Vec<Value>),
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// The field `id` of a struct.
    pub(crate) fn field(&self, id: i16) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(i, _)| *i == id).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The bytes of a binary value.
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }
}

/// Builds the arguments struct of a call.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn field(&mut self, kind: u8, id: i16) -> &mut Self {
        self.buf.push(kind);
        self.buf.extend_from_slice(&id.to_be_bytes());
        self
    }

    pub(crate) fn binary(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(u8::from(v));
        self
    }

    pub(crate) fn list_begin(&mut self, elem: u8, len: usize) -> &mut Self {
        self.buf.push(elem);
        self.buf.extend_from_slice(&(len as i32).to_be_bytes());
        self
    }

    pub(crate) fn map_begin(&mut self, key: u8, value: u8, len: usize) -> &mut Self {
        self.buf.push(key);
        self.buf.push(value);
        self.buf.extend_from_slice(&(len as i32).to_be_bytes());
        self
    }

    pub(crate) fn stop(&mut self) -> &mut Self {
        self.buf.push(ty::STOP);
        self
    }
}

/// Calls `method` with the encoded argument fields (without the final stop) and
/// returns the result struct.
pub(crate) fn call(
    address: &str,
    method: &str,
    args: &Writer,
    timeout: Duration,
) -> Result<Value, String> {
    let mut stream = net::connect(address, timeout)?;
    let mut msg = Vec::new();
    msg.extend_from_slice(&(VERSION_1 | CALL).to_be_bytes());
    msg.extend_from_slice(&(method.len() as i32).to_be_bytes());
    msg.extend_from_slice(method.as_bytes());
    msg.extend_from_slice(&1i32.to_be_bytes());
    msg.extend_from_slice(&args.buf);
    msg.push(ty::STOP);
    stream
        .write_all(&msg)
        .map_err(|e| io_reason(&format!("send {method}"), &e, timeout))?;

    let mut r = Reader {
        stream: &mut stream,
        timeout,
        method,
    };
    let head = r.u32()?;
    if head & 0xffff_0000 != VERSION_1 {
        return Err(format!(
            "{method}: not a strict binary-protocol answer ({head:#x})"
        ));
    }
    let _name = r.binary()?;
    let _seq = r.i32()?;
    let result = r.value(ty::STRUCT, 0)?;
    match head & 0xff {
        REPLY => Ok(result),
        EXCEPTION => {
            let message = result
                .field(1)
                .and_then(Value::bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err(format!("{method}: server exception: {message}"))
        }
        other => Err(format!("{method}: unexpected message type {other}")),
    }
}

struct Reader<'a> {
    stream: &'a mut TcpStream,
    timeout: Duration,
    method: &'a str,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        if n > 64 * 1024 * 1024 {
            return Err(format!("{}: implausible length {n}", self.method));
        }
        let mut buf = vec![0u8; n];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| io_reason(&format!("read answer to {}", self.method), &e, self.timeout))?;
        Ok(buf)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(self.u32()? as i32)
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.i32()?;
        usize::try_from(n).map_err(|_| format!("{}: negative length {n}", self.method))
    }

    fn binary(&mut self) -> Result<Vec<u8>, String> {
        let n = self.len()?;
        self.take(n)
    }

    fn value(&mut self, kind: u8, depth: usize) -> Result<Value, String> {
        if depth > 32 {
            return Err(format!("{}: nesting too deep", self.method));
        }
        Ok(match kind {
            ty::BOOL => Value::Bool(self.take(1)?[0] != 0),
            ty::BYTE => Value::Byte(self.take(1)?[0] as i8),
            ty::DOUBLE => {
                let b = self.take(8)?;
                Value::Double(f64::from_be_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            }
            ty::I16 => {
                let b = self.take(2)?;
                Value::I16(i16::from_be_bytes([b[0], b[1]]))
            }
            ty::I32 => Value::I32(self.i32()?),
            ty::I64 => {
                let b = self.take(8)?;
                Value::I64(i64::from_be_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            }
            ty::STRING => Value::Binary(self.binary()?),
            ty::STRUCT => {
                let mut fields = Vec::new();
                loop {
                    let field_kind = self.take(1)?[0];
                    if field_kind == ty::STOP {
                        break;
                    }
                    let id = self.take(2)?;
                    let id = i16::from_be_bytes([id[0], id[1]]);
                    fields.push((id, self.value(field_kind, depth + 1)?));
                }
                Value::Struct(fields)
            }
            ty::LIST | ty::SET => {
                let elem = self.take(1)?[0];
                let n = self.len()?;
                let mut items = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    items.push(self.value(elem, depth + 1)?);
                }
                Value::List(items)
            }
            ty::MAP => {
                let kv = self.take(2)?;
                let n = self.len()?;
                let mut entries = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let k = self.value(kv[0], depth + 1)?;
                    let v = self.value(kv[1], depth + 1)?;
                    entries.push((k, v));
                }
                Value::Map(entries)
            }
            other => return Err(format!("{}: unknown Thrift type {other}", self.method)),
        })
    }
}

/// Describes the exception field of a result struct (fields 1.. hold declared
/// exceptions whose field 1 is the message), if any is set.
pub(crate) fn declared_exception(result: &Value) -> Option<String> {
    match result {
        Value::Struct(fields) => fields.iter().find(|(id, _)| *id > 0).map(|(id, v)| {
            let message = v
                .field(1)
                .and_then(Value::bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|| format!("{v:?}"));
            format!("exception field {id}: {message}")
        }),
        _ => None,
    }
}
