package io.headrace.flink;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/** A committable: the connector's versioned bytes and the checkpoint that prepared it. */
public final class HeadraceCommittable {
    public final long checkpointId;
    public final Wire.Versioned value;

    public HeadraceCommittable(long checkpointId, Wire.Versioned value) {
        this.checkpointId = checkpointId;
        this.value = value;
    }

    /** Checkpoint id, version, bytes. */
    public static final class Serializer implements SimpleVersionedSerializer<HeadraceCommittable> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(HeadraceCommittable c) {
            Wire.Out o = new Wire.Out();
            o.i64(c.checkpointId);
            o.i32(c.value.version);
            o.bytes(c.value.bytes);
            return o.toByteArray();
        }

        @Override
        public HeadraceCommittable deserialize(int version, byte[] data) throws IOException {
            if (version != 1) {
                throw new IOException("unknown Headrace committable serializer version " + version);
            }
            ByteBuffer in = Wire.in(data);
            long cp = in.getLong();
            int v = in.getInt();
            return new HeadraceCommittable(cp, new Wire.Versioned(v, Wire.bytes(in)));
        }
    }

    /** Writer state: version, bytes. */
    public static final class StateSerializer implements SimpleVersionedSerializer<Wire.Versioned> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(Wire.Versioned v) {
            Wire.Out o = new Wire.Out();
            o.i32(v.version);
            o.bytes(v.bytes);
            return o.toByteArray();
        }

        @Override
        public Wire.Versioned deserialize(int version, byte[] data) throws IOException {
            if (version != 1) {
                throw new IOException("unknown Headrace writer state serializer version " + version);
            }
            ByteBuffer in = Wire.in(data);
            int v = in.getInt();
            return new Wire.Versioned(v, Wire.bytes(in));
        }
    }
}
