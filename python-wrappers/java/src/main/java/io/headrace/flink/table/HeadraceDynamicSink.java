package io.headrace.flink.table;

import io.headrace.flink.HeadraceSink;
import io.headrace.flink.HeadraceSource;
import io.headrace.flink.TableSpec;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.RowData;

/** A table written through a Headrace connector. */
public final class HeadraceDynamicSink implements DynamicTableSink {
    private final TableSpec spec;
    private final int mode;

    HeadraceDynamicSink(TableSpec spec, int mode) {
        this.spec = spec;
        this.mode = mode;
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
        // Sinks taking every kind accept what the query produces; others say what they take.
        return mode == 2 ? requestedMode : HeadraceTableFactory.flinkMode(mode);
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
        return SinkV2Provider.of(new HeadraceSink<RowData>(spec, false, HeadraceSource.DEFAULT_BATCH_SIZE));
    }

    @Override
    public DynamicTableSink copy() {
        return new HeadraceDynamicSink(spec, mode);
    }

    @Override
    public String asSummaryString() {
        return "Headrace " + spec.connector;
    }
}
