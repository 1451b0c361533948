//! JNI conversions used by the functions [`export_bridge!`](crate::export_bridge) generates.
//!
//! Every entry point runs inside [`guard`]: a Headrace error becomes a
//! `io.headrace.flink.HeadraceException` carrying Headrace's message, and a panic is caught before
//! it crosses into the JVM and reported the same way.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use jni::objects::{JByteArray, JByteBuffer, JObject, JObjectArray, JString};
use jni::sys::{jboolean, jbyteArray, jlong, jobjectArray, jstring, JNI_FALSE, JNI_TRUE};
use jni::JNIEnv;

use headrace_sdk::registry::Registry;
use headrace_sdk::{Error, Result};

use crate::ops::{Bridge, TableSpec};

/// The Java exception class errors are thrown as.
pub const EXCEPTION_CLASS: &str = "io/headrace/flink/HeadraceException";

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

/// The bridge of this copy of the native library, created on first use from `registry`.
pub fn bridge(registry: fn() -> Registry) -> &'static Bridge {
    BRIDGE.get_or_init(|| {
        init_logging();
        let b = Bridge::new(registry());
        tracing::info!(
            "Headrace bridge loaded in process {} ({:?})",
            std::process::id(),
            b.registry()
        );
        b
    })
}

/// Log to the file named by `HEADRACE_LOG_FILE` (appending), filtered by `HEADRACE_LOG` (default
/// `info`), when set. Inside a JVM stderr is often a pipe nobody reads (PyFlink's gateway), so logs
/// go to a file or nowhere. Each loaded copy of the library has its own logger.
fn init_logging() {
    let Some(path) = std::env::var_os("HEADRACE_LOG_FILE") else {
        return;
    };
    let file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(_) => return,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEADRACE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Run `f`; on error or panic throw a `HeadraceException` and return `default`.
pub fn guard<'l, T>(
    env: &mut JNIEnv<'l>,
    default: T,
    f: impl FnOnce(&mut JNIEnv<'l>) -> Result<T>,
) -> T {
    let r = catch_unwind(AssertUnwindSafe(|| f(env)));
    let message = match r {
        Ok(Ok(v)) => return v,
        Ok(Err(e)) => e.to_string(),
        Err(p) => format!(
            "a Headrace connector panicked (this is a bug in the connector): {}",
            panic_message(p.as_ref())
        ),
    };
    tracing::warn!("error reported to Java: {message}");
    // If an exception is already pending (a failed JNI call), keep it: it says more.
    if !env.exception_check().unwrap_or(false) {
        if let Err(e) = env.throw_new(EXCEPTION_CLASS, &message) {
            tracing::error!("could not throw {EXCEPTION_CLASS} ({e}): {message}");
        }
    }
    default
}

fn jni_err(e: jni::errors::Error) -> Error {
    Error::internal(format!("JNI call failed: {e}"))
}

/// A Java string.
pub fn string(env: &mut JNIEnv<'_>, s: &JString<'_>) -> Result<String> {
    if s.is_null() {
        return Err(Error::internal("a string argument from Java is null"));
    }
    Ok(env.get_string(s).map_err(jni_err)?.into())
}

/// A Java byte array (`None` for null).
pub fn bytes(env: &mut JNIEnv<'_>, a: &JByteArray<'_>) -> Result<Option<Vec<u8>>> {
    if a.is_null() {
        return Ok(None);
    }
    env.convert_byte_array(a).map(Some).map_err(jni_err)
}

/// The first `len` bytes of a direct `java.nio.ByteBuffer`, read in place (no copy). The buffer
/// must not change while the slice is used: Java passes its own buffer and waits for the call.
pub fn direct_bytes<'b>(
    env: &mut JNIEnv<'_>,
    buf: &'b JByteBuffer<'_>,
    len: usize,
) -> Result<&'b [u8]> {
    if buf.is_null() {
        return Err(Error::internal("a buffer argument from Java is null"));
    }
    if len == 0 {
        return Ok(&[]);
    }
    let ptr = env.get_direct_buffer_address(buf).map_err(|e| {
        Error::internal(format!(
            "a buffer from Java is not a direct ByteBuffer: {e}"
        ))
    })?;
    let capacity = env.get_direct_buffer_capacity(buf).map_err(jni_err)?;
    if len > capacity {
        return Err(Error::internal(format!(
            "Java names {len} bytes of a buffer of {capacity}"
        )));
    }
    // SAFETY: `ptr` is the non-null start of the direct buffer's memory, which holds `capacity`
    // bytes (checked above: len <= capacity) and stays allocated while Java holds `buf`, i.e. for
    // the whole native call the borrow `'b` lives in; the calling thread waits in this call, so
    // Java does not write the buffer meanwhile.
    #[allow(unsafe_code)]
    let slice = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    Ok(slice)
}

/// A new Java byte array.
pub fn new_bytes(env: &mut JNIEnv<'_>, b: &[u8]) -> Result<jbyteArray> {
    Ok(env.byte_array_from_slice(b).map_err(jni_err)?.into_raw())
}

/// A new Java string.
pub fn new_string(env: &mut JNIEnv<'_>, s: &str) -> Result<jstring> {
    Ok(env.new_string(s).map_err(jni_err)?.into_raw())
}

/// A new Java `String[]`.
pub fn new_string_array(env: &mut JNIEnv<'_>, items: &[String]) -> Result<jobjectArray> {
    let len = i32::try_from(items.len()).map_err(|_| Error::internal("too many strings"))?;
    let arr = env
        .new_object_array(len, "java/lang/String", JObject::null())
        .map_err(jni_err)?;
    for (i, s) in items.iter().enumerate() {
        let js = env.new_string(s).map_err(jni_err)?;
        env.set_object_array_element(&arr, i as i32, &js)
            .map_err(jni_err)?;
        env.delete_local_ref(js).map_err(jni_err)?;
    }
    Ok(arr.into_raw())
}

/// A [`TableSpec`] from Java arguments (`options` alternates keys and values).
pub fn table_spec(
    env: &mut JNIEnv<'_>,
    connector: &JString<'_>,
    table: &JString<'_>,
    columns: &JString<'_>,
    options: &JObjectArray<'_>,
) -> Result<TableSpec> {
    let n = env.get_array_length(options).map_err(jni_err)?;
    let mut flat = Vec::with_capacity(n as usize);
    for i in 0..n {
        let o = env.get_object_array_element(options, i).map_err(jni_err)?;
        let s = JString::from(o);
        flat.push(string(env, &s)?);
        env.delete_local_ref(s).map_err(jni_err)?;
    }
    let mut map = BTreeMap::new();
    for kv in flat.chunks(2) {
        if let [k, v] = kv {
            map.insert(k.clone(), v.clone());
        }
    }
    Ok(TableSpec {
        connector: string(env, connector)?,
        table: string(env, table)?,
        columns: string(env, columns)?,
        options: map,
    })
}

/// A non-negative `long` from Java as `u64`.
pub fn unsigned(v: jlong, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::internal(format!("negative {what} {v} from Java")))
}

/// A non-negative `int` from Java as `usize`.
pub fn index(v: i32, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::internal(format!("negative {what} {v} from Java")))
}

/// A Java boolean.
pub fn boolean(b: bool) -> jboolean {
    if b {
        JNI_TRUE
    } else {
        JNI_FALSE
    }
}
