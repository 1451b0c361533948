package io.headrace.flink;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;

/** A writer: buffers encoded rows and hands them to the Rust writer one batch at a time. */
final class HeadraceWriter<T>
        implements CommittingSinkWriter<T, HeadraceCommittable>, StatefulSinkWriter<T, Wire.Versioned> {
    private final RowCodec codec;
    private final int batchSize;
    private final long sink;
    private final long writer;
    private final Wire.Out buffer = new Wire.Out(1 << 16);
    /** The batch handed to Rust, which reads it in place (one bulk copy from {@code buffer}). */
    private java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(0);
    private int rows;
    /** The encoding of the batch being filled, chosen by its first row ({@link RowCodec#encodingFor}). */
    private int batchEncoding;
    /**
     * The id of the checkpoint the next {@code prepareCommit} belongs to. Sink V2 does not pass it to
     * {@code prepareCommit}; the following {@code snapshotState} names it, so the count resyncs there.
     */
    private long nextCheckpoint;

    HeadraceWriter(
            TableSpec spec,
            RowCodec codec,
            int batchSize,
            int subtask,
            int parallelism,
            long restoredCheckpoint,
            Collection<Wire.Versioned> state) {
        this.codec = codec;
        this.batchSize = batchSize;
        this.sink = spec.openSink();
        long w;
        try {
            byte[] restored = state.isEmpty() ? new byte[0] : Wire.writeVersioned(new ArrayList<>(state));
            w = NativeBridge.writerCreate(sink, subtask, parallelism, restoredCheckpoint, restored);
        } catch (RuntimeException e) {
            NativeBridge.close(sink);
            throw e;
        }
        this.writer = w;
        this.nextCheckpoint = restoredCheckpoint + 1;
        buffer.i32(0);
    }

    @Override
    public void write(T element, Context context) {
        if (rows == 0) {
            batchEncoding = codec.encodingFor(element);
        }
        codec.encode(buffer, element, batchEncoding);
        rows++;
        if (rows >= batchSize) {
            push();
        }
    }

    private void push() {
        if (rows == 0) {
            return;
        }
        buffer.putI32At(0, rows);
        int n = buffer.size();
        if (direct.capacity() < n) {
            direct = java.nio.ByteBuffer.allocateDirect(Math.max(n, 2 * direct.capacity()));
        }
        direct.put(0, buffer.array(), 0, n);
        NativeBridge.writerWrite(writer, direct, n, batchEncoding);
        buffer.reset();
        buffer.i32(0);
        rows = 0;
    }

    @Override
    public void flush(boolean endOfInput) {
        push();
        NativeBridge.writerFlush(writer, endOfInput);
    }

    @Override
    public Collection<HeadraceCommittable> prepareCommit() {
        long cp = nextCheckpoint;
        List<HeadraceCommittable> out = new ArrayList<>();
        for (Wire.Versioned v : Wire.readVersioned(NativeBridge.writerPrepareCommit(writer, cp))) {
            out.add(new HeadraceCommittable(cp, v));
        }
        return out;
    }

    @Override
    public List<Wire.Versioned> snapshotState(long checkpointId) {
        nextCheckpoint = checkpointId + 1;
        return Wire.readVersioned(NativeBridge.writerSnapshot(writer, checkpointId));
    }

    @Override
    public void close() {
        try {
            NativeBridge.close(writer);
        } finally {
            NativeBridge.close(sink);
        }
    }
}
