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

    HeadraceDynamicSource(TableSpec spec, boolean bounded) {
        this.spec = spec;
        this.bounded = bounded;
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return ChangelogMode.insertOnly();
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
        return SourceProvider.of(new HeadraceSource<RowData>(spec, bounded, false, HeadraceSource.DEFAULT_BATCH_SIZE));
    }

    @Override
    public DynamicTableSource copy() {
        return new HeadraceDynamicSource(spec, bounded);
    }

    @Override
    public String asSummaryString() {
        return "Headrace " + spec.connector;
    }
}
