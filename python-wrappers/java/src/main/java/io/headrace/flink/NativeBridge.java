package io.headrace.flink;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The native side of the bridge (a Rust library made with {@code headrace_bridge::export_bridge!}).
 *
 * <p>The library is found, in order: inside this jar at {@code /headrace-native/libheadrace_bridge.so}
 * (the generated Python package puts it there), at the path in the system property {@code
 * headrace.native.library}, or in the environment variable {@code HEADRACE_NATIVE_LIBRARY}. Each class
 * loader that loads this class loads its own fresh temporary copy, because a JVM refuses to load one
 * file into two class loaders and PyFlink loads the bridge in the client's and in each job's loader.
 */
public final class NativeBridge {
    /** Where the generated jar carries the native library. */
    public static final String RESOURCE = "/headrace-native/libheadrace_bridge.so";

    private static volatile boolean loaded;

    private NativeBridge() {}

    /** Load the native library into this class loader (once). */
    public static synchronized void ensureLoaded() {
        if (loaded) {
            return;
        }
        try {
            Path copy = Files.createTempFile("headrace-bridge-", ".so");
            try (InputStream in = NativeBridge.class.getResourceAsStream(RESOURCE)) {
                if (in != null) {
                    Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
                } else {
                    String path = System.getProperty("headrace.native.library");
                    if (path == null || path.isEmpty()) {
                        path = System.getenv("HEADRACE_NATIVE_LIBRARY");
                    }
                    if (path == null || path.isEmpty() || !new File(path).isFile()) {
                        Files.deleteIfExists(copy);
                        throw new HeadraceException(
                                "the Headrace native library was not found: it is neither inside the jar ("
                                        + RESOURCE
                                        + ") nor named by -Dheadrace.native.library or HEADRACE_NATIVE_LIBRARY"
                                        + (path == null || path.isEmpty() ? "" : " (no file at '" + path + "')")
                                        + "; use the jar of the generated Python package, or set one of them");
                    }
                    Files.copy(Path.of(path), copy, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            System.load(copy.toAbsolutePath().toString());
            // The mapping stays valid after the file is unlinked; nothing is left behind in /tmp.
            Files.deleteIfExists(copy);
            loaded = true;
        } catch (IOException e) {
            throw new HeadraceException("could not copy the Headrace native library to a temporary file: " + e, e);
        }
    }

    public static native String registryJson();

    public static native String[] connectorOptions(String connector, boolean source);

    public static native long createSource(String connector, String table, String columns, String[] options);

    public static native long createSink(String connector, String table, String columns, String[] options);

    /**
     * The metadata keys a table can read ({@code source}) or write, two strings per key: the key and
     * its Flink type string (the connector's keys, then its format's under the connector's prefix).
     */
    public static native String[] tableMetadata(
            String connector, String table, String columns, String[] options, boolean source);

    /** 0 insert-only, 1 upsert, 2 every row kind (of a source or sink handle). */
    public static native int changelogMode(long handle);

    public static native boolean sourceBounded(long source);

    public static native long enumeratorCreate(long source, int parallelism, byte[] restored);

    public static native byte[] enumeratorRequest(long enumerator, int subtask);

    public static native void enumeratorAddSplitsBack(long enumerator, byte[] splits);

    public static native byte[] enumeratorSnapshot(long enumerator, long checkpoint);

    public static native void enumeratorCheckpointComplete(long enumerator, long checkpoint);

    public static native long readerCreate(long source, int subtask, int parallelism, int batchSize);

    public static native void readerAddSplits(long reader, byte[] splits);

    public static native void readerNoMoreSplits(long reader);

    /** A poll tag byte, then for a batch its rows in {@code encoding} ({@link RowCodec#encoding()}). */
    public static native byte[] readerPoll(long reader, int encoding);

    public static native byte[] readerSnapshot(long reader, long checkpoint);

    public static native void readerCheckpointComplete(long reader, long checkpoint);

    public static native long writerCreate(
            long sink, int subtask, int parallelism, long restoredCheckpoint, byte[] restoredState);

    /** The first {@code length} bytes of the direct buffer {@code rows}: rows in {@code encoding}. */
    public static native void writerWrite(long writer, java.nio.ByteBuffer rows, int length, int encoding);

    public static native void writerFlush(long writer, boolean endOfInput);

    public static native byte[] writerPrepareCommit(long writer, long checkpoint);

    public static native byte[] writerSnapshot(long writer, long checkpoint);

    public static native long committerCreate(long sink);

    public static native void committerCommit(long committer, long checkpoint, byte[] committables);

    public static native void close(long handle);
}
