package io.headrace.flink;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.connector.sink2.Committer;

/** Commits the committables of completed checkpoints through the connector's Rust committer. */
final class HeadraceCommitter implements Committer<HeadraceCommittable> {
    private final long sink;
    private final long committer;

    HeadraceCommitter(TableSpec spec) {
        this.sink = spec.openSink();
        long c;
        try {
            c = NativeBridge.committerCreate(sink);
        } catch (RuntimeException e) {
            NativeBridge.close(sink);
            throw e;
        }
        this.committer = c;
    }

    @Override
    public void commit(Collection<CommitRequest<HeadraceCommittable>> requests) {
        if (committer == 0) {
            return;
        }
        Map<Long, List<Wire.Versioned>> byCheckpoint = new TreeMap<>();
        for (CommitRequest<HeadraceCommittable> r : requests) {
            HeadraceCommittable c = r.getCommittable();
            byCheckpoint.computeIfAbsent(c.checkpointId, k -> new ArrayList<>()).add(c.value);
        }
        for (Map.Entry<Long, List<Wire.Versioned>> e : byCheckpoint.entrySet()) {
            NativeBridge.committerCommit(committer, e.getKey(), Wire.writeVersioned(e.getValue()));
        }
    }

    @Override
    public void close() {
        try {
            if (committer != 0) {
                NativeBridge.close(committer);
            }
        } finally {
            NativeBridge.close(sink);
        }
    }
}
