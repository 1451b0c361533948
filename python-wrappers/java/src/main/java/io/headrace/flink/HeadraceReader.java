package io.headrace.flink;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.core.io.InputStatus;

/** A reader: polls the Rust reader for batches and decodes them into rows. */
final class HeadraceReader<T> implements SourceReader<T, HeadraceSplit> {
    private static final long IDLE_MILLIS = 10;
    private final SourceReaderContext ctx;
    private final RowCodec codec;
    private final long source;
    private final long reader;
    private CompletableFuture<Void> available = CompletableFuture.completedFuture(null);
    private boolean waitingForSplits;

    HeadraceReader(TableSpec spec, SourceReaderContext ctx, RowCodec codec, int batchSize) {
        this.ctx = ctx;
        this.codec = codec;
        this.source = spec.openSource();
        long r;
        try {
            r = NativeBridge.readerCreate(
                    source,
                    ctx.getIndexOfSubtask(),
                    ctx.currentParallelism(),
                    batchSize);
        } catch (RuntimeException e) {
            NativeBridge.close(source);
            throw e;
        }
        this.reader = r;
    }

    @Override
    public void start() {}

    @Override
    @SuppressWarnings("unchecked")
    public InputStatus pollNext(ReaderOutput<T> output) {
        byte[] answer = NativeBridge.readerPoll(reader, codec.encoding());
        ByteBuffer in = Wire.in(answer);
        switch (in.get()) {
            case 0:
                codec.decode(in, answer, row -> output.collect((T) row));
                return InputStatus.MORE_AVAILABLE;
            case 1:
                available = new CompletableFuture<>();
                CompletableFuture.delayedExecutor(IDLE_MILLIS, TimeUnit.MILLISECONDS)
                        .execute(() -> available.complete(null));
                return InputStatus.NOTHING_AVAILABLE;
            case 2: {
                if (!waitingForSplits) {
                    waitingForSplits = true;
                    ctx.sendSplitRequest();
                }
                // Poll again soon rather than wait for the answer: a reader that still has splits
                // asks too (an unbounded Kafka reader, for newly discovered partitions, every few
                // hundred ms) and must go on reading; the enumerator answers only when it has
                // splits or knows there are no more.
                CompletableFuture<Void> next = new CompletableFuture<>();
                available = next;
                CompletableFuture.delayedExecutor(IDLE_MILLIS, TimeUnit.MILLISECONDS)
                        .execute(() -> next.complete(null));
                return InputStatus.NOTHING_AVAILABLE;
            }
            default:
                return InputStatus.END_OF_INPUT;
        }
    }

    @Override
    public CompletableFuture<Void> isAvailable() {
        return available;
    }

    @Override
    public void addSplits(List<HeadraceSplit> splits) {
        NativeBridge.readerAddSplits(reader, Wire.writeSplits(splits));
        waitingForSplits = false;
        available.complete(null);
    }

    @Override
    public void notifyNoMoreSplits() {
        NativeBridge.readerNoMoreSplits(reader);
        waitingForSplits = false;
        available.complete(null);
    }

    @Override
    public List<HeadraceSplit> snapshotState(long checkpointId) {
        return Wire.readSplits(Wire.in(NativeBridge.readerSnapshot(reader, checkpointId)));
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        NativeBridge.readerCheckpointComplete(reader, checkpointId);
    }

    @Override
    public void close() {
        try {
            NativeBridge.close(reader);
        } finally {
            NativeBridge.close(source);
        }
    }
}
