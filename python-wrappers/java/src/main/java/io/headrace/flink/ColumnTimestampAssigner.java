package io.headrace.flink;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;
import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.Row;

/**
 * The event time of a DataStream {@code Row} from one of its columns, for a {@code WatermarkStrategy}
 * given to {@code env.fromSource}: there the strategy runs inside the source, on each split's output,
 * so a reader whose connector names the split of its rows (Kafka: the partition) keeps one watermark
 * per split, the least being the reader's.
 *
 * <p>PyFlink's {@code env.from_source} passes only the Java side of a {@code WatermarkStrategy} to
 * Flink: a Python {@code TimestampAssigner} set on it is left out. From Python, wrap the Java strategy
 * with this assigner instead ({@code j.withTimestampAssigner(ColumnTimestampAssigner.of(source, "ts"))}).
 *
 * <p>The column is a {@code BIGINT} (epoch milliseconds), a {@code TIMESTAMP} (read as UTC) or a
 * {@code TIMESTAMP_LTZ}. A row whose column is null gets no timestamp ({@code Long.MIN_VALUE}, as
 * Flink's "no timestamp").
 */
public final class ColumnTimestampAssigner implements SerializableTimestampAssigner<Row> {
    private static final long serialVersionUID = 1L;
    private final int index;
    private final String column;

    private ColumnTimestampAssigner(int index, String column) {
        this.index = index;
        this.column = column;
    }

    /** The assigner reading {@code column} of the rows of {@code source} (made by {@code forRows}). */
    public static ColumnTimestampAssigner of(HeadraceSource<?> source, String column) {
        return of(source.spec().rowType, column);
    }

    /** The assigner reading {@code column} of rows of the column list {@code columns}. */
    public static ColumnTimestampAssigner of(String columns, String column) {
        return of(HeadraceSource.parseColumns(columns), column);
    }

    private static ColumnTimestampAssigner of(RowType rowType, String column) {
        List<String> names = rowType.getFieldNames();
        int index = names.indexOf(column);
        if (index < 0) {
            throw new HeadraceException("the event-time column '" + column + "' is not one of the source's columns "
                    + names + "; name one of them");
        }
        LogicalTypeRoot root = rowType.getTypeAt(index).getTypeRoot();
        if (root != LogicalTypeRoot.BIGINT
                && root != LogicalTypeRoot.TIMESTAMP_WITHOUT_TIME_ZONE
                && root != LogicalTypeRoot.TIMESTAMP_WITH_LOCAL_TIME_ZONE) {
            throw new HeadraceException("the event-time column '" + column + "' is "
                    + rowType.getTypeAt(index).asSummaryString()
                    + "; it must be BIGINT (epoch milliseconds), TIMESTAMP or TIMESTAMP_LTZ");
        }
        return new ColumnTimestampAssigner(index, column);
    }

    @Override
    public long extractTimestamp(Row row, long recordTimestamp) {
        Object v = row.getField(index);
        if (v == null) {
            return Long.MIN_VALUE;
        }
        if (v instanceof Long) {
            return (Long) v;
        }
        if (v instanceof Instant) {
            return ((Instant) v).toEpochMilli();
        }
        if (v instanceof LocalDateTime) {
            return ((LocalDateTime) v).toInstant(ZoneOffset.UTC).toEpochMilli();
        }
        if (v instanceof java.sql.Timestamp) {
            // The same wall-clock fields read as UTC, as LocalDateTime above.
            return TimestampData.fromTimestamp((java.sql.Timestamp) v).getMillisecond();
        }
        throw new HeadraceException("the event-time column '" + column + "' holds a "
                + v.getClass().getName() + ", not a timestamp");
    }
}
