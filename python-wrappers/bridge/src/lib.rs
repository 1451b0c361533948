//! # headrace-bridge: Headrace connectors inside Apache Flink
//!
//! The Rust half of the Flink bridge. The Java half (`python-wrappers/java`, Maven) turns any
//! registered Headrace connector into a Flink FLIP-27 `Source`, a Sink V2 sink with a committer and
//! a `DynamicTableSourceFactory` / `DynamicTableSinkFactory`; it calls into a native library built
//! from a crate that invokes [`export_bridge!`] once:
//!
//! ```ignore
//! // Cargo.toml: [lib] crate-type = ["cdylib"]
//! fn registry() -> headrace_sdk::registry::Registry {
//!     headrace_sdk::registry::Registry::new().with_connector(my_connector::MyFactory)
//! }
//! headrace_bridge::export_bridge!(registry);
//! ```
//!
//! Rows cross in batches with the compact row encoding of [`codec`] (one JNI call per batch);
//! splits, enumerator state, writer state and committables cross as versioned bytes. Errors become
//! `io.headrace.flink.HeadraceException` with Headrace's message; panics are caught first.
//!
//! Every loaded copy of the library (PyFlink loads the bridge once per class loader, each from its
//! own temporary copy) has its own handle table, registry and async runtime.

pub mod codec;
pub mod glue;
pub mod ops;

#[doc(hidden)]
pub use jni;

/// Export the JNI entry points of `io.headrace.flink.NativeBridge` serving the connectors of
/// `$registry`, a `fn() -> Registry` (called once per loaded copy of the library).
///
/// Each entry point is exported as `Java_io_headrace_flink_NativeBridge_<method>`; its body runs
/// inside [`glue::guard`], so a Headrace error or a panic becomes a `HeadraceException` in Java.
#[macro_export]
macro_rules! export_bridge {
    ($registry:path) => {
        const _: () = {
            use $crate::glue::{self, index};
            use $crate::jni::objects::{JByteArray, JByteBuffer, JObjectArray, JString};
            use $crate::jni::sys::{jboolean, jbyteArray, jint, jlong, jobjectArray, jstring};

            fn bridge() -> &'static $crate::ops::Bridge {
                glue::bridge($registry)
            }

            fn checkpoint(id: jlong) -> $crate::entry::Result<u64> {
                glue::unsigned(id, "checkpoint id")
            }

            $crate::native_bridge_methods! {
                registryJson(_) -> jstring { Ok(bridge().registry_json()) }
                connectorOptions(env, connector: JString<'l>, source: jboolean) -> jobjectArray {
                    bridge().connector_options(&glue::string(env, &connector)?, source != 0)
                }
                createSource(
                    env, connector: JString<'l>, table: JString<'l>, columns: JString<'l>,
                    options: JObjectArray<'l>,
                ) -> jlong {
                    let spec = glue::table_spec(env, &connector, &table, &columns, &options)?;
                    bridge().create_source(&spec)
                }
                createSink(
                    env, connector: JString<'l>, table: JString<'l>, columns: JString<'l>,
                    options: JObjectArray<'l>,
                ) -> jlong {
                    let spec = glue::table_spec(env, &connector, &table, &columns, &options)?;
                    bridge().create_sink(&spec)
                }
                tableMetadata(
                    env, connector: JString<'l>, table: JString<'l>, columns: JString<'l>,
                    options: JObjectArray<'l>, source: jboolean,
                ) -> jobjectArray {
                    let spec = glue::table_spec(env, &connector, &table, &columns, &options)?;
                    bridge().table_metadata(&spec, source != 0)
                }
                changelogMode(_, handle: jlong) -> jint { bridge().changelog_mode(handle) }
                sourceBounded(_, source: jlong) -> jboolean { bridge().source_bounded(source) }
                enumeratorCreate(
                    env, source: jlong, parallelism: jint, restored: JByteArray<'l>,
                ) -> jlong {
                    let restored = glue::bytes(env, &restored)?;
                    let p = index(parallelism, "parallelism")?;
                    bridge().enumerator_create(source, p, restored.as_deref())
                }
                enumeratorRequest(_, enumerator: jlong, subtask: jint) -> jbyteArray {
                    bridge().enumerator_request(enumerator, index(subtask, "subtask")?)
                }
                enumeratorAddSplitsBack(env, enumerator: jlong, splits: JByteArray<'l>) {
                    let splits = glue::bytes(env, &splits)?.unwrap_or_default();
                    bridge().enumerator_add_splits_back(enumerator, &splits)
                }
                enumeratorSnapshot(_, enumerator: jlong, id: jlong) -> jbyteArray {
                    bridge().enumerator_snapshot(enumerator, checkpoint(id)?)
                }
                enumeratorCheckpointComplete(_, enumerator: jlong, id: jlong) {
                    bridge().enumerator_checkpoint_complete(enumerator, checkpoint(id)?)
                }
                readerCreate(
                    _, source: jlong, subtask: jint, parallelism: jint, batch_size: jint,
                ) -> jlong {
                    let (s, p) = (index(subtask, "subtask")?, index(parallelism, "parallelism")?);
                    bridge().reader_create(source, s, p, index(batch_size, "batch size")?)
                }
                readerAddSplits(env, reader: jlong, splits: JByteArray<'l>) {
                    let splits = glue::bytes(env, &splits)?.unwrap_or_default();
                    bridge().reader_add_splits(reader, &splits)
                }
                readerNoMoreSplits(_, reader: jlong) { bridge().reader_no_more_splits(reader) }
                readerCheckpointComplete(_, reader: jlong, id: jlong) {
                    bridge().reader_checkpoint_complete(reader, checkpoint(id)?)
                }
                readerPoll(env, reader: jlong, encoding: jint) -> jbyteArray {
                    bridge().reader_poll_with(reader, encoding, |b| glue::new_bytes(env, b))
                }
                readerSnapshot(_, reader: jlong, id: jlong) -> jbyteArray {
                    bridge().reader_snapshot(reader, checkpoint(id)?)
                }
                writerCreate(
                    env, sink: jlong, subtask: jint, parallelism: jint, restored_checkpoint: jlong,
                    restored_state: JByteArray<'l>,
                ) -> jlong {
                    let state = glue::bytes(env, &restored_state)?.unwrap_or_default();
                    let (s, p) = (index(subtask, "subtask")?, index(parallelism, "parallelism")?);
                    bridge().writer_create(sink, s, p, checkpoint(restored_checkpoint)?, &state)
                }
                writerWrite(
                    env, writer: jlong, rows: JByteBuffer<'l>, length: jint, encoding: jint,
                ) {
                    let b = glue::direct_bytes(env, &rows, index(length, "length")?)?;
                    bridge().writer_write_encoded(writer, b, encoding)
                }
                writerFlush(_, writer: jlong, end_of_input: jboolean) {
                    bridge().writer_flush(writer, end_of_input != 0)
                }
                writerPrepareCommit(_, writer: jlong, id: jlong) -> jbyteArray {
                    bridge().writer_prepare_commit(writer, checkpoint(id)?)
                }
                writerSnapshot(_, writer: jlong, id: jlong) -> jbyteArray {
                    bridge().writer_snapshot(writer, checkpoint(id)?)
                }
                committerCreate(_, sink: jlong) -> jlong { bridge().committer_create(sink) }
                committerCommit(env, committer: jlong, id: jlong, committables: JByteArray<'l>) {
                    let b = glue::bytes(env, &committables)?.unwrap_or_default();
                    bridge().committer_commit(committer, checkpoint(id)?, &b)
                }
                close(_, handle: jlong) { bridge().close(handle) }
            }
        };
    };
}

/// One JNI entry point of `io.headrace.flink.NativeBridge` per item `method(env, args...) -> ret
/// { body }`, exported as `Java_io_headrace_flink_NativeBridge_<method>`. `env` (a pattern, `_`
/// when unused) is the `JNIEnv`; the body returns a `Result` of a value [`entry::IntoJava`]
/// turns into `ret` (no `-> ret` for `void`). Used by [`export_bridge!`].
#[doc(hidden)]
#[macro_export]
macro_rules! native_bridge_methods {
    ($($method:ident($env:pat $(, $arg:ident: $ty:ty)* $(,)?) $(-> $ret:ty)? $body:block)*) => {$(
        #[allow(unsafe_code, non_snake_case)]
        #[export_name = concat!("Java_io_headrace_flink_NativeBridge_", stringify!($method))]
        extern "system" fn $method<'l>(
            mut env: $crate::jni::JNIEnv<'l>,
            _class: $crate::jni::objects::JClass<'l>,
            $($arg: $ty),*
        ) $(-> $ret)? {
            $crate::entry::run(&mut env, |$env| $body)
        }
    )*};
}

/// What the entry points [`export_bridge!`] generates share: the answer's conversion to a Java
/// value and the value returned (with the exception pending) when a call fails.
#[doc(hidden)]
pub mod entry {
    use jni::sys::jobject;
    use jni::JNIEnv;

    use crate::glue;
    pub use headrace_sdk::Result;

    /// A Rust answer turned into the value a native method returns.
    pub trait IntoJava {
        /// The JNI type returned.
        type Java: Fallback;
        /// Convert, creating Java objects where needed.
        fn into_java(self, env: &mut JNIEnv<'_>) -> Result<Self::Java>;
    }

    /// The value a native method returns when it throws (Java ignores it).
    pub trait Fallback {
        /// That value.
        fn fallback() -> Self;
    }

    macro_rules! as_is {
        ($($t:ty = $fallback:expr),*) => {$(
            impl IntoJava for $t {
                type Java = $t;
                #[inline]
                fn into_java(self, _: &mut JNIEnv<'_>) -> Result<$t> {
                    Ok(self)
                }
            }
            impl Fallback for $t {
                #[inline]
                fn fallback() -> $t {
                    $fallback
                }
            }
        )*};
    }
    as_is!(
        () = (),
        i32 = 0,
        i64 = 0,
        u8 = 0,
        jobject = std::ptr::null_mut()
    );

    impl IntoJava for bool {
        type Java = u8;
        fn into_java(self, _: &mut JNIEnv<'_>) -> Result<u8> {
            Ok(glue::boolean(self))
        }
    }

    impl IntoJava for Vec<u8> {
        type Java = jobject;
        fn into_java(self, env: &mut JNIEnv<'_>) -> Result<jobject> {
            glue::new_bytes(env, &self)
        }
    }

    impl IntoJava for String {
        type Java = jobject;
        fn into_java(self, env: &mut JNIEnv<'_>) -> Result<jobject> {
            glue::new_string(env, &self)
        }
    }

    impl IntoJava for Vec<String> {
        type Java = jobject;
        fn into_java(self, env: &mut JNIEnv<'_>) -> Result<jobject> {
            glue::new_string_array(env, &self)
        }
    }

    /// Run a native method's body inside [`glue::guard`] and convert its answer.
    #[inline]
    pub fn run<'l, T: IntoJava>(
        env: &mut JNIEnv<'l>,
        body: impl FnOnce(&mut JNIEnv<'l>) -> Result<T>,
    ) -> T::Java {
        glue::guard(env, T::Java::fallback(), |env| body(env)?.into_java(env))
    }
}
