#!/usr/bin/env bash
# Downloads what the local services and Spark need into $PYSPARK_JOBS_VAR/cache (idempotent):
#   jars/        MySQL Connector/J 8.4.0 (JDBC reads) and 5.1.49 (Hive metastore on MariaDB:
#                DataNucleus fails creating the schema through Connector/J 8); Iceberg's Spark runtime
#   jars/s3a/    hadoop-aws 3.3.4 and the AWS SDK v1 modules it uses (s3a on moto; the 268 MB
#                SDK bundle is not needed), for Spark and for the YARN daemons
#   hadoop-yarn-3.3.4/   a ResourceManager and a NodeManager (hadoop-yarn-server-* with their
#                runtime dependencies): the Hadoop that pyspark's own client jars match
#   jars/glue/   the AWS SDK v2 modules Iceberg's GlueCatalog loads (glue, s3, kms, sts, the apache
#                http client): local tests of a `catalog = "glue"` deployment on moto only; EMR
#                provides them
#   trino-476/   the Trino server with the tpch, memory, mysql, hive and iceberg plugins
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
# Iceberg tables: Spark's runtime (catalog, extensions, procedures), shipped with each artifact.
fetch org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.0 "$cache/jars" iceberg-spark-runtime-3.5_2.12-1.10.0.jar

# s3a: hadoop-aws without its aws-java-sdk-bundle, plus the SDK modules S3AFileSystem loads.
# The jackson, httpclient and joda-time they need are in pyspark's jars already.
sdk=1.12.262
for artifact in org.apache.hadoop:hadoop-aws:3.3.4 com.amazonaws:aws-java-sdk-core:$sdk \
    com.amazonaws:aws-java-sdk-s3:$sdk com.amazonaws:aws-java-sdk-dynamodb:$sdk com.amazonaws:aws-java-sdk-kms:$sdk \
    com.amazonaws:aws-java-sdk-sts:$sdk com.amazonaws:jmespath-java:$sdk software.amazon.ion:ion-java:1.0.2 \
    com.fasterxml.jackson.dataformat:jackson-dataformat-cbor:2.15.2; do
  IFS=: read -r _ name version <<<"$artifact"
  fetch "$artifact" "$cache/jars/s3a" "$name-$version.jar"
done

# YARN: the server artifacts' runtime closure, resolved by the dependency plugin from a generated
# pom (the timelineservice jar is needed: the ResourceManager does not start without it).
# Copied into a temporary directory and renamed, so a half-fetched set is never used.
yarn_home=$cache/hadoop-yarn-3.3.4
if [ ! -f "$yarn_home/.complete" ]; then
  echo "fetching hadoop-yarn-server-{resourcemanager,nodemanager,timelineservice} 3.3.4 and dependencies"
  rm -rf "$yarn_home" "$yarn_home.partial"
  mkdir -p "$yarn_home.partial"
  {
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo '<groupId>local.pyspark-jobs</groupId><artifactId>yarn-daemons</artifactId><version>1</version><dependencies>'
    for server in resourcemanager nodemanager timelineservice; do
      echo "<dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-yarn-server-$server</artifactId><version>3.3.4</version></dependency>"
    done
    echo '</dependencies></project>'
  } >"$yarn_home.partial/pom.xml"
  log=$yarn_home.partial/mvn.log
  if ! mvn -q -B -Dstyle.color=never -f "$yarn_home.partial/pom.xml" "$dependency_plugin:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$yarn_home.partial/lib" >"$log" 2>&1; then
    reason=$(grep -m1 -oE 'Could not (resolve|find|transfer) [^:]+: [^ ]+' "$log" || grep -m1 ERROR "$log" | cut -c1-160 || true)
    die "download of the YARN 3.3.4 server jars from Maven Central failed (mvn: $reason); see $log and rerun 'make fetch'"
  fi
  mv "$yarn_home.partial" "$yarn_home"
  touch "$yarn_home/.complete"
fi

# Glue catalog, for local tests only (tests/production/test_glue_catalog.py; EMR's iceberg
# classification provides the SDK): Iceberg's runtime jar has GlueCatalog but not the AWS SDK v2.
# The glue client, the http client Iceberg's default client factory builds (http-client.type
# apache), and s3, kms and sts, without which Iceberg's AWS classes do not load or initialize
# (NoClassDefFoundError: .../S3BaseClientBuilder, .../kms/model/EncryptionAlgorithmSpec,
# .../sts/model/Tag, even with Hadoop's file IO), resolved like YARN's from a generated pom.
# Left out: the netty and apache5 clients the modules also declare (never loaded), and what
# pyspark's jars have in newer versions (slf4j-api 1.7 ahead of Spark's 2.0 on the classpath
# would silence Spark's logging).
awssdk=2.59.1
glue_jars=$cache/jars/glue
if [ ! -f "$glue_jars/.complete" ]; then
  echo "fetching software.amazon.awssdk:glue:$awssdk, s3, kms, sts and apache-client (Glue catalog tests)"
  rm -rf "$glue_jars" "$glue_jars.partial"
  mkdir -p "$glue_jars.partial"
  sdk_dependency() { echo "<dependency><groupId>software.amazon.awssdk</groupId><artifactId>$1</artifactId><version>$awssdk</version>$2</dependency>"; }
  {
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo '<groupId>local.pyspark-jobs</groupId><artifactId>glue-catalog-tests</artifactId><version>1</version><dependencies>'
    unused="<exclusions>$(for client in netty-nio-client apache5-client; do
      echo "<exclusion><groupId>software.amazon.awssdk</groupId><artifactId>$client</artifactId></exclusion>"; done)</exclusions>"
    for module in glue s3 kms sts; do sdk_dependency $module "$unused"; done
    sdk_dependency apache-client ""
    echo '</dependencies></project>'
  } >"$glue_jars.partial/pom.xml"
  log=$glue_jars.partial/mvn.log
  if ! mvn -q -B -Dstyle.color=never -f "$glue_jars.partial/pom.xml" "$dependency_plugin:copy-dependencies" \
      -DincludeScope=runtime -DexcludeGroupIds=org.slf4j,org.apache.httpcomponents,commons-codec,commons-logging \
      -DoutputDirectory="$glue_jars.partial" >"$log" 2>&1 \
      || [ ! -s "$glue_jars.partial/glue-$awssdk.jar" ] || [ ! -s "$glue_jars.partial/apache-client-$awssdk.jar" ]; then
    reason=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -m1 -oE 'could not be resolved: [^ ,]+|Could not (find|transfer) artifact [^ ]+' \
             || sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -m1 ERROR | cut -c1-160 || true)
    die "download of software.amazon.awssdk:glue:$awssdk, s3, kms, sts and apache-client from Maven Central failed (mvn: $reason); see $log and rerun 'make fetch'"
  fi
  rm -f "$glue_jars.partial/pom.xml" "$log"
  mv "$glue_jars.partial" "$glue_jars"
  touch "$glue_jars/.complete"
fi

dl=$cache/trino-$trino_version
fetch io.trino:trino-server-core:$trino_version:tar.gz "$dl" trino-server-core-$trino_version.tar.gz
fetch io.trino:trino-tpch:$trino_version:zip "$dl" trino-tpch-$trino_version.zip
fetch io.trino:trino-memory:$trino_version:zip "$dl" trino-memory-$trino_version.zip
fetch io.trino:trino-hive:$trino_version:zip "$dl" trino-hive-$trino_version.zip
fetch io.trino:trino-iceberg:$trino_version:zip "$dl" trino-iceberg-$trino_version.zip
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
for plugin in tpch memory mysql hive iceberg; do
  zip=$dl/trino-$plugin-$trino_version.zip
  [ -f "$zip" ] && [ ! -d "$trino_home/plugin/$plugin" ] || continue
  # Each zip holds one directory trino-<plugin>-<version>/ with the plugin's jars.
  rm -rf "$dl/.unpack" && mkdir -p "$dl/.unpack"
  unzip -q "$zip" -d "$dl/.unpack"
  [ -d "$dl/.unpack/trino-$plugin-$trino_version" ] || die "unexpected layout of $zip; delete it and rerun 'make fetch'"
  mv "$dl/.unpack/trino-$plugin-$trino_version" "$trino_home/plugin/$plugin"
  rm -rf "$dl/.unpack"
done
echo "fetched: $(cd "$cache/jars" && ls -p | grep -v / | tr '\n' ' ')s3a ($(ls "$cache/jars/s3a" | wc -l) jars)," \
  "glue ($(ls "$glue_jars" | wc -l) jars, tests only)," \
  "hadoop-yarn-3.3.4 ($(ls "$yarn_home/lib" | wc -l) jars), trino-server-$trino_version with plugins" \
  "$(cd "$trino_home/plugin" && ls -d tpch memory mysql hive iceberg 2>/dev/null | tr '\n' ' ')"
