package io.headrace.flink;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.table.types.logical.RowType;

/**
 * A Headrace connector as a Sink V2 sink: writers write batches in Rust, prepare committables at each
 * checkpoint and the committer commits them (idempotently) once the checkpoint completes.
 *
 * @param <T> {@code RowData} for the Table API, {@code Row} for the DataStream API
 */
public final class HeadraceSink<T>
        implements Sink<T>, SupportsCommitter<HeadraceCommittable>, SupportsWriterState<T, Wire.Versioned> {
    private static final long serialVersionUID = 1L;
    private final TableSpec spec;
    private final boolean external;
    private final int batchSize;

    public HeadraceSink(TableSpec spec, boolean external, int batchSize) {
        this.spec = spec;
        this.external = external;
        this.batchSize = batchSize;
    }

    /** A sink taking {@code Row}s (for {@code ds.sink_to}), validated here by Headrace. */
    public static HeadraceSink<org.apache.flink.types.Row> forRows(
            String connector, String columns, Map<String, String> options) {
        RowType rowType = HeadraceSource.parseColumns(columns);
        TableSpec spec = new TableSpec(connector, connector, rowType, options);
        NativeBridge.close(spec.openSink());
        return new HeadraceSink<>(spec, true, HeadraceSource.DEFAULT_BATCH_SIZE);
    }

    public TableSpec spec() {
        return spec;
    }

    @Override
    public SinkWriter<T> createWriter(WriterInitContext context) {
        return restoreWriter(context, List.of());
    }

    @Override
    public StatefulSinkWriter<T, Wire.Versioned> restoreWriter(
            WriterInitContext context, Collection<Wire.Versioned> state) {
        return new HeadraceWriter<>(
                spec,
                new RowCodec(spec.types(), external),
                batchSize,
                context.getTaskInfo().getIndexOfThisSubtask(),
                context.getTaskInfo().getNumberOfParallelSubtasks(),
                context.getRestoredCheckpointId().orElse(0L),
                state);
    }

    @Override
    public SimpleVersionedSerializer<Wire.Versioned> getWriterStateSerializer() {
        return new HeadraceCommittable.StateSerializer();
    }

    @Override
    public Committer<HeadraceCommittable> createCommitter(CommitterInitContext context) {
        return new HeadraceCommitter(spec);
    }

    @Override
    public SimpleVersionedSerializer<HeadraceCommittable> getCommittableSerializer() {
        return new HeadraceCommittable.Serializer();
    }
}
