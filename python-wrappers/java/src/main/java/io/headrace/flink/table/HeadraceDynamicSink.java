package io.headrace.flink.table;

import io.headrace.flink.HeadraceSink;
import io.headrace.flink.HeadraceSource;
import io.headrace.flink.TableSpec;
import java.util.List;
import java.util.Map;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.connector.sink.abilities.SupportsWritingMetadata;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/**
 * A table written through a Headrace connector. Persisted metadata columns (e.g. Kafka's {@code
 * timestamp} and {@code headers}) reach Headrace as metadata columns after the physical ones, in the
 * order of Flink's consumed row.
 */
public final class HeadraceDynamicSink implements DynamicTableSink, SupportsWritingMetadata {
    private final TableSpec spec;
    private final List<String> primaryKey;
    private final int mode;
    private List<String> metadataKeys = List.of();
    private RowType consumedType;

    HeadraceDynamicSink(TableSpec spec, List<String> primaryKey, int mode) {
        this.spec = spec;
        this.primaryKey = primaryKey;
        this.mode = mode;
        this.consumedType = spec.rowType;
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
        // Sinks taking every kind accept what the query produces; others say what they take.
        return mode == 2 ? requestedMode : HeadraceTableFactory.flinkMode(mode);
    }

    @Override
    public Map<String, DataType> listWritableMetadata() {
        return HeadraceTableFactory.metadataTypes(spec, false);
    }

    @Override
    public void applyWritableMetadata(List<String> metadataKeys, DataType consumedDataType) {
        this.metadataKeys = List.copyOf(metadataKeys);
        this.consumedType = (RowType) consumedDataType.getLogicalType();
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
        TableSpec write = HeadraceTableFactory.withMetadata(spec, primaryKey, metadataKeys, consumedType);
        if (!metadataKeys.isEmpty()) {
            HeadraceTableFactory.check(write, false);
        }
        return SinkV2Provider.of(new HeadraceSink<RowData>(write, false, HeadraceSource.DEFAULT_BATCH_SIZE));
    }

    @Override
    public DynamicTableSink copy() {
        HeadraceDynamicSink c = new HeadraceDynamicSink(spec, primaryKey, mode);
        c.metadataKeys = metadataKeys;
        c.consumedType = consumedType;
        return c;
    }

    @Override
    public String asSummaryString() {
        return "Headrace " + spec.connector;
    }
}
