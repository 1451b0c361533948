package io.headrace.flink.table;

import io.headrace.flink.HeadraceSource;
import io.headrace.flink.TableSpec;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.ProviderContext;
import org.apache.flink.table.connector.source.DataStreamScanProvider;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.SourceProvider;
import org.apache.flink.table.connector.source.abilities.SupportsReadingMetadata;
import org.apache.flink.table.connector.source.abilities.SupportsWatermarkPushDown;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/**
 * A table read through a Headrace connector.
 *
 * <p>Metadata columns ({@code METADATA FROM 'key'}): the keys come from the connector's Rust
 * declarations (and its format's, e.g. Kafka's {@code value.*}); the requested keys reach Headrace as
 * metadata columns after the physical ones, the row layout Flink's planner expects.
 *
 * <p>Watermarks: the planner pushes the table's WATERMARK (with {@code scan.watermark.idle-timeout} or
 * {@code table.exec.source.idle-timeout} applied as idleness) into the source, which then runs it per
 * split when the connector names the split of each batch (Kafka: per partition), as Flink's Kafka
 * source does.
 */
public final class HeadraceDynamicSource
        implements ScanTableSource, SupportsReadingMetadata, SupportsWatermarkPushDown {
    private final TableSpec spec;
    private final List<String> primaryKey;
    private final boolean bounded;
    private final int mode;
    private List<String> metadataKeys = List.of();
    private RowType producedType;
    private WatermarkStrategy<RowData> watermarkStrategy;

    HeadraceDynamicSource(TableSpec spec, List<String> primaryKey, boolean bounded, int mode) {
        this.spec = spec;
        this.primaryKey = primaryKey;
        this.bounded = bounded;
        this.mode = mode;
        this.producedType = spec.rowType;
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return HeadraceTableFactory.flinkMode(mode);
    }

    @Override
    public Map<String, DataType> listReadableMetadata() {
        return HeadraceTableFactory.metadataTypes(spec, true);
    }

    @Override
    public void applyReadableMetadata(List<String> metadataKeys, DataType producedDataType) {
        this.metadataKeys = List.copyOf(metadataKeys);
        this.producedType = (RowType) producedDataType.getLogicalType();
    }

    @Override
    public void applyWatermark(WatermarkStrategy<RowData> watermarkStrategy) {
        this.watermarkStrategy = watermarkStrategy;
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
        TableSpec read = HeadraceTableFactory.withMetadata(spec, primaryKey, metadataKeys, producedType);
        if (!metadataKeys.isEmpty()) {
            HeadraceTableFactory.check(read, true);
        }
        HeadraceSource<RowData> source = new HeadraceSource<>(read, bounded, false, HeadraceSource.DEFAULT_BATCH_SIZE);
        if (watermarkStrategy == null) {
            return SourceProvider.of(source);
        }
        // SourceProvider's sources get no watermark strategy from the planner: hand it over here.
        TypeInformation<RowData> typeInfo =
                context.createTypeInformation(org.apache.flink.table.types.utils.TypeConversions
                        .fromLogicalToDataType(producedType));
        WatermarkStrategy<RowData> strategy = watermarkStrategy;
        String name = asSummaryString() + " (" + spec.table + ")";
        boolean isBounded = bounded;
        return new DataStreamScanProvider() {
            @Override
            public DataStream<RowData> produceDataStream(
                    ProviderContext providerContext, StreamExecutionEnvironment env) {
                DataStreamSource<RowData> s = env.fromSource(source, strategy, name, typeInfo);
                providerContext.generateUid("headrace-source").ifPresent(s::uid);
                return s;
            }

            @Override
            public boolean isBounded() {
                return isBounded;
            }
        };
    }

    @Override
    public DynamicTableSource copy() {
        HeadraceDynamicSource c = new HeadraceDynamicSource(spec, primaryKey, bounded, mode);
        c.metadataKeys = metadataKeys;
        c.producedType = producedType;
        c.watermarkStrategy = watermarkStrategy;
        return c;
    }

    @Override
    public String asSummaryString() {
        return "Headrace " + spec.connector;
    }
}
