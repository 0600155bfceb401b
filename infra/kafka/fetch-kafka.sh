#!/usr/bin/env bash
# fetch-kafka.sh - fetch the Apache Kafka broker (KRaft, Java 17) once from Maven Central into a cache
# outside git: `org.apache.kafka:kafka_2.13` with all its runtime dependencies plus an slf4j binding,
# copied into <cache>/libs by `mvn dependency:copy-dependencies`. Idempotent: a complete cache (marked
# by libs/.complete) is reused. Installs Java 17 and Maven from Debian when missing (as root).
#
# Usage: fetch-kafka.sh            prints the cache directory (holding libs/) on stdout
# Env:   XLAT64_KAFKA_VERSION (default 4.1.1), XLAT64_KAFKA_CACHE (default
#        ${XDG_CACHE_HOME:-$HOME/.cache}/xlat64/kafka-<version>)
set -euo pipefail

version=${XLAT64_KAFKA_VERSION:-4.1.1}
cache=${XLAT64_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xlat64/kafka-$version}
# slf4j binding matching the slf4j-api (1.7.x) that kafka_2.13 4.1 depends on; it logs to
# stderr (the broker's log4j2 configuration is not on the classpath, so this is its only logger).
slf4j_version=${XLAT64_KAFKA_SLF4J_VERSION:-1.7.36}

if [[ -f $cache/libs/.complete ]]; then
  echo "$cache"
  exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$here/../scripts/ensure-system-deps.sh" kafka >&2

mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>xlat64</groupId>
  <artifactId>kafka-broker-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>$slf4j_version</version>
    </dependency>
  </dependencies>
</project>
POM
echo "fetch-kafka: resolving org.apache.kafka:kafka_2.13:$version from Maven Central into $cache (once)" >&2
# The local repository lives in the cache too, so nothing lands in ~/.m2 and a re-fetch is offline.
mvn -B -q -f "$work/pom.xml" -Dmaven.repo.local="$cache/m2" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$work/libs" >&2
count=$(find "$work/libs" -name '*.jar' | wc -l)
if [[ $count -lt 10 ]]; then
  echo "fetch-kafka: only $count jars resolved into $work/libs; expected the broker and its dependencies" >&2
  exit 1
fi
rm -rf "$cache/libs"
mv "$work/libs" "$cache/libs"
touch "$cache/libs/.complete"
echo "fetch-kafka: $count jars in $cache/libs" >&2
echo "$cache"
