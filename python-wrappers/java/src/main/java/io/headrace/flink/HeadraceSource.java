package io.headrace.flink;

import java.util.Map;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.utils.LogicalTypeParser;

/**
 * A Headrace connector as a FLIP-27 source. The enumerator (on the JobManager) and the readers (on the
 * TaskManagers) each create their Rust objects from the {@link TableSpec}; splits and enumerator state
 * are the connector's versioned bytes.
 *
 * @param <T> {@code RowData} for the Table API, {@code Row} for the DataStream API
 */
public final class HeadraceSource<T> implements Source<T, HeadraceSplit, byte[]> {
    private static final long serialVersionUID = 1L;
    /** Rows per batch a reader is asked for. */
    public static final int DEFAULT_BATCH_SIZE = 8192;

    private final TableSpec spec;
    private final boolean bounded;
    private final boolean external;
    private final int batchSize;

    public HeadraceSource(TableSpec spec, boolean bounded, boolean external, int batchSize) {
        this.spec = spec;
        this.bounded = bounded;
        this.external = external;
        this.batchSize = batchSize;
    }

    /**
     * A source emitting {@code Row}s (for {@code env.from_source}): the connector, Headrace's column
     * list ({@code "id BIGINT, name STRING"}) and the options, validated here by Headrace.
     */
    public static HeadraceSource<org.apache.flink.types.Row> forRows(
            String connector, String columns, Map<String, String> options) {
        RowType rowType = parseColumns(columns);
        TableSpec spec = new TableSpec(connector, connector, rowType, options);
        long h = spec.openSource();
        try {
            boolean bounded = NativeBridge.sourceBounded(h);
            return new HeadraceSource<>(spec, bounded, true, DEFAULT_BATCH_SIZE);
        } finally {
            NativeBridge.close(h);
        }
    }

    /** Flink's row type of a column list such as {@code "id BIGINT, name STRING"}. */
    public static RowType parseColumns(String columns) {
        LogicalType t;
        try {
            t = LogicalTypeParser.parse("ROW<" + columns + ">", HeadraceSource.class.getClassLoader());
        } catch (org.apache.flink.table.api.ValidationException e) {
            throw new HeadraceException(
                    "the column list '" + columns + "' is not valid Flink type syntax (" + e.getMessage()
                            + "); write it as 'name TYPE, ...' and quote names that are SQL keywords"
                            + " with backticks, e.g. '`date` DATE'",
                    e);
        }
        return (RowType) t;
    }

    public TableSpec spec() {
        return spec;
    }

    @Override
    public Boundedness getBoundedness() {
        return bounded ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<T, HeadraceSplit> createReader(SourceReaderContext ctx) {
        return new HeadraceReader<>(spec, ctx, new RowCodec(spec.types(), external), batchSize);
    }

    @Override
    public SplitEnumerator<HeadraceSplit, byte[]> createEnumerator(SplitEnumeratorContext<HeadraceSplit> ctx) {
        return new HeadraceEnumerator(spec, ctx, null);
    }

    @Override
    public SplitEnumerator<HeadraceSplit, byte[]> restoreEnumerator(
            SplitEnumeratorContext<HeadraceSplit> ctx, byte[] state) {
        return new HeadraceEnumerator(spec, ctx, state);
    }

    @Override
    public SimpleVersionedSerializer<HeadraceSplit> getSplitSerializer() {
        return new HeadraceSplit.Serializer();
    }

    @Override
    public SimpleVersionedSerializer<byte[]> getEnumeratorCheckpointSerializer() {
        return new HeadraceSplit.BytesSerializer();
    }
}
