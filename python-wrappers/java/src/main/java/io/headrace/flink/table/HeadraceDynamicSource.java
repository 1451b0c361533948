package io.headrace.flink.table;

import io.headrace.flink.HeadraceSource;
import io.headrace.flink.TableSpec;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.SourceProvider;
import org.apache.flink.table.data.RowData;

/** A table read through a Headrace connector. */
public final class HeadraceDynamicSource implements ScanTableSource {
    private final TableSpec spec;
    private final boolean bounded;
    private final int mode;

    HeadraceDynamicSource(TableSpec spec, boolean bounded, int mode) {
        this.spec = spec;
        this.bounded = bounded;
        this.mode = mode;
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return HeadraceTableFactory.flinkMode(mode);
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
        return SourceProvider.of(new HeadraceSource<RowData>(spec, bounded, false, HeadraceSource.DEFAULT_BATCH_SIZE));
    }

    @Override
    public DynamicTableSource copy() {
        return new HeadraceDynamicSource(spec, bounded, mode);
    }

    @Override
    public String asSummaryString() {
        return "Headrace " + spec.connector;
    }
}
