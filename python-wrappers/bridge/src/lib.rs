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
#[macro_export]
macro_rules! export_bridge {
    ($registry:path) => {
        const _: () = {
            use $crate::glue;
            use $crate::jni::objects::{JByteArray, JByteBuffer, JClass, JObjectArray, JString};
            use $crate::jni::sys::{jboolean, jbyteArray, jint, jlong, jobjectArray, jstring};
            use $crate::jni::JNIEnv;

            fn bridge() -> &'static $crate::ops::Bridge {
                glue::bridge($registry)
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_registryJson<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
            ) -> jstring {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    glue::new_string(env, &bridge().registry_json())
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_connectorOptions<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                connector: JString<'l>,
                source: jboolean,
            ) -> jobjectArray {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    let c = glue::string(env, &connector)?;
                    let v = bridge().connector_options(&c, source != 0)?;
                    glue::new_string_array(env, &v)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_createSource<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                connector: JString<'l>,
                table: JString<'l>,
                columns: JString<'l>,
                options: JObjectArray<'l>,
            ) -> jlong {
                glue::guard(&mut env, 0, |env| {
                    let spec = glue::table_spec(env, &connector, &table, &columns, &options)?;
                    bridge().create_source(&spec)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_createSink<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                connector: JString<'l>,
                table: JString<'l>,
                columns: JString<'l>,
                options: JObjectArray<'l>,
            ) -> jlong {
                glue::guard(&mut env, 0, |env| {
                    let spec = glue::table_spec(env, &connector, &table, &columns, &options)?;
                    bridge().create_sink(&spec)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_tableMetadata<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                connector: JString<'l>,
                table: JString<'l>,
                columns: JString<'l>,
                options: JObjectArray<'l>,
                source: jboolean,
            ) -> jobjectArray {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    let spec = glue::table_spec(env, &connector, &table, &columns, &options)?;
                    let v = bridge().table_metadata(&spec, source != 0)?;
                    glue::new_string_array(env, &v)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_changelogMode<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                handle: jlong,
            ) -> jint {
                glue::guard(&mut env, 0, |_| bridge().changelog_mode(handle))
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_sourceBounded<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                source: jlong,
            ) -> jboolean {
                glue::guard(&mut env, 0, |_| {
                    Ok(glue::boolean(bridge().source_bounded(source)?))
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_enumeratorCreate<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                source: jlong,
                parallelism: jint,
                restored: JByteArray<'l>,
            ) -> jlong {
                glue::guard(&mut env, 0, |env| {
                    let restored = glue::bytes(env, &restored)?;
                    bridge().enumerator_create(
                        source,
                        glue::index(parallelism, "parallelism")?,
                        restored.as_deref(),
                    )
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_enumeratorRequest<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                enumerator: jlong,
                subtask: jint,
            ) -> jbyteArray {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    let b = bridge()
                        .enumerator_request(enumerator, glue::index(subtask, "subtask")?)?;
                    glue::new_bytes(env, &b)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_enumeratorAddSplitsBack<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                enumerator: jlong,
                splits: JByteArray<'l>,
            ) {
                glue::guard(&mut env, (), |env| {
                    let s = glue::bytes(env, &splits)?.unwrap_or_default();
                    bridge().enumerator_add_splits_back(enumerator, &s)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_enumeratorSnapshot<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                enumerator: jlong,
                checkpoint: jlong,
            ) -> jbyteArray {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    let b = bridge().enumerator_snapshot(
                        enumerator,
                        glue::unsigned(checkpoint, "checkpoint id")?,
                    )?;
                    glue::new_bytes(env, &b)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_enumeratorCheckpointComplete<
                'l,
            >(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                enumerator: jlong,
                checkpoint: jlong,
            ) {
                glue::guard(&mut env, (), |_| {
                    bridge().enumerator_checkpoint_complete(
                        enumerator,
                        glue::unsigned(checkpoint, "checkpoint id")?,
                    )
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_readerCreate<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                source: jlong,
                subtask: jint,
                parallelism: jint,
                batch_size: jint,
            ) -> jlong {
                glue::guard(&mut env, 0, |_| {
                    bridge().reader_create(
                        source,
                        glue::index(subtask, "subtask")?,
                        glue::index(parallelism, "parallelism")?,
                        glue::index(batch_size, "batch size")?,
                    )
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_readerAddSplits<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                reader: jlong,
                splits: JByteArray<'l>,
            ) {
                glue::guard(&mut env, (), |env| {
                    let s = glue::bytes(env, &splits)?.unwrap_or_default();
                    bridge().reader_add_splits(reader, &s)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_readerNoMoreSplits<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                reader: jlong,
            ) {
                glue::guard(&mut env, (), |_| bridge().reader_no_more_splits(reader))
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_readerPoll<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                reader: jlong,
                encoding: jint,
            ) -> jbyteArray {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    bridge().reader_poll_with(reader, encoding, |b| glue::new_bytes(env, b))
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_readerSnapshot<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                reader: jlong,
                checkpoint: jlong,
            ) -> jbyteArray {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    let b = bridge()
                        .reader_snapshot(reader, glue::unsigned(checkpoint, "checkpoint id")?)?;
                    glue::new_bytes(env, &b)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_readerCheckpointComplete<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                reader: jlong,
                checkpoint: jlong,
            ) {
                glue::guard(&mut env, (), |_| {
                    bridge().reader_checkpoint_complete(
                        reader,
                        glue::unsigned(checkpoint, "checkpoint id")?,
                    )
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_writerCreate<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                sink: jlong,
                subtask: jint,
                parallelism: jint,
                restored_checkpoint: jlong,
                restored_state: JByteArray<'l>,
            ) -> jlong {
                glue::guard(&mut env, 0, |env| {
                    let s = glue::bytes(env, &restored_state)?.unwrap_or_default();
                    bridge().writer_create(
                        sink,
                        glue::index(subtask, "subtask")?,
                        glue::index(parallelism, "parallelism")?,
                        glue::unsigned(restored_checkpoint, "checkpoint id")?,
                        &s,
                    )
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_writerWrite<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                writer: jlong,
                rows: JByteBuffer<'l>,
                length: jint,
                encoding: jint,
            ) {
                glue::guard(&mut env, (), |env| {
                    let b = glue::direct_bytes(env, &rows, glue::index(length, "length")?)?;
                    bridge().writer_write_encoded(writer, b, encoding)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_writerFlush<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                writer: jlong,
                end_of_input: jboolean,
            ) {
                glue::guard(&mut env, (), |_| {
                    bridge().writer_flush(writer, end_of_input != 0)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_writerPrepareCommit<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                writer: jlong,
                checkpoint: jlong,
            ) -> jbyteArray {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    let b = bridge().writer_prepare_commit(
                        writer,
                        glue::unsigned(checkpoint, "checkpoint id")?,
                    )?;
                    glue::new_bytes(env, &b)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_writerSnapshot<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                writer: jlong,
                checkpoint: jlong,
            ) -> jbyteArray {
                glue::guard(&mut env, std::ptr::null_mut(), |env| {
                    let b = bridge()
                        .writer_snapshot(writer, glue::unsigned(checkpoint, "checkpoint id")?)?;
                    glue::new_bytes(env, &b)
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_committerCreate<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                sink: jlong,
            ) -> jlong {
                glue::guard(&mut env, 0, |_| bridge().committer_create(sink))
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_committerCommit<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                committer: jlong,
                checkpoint: jlong,
                committables: JByteArray<'l>,
            ) {
                glue::guard(&mut env, (), |env| {
                    let b = glue::bytes(env, &committables)?.unwrap_or_default();
                    bridge().committer_commit(
                        committer,
                        glue::unsigned(checkpoint, "checkpoint id")?,
                        &b,
                    )
                })
            }

            #[allow(unsafe_code)]
            #[no_mangle]
            extern "system" fn Java_io_headrace_flink_NativeBridge_close<'l>(
                mut env: JNIEnv<'l>,
                _c: JClass<'l>,
                handle: jlong,
            ) {
                glue::guard(&mut env, (), |_| bridge().close(handle))
            }
        };
    };
}
