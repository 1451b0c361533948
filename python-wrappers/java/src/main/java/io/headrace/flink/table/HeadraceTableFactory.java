package io.headrace.flink.table;

import io.headrace.flink.HeadraceException;
import io.headrace.flink.NativeBridge;
import io.headrace.flink.TableSpec;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.utils.LogicalTypeParser;
import org.apache.flink.table.types.utils.TypeConversions;

/**
 * The table factory of one Headrace connector. Flink finds factories through {@code
 * META-INF/services}, one class per identifier, so the jar carries numbered slot classes ({@link
 * Slots}); the generated jar lists the used slots in its services file and names their connectors in
 * {@code /headrace-connectors.properties} ({@code prefix=headrace-}, {@code slot.0=datagen}, ...).
 *
 * <p>Options are declared to Flink from the connector's Rust declarations. On table creation Headrace's
 * own validator runs first (its messages name the option and the fix), then Flink's.
 */
public abstract class HeadraceTableFactory implements DynamicTableSourceFactory, DynamicTableSinkFactory {
    /** The resource naming the connector of each slot. */
    public static final String PROPERTIES = "/headrace-connectors.properties";

    private final int slot;
    private final String connector;
    private final String prefix;

    protected HeadraceTableFactory(int slot) {
        this.slot = slot;
        Properties p = new Properties();
        try (InputStream in = HeadraceTableFactory.class.getResourceAsStream(PROPERTIES)) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new HeadraceException("could not read " + PROPERTIES + ": " + e, e);
        }
        this.prefix = p.getProperty("prefix", "headrace-");
        this.connector = p.getProperty("slot." + slot);
    }

    /** The Headrace connector served (without the prefix). */
    public String connector() {
        if (connector == null) {
            throw new HeadraceException(
                    "Headrace table factory slot " + slot + " has no connector in " + PROPERTIES
                            + " (the jar's services file and properties disagree; rebuild the package)");
        }
        return connector;
    }

    @Override
    public String factoryIdentifier() {
        return prefix + (connector == null ? "unused-slot-" + slot : connector);
    }

    private List<String[]> declarations(boolean source) {
        NativeBridge.ensureLoaded();
        String[] flat = NativeBridge.connectorOptions(connector(), source);
        List<String[]> out = new ArrayList<>();
        for (int i = 0; i + 8 <= flat.length; i += 8) {
            out.add(Arrays.copyOfRange(flat, i, i + 8));
        }
        return out;
    }

    private static ConfigOption<String> option(String[] d) {
        ConfigOptions.TypedConfigOptionBuilder<String> b = ConfigOptions.key(d[1]).stringType();
        ConfigOption<String> o = "1".equals(d[3]) ? b.defaultValue(d[4]) : b.noDefaultValue();
        o = o.withDescription(d[5] + (d[2].equals("String") ? "" : " (" + d[2] + ")"));
        if (!d[6].isEmpty()) {
            o = o.withFallbackKeys(d[6].split("\n"));
        }
        if (!d[7].isEmpty()) {
            o = o.withDeprecatedKeys(d[7].split("\n"));
        }
        return o;
    }

    private Set<ConfigOption<?>> options(String kind) {
        Set<ConfigOption<?>> s = new HashSet<>();
        // The union of source and sink declarations: Flink asks without saying which.
        for (boolean source : new boolean[] {true, false}) {
            for (String[] d : declarations(source)) {
                if (d[0].equals(kind)) {
                    s.add(option(d));
                }
            }
        }
        return s;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        Set<ConfigOption<?>> req = options("required");
        // Required for one use only (e.g. a sink-only option) must not be required for the other.
        return req.isEmpty() ? req : intersectRequired();
    }

    private Set<ConfigOption<?>> intersectRequired() {
        Set<String> sourceKeys = new HashSet<>();
        for (String[] d : declarations(true)) {
            if (d[0].equals("required")) {
                sourceKeys.add(d[1]);
            }
        }
        Set<ConfigOption<?>> s = new HashSet<>();
        for (String[] d : declarations(false)) {
            if (d[0].equals("required") && sourceKeys.contains(d[1])) {
                s.add(option(d));
            }
        }
        return s;
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        Set<String> required = new HashSet<>();
        for (ConfigOption<?> o : requiredOptions()) {
            required.add(o.key());
        }
        Set<ConfigOption<?>> s = new HashSet<>();
        for (ConfigOption<?> o : options("required")) {
            if (!required.contains(o.key())) {
                s.add(o);
            }
        }
        s.addAll(options("optional"));
        return s;
    }

    private String[] prefixes(boolean source) {
        List<String> p = new ArrayList<>();
        for (String[] d : declarations(source)) {
            if (d[0].equals("prefix")) {
                p.add(d[1]);
            } else if (d[0].equals("template")) {
                int hash = d[1].indexOf('#');
                p.add(hash < 0 ? d[1] : d[1].substring(0, hash));
            }
        }
        return p.toArray(new String[0]);
    }

    /**
     * Options Flink's planner reads itself for tables with a WATERMARK ({@code scan.watermark.*}: idle
     * timeout, emit strategy, alignment); Flink's factory helper accepts them for every table, so they
     * are not sent to Headrace.
     */
    static final List<ConfigOption<?>> FLINK_WATERMARK_OPTIONS = List.of(
            FactoryUtil.SOURCE_IDLE_TIMEOUT,
            FactoryUtil.WATERMARK_EMIT_STRATEGY,
            FactoryUtil.WATERMARK_ALIGNMENT_GROUP,
            FactoryUtil.WATERMARK_ALIGNMENT_MAX_DRIFT,
            FactoryUtil.WATERMARK_ALIGNMENT_UPDATE_INTERVAL);

    private static List<String> primaryKey(Context context) {
        return context.getCatalogTable().getResolvedSchema().getPrimaryKey()
                .map(k -> k.getColumns())
                .orElse(List.of());
    }

    private TableSpec spec(Context context) {
        Map<String, String> options = new HashMap<>(context.getCatalogTable().getOptions());
        options.remove(FactoryUtil.CONNECTOR.key());
        for (ConfigOption<?> o : FLINK_WATERMARK_OPTIONS) {
            options.remove(o.key());
        }
        RowType rowType = (RowType) context.getPhysicalRowDataType().getLogicalType();
        return new TableSpec(
                connector(), context.getObjectIdentifier().getObjectName(), rowType, options, primaryKey(context));
    }

    /**
     * The spec of a table whose rows are its physical columns followed by the metadata {@code keys}
     * (Flink's produced or consumed row, {@code rowType}): Headrace gets one column {@code
     * `$metadata$<key>` TYPE METADATA FROM '<key>'} per key after the physical columns, so its
     * batches have Flink's layout.
     */
    static TableSpec withMetadata(TableSpec physical, List<String> primaryKey, List<String> keys, RowType rowType) {
        if (keys.isEmpty()) {
            return physical;
        }
        int n = physical.rowType.getFieldCount();
        if (rowType.getFieldCount() != n + keys.size()) {
            throw new HeadraceException("table '" + physical.table + "': Flink's row has " + rowType.getFieldCount()
                    + " fields for " + n + " physical columns and " + keys.size() + " metadata keys " + keys
                    + " (a bug in the bridge or an unsupported projection)");
        }
        List<String> cols = new ArrayList<>();
        if (n > 0) {
            cols.add(TableSpec.columnList(physical.rowType));
        }
        for (int i = 0; i < keys.size(); i++) {
            String key = keys.get(i);
            cols.add("`" + ("$metadata$" + key).replace("`", "``") + "` "
                    + rowType.getTypeAt(n + i).asSerializableString()
                    + " METADATA FROM '" + key.replace("'", "''") + "'");
        }
        String columns = String.join(", ", cols);
        if (!primaryKey.isEmpty()) {
            List<String> quoted = new ArrayList<>();
            for (String k : primaryKey) {
                quoted.add("`" + k.replace("`", "``") + "`");
            }
            columns += ", PRIMARY KEY (" + String.join(", ", quoted) + ") NOT ENFORCED";
        }
        return new TableSpec(physical.connector, physical.table, rowType, columns, physical.options);
    }

    /** Let Headrace validate a table (with its metadata columns) at planning time: create and close. */
    static void check(TableSpec spec, boolean source) {
        try {
            NativeBridge.close(source ? spec.openSource() : spec.openSink());
        } catch (HeadraceException e) {
            throw invalid(e);
        }
    }

    /** The metadata keys of a table in Flink's terms (key to data type, in the connector's order). */
    static Map<String, DataType> metadataTypes(TableSpec spec, boolean source) {
        Map<String, DataType> out = new LinkedHashMap<>();
        try {
            for (String[] kt : spec.metadata(source)) {
                LogicalType t = LogicalTypeParser.parse(kt[1], HeadraceTableFactory.class.getClassLoader());
                out.put(kt[0], TypeConversions.fromLogicalToDataType(t));
            }
        } catch (HeadraceException e) {
            throw invalid(e);
        }
        return out;
    }

    /** Flink's changelog mode for the bridge's code (0 insert-only, 1 upsert, 2 all). */
    static org.apache.flink.table.connector.ChangelogMode flinkMode(int mode) {
        switch (mode) {
            case 0:
                return org.apache.flink.table.connector.ChangelogMode.insertOnly();
            case 1:
                return org.apache.flink.table.connector.ChangelogMode.upsert();
            default:
                return org.apache.flink.table.connector.ChangelogMode.all();
        }
    }

    static ValidationException invalid(HeadraceException e) {
        return new ValidationException(e.getMessage(), e);
    }

    private void flinkValidate(Context context, String[] prefixes) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        if (prefixes.length == 0) {
            helper.validate();
        } else {
            helper.validateExcept(prefixes);
        }
    }

    @Override
    public DynamicTableSource createDynamicTableSource(Context context) {
        TableSpec spec = spec(context);
        boolean bounded;
        int mode;
        try {
            long h = spec.openSource();
            try {
                bounded = NativeBridge.sourceBounded(h);
                mode = NativeBridge.changelogMode(h);
            } finally {
                NativeBridge.close(h);
            }
        } catch (HeadraceException e) {
            throw invalid(e);
        }
        flinkValidate(context, prefixes(true));
        return new HeadraceDynamicSource(spec, primaryKey(context), bounded, mode);
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        TableSpec spec = spec(context);
        int mode;
        try {
            long h = spec.openSink();
            try {
                mode = NativeBridge.changelogMode(h);
            } finally {
                NativeBridge.close(h);
            }
        } catch (HeadraceException e) {
            throw invalid(e);
        }
        flinkValidate(context, prefixes(false));
        return new HeadraceDynamicSink(spec, primaryKey(context), mode);
    }
}
