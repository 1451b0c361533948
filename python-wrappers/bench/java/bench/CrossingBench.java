package bench;

import io.headrace.flink.RowCodec;
import io.headrace.flink.Wire;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.flink.api.python.shaded.org.apache.arrow.memory.BufferAllocator;
import org.apache.flink.api.python.shaded.org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.flink.api.python.shaded.org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.flink.api.python.shaded.org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.runtime.arrow.ArrowReader;
import org.apache.flink.table.runtime.arrow.ArrowUtils;
import org.apache.flink.table.runtime.arrow.ArrowWriter;
import org.apache.flink.table.runtime.typeutils.RowDataSerializer;
import org.apache.flink.table.types.logical.BigIntType;
import org.apache.flink.table.types.logical.DoubleType;
import org.apache.flink.table.types.logical.IntType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.table.types.logical.VarCharType;

/**
 * The Java half of a batch crossing, three ways, in one JVM: the bridge's BinaryRowData rows, its
 * older compact row encoding, and Arrow IPC (arrow-java as flink-python shades it, read and written
 * with Flink's own ArrowReader / ArrowWriter, as PyFlink's Arrow path does). Same rows as the bridge
 * benchmark (id BIGINT, a INT, b DOUBLE, s STRING of 10 characters, ts TIMESTAMP(3)), 8192 per batch.
 *
 * <p>Source direction: batch bytes -> the RowData a Flink source emits -> Flink's copy to the next
 * chained operator (RowDataSerializer.copy, as CopyingChainingOutput does) -> every field read.
 * Sink direction: RowData as Flink hands it to a sink (a GenericRowData, or the BinaryRowData copy
 * of a bridge source's row) -> batch bytes. The Rust half is not included (arrow-rs's IPC writer and
 * reader are buffer copies; the bridge's BinaryRowData writer and reader loop over rows). Not part
 * of the product; run by bridge_bench.py --crossing.
 */
public final class CrossingBench {
    private CrossingBench() {}

    static final int ROWS = 8192;
    static final LogicalType[] TYPES = {
        new BigIntType(), new IntType(), new DoubleType(), new VarCharType(VarCharType.MAX_LENGTH), new TimestampType(3)
    };
    static final RowType ROW_TYPE = RowType.of(TYPES, new String[] {"id", "a", "b", "s", "ts"});
    static final RowDataSerializer SERIALIZER = new RowDataSerializer(ROW_TYPE);
    static long sink;

    static List<RowData> rows() {
        SplittableRandom rnd = new SplittableRandom(42);
        char[] alpha = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
        List<RowData> out = new ArrayList<>();
        for (int i = 0; i < ROWS; i++) {
            char[] s = new char[10];
            for (int j = 0; j < 10; j++) {
                s[j] = alpha[rnd.nextInt(alpha.length)];
            }
            GenericRowData r = GenericRowData.of(
                    (long) i, rnd.nextInt(), rnd.nextDouble(), StringData.fromString(new String(s)),
                    TimestampData.fromEpochMillis(1_700_000_000_000L + rnd.nextLong(86_400_000L)));
            out.add(SERIALIZER.copy(r)); // materialized strings, as after Flink's copy
        }
        return out;
    }

    static void consume(RowData r) {
        RowData c = SERIALIZER.copy(r);
        sink += c.getLong(0) + c.getInt(1) + (long) c.getDouble(2) + c.getString(3).toBytes().length
                + c.getTimestamp(4, 3).getMillisecond();
    }

    static byte[] encode(RowCodec codec, List<RowData> rows) {
        Wire.Out out = new Wire.Out(1 << 16);
        out.i32(rows.size());
        for (RowData r : rows) {
            codec.encode(out, r);
        }
        return out.toByteArray();
    }

    /** Like the reader's answer: a tag byte, then the batch. */
    static byte[] answer(byte[] batch) {
        byte[] a = new byte[batch.length + 1];
        System.arraycopy(batch, 0, a, 1, batch.length);
        return a;
    }

    static void decodeRows(RowCodec codec, byte[] answer) {
        ByteBuffer in = Wire.in(answer);
        in.get();
        codec.decode(in, answer, r -> consume((RowData) r));
    }

    static byte[] arrowWrite(BufferAllocator alloc, List<RowData> rows) throws Exception {
        try (VectorSchemaRoot root = VectorSchemaRoot.create(ArrowUtils.toArrowSchema(ROW_TYPE), alloc)) {
            ArrowWriter<RowData> w = ArrowUtils.createRowDataArrowWriter(root, ROW_TYPE);
            for (RowData r : rows) {
                w.write(r);
            }
            w.finish();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(1 << 19);
            try (ArrowStreamWriter sw = new ArrowStreamWriter(root, null, bytes)) {
                sw.start();
                sw.writeBatch();
                sw.end();
            }
            return bytes.toByteArray();
        }
    }

    static void arrowRead(BufferAllocator alloc, byte[] ipc) throws Exception {
        try (ArrowStreamReader r = new ArrowStreamReader(new ByteArrayInputStream(ipc), alloc)) {
            VectorSchemaRoot root = r.getVectorSchemaRoot();
            while (r.loadNextBatch()) {
                ArrowReader reader = ArrowUtils.createArrowReader(root, ROW_TYPE);
                int n = root.getRowCount();
                for (int i = 0; i < n; i++) {
                    consume(reader.read(i));
                }
            }
        }
    }

    interface Job {
        void run() throws Exception;
    }

    /** Nanoseconds per row: the fastest of {@code rounds} rounds of {@code batches} batches. */
    static double time(Job j, int batches, int rounds) throws Exception {
        double best = Double.MAX_VALUE;
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            for (int b = 0; b < batches; b++) {
                j.run();
            }
            best = Math.min(best, (System.nanoTime() - t0) / (double) (batches * ROWS));
        }
        return best;
    }

    public static void main(String[] args) throws Exception {
        int batches = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        List<RowData> generic = rows();
        RowCodec binary = new RowCodec(TYPES, false);
        RowCodec compact = RowCodec.compact(TYPES);
        if (binary.encoding() != RowCodec.BINARY_ROW) {
            throw new IllegalStateException("flat rows should cross as BinaryRowData");
        }
        byte[] binaryAnswer = answer(encode(binary, generic));
        byte[] compactAnswer = answer(encode(compact, generic));
        List<RowData> binaryRows = new ArrayList<>();
        binary.decode(Wire.in(binaryAnswer).position(1), binaryAnswer, r -> binaryRows.add(SERIALIZER.copy((RowData) r)));
        // The rows laid out field by field must read back as the rows they came from.
        for (int i = 0; i < ROWS; i++) {
            RowData g = generic.get(i);
            RowData b = binaryRows.get(i);
            if (g.getLong(0) != b.getLong(0) || g.getInt(1) != b.getInt(1) || g.getDouble(2) != b.getDouble(2)
                    || !g.getString(3).equals(b.getString(3))
                    || !g.getTimestamp(4, 3).equals(b.getTimestamp(4, 3))) {
                throw new IllegalStateException("row " + i + " changed crossing as BinaryRowData: " + g + " vs " + b);
            }
        }
        BufferAllocator alloc = ArrowUtils.getRootAllocator().newChildAllocator("bench", 0, Long.MAX_VALUE);
        byte[] ipc = arrowWrite(alloc, generic);

        String[] names = {
            "source: BinaryRowData rows (bridge now)",
            "source: compact row encoding (bridge before)",
            "source: Arrow IPC (arrow-java + Flink ArrowReader)",
            "sink: GenericRowData input -> BinaryRowData laid out field by field (bridge: only rows joining a batch a BinaryRowData began)",
            "sink: BinaryRowData input -> BinaryRowData rows (bridge now)",
            "sink: GenericRowData input -> compact row encoding (bridge before, and now for batches a GenericRowData begins)",
            "sink: GenericRowData input -> Arrow IPC (Flink ArrowWriter + arrow-java)",
        };
        Job[] jobs = {
            () -> decodeRows(binary, binaryAnswer),
            () -> decodeRows(compact, compactAnswer),
            () -> arrowRead(alloc, ipc),
            () -> sink += encode(binary, generic).length,
            () -> sink += encode(binary, binaryRows).length,
            () -> sink += encode(compact, generic).length,
            () -> sink += arrowWrite(alloc, generic).length,
        };
        for (Job j : jobs) { // warm-up
            time(j, batches, 2);
        }
        System.out.println("| Java side of one crossing, 8192-row batches | ns per row |");
        System.out.println("|---|---|");
        for (int i = 0; i < jobs.length; i++) {
            System.out.printf("| %s | %.1f |%n", names[i], time(jobs[i], batches, rounds));
        }
        if (sink == 42) {
            System.out.print("");
        }
    }
}
