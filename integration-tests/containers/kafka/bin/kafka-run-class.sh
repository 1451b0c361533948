#!/bin/sh
# Runs a Java main class with every jar of the image on the class path, like
# Kafka's own kafka-run-class.sh: kafka-run-class.sh [JVM flags] CLASS [ARGS].
# Tools log warnings only (to stderr) unless KAFKA_LOG4J_CONFIG names another file.
set -eu
KAFKA_HOME=/opt/kafka
log_config="${KAFKA_LOG4J_CONFIG:-$KAFKA_HOME/config/tools-log4j2.properties}"
exec java ${KAFKA_OPTS:-} \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$log_config" \
    -cp "$KAFKA_HOME/libs/*" "$@"
