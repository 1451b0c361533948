#!/bin/bash
# Entrypoint of the headrace-hbase test image: HBase in standalone mode (master,
# region server and ZooKeeper in one JVM) and the Thrift 1 server (binary
# protocol, buffered transport) on 0.0.0.0:9090 in a second JVM. When either
# exits, the other is stopped and the container exits. Data lives in
# /var/lib/hbase and survives a stop/start of the container.
#
# Environment:
#   HBASE_HEAP         heap of the HBase JVM (default 768m)
#   HBASE_THRIFT_HEAP  heap of the Thrift JVM (default 256m)
#   HBASE_LOG_LEVEL    root log level (default INFO)
set -euo pipefail

HBASE_HOME=/opt/hbase
mkdir -p /var/lib/hbase/root /var/lib/hbase/tmp /var/lib/hbase/zookeeper

# HBase on Java 17 needs these (as in HBase's own bin/hbase).
JAVA17_FLAGS=(
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    --add-opens java.base/java.util.concurrent=ALL-UNNAMED
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-modules jdk.unsupported
)
common=(
    "${JAVA17_FLAGS[@]}"
    -XX:+UseG1GC -Djava.net.preferIPv4Stack=true
    -Dlog4j.configuration=file:$HBASE_HOME/conf/log4j.properties
    -Dhbase.root.logger="${HBASE_LOG_LEVEL:-INFO},console"
    -Dhbase.home.dir=$HBASE_HOME
    -cp "$HBASE_HOME/conf:$HBASE_HOME/lib/*"
)

java -Xms"${HBASE_HEAP:-768m}" -Xmx"${HBASE_HEAP:-768m}" "${common[@]}" \
    org.apache.hadoop.hbase.master.HMaster start &
master=$!
java -Xms"${HBASE_THRIFT_HEAP:-256m}" -Xmx"${HBASE_THRIFT_HEAP:-256m}" "${common[@]}" \
    org.apache.hadoop.hbase.thrift.ThriftServer -p 9090 start &
thrift=$!

stop() {
    kill -TERM "$thrift" "$master" 2>/dev/null || true
    wait "$thrift" "$master" 2>/dev/null || true
    exit 0
}
trap stop TERM INT

# Exit when either JVM does.
set +e
wait -n "$master" "$thrift"
status=$?
echo "[headrace-hbase] a JVM exited with status $status; stopping the other" >&2
kill -TERM "$thrift" "$master" 2>/dev/null
wait
exit "$status"
