package io.headrace.flink;

import java.io.Serializable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.MapData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.data.binary.BinaryRowData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.IntType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.MapType;
import org.apache.flink.table.types.logical.MultisetType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.Row;
import org.apache.flink.core.memory.MemorySegment;
import org.apache.flink.core.memory.MemorySegmentFactory;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.types.RowKind;

/**
 * Rows to and from the bridge's compact row encoding (see headrace-bridge's codec module), either as
 * Flink's internal {@link RowData} (Table API) or as external {@link Row}s (DataStream API: the Java
 * types PyFlink's {@code Types} convert to Python values: {@code java.sql.Date/Time/Timestamp} for
 * DATE/TIME/TIMESTAMP, {@code Instant} for TIMESTAMP_LTZ, {@code BigDecimal}, arrays and maps).
 */
public final class RowCodec implements Serializable {
    private static final long serialVersionUID = 1L;
    private final LogicalType[] types;
    private final boolean external;
    private final boolean binary;
    private transient RowData.FieldGetter[] getters;

    /** The compact row encoding (every type; see headrace-bridge's codec module). */
    public static final int COMPACT = 0;
    /** Flink's own {@link BinaryRowData} layout (Table API, flat columns only). */
    public static final int BINARY_ROW = 1;

    /** A codec for rows of {@code types}; {@code external} chooses {@link Row} over {@link RowData}. */
    public RowCodec(LogicalType[] types, boolean external) {
        this(types, external, !external && allFlat(types));
    }

    private RowCodec(LogicalType[] types, boolean external, boolean binary) {
        this.types = types;
        this.external = external;
        this.binary = binary;
    }

    /** A codec of internal rows using the compact encoding even where {@link #BINARY_ROW} would do (benchmarks). */
    public static RowCodec compact(LogicalType[] types) {
        return new RowCodec(types, false, false);
    }

    /**
     * Whether rows of {@code types} can cross as {@link BinaryRowData}: no ARRAY, MAP, MULTISET or
     * ROW column (the bridge writes and reads only flat fields in that layout).
     */
    static boolean allFlat(LogicalType[] types) {
        for (LogicalType t : types) {
            switch (t.getTypeRoot()) {
                case ARRAY:
                case MAP:
                case MULTISET:
                case ROW:
                case STRUCTURED_TYPE:
                case DISTINCT_TYPE:
                case RAW:
                    return false;
                default:
                    // VARIANT (Flink 2.1+) by name: Flink 2.0 has no such constant, and the
                    // sources compile against every tested release (run-tests.sh --flink).
                    if (t.getTypeRoot().name().equals("VARIANT")) {
                        return false;
                    }
            }
        }
        return true;
    }

    /** The encoding batches cross in: {@link #BINARY_ROW} for internal rows of flat columns, else {@link #COMPACT}. */
    public int encoding() {
        return binary ? BINARY_ROW : COMPACT;
    }

    // ---------------------------------------------------------------- decoding (Rust -> Java)

    /**
     * Decode the rows of one batch, handing each to {@code out}. {@code in} reads {@code array}
     * (a fresh array per batch: {@link BinaryRowData} rows point into it).
     */
    public void decode(ByteBuffer in, byte[] array, java.util.function.Consumer<Object> out) {
        int n = in.getInt();
        if (binary) {
            MemorySegment seg = MemorySegmentFactory.wrap(array);
            int arity = types.length;
            int pos = in.position();
            for (int r = 0; r < n; r++) {
                int len = in.getInt(pos);
                BinaryRowData row = new BinaryRowData(arity);
                row.pointTo(seg, pos + 4, len);
                pos += 4 + len;
                out.accept(row);
            }
            in.position(pos);
            return;
        }
        List<LogicalType> fields = Arrays.asList(types);
        for (int r = 0; r < n; r++) {
            out.accept(readRow(in, RowKind.fromByteValue(in.get()), fields));
        }
    }

    /** The fields of one row (a {@link Row} when external, else a {@link GenericRowData}). */
    private Object readRow(ByteBuffer in, RowKind kind, List<LogicalType> fields) {
        int n = fields.size();
        if (external) {
            Row row = new Row(kind, n);
            for (int i = 0; i < n; i++) {
                row.setField(i, read(in, fields.get(i)));
            }
            return row;
        }
        GenericRowData row = new GenericRowData(kind, n);
        for (int i = 0; i < n; i++) {
            row.setField(i, read(in, fields.get(i)));
        }
        return row;
    }

    private Object read(ByteBuffer in, LogicalType t) {
        if (in.get() == 0) {
            return null;
        }
        switch (t.getTypeRoot()) {
            case BOOLEAN:
                return in.get() != 0;
            case TINYINT:
                return in.get();
            case SMALLINT:
                return in.getShort();
            case INTEGER:
                return in.getInt();
            case BIGINT:
                return in.getLong();
            case FLOAT:
                return in.getFloat();
            case DOUBLE:
                return in.getDouble();
            case DATE: {
                int days = in.getInt();
                return external ? java.sql.Date.valueOf(LocalDate.ofEpochDay(days)) : (Object) days;
            }
            case TIME_WITHOUT_TIME_ZONE: {
                int millis = in.getInt();
                return external ? java.sql.Time.valueOf(LocalTime.ofNanoOfDay(millis * 1_000_000L)) : (Object) millis;
            }
            case DECIMAL: {
                DecimalType d = (DecimalType) t;
                BigDecimal v;
                if (d.getPrecision() <= 18) {
                    long unscaled = in.getLong();
                    if (!external) {
                        return DecimalData.fromUnscaledLong(unscaled, d.getPrecision(), d.getScale());
                    }
                    v = BigDecimal.valueOf(unscaled, d.getScale());
                } else {
                    byte[] be = new byte[16];
                    in.get(be);
                    v = new BigDecimal(new BigInteger(be), d.getScale());
                }
                return external ? v : DecimalData.fromBigDecimal(v, d.getPrecision(), d.getScale());
            }
            case CHAR:
            case VARCHAR: {
                byte[] b = Wire.bytes(in);
                return external ? new String(b, StandardCharsets.UTF_8) : StringData.fromBytes(b);
            }
            case BINARY:
            case VARBINARY:
                return Wire.bytes(in);
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE: {
                long millis = in.getLong();
                int nanos = in.getInt();
                TimestampData ts = TimestampData.fromEpochMillis(millis, nanos);
                if (!external) {
                    return ts;
                }
                return t.getTypeRoot() == org.apache.flink.table.types.logical.LogicalTypeRoot.TIMESTAMP_WITHOUT_TIME_ZONE
                        ? ts.toTimestamp()
                        : ts.toInstant();
            }
            case ARRAY: {
                LogicalType et = ((ArrayType) t).getElementType();
                int n = in.getInt();
                Object[] items = new Object[n];
                for (int i = 0; i < n; i++) {
                    items[i] = read(in, et);
                }
                return external ? items : new GenericArrayData(items);
            }
            case MAP:
            case MULTISET: {
                LogicalType kt = keyType(t);
                LogicalType vt = valueType(t);
                int n = in.getInt();
                Map<Object, Object> m = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    Object k = read(in, kt);
                    m.put(k, read(in, vt));
                }
                return external ? m : new GenericMapData(m);
            }
            case ROW:
                return readRow(in, RowKind.INSERT, ((RowType) t).getChildren());
            default:
                throw new HeadraceException("the Headrace bridge does not carry Flink type " + t);
        }
    }

    // ---------------------------------------------------------------- encoding (Java -> Rust)

    /** Append one row (a {@link RowData}, or a {@link Row} when external) to {@code out}. */
    public void encode(Wire.Out out, Object value) {
        encode(out, value, encoding());
    }

    /**
     * The encoding a sink batch starting with {@code first} crosses in: {@link #BINARY_ROW} when the
     * columns allow it and {@code first} is a {@link BinaryRowData} (copied byte for byte), else
     * {@link #COMPACT}, which is cheaper to write from other rows than laying them out field by field.
     */
    public int encodingFor(Object first) {
        return binary && first instanceof BinaryRowData ? BINARY_ROW : COMPACT;
    }

    /** Append one row to a batch in {@code encoding} (any row fits either encoding it is allowed). */
    public void encode(Wire.Out out, Object value, int encoding) {
        if (encoding == BINARY_ROW && binary && value instanceof RowData) {
            encodeBinary(out, (RowData) value);
        } else if (value instanceof RowData) {
            RowData row = (RowData) value;
            if (getters == null) {
                getters = new RowData.FieldGetter[types.length];
                for (int c = 0; c < types.length; c++) {
                    getters[c] = RowData.createFieldGetter(types[c], c);
                }
            }
            out.u8(row.getRowKind().toByteValue());
            for (int c = 0; c < types.length; c++) {
                writeFlat(out, row, c);
            }
        } else if (value instanceof Row) {
            Row row = (Row) value;
            out.u8(row.getKind().toByteValue());
            for (int c = 0; c < types.length; c++) {
                writeExternal(out, row.getField(c), types[c]);
            }
        } else {
            throw new HeadraceException(
                    "a Headrace sink got a " + (value == null ? "null" : value.getClass().getName())
                            + " where it expects RowData or Row");
        }
    }

    /**
     * One row as a {@link BinaryRowData} (an {@code i32} length, then the row's bytes): a binary
     * row's bytes are copied as they are; any other row is laid out field by field as Flink's
     * {@code BinaryRowWriter} does.
     */
    private void encodeBinary(Wire.Out out, RowData row) {
        int arity = types.length;
        if (row instanceof BinaryRowData && row.getArity() == arity) {
            BinaryRowData b = (BinaryRowData) row;
            MemorySegment[] segs = b.getSegments();
            int size = b.getSizeInBytes();
            if (segs.length == 1) {
                out.i32(size);
                out.raw(segs[0], b.getOffset(), size);
                return;
            }
        }
        int nullBits = BinaryRowData.calculateBitSetWidthInBytes(arity);
        int lenAt = out.size();
        out.i32(0);
        int start = out.size();
        out.zeros(nullBits + 8 * arity);
        out.putU8At(start, row.getRowKind().toByteValue());
        for (int c = 0; c < arity; c++) {
            int slot = start + nullBits + 8 * c;
            if (row.isNullAt(c)) {
                int bit = c + 8;
                out.orU8At(start + (bit >>> 3), 1 << (bit & 7));
                continue;
            }
            LogicalType t = types[c];
            switch (t.getTypeRoot()) {
                case BOOLEAN:
                    out.putU8At(slot, row.getBoolean(c) ? 1 : 0);
                    break;
                case TINYINT:
                    out.putU8At(slot, row.getByte(c));
                    break;
                case SMALLINT:
                    out.putI16At(slot, row.getShort(c));
                    break;
                case INTEGER:
                case DATE:
                case TIME_WITHOUT_TIME_ZONE:
                case INTERVAL_YEAR_MONTH:
                    out.putI32At(slot, row.getInt(c));
                    break;
                case BIGINT:
                case INTERVAL_DAY_TIME:
                    out.putI64At(slot, row.getLong(c));
                    break;
                case FLOAT:
                    out.putI32At(slot, Float.floatToRawIntBits(row.getFloat(c)));
                    break;
                case DOUBLE:
                    out.putI64At(slot, Double.doubleToRawLongBits(row.getDouble(c)));
                    break;
                case CHAR:
                case VARCHAR: {
                    StringData s = row.getString(c);
                    if (s instanceof BinaryStringData) {
                        BinaryStringData bs = (BinaryStringData) s;
                        bs.ensureMaterialized();
                        MemorySegment[] segs = bs.getSegments();
                        if (segs.length == 1) {
                            varBytes(out, start, slot, segs[0], bs.getOffset(), bs.getSizeInBytes());
                            break;
                        }
                    }
                    varBytes(out, start, slot, s.toBytes());
                    break;
                }
                case BINARY:
                case VARBINARY:
                    varBytes(out, start, slot, row.getBinary(c));
                    break;
                case DECIMAL: {
                    DecimalType d = (DecimalType) t;
                    DecimalData v = row.getDecimal(c, d.getPrecision(), d.getScale());
                    if (DecimalData.isCompact(d.getPrecision())) {
                        out.putI64At(slot, v.toUnscaledLong());
                    } else {
                        byte[] be = v.toUnscaledBytes();
                        varPart(out, start, slot, MemorySegmentFactory.wrap(be), 0, be.length);
                    }
                    break;
                }
                case TIMESTAMP_WITHOUT_TIME_ZONE:
                case TIMESTAMP_WITH_LOCAL_TIME_ZONE: {
                    int p = precision(t);
                    TimestampData ts = row.getTimestamp(c, p);
                    if (TimestampData.isCompact(p)) {
                        out.putI64At(slot, ts.getMillisecond());
                    } else {
                        out.putI64At(slot, ((long) (out.size() - start) << 32) | ts.getNanoOfMillisecond());
                        out.i64(ts.getMillisecond());
                    }
                    break;
                }
                default:
                    throw new HeadraceException("the Headrace bridge does not carry Flink type " + t + " as a binary row");
            }
        }
        out.putI32At(lenAt, out.size() - start);
    }

    private static int pad(int n) {
        return (8 - (n & 7)) & 7;
    }

    private static void varBytes(Wire.Out out, int start, int slot, byte[] b) {
        varBytes(out, start, slot, MemorySegmentFactory.wrap(b), 0, b.length);
    }

    /**
     * The {@code n} bytes at {@code off} of {@code seg} as a string or binary field of the row
     * written from {@code start}: up to 7 bytes in its {@code slot} (length in the last byte), else
     * in the variable-length part.
     */
    private static void varBytes(Wire.Out out, int start, int slot, MemorySegment seg, int off, int n) {
        if (n > 7) {
            varPart(out, start, slot, seg, off, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            out.putU8At(slot + i, seg.get(off + i));
        }
        out.putU8At(slot + 7, 0x80 | n);
    }

    /** Bytes in the variable-length part (padded to whole words), their offset and length in the slot. */
    private static void varPart(Wire.Out out, int start, int slot, MemorySegment seg, int off, int n) {
        out.putI64At(slot, ((long) (out.size() - start) << 32) | n);
        out.raw(seg, off, n);
        out.zeros(pad(n));
    }

    private static int precision(LogicalType t) {
        if (t instanceof TimestampType) {
            return ((TimestampType) t).getPrecision();
        }
        return ((LocalZonedTimestampType) t).getPrecision();
    }

    /** One top-level field, read with RowData's typed getters (no boxing) where the type is flat. */
    private void writeFlat(Wire.Out out, RowData row, int c) {
        LogicalType t = types[c];
        if (row.isNullAt(c)) {
            out.u8(0);
            return;
        }
        out.u8(1);
        switch (t.getTypeRoot()) {
            case BOOLEAN:
                out.u8(row.getBoolean(c) ? 1 : 0);
                return;
            case TINYINT:
                out.u8(row.getByte(c));
                return;
            case SMALLINT:
                out.i16(row.getShort(c));
                return;
            case INTEGER:
            case DATE:
            case TIME_WITHOUT_TIME_ZONE:
                out.i32(row.getInt(c));
                return;
            case BIGINT:
                out.i64(row.getLong(c));
                return;
            case FLOAT:
                out.i32(Float.floatToRawIntBits(row.getFloat(c)));
                return;
            case DOUBLE:
                out.i64(Double.doubleToRawLongBits(row.getDouble(c)));
                return;
            case CHAR:
            case VARCHAR:
                out.bytes(row.getString(c).toBytes());
                return;
            case BINARY:
            case VARBINARY:
                out.bytes(row.getBinary(c));
                return;
            default:
                writeValue(out, getters[c].getFieldOrNull(row), t);
        }
    }

    private static Object fieldOf(RowData row, int pos, LogicalType t) {
        return RowData.createFieldGetter(t, pos).getFieldOrNull(row);
    }

    private static Object elementOf(ArrayData a, int pos, LogicalType t) {
        return ArrayData.createElementGetter(t).getElementOrNull(a, pos);
    }

    private void writeInternal(Wire.Out out, Object v, LogicalType t) {
        if (v == null) {
            out.u8(0);
            return;
        }
        out.u8(1);
        writeValue(out, v, t);
    }

    /** A non-null internal value of type {@code t}, after its presence byte. */
    private void writeValue(Wire.Out out, Object v, LogicalType t) {
        switch (t.getTypeRoot()) {
            case BOOLEAN:
                out.u8(((Boolean) v) ? 1 : 0);
                return;
            case TINYINT:
                out.u8((Byte) v);
                return;
            case SMALLINT:
                out.i16((Short) v);
                return;
            case INTEGER:
            case DATE:
            case TIME_WITHOUT_TIME_ZONE:
                out.i32((Integer) v);
                return;
            case BIGINT:
                out.i64((Long) v);
                return;
            case FLOAT:
                out.i32(Float.floatToRawIntBits((Float) v));
                return;
            case DOUBLE:
                out.i64(Double.doubleToRawLongBits((Double) v));
                return;
            case DECIMAL:
                writeDecimal(out, ((DecimalData) v).toBigDecimal(), (DecimalType) t);
                return;
            case CHAR:
            case VARCHAR:
                out.bytes(((StringData) v).toBytes());
                return;
            case BINARY:
            case VARBINARY:
                out.bytes((byte[]) v);
                return;
            case TIMESTAMP_WITHOUT_TIME_ZONE:
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE: {
                TimestampData ts = (TimestampData) v;
                out.i64(ts.getMillisecond());
                out.i32(ts.getNanoOfMillisecond());
                return;
            }
            case ARRAY: {
                ArrayData a = (ArrayData) v;
                LogicalType et = ((ArrayType) t).getElementType();
                out.i32(a.size());
                for (int i = 0; i < a.size(); i++) {
                    writeInternal(out, elementOf(a, i, et), et);
                }
                return;
            }
            case MAP:
            case MULTISET: {
                MapData m = (MapData) v;
                LogicalType kt = keyType(t);
                LogicalType vt = valueType(t);
                ArrayData ks = m.keyArray();
                ArrayData vs = m.valueArray();
                out.i32(m.size());
                for (int i = 0; i < m.size(); i++) {
                    writeInternal(out, elementOf(ks, i, kt), kt);
                    writeInternal(out, elementOf(vs, i, vt), vt);
                }
                return;
            }
            case ROW: {
                RowData r = (RowData) v;
                List<LogicalType> fts = ((RowType) t).getChildren();
                for (int i = 0; i < fts.size(); i++) {
                    writeInternal(out, fieldOf(r, i, fts.get(i)), fts.get(i));
                }
                return;
            }
            default:
                throw new HeadraceException("the Headrace bridge does not carry Flink type " + t);
        }
    }

    private static void writeDecimal(Wire.Out out, BigDecimal v, DecimalType d) {
        BigInteger unscaled = v.setScale(d.getScale(), java.math.RoundingMode.HALF_UP).unscaledValue();
        if (d.getPrecision() <= 18) {
            out.i64(unscaled.longValueExact());
        } else {
            byte[] be = unscaled.toByteArray();
            byte[] full = new byte[16];
            byte pad = (byte) (unscaled.signum() < 0 ? 0xff : 0);
            int off = 16 - be.length;
            for (int i = 0; i < off; i++) {
                full[i] = pad;
            }
            System.arraycopy(be, 0, full, off, be.length);
            out.raw(full);
        }
    }

    private void writeExternal(Wire.Out out, Object v, LogicalType t) {
        if (v == null) {
            out.u8(0);
            return;
        }
        switch (t.getTypeRoot()) {
            case DATE:
                writeInternal(out, (int) toLocalDate(v).toEpochDay(), t);
                return;
            case TIME_WITHOUT_TIME_ZONE:
                writeInternal(out, (int) (toLocalTime(v).toNanoOfDay() / 1_000_000L), t);
                return;
            case DECIMAL:
                out.u8(1);
                writeDecimal(out, (BigDecimal) v, (DecimalType) t);
                return;
            case CHAR:
            case VARCHAR:
                out.u8(1);
                out.bytes(v.toString().getBytes(StandardCharsets.UTF_8));
                return;
            case TIMESTAMP_WITHOUT_TIME_ZONE:
                writeInternal(out, v instanceof java.sql.Timestamp
                        ? TimestampData.fromTimestamp((java.sql.Timestamp) v)
                        : TimestampData.fromLocalDateTime((LocalDateTime) v), t);
                return;
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                writeInternal(out, TimestampData.fromInstant(v instanceof java.sql.Timestamp
                        ? ((java.sql.Timestamp) v).toInstant()
                        : (Instant) v), t);
                return;
            case ARRAY: {
                LogicalType et = ((ArrayType) t).getElementType();
                out.u8(1);
                if (v instanceof List) {
                    List<?> l = (List<?>) v;
                    out.i32(l.size());
                    for (Object x : l) {
                        writeExternal(out, x, et);
                    }
                } else {
                    int n = java.lang.reflect.Array.getLength(v);
                    out.i32(n);
                    for (int i = 0; i < n; i++) {
                        writeExternal(out, java.lang.reflect.Array.get(v, i), et);
                    }
                }
                return;
            }
            case MAP:
            case MULTISET: {
                LogicalType kt = keyType(t);
                LogicalType vt = valueType(t);
                Map<?, ?> m = (Map<?, ?>) v;
                out.u8(1);
                out.i32(m.size());
                for (Map.Entry<?, ?> e : new HashMap<>(m).entrySet()) {
                    writeExternal(out, e.getKey(), kt);
                    writeExternal(out, e.getValue(), vt);
                }
                return;
            }
            case ROW: {
                Row r = (Row) v;
                List<LogicalType> fts = ((RowType) t).getChildren();
                out.u8(1);
                for (int i = 0; i < fts.size(); i++) {
                    writeExternal(out, r.getField(i), fts.get(i));
                }
                return;
            }
            default:
                // Boxed primitives and byte[] are the same in both representations.
                writeInternal(out, v, t);
        }
    }

    /** The key type of a MAP, the element type of a MULTISET. */
    private static LogicalType keyType(LogicalType t) {
        return t instanceof MapType ? ((MapType) t).getKeyType() : ((MultisetType) t).getElementType();
    }

    /** The value type of a MAP; a MULTISET maps each element to its INT count. */
    private static LogicalType valueType(LogicalType t) {
        return t instanceof MapType ? ((MapType) t).getValueType() : new IntType();
    }

    private static LocalDate toLocalDate(Object v) {
        return v instanceof java.sql.Date ? ((java.sql.Date) v).toLocalDate() : (LocalDate) v;
    }

    private static LocalTime toLocalTime(Object v) {
        return v instanceof java.sql.Time ? ((java.sql.Time) v).toLocalTime() : (LocalTime) v;
    }
}
