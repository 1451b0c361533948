package io.headrace.flink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.core.memory.MemorySegment;

/** The little-endian layouts shared with the Rust side (see headrace-bridge's codec module). */
public final class Wire {
    private Wire() {}

    private static final VarHandle I16 =
            MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle I32 =
            MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle I64 =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** A growable little-endian buffer on the heap (multi-byte values written with VarHandles). */
    public static final class Out {
        private byte[] buf;
        private int len;

        /** A small buffer. */
        public Out() {
            this(256);
        }

        /** A buffer of {@code capacity} bytes to start with. */
        public Out(int capacity) {
            buf = new byte[Math.max(capacity, 16)];
        }

        private void ensure(int n) {
            if (len + n > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
            }
        }

        public void u8(int v) {
            ensure(1);
            buf[len++] = (byte) v;
        }

        public void i16(short v) {
            ensure(2);
            I16.set(buf, len, v);
            len += 2;
        }

        public void i32(int v) {
            ensure(4);
            I32.set(buf, len, v);
            len += 4;
        }

        public void i64(long v) {
            ensure(8);
            I64.set(buf, len, v);
            len += 8;
        }

        /** {@code n} zero bytes. */
        public void zeros(int n) {
            ensure(n);
            Arrays.fill(buf, len, len + n, (byte) 0);
            len += n;
        }

        public void raw(byte[] b) {
            raw(b, 0, b.length);
        }

        public void raw(byte[] b, int off, int n) {
            ensure(n);
            System.arraycopy(b, off, buf, len, n);
            len += n;
        }

        /** {@code n} bytes of a Flink memory segment from {@code offset}. */
        public void raw(MemorySegment seg, int offset, int n) {
            ensure(n);
            seg.get(offset, buf, len, n);
            len += n;
        }

        public void bytes(byte[] b) {
            i32(b.length);
            raw(b);
        }

        /** Overwrite the byte at {@code pos}. */
        public void putU8At(int pos, int v) {
            buf[pos] = (byte) v;
        }

        /** OR {@code bits} into the byte at {@code pos}. */
        public void orU8At(int pos, int bits) {
            buf[pos] |= (byte) bits;
        }

        /** Overwrite the short at {@code pos}. */
        public void putI16At(int pos, short v) {
            I16.set(buf, pos, v);
        }

        /** Overwrite the int at {@code pos}. */
        public void putI32At(int pos, int v) {
            I32.set(buf, pos, v);
        }

        /** Overwrite the long at {@code pos}. */
        public void putI64At(int pos, long v) {
            I64.set(buf, pos, v);
        }

        public int size() {
            return len;
        }

        public void reset() {
            len = 0;
        }

        /** The underlying array (its first {@link #size()} bytes are written); replaced on growth. */
        public byte[] array() {
            return buf;
        }

        public byte[] toByteArray() {
            return Arrays.copyOf(buf, len);
        }
    }

    public static ByteBuffer in(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    public static byte[] bytes(ByteBuffer in) {
        int n = in.getInt();
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }

    /** Versioned bytes. */
    public static final class Versioned implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        public final int version;
        public final byte[] bytes;

        public Versioned(int version, byte[] bytes) {
            this.version = version;
            this.bytes = bytes;
        }
    }

    public static List<Versioned> readVersioned(byte[] data) {
        ByteBuffer in = in(data);
        int n = in.getInt();
        List<Versioned> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int v = in.getInt();
            out.add(new Versioned(v, bytes(in)));
        }
        return out;
    }

    public static byte[] writeVersioned(List<? extends Versioned> items) {
        Out o = new Out();
        o.i32(items.size());
        for (Versioned v : items) {
            o.i32(v.version);
            o.bytes(v.bytes);
        }
        return o.toByteArray();
    }

    public static List<HeadraceSplit> readSplits(ByteBuffer in) {
        int n = in.getInt();
        List<HeadraceSplit> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String id = new String(bytes(in), StandardCharsets.UTF_8);
            int v = in.getInt();
            out.add(new HeadraceSplit(id, v, bytes(in)));
        }
        return out;
    }

    public static byte[] writeSplits(List<HeadraceSplit> splits) {
        Out o = new Out();
        o.i32(splits.size());
        for (HeadraceSplit s : splits) {
            o.bytes(s.splitId().getBytes(StandardCharsets.UTF_8));
            o.i32(s.version());
            o.bytes(s.state());
        }
        return o.toByteArray();
    }

}
