#!/usr/bin/env bash
# Short version of the whole load suite (under five minutes on two cores): builds the bench jar,
# then runs every scenario, baseline and micro-benchmark briefly and prints the summary table.
# Results (summary-quick.md, *.png, *.hgrm, h2load output) go to loadtest/results/quick/.
# Needs: JDK 21+ (Temurin 25 preferred), Redis at 127.0.0.1:6379 (or REDIS_URL), optionally h2load
# (apt-get install nghttp2-client). Extra arguments are passed to the suite (e.g. --only micro).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${JAVA_HOME:-}" ] && [ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
./mvnw -q -B -Pbench -DskipTests -Dspotless.check.skip=true package -pl loadtest -am
exec "$JAVA" --enable-native-access=ALL-UNNAMED -cp loadtest/target/benchmarks.jar \
  io.portcullis.loadtest.LoadGenerator suite --quick --out loadtest/results/quick \
  --redis "${REDIS_URL:-redis://127.0.0.1:6379}" "$@"
