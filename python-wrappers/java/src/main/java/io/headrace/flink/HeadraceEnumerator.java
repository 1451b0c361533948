package io.headrace.flink;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;

/** The enumerator: asks the Rust enumerator for work whenever a reader asks. */
final class HeadraceEnumerator implements SplitEnumerator<HeadraceSplit, byte[]> {
    private static final long RETRY_MILLIS = 200;
    private final SplitEnumeratorContext<HeadraceSplit> ctx;
    private final long source;
    private final long enumerator;
    /** Readers told "not yet": asked again periodically. */
    private final TreeSet<Integer> waiting = new TreeSet<>();

    HeadraceEnumerator(TableSpec spec, SplitEnumeratorContext<HeadraceSplit> ctx, byte[] restored) {
        this.ctx = ctx;
        this.source = spec.openSource();
        long e;
        try {
            e = NativeBridge.enumeratorCreate(source, ctx.currentParallelism(), restored);
        } catch (RuntimeException ex) {
            NativeBridge.close(source);
            throw ex;
        }
        this.enumerator = e;
    }

    @Override
    public void start() {
        ctx.callAsync(() -> null, (v, t) -> retryWaiting(), RETRY_MILLIS, RETRY_MILLIS);
    }

    private void retryWaiting() {
        for (Integer s : new TreeSet<>(waiting)) {
            if (ctx.registeredReaders().containsKey(s)) {
                serve(s);
            } else {
                waiting.remove(s);
            }
        }
    }

    private void serve(int subtask) {
        byte[] answer = NativeBridge.enumeratorRequest(enumerator, subtask);
        ByteBuffer in = Wire.in(answer);
        switch (in.get()) {
            case 0: {
                List<HeadraceSplit> splits = Wire.readSplits(in);
                waiting.remove(subtask);
                ctx.assignSplits(new SplitsAssignment<>(Map.of(subtask, splits)));
                break;
            }
            case 1:
                waiting.add(subtask);
                break;
            default:
                waiting.remove(subtask);
                ctx.signalNoMoreSplits(subtask);
        }
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        serve(subtaskId);
    }

    @Override
    public void addSplitsBack(List<HeadraceSplit> splits, int subtaskId) {
        NativeBridge.enumeratorAddSplitsBack(enumerator, Wire.writeSplits(splits));
    }

    @Override
    public void addReader(int subtaskId) {}

    @Override
    public byte[] snapshotState(long checkpointId) {
        return NativeBridge.enumeratorSnapshot(enumerator, checkpointId);
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        NativeBridge.enumeratorCheckpointComplete(enumerator, checkpointId);
    }

    @Override
    public void close() {
        try {
            NativeBridge.close(enumerator);
        } finally {
            NativeBridge.close(source);
        }
    }
}
