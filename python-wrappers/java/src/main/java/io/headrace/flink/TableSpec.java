package io.headrace.flink;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;

/**
 * What the Rust side needs to create a connector's source or sink, and what Java needs to encode its
 * rows: the Headrace connector identifier, the table's name, its physical columns (as a column list in
 * Flink's type syntax and as logical types) and its options. Serializable: it travels with the job and
 * every JVM (client, JobManager, TaskManagers) creates its own Rust objects from it.
 */
public final class TableSpec implements Serializable {
    private static final long serialVersionUID = 1L;
    public final String connector;
    public final String table;
    public final String columns;
    public final RowType rowType;
    public final TreeMap<String, String> options;

    public TableSpec(String connector, String table, RowType rowType, Map<String, String> options) {
        this(connector, table, rowType, options, List.of());
    }

    /** With the table's primary key (sent to Headrace as {@code , PRIMARY KEY (...) NOT ENFORCED}). */
    public TableSpec(
            String connector, String table, RowType rowType, Map<String, String> options, List<String> primaryKey) {
        this.connector = connector;
        this.table = table;
        this.rowType = rowType;
        String cols = columnList(rowType);
        if (!primaryKey.isEmpty()) {
            List<String> quoted = new ArrayList<>();
            for (String k : primaryKey) {
                quoted.add("`" + k.replace("`", "``") + "`");
            }
            cols += ", PRIMARY KEY (" + String.join(", ", quoted) + ") NOT ENFORCED";
        }
        this.columns = cols;
        this.options = new TreeMap<>(options);
    }

    /**
     * With the column list for Headrace given as is (e.g. physical columns followed by {@code METADATA
     * FROM 'key'} columns) and the row type Java encodes and decodes (the same columns, in order).
     */
    public TableSpec(String connector, String table, RowType rowType, String columns, Map<String, String> options) {
        this.connector = connector;
        this.table = table;
        this.rowType = rowType;
        this.columns = columns;
        this.options = new TreeMap<>(options);
    }

    /** The metadata keys this table can read ({@code source}) or write, with their Flink type strings. */
    public String[][] metadata(boolean source) {
        NativeBridge.ensureLoaded();
        String[] flat = NativeBridge.tableMetadata(connector, table, columns, flatOptions(), source);
        String[][] out = new String[flat.length / 2][];
        for (int i = 0; i < out.length; i++) {
            out[i] = new String[] {flat[2 * i], flat[2 * i + 1]};
        }
        return out;
    }

    /** {@code `a` BIGINT, `b` VARCHAR(2147483647)}: Flink's serializable type strings. */
    public static String columnList(RowType t) {
        List<String> cols = new ArrayList<>();
        for (RowType.RowField f : t.getFields()) {
            cols.add("`" + f.getName().replace("`", "``") + "` " + f.getType().asSerializableString());
        }
        return String.join(", ", cols);
    }

    public LogicalType[] types() {
        return rowType.getChildren().toArray(new LogicalType[0]);
    }

    String[] flatOptions() {
        String[] flat = new String[options.size() * 2];
        int i = 0;
        for (Map.Entry<String, String> e : options.entrySet()) {
            flat[i++] = e.getKey();
            flat[i++] = e.getValue();
        }
        return flat;
    }

    /** Validate the options in Rust and create the source there; the handle must be closed. */
    public long openSource() {
        NativeBridge.ensureLoaded();
        return NativeBridge.createSource(connector, table, columns, flatOptions());
    }

    /** Validate the options in Rust and create the sink there; the handle must be closed. */
    public long openSink() {
        NativeBridge.ensureLoaded();
        return NativeBridge.createSink(connector, table, columns, flatOptions());
    }
}
