#!/usr/bin/env bash
# The test broker: Apache Kafka (KRaft, one process that is broker and controller) on
# 127.0.0.1:${MEDIC_KAFKA_PORT:-19092}, its log dirs on local disk, heap bounded, topics never created
# automatically (as in production: medic creates its own). Idempotent: does nothing when a broker already
# answers. Stop it with scripts/kafka-down.sh.
#
#   scripts/kafka-up.sh                 install (once), then start the shared test broker in the background
#                                       on a fresh data directory (.medic/kafka/)
#   scripts/kafka-up.sh --install       install only; prints the install directory
#   scripts/kafka-up.sh --foreground    run a broker in this process (exec), keeping the data directory
#                                       when it is already formatted: what tests that SIGKILL and restart
#                                       a broker run (testkit::durable), with MEDIC_KAFKA_PORT,
#                                       MEDIC_KAFKA_CONTROLLER_PORT and MEDIC_KAFKA_DIR of their own
#
# MEDIC_KAFKA_SCRAM_USERS="admin=<password> medic-ingest=<password> ..." makes the client listener
# SASL_PLAINTEXT with SCRAM-SHA-512 users (created when the data directory is formatted) and ACLs enforced
# (StandardAuthorizer, nothing allowed without an ACL): the first user is the super user, and the broker
# talks to itself as it. Names and passwords without quotes, commas, brackets or spaces (they go into the
# JAAS line and --add-scram as they are). The controller listener stays plaintext on loopback and its
# anonymous principal is a super user: a test broker only. What the least-privilege test (kafka_acls) runs.
#
# Installed once per version (MEDIC_KAFKA_VERSION, default 4.1.2) under ~/.cache/medic/kafka-<version>/:
# org.apache.kafka:kafka_2.13 and its runtime jars from Maven Central (scripts/kafka/pom.xml, fetched with
# mvn). Runs on Java 17.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${MEDIC_KAFKA_VERSION:-4.1.2}"
home="$HOME/.cache/medic/kafka-$version"
port="${MEDIC_KAFKA_PORT:-19092}"
controller_port="${MEDIC_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
dir="${MEDIC_KAFKA_DIR:-.medic/kafka}"
read -r -a scram_users <<<"${MEDIC_KAFKA_SCRAM_USERS:-}"
mode="${1:-background}"

install() {
  [ -f "$home/libs/kafka_2.13-$version.jar" ] && return
  command -v java >/dev/null || { echo "kafka-up: java (17 or newer) is needed" >&2; exit 1; }
  if ! command -v mvn >/dev/null; then
    echo "kafka-up: installing maven"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq maven >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq maven >/dev/null; }
  fi
  echo "kafka-up: installing Apache Kafka $version into $home (Maven Central)"
  rm -rf "$home/libs.partial"
  mkdir -p "$home"
  mvn -q -B -Dstyle.color=never -f scripts/kafka/pom.xml -Dkafka.version="$version" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$home/libs.partial"
  rm -rf "$home/libs"
  mv "$home/libs.partial" "$home/libs"
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

java=(java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$PWD/scripts/kafka/log4j2.properties" -cp "$home/libs/*")

# The broker's configuration; the values that differ from Kafka's defaults are for a one-node test
# cluster (replication 1) on a small machine.
configure() {
  mkdir -p "$dir"
  local data
  data=$(cd "$dir" && pwd)/data
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
controller.listener.names=CONTROLLER
log.dirs=$data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
EOF
  local scram=()
  if [ "${#scram_users[@]}" -eq 0 ]; then
    cat >>"$dir/server.properties" <<EOF
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
EOF
  else
    local super="${scram_users[0]%%=*}" super_password="${scram_users[0]#*=}" user
    for user in "${scram_users[@]}"; do
      scram+=(--add-scram "SCRAM-SHA-512=[name=${user%%=*},password=${user#*=}]")
    done
    # The controller listener stays plaintext on loopback; its anonymous principal is the controller's.
    cat >>"$dir/server.properties" <<EOF
listeners=SASL_PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$super" password="$super_password";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$super;User:ANONYMOUS
EOF
  fi
  if [ ! -f "$data/meta.properties" ]; then
    "${java[@]}" kafka.tools.StorageTool format --ignore-formatted -c "$dir/server.properties" \
      -t "$("${java[@]}" kafka.tools.StorageTool random-uuid)" ${scram[@]+"${scram[@]}"} >"$dir/format.log" 2>&1 ||
      { cat "$dir/format.log" >&2; exit 1; }
  fi
}

case "$mode" in
  --install)
    install
    echo "$home"
    ;;
  --foreground)
    install
    configure
    exec "${java[@]}" kafka.Kafka "$dir/server.properties"
    ;;
  background)
    install
    if answers "$port"; then
      echo "kafka-up: a broker already answers on 127.0.0.1:$port"
      exit 0
    fi
    # A broker of ours still starting (or hung) keeps its data: stop it before starting afresh.
    ./scripts/kafka-down.sh >/dev/null
    rm -rf "$dir/data"
    configure
    echo "kafka-up: starting Apache Kafka $version on 127.0.0.1:$port (data in $dir/data)"
    nohup "${java[@]}" kafka.Kafka "$dir/server.properties" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 1 600); do
      if answers "$port"; then
        echo "kafka-up: broker ready on 127.0.0.1:$port (pid $(cat "$dir/pid"), log $dir/server.log)"
        exit 0
      fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
    echo "kafka-up: the broker did not start; its log:" >&2
    cat "$dir/server.log" >&2
    exit 1
    ;;
  *)
    echo "usage: scripts/kafka-up.sh [--install | --foreground]" >&2
    exit 2
    ;;
esac
