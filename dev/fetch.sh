#!/usr/bin/env bash
# Downloads what the local services and Spark need into $PYSPARK_JOBS_VAR/cache (idempotent):
#   jars/        MySQL Connector/J 8.4.0 (JDBC reads) and 5.1.49 (Hive metastore on MariaDB:
#                DataNucleus fails creating the schema through Connector/J 8)
#   trino-476/   the Trino server with the tpch, memory and mysql plugins
# Everything comes from Maven Central through mvn, so ~/.m2 doubles as the CI cache.
set -euo pipefail

home=${PYSPARK_JOBS_HOME:-$(cd "$(dirname "$0")/.." && pwd)}
var=${PYSPARK_JOBS_VAR:-$home/var}
cache=$var/cache
trino_version=476
trino_home=$cache/trino-$trino_version/trino-server-$trino_version
dependency_plugin=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

die() { echo "error: $*" >&2; exit 1; }

command -v mvn >/dev/null || die "mvn not found; install Maven (apt-get install -y maven) and rerun 'make fetch'"

# fetch G:A:V[:type] DIR FILE: copy one artifact from Maven Central unless DIR/FILE exists.
fetch() {
  local artifact=$1 dir=$2 file=$3
  [ -s "$dir/$file" ] && return 0
  mkdir -p "$dir"
  echo "fetching $artifact"
  local log
  log=$(mktemp)
  if ! (cd "$dir" && mvn -q -B -Dstyle.color=never "$dependency_plugin:copy" -Dartifact="$artifact" -DoutputDirectory="$dir") >"$log" 2>&1 \
     || [ ! -s "$dir/$file" ]; then
    rm -f "$dir/$file"
    local reason
    reason=$(grep -m1 -oE 'Could not (find|transfer) artifact [^ ]+|[^ ]+ was not found in [^ ]+' "$log" \
             || grep -m1 -E 'ERROR' "$log" | cut -c1-160 || true)
    die "download of $artifact from Maven Central failed (mvn: $reason); check network access to repo.maven.apache.org and rerun 'make fetch'"
  fi
  rm -f "$log"
}

fetch com.mysql:mysql-connector-j:8.4.0 "$cache/jars" mysql-connector-j-8.4.0.jar
fetch mysql:mysql-connector-java:5.1.49 "$cache/jars" mysql-connector-java-5.1.49.jar

dl=$cache/trino-$trino_version
fetch io.trino:trino-server-core:$trino_version:tar.gz "$dl" trino-server-core-$trino_version.tar.gz
fetch io.trino:trino-tpch:$trino_version:zip "$dl" trino-tpch-$trino_version.zip
fetch io.trino:trino-memory:$trino_version:zip "$dl" trino-memory-$trino_version.zip
# The mysql plugin is optional: the Maven mirror reachable here lacks io.trino:trino-mysql:476
# (a 449 plugin is refused: "Trino SPI version 476 does not match the version 449 ...").
# Without it the services run with no 'mysql' catalog; delete the marker to retry.
unavailable=$dl/trino-mysql-$trino_version.unavailable
if [ ! -e "$unavailable" ] && ! (fetch io.trino:trino-mysql:$trino_version:zip "$dl" trino-mysql-$trino_version.zip) 2>/dev/null; then
  touch "$unavailable"
fi
[ -e "$unavailable" ] && echo "warning: io.trino:trino-mysql:$trino_version:zip is not available from Maven Central here; Trino runs without the 'mysql' catalog (rm $unavailable to retry)" >&2

# Unpack into a temporary directory and rename, so an interrupted run never leaves a half server.
if [ ! -f "$trino_home/.complete" ]; then
  echo "unpacking Trino $trino_version"
  rm -rf "$dl/.unpack" "$trino_home"
  mkdir -p "$dl/.unpack"
  tar -xzf "$dl/trino-server-core-$trino_version.tar.gz" -C "$dl/.unpack"
  server=$(find "$dl/.unpack" -mindepth 1 -maxdepth 1 -type d)
  [ -x "$server/bin/launcher" ] && [ -d "$server/lib" ] \
    || die "unexpected layout of trino-server-core-$trino_version.tar.gz (no bin/launcher); delete $dl and rerun 'make fetch'"
  mv "$server" "$trino_home"
  touch "$trino_home/.complete"
  rm -rf "$dl/.unpack"
fi
for plugin in tpch memory mysql; do
  zip=$dl/trino-$plugin-$trino_version.zip
  [ -f "$zip" ] && [ ! -d "$trino_home/plugin/$plugin" ] || continue
  # Each zip holds one directory trino-<plugin>-<version>/ with the plugin's jars.
  rm -rf "$dl/.unpack" && mkdir -p "$dl/.unpack"
  unzip -q "$zip" -d "$dl/.unpack"
  [ -d "$dl/.unpack/trino-$plugin-$trino_version" ] || die "unexpected layout of $zip; delete it and rerun 'make fetch'"
  mv "$dl/.unpack/trino-$plugin-$trino_version" "$trino_home/plugin/$plugin"
  rm -rf "$dl/.unpack"
done
echo "fetched: $(cd "$cache/jars" && ls | tr '\n' ' ')trino-server-$trino_version with plugins $(cd "$trino_home/plugin" && ls -d tpch memory mysql 2>/dev/null | tr '\n' ' ')"
