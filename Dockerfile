# syntax=docker/dockerfile:1
#
# Portcullis container image, built from this repository or from the unpacked distribution
# archive (portcullis-dist.tar.gz).
#   docker build -t portcullis .
#   docker run --rm -v "$PWD/deploy:/etc/portcullis:ro" portcullis
# runs `portcullis serve --config /etc/portcullis/portcullis.yaml` as an unprivileged user.
# docker-compose.yml builds and runs it next to Envoy, Redis and PostgreSQL.

# ---------------------------------------------------------------- build
# From a source checkout: JDK 25 compiles with --release 21 (see the root pom); the Maven wrapper
# pins Maven itself. From the distribution archive (lib/portcullis.jar is there and no sources
# are): its jars are used as they are. Either way /out holds portcullis.jar and lib/.
FROM eclipse-temurin:25-jdk AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.m2 \
    mkdir -p /out/lib \
 && if [ -f lib/portcullis.jar ]; then \
      cp lib/*.jar /out/lib/ && mv /out/lib/portcullis.jar /out/portcullis.jar; \
    else \
      ./mvnw -B -q -pl authz-service -am -DskipTests -Dspotless.check.skip=true package \
      && cp authz-service/target/portcullis.jar /out/ && cp authz-service/target/lib/*.jar /out/lib/; \
    fi

# ---------------------------------------------------------------- run
FROM eclipse-temurin:25-jre
RUN groupadd --system --gid 10001 portcullis \
 && useradd --system --uid 10001 --gid portcullis --home-dir /var/lib/portcullis \
      --shell /usr/sbin/nologin portcullis \
 && mkdir -p /etc/portcullis /var/lib/portcullis \
 && chown portcullis:portcullis /var/lib/portcullis

# portcullis.jar finds its dependencies through the manifest class path (lib/).
COPY --from=build /out/portcullis.jar /opt/portcullis/portcullis.jar
COPY --from=build /out/lib/ /opt/portcullis/lib/
COPY --chmod=0755 <<'LAUNCHER' /usr/local/bin/portcullis
#!/bin/sh
# shellcheck disable=SC2086 # JAVA_OPTS is a list of options
exec java $JAVA_OPTS --enable-native-access=ALL-UNNAMED -jar /opt/portcullis/portcullis.jar "$@"
LAUNCHER

ENV JAVA_OPTS="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"
USER 10001:10001
WORKDIR /var/lib/portcullis
# 9191 gRPC (ext_authz, RLS), 9192 forward-auth. Admin (9193) stays on the container's loopback.
EXPOSE 9191 9192
ENTRYPOINT ["portcullis"]
CMD ["serve", "--config", "/etc/portcullis/portcullis.yaml"]
