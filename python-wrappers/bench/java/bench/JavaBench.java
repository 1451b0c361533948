package bench;

import java.util.Set;
import java.util.SplittableRandom;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.connector.source.lib.NumberSequenceSource;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.ProviderContext;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.connector.source.DataStreamScanProvider;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.runtime.typeutils.InternalTypeInfo;
import org.apache.flink.table.types.logical.RowType;

/**
 * The plain-Java baseline of the bridge benchmark: a source producing the same rows as the datagen
 * DDL of the benchmark (id sequence, a INT, b DOUBLE, s STRING(10), ts TIMESTAMP(3), random) and a
 * sink that reads every field of every row. Not part of the product; compiled by bridge_bench.py.
 */
public final class JavaBench {
    private JavaBench() {}

    static final ConfigOption<Long> ROWS = ConfigOptions.key("number-of-rows").longType().noDefaultValue();

    /** {@code 'connector' = 'bench-javagen'}. */
    public static final class GenFactory implements DynamicTableSourceFactory {
        @Override
        public String factoryIdentifier() {
            return "bench-javagen";
        }

        @Override
        public Set<ConfigOption<?>> requiredOptions() {
            return Set.of(ROWS);
        }

        @Override
        public Set<ConfigOption<?>> optionalOptions() {
            return Set.of();
        }

        @Override
        public DynamicTableSource createDynamicTableSource(Context context) {
            FactoryUtil.TableFactoryHelper h = FactoryUtil.createTableFactoryHelper(this, context);
            h.validate();
            RowType t = (RowType) context.getPhysicalRowDataType().getLogicalType();
            return new Gen(h.getOptions().get(ROWS), t);
        }
    }

    static final class Gen implements ScanTableSource {
        final long rows;
        final RowType type;

        Gen(long rows, RowType type) {
            this.rows = rows;
            this.type = type;
        }

        @Override
        public ChangelogMode getChangelogMode() {
            return ChangelogMode.insertOnly();
        }

        @Override
        public ScanRuntimeProvider getScanRuntimeProvider(ScanContext c) {
            return new DataStreamScanProvider() {
                @Override
                public DataStream<RowData> produceDataStream(ProviderContext p, StreamExecutionEnvironment env) {
                    return env.fromSource(new NumberSequenceSource(1, rows), WatermarkStrategy.noWatermarks(), "javagen")
                            .map(new ToRow())
                            .returns(InternalTypeInfo.of(type));
                }

                @Override
                public boolean isBounded() {
                    return true;
                }
            };
        }

        @Override
        public DynamicTableSource copy() {
            return new Gen(rows, type);
        }

        @Override
        public String asSummaryString() {
            return "javagen";
        }
    }

    static final class ToRow implements MapFunction<Long, RowData> {
        private static final long serialVersionUID = 1L;
        private transient SplittableRandom rnd;
        private static final char[] ALPHA = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();

        @Override
        public RowData map(Long id) {
            if (rnd == null) {
                rnd = new SplittableRandom(42);
            }
            char[] s = new char[10];
            for (int i = 0; i < 10; i++) {
                s[i] = ALPHA[rnd.nextInt(ALPHA.length)];
            }
            return GenericRowData.of(
                    id,
                    rnd.nextInt(),
                    rnd.nextDouble(),
                    StringData.fromString(new String(s)),
                    TimestampData.fromEpochMillis(1_700_000_000_000L + rnd.nextLong(86_400_000L)));
        }
    }

    /** {@code 'connector' = 'bench-javasink'}: reads every field, keeps a checksum. */
    public static final class SinkFactory implements DynamicTableSinkFactory {
        @Override
        public String factoryIdentifier() {
            return "bench-javasink";
        }

        @Override
        public Set<ConfigOption<?>> requiredOptions() {
            return Set.of();
        }

        @Override
        public Set<ConfigOption<?>> optionalOptions() {
            return Set.of();
        }

        @Override
        public DynamicTableSink createDynamicTableSink(Context context) {
            FactoryUtil.createTableFactoryHelper(this, context).validate();
            return new Consume();
        }
    }

    static final class Consume implements DynamicTableSink {
        @Override
        public ChangelogMode getChangelogMode(ChangelogMode requested) {
            return requested;
        }

        @Override
        public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
            return SinkV2Provider.of(new ConsumeSink());
        }

        @Override
        public DynamicTableSink copy() {
            return new Consume();
        }

        @Override
        public String asSummaryString() {
            return "javasink";
        }
    }

    static final class ConsumeSink implements Sink<RowData> {
        private static final long serialVersionUID = 1L;

        @Override
        public SinkWriter<RowData> createWriter(WriterInitContext context) {
            return new SinkWriter<RowData>() {
                long sum;

                @Override
                public void write(RowData r, Context c) {
                    sum += r.getLong(0) + r.getInt(1) + (long) r.getDouble(2)
                            + r.getString(3).toBytes().length + r.getTimestamp(4, 3).getMillisecond();
                }

                @Override
                public void flush(boolean endOfInput) {}

                @Override
                public void close() {
                    if (sum == 42) {
                        System.out.print("");
                    }
                }
            };
        }
    }
}
