package io.headrace.flink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The little-endian layouts shared with the Rust side (see headrace-bridge's codec module). */
public final class Wire {
    private Wire() {}

    /** A growable little-endian buffer. */
    public static final class Out {
        private byte[] buf = new byte[256];
        private int len;

        private void ensure(int n) {
            if (len + n > buf.length) {
                byte[] b = new byte[Math.max(buf.length * 2, len + n)];
                System.arraycopy(buf, 0, b, 0, len);
                buf = b;
            }
        }

        public void u8(int v) {
            ensure(1);
            buf[len++] = (byte) v;
        }

        public void i16(short v) {
            ensure(2);
            buf[len++] = (byte) v;
            buf[len++] = (byte) (v >> 8);
        }

        public void i32(int v) {
            ensure(4);
            buf[len++] = (byte) v;
            buf[len++] = (byte) (v >> 8);
            buf[len++] = (byte) (v >> 16);
            buf[len++] = (byte) (v >> 24);
        }

        public void i64(long v) {
            ensure(8);
            for (int i = 0; i < 8; i++) {
                buf[len++] = (byte) (v >> (8 * i));
            }
        }

        public void raw(byte[] b) {
            ensure(b.length);
            System.arraycopy(b, 0, buf, len, b.length);
            len += b.length;
        }

        public void bytes(byte[] b) {
            i32(b.length);
            raw(b);
        }

        /** Overwrite the int at {@code pos}. */
        public void putI32At(int pos, int v) {
            buf[pos] = (byte) v;
            buf[pos + 1] = (byte) (v >> 8);
            buf[pos + 2] = (byte) (v >> 16);
            buf[pos + 3] = (byte) (v >> 24);
        }

        public int size() {
            return len;
        }

        public void reset() {
            len = 0;
        }

        public byte[] toByteArray() {
            byte[] b = new byte[len];
            System.arraycopy(buf, 0, b, 0, len);
            return b;
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
