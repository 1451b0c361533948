#!/bin/sh
# Kafka tool org.apache.kafka.tools.ConsoleProducer (same name and arguments as in the Kafka distribution).
exec "$(dirname "$0")/kafka-run-class.sh" ${KAFKA_TOOL_HEAP_OPTS:--Xmx256m} -XX:TieredStopAtLevel=1 -XX:+UseSerialGC org.apache.kafka.tools.ConsoleProducer "$@"
