#!/bin/sh
# Entrypoint of the headrace-opensearch test image: one OpenSearch 2.19 node
# (single-node discovery, no security plugin, plain HTTP on 0.0.0.0:9200).
# Data lives in /var/lib/opensearch and survives a stop/start of the container.
#
# Environment:
#   OPENSEARCH_HEAP       JVM heap (default 512m)
#   OPENSEARCH_LOG_LEVEL  root log level (default info)
#   OPENSEARCH_JAVA_OPTS  extra JVM flags
set -eu
heap="${OPENSEARCH_HEAP:-512m}"
mkdir -p /var/lib/opensearch
exec java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC \
    -Dlog4j2.disable.jmx=true -Dlog4j.shutdownHookEnabled=false \
    -Dio.netty.allocator.numDirectArenas=0 -Dio.netty.noUnsafe=true \
    -Dopensearch.set.netty.runtime.available.processors=false \
    -Djava.io.tmpdir=/tmp \
    ${OPENSEARCH_JAVA_OPTS:-} \
    -cp '/opt/opensearch/lib/*' /opt/opensearch/HeadraceOpenSearch.java \
    -basePath /var/lib/opensearch -confPath /opt/opensearch/config \
    -numOfNode 1 -baseHttpPort 9199 -clusterName headrace
