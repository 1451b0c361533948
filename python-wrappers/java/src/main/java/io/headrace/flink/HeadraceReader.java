package io.headrace.flink;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.core.io.InputStatus;

/**
 * A reader: polls the Rust reader for batches and decodes them into rows.
 *
 * <p>When the Rust reader names the split of each batch (Kafka: the partition), rows go to that split's
 * output ({@link ReaderOutput#createOutputForSplit}), so Flink keeps a watermark per split and the
 * reader's watermark is the least over its splits, as in Flink's own Kafka source. Every split assigned
 * to the reader gets its output from then on, so a split without rows holds the watermark back until
 * it has rows or goes idle ({@code scan.watermark.idle-timeout}). A split's output is released once a
 * checkpoint's state no longer lists the split (it finished), and all are at the end of input.
 */
final class HeadraceReader<T> implements SourceReader<T, HeadraceSplit> {
    private static final long IDLE_MILLIS = 10;
    private static final byte SPLIT_BATCH = 4;
    private final SourceReaderContext ctx;
    private final RowCodec codec;
    private final long source;
    private final long reader;
    private CompletableFuture<Void> available = CompletableFuture.completedFuture(null);
    private boolean waitingForSplits;
    /** The ids of the splits assigned and not known to be finished. */
    private final Set<String> assigned = new LinkedHashSet<>();
    /** The split outputs made so far (only once the Rust reader has named a batch's split). */
    private final Map<String, SourceOutput<T>> splitOutputs = new HashMap<>();
    /** Whether the Rust reader names the split of its batches. */
    private boolean perSplit;

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
        byte tag = in.get();
        if (perSplit) {
            syncSplitOutputs(output);
        }
        switch (tag) {
            case 0:
                codec.decode(in, answer, row -> output.collect((T) row));
                return InputStatus.MORE_AVAILABLE;
            case SPLIT_BATCH: {
                String split = new String(Wire.bytes(in), StandardCharsets.UTF_8);
                if (!perSplit) {
                    perSplit = true;
                    syncSplitOutputs(output);
                }
                SourceOutput<T> out = splitOutputs.get(split);
                if (out == null) {
                    // A split the reader had before this class saw it (e.g. restored): keep it too.
                    assigned.add(split);
                    out = output.createOutputForSplit(split);
                    splitOutputs.put(split, out);
                }
                SourceOutput<T> target = out;
                codec.decode(in, answer, row -> target.collect((T) row));
                return InputStatus.MORE_AVAILABLE;
            }
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
                assigned.clear();
                syncSplitOutputs(output);
                return InputStatus.END_OF_INPUT;
        }
    }

    /** Make an output for every assigned split, and release those of finished splits. */
    private void syncSplitOutputs(ReaderOutput<T> output) {
        for (String id : assigned) {
            if (!splitOutputs.containsKey(id)) {
                splitOutputs.put(id, output.createOutputForSplit(id));
            }
        }
        Iterator<String> it = splitOutputs.keySet().iterator();
        while (it.hasNext()) {
            String id = it.next();
            if (!assigned.contains(id)) {
                it.remove();
                output.releaseOutputForSplit(id);
            }
        }
    }

    @Override
    public CompletableFuture<Void> isAvailable() {
        return available;
    }

    @Override
    public void addSplits(List<HeadraceSplit> splits) {
        NativeBridge.readerAddSplits(reader, Wire.writeSplits(splits));
        for (HeadraceSplit s : splits) {
            assigned.add(s.splitId());
        }
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
        List<HeadraceSplit> state = Wire.readSplits(Wire.in(NativeBridge.readerSnapshot(reader, checkpointId)));
        // Splits the state no longer lists are finished: their outputs go at the next poll.
        Set<String> alive = new HashSet<>();
        for (HeadraceSplit s : state) {
            alive.add(s.splitId());
        }
        assigned.retainAll(alive);
        return state;
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
