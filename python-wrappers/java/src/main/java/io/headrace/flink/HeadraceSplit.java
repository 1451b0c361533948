package io.headrace.flink;

import java.io.IOException;
import java.util.List;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/** A Headrace split: its stable id and its state as versioned bytes (opaque to Java). */
public final class HeadraceSplit implements SourceSplit, java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final String id;
    private final int version;
    private final byte[] state;

    public HeadraceSplit(String id, int version, byte[] state) {
        this.id = id;
        this.version = version;
        this.state = state;
    }

    @Override
    public String splitId() {
        return id;
    }

    public int version() {
        return version;
    }

    public byte[] state() {
        return state;
    }

    @Override
    public String toString() {
        return "HeadraceSplit(" + id + ")";
    }

    /** Splits in Flink's checkpoints: the same layout as one entry of the bridge's split list. */
    public static final class Serializer implements SimpleVersionedSerializer<HeadraceSplit> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(HeadraceSplit s) throws IOException {
            return Wire.writeSplits(List.of(s));
        }

        @Override
        public HeadraceSplit deserialize(int version, byte[] data) throws IOException {
            if (version != 1) {
                throw new IOException("unknown Headrace split serializer version " + version);
            }
            List<HeadraceSplit> l = Wire.readSplits(Wire.in(data));
            if (l.size() != 1) {
                throw new IOException("a stored Headrace split holds " + l.size() + " splits");
            }
            return l.get(0);
        }
    }

    /** Raw bytes as they are (enumerator state: already a versioned list from Rust). */
    public static final class BytesSerializer implements SimpleVersionedSerializer<byte[]> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(byte[] b) {
            return b;
        }

        @Override
        public byte[] deserialize(int version, byte[] data) throws IOException {
            if (version != 1) {
                throw new IOException("unknown Headrace state serializer version " + version);
            }
            return data;
        }
    }
}
