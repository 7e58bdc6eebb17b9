/*
 * A throwaway Kafka cluster for tests: librdkafka's in-memory mock cluster with N brokers on
 * loopback ports. Prints its bootstrap servers as the first line on stdout, then reads commands,
 * one per line, from stdin and answers each with "ok" or "error <why>":
 *
 *   create <topic> <partitions> <replication>   creates a topic
 *   down <broker-id> / up <broker-id>           takes a broker's listener down / up again
 *   leader <topic> <partition> <broker-id>      moves a partition's leadership
 *   offsetfor <topic> <partition> <timestamp>    "ok <offset>": the first offset whose record timestamp
 *                                                is at or after <timestamp>, or "ok -1" when none is
 *                                                (the mock answers ListOffsets by time with -1 always)
 *
 * It runs until stdin closes or it is signalled. Build: gcc -O2 -o kafka-mock kafka-mock.c -lrdkafka
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the partition from its start with a consumer of the harness's own. */
static long long offset_for(const char *bootstraps, const char *topic, int partition, long long ts, char *err, size_t errsz) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, errsz) ||
      rd_kafka_conf_set(conf, "group.id", "kafka-mock-offsetfor", err, errsz) ||
      rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, errsz) ||
      rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz) ||
      rd_kafka_conf_set(conf, "log_level", "3", err, errsz)) {
    rd_kafka_conf_destroy(conf);
    return -2;
  }
  rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errsz);
  if (!c) return -2;
  rd_kafka_topic_partition_list_t *tps = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(tps, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(c, tps);
  rd_kafka_topic_partition_list_destroy(tps);
  long long found = -1;
  int idle = 0;
  for (;;) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
    if (!m) {
      if (++idle > 50) { snprintf(err, errsz, "no answer from the mock in 10 s"); found = -2; break; }
      continue;
    }
    idle = 0;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) { rd_kafka_message_destroy(m); break; }
    if (m->err) { snprintf(err, errsz, "%s", rd_kafka_message_errstr(m)); rd_kafka_message_destroy(m); found = -2; break; }
    if (rd_kafka_message_timestamp(m, NULL) >= ts) { found = m->offset; rd_kafka_message_destroy(m); break; }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return found;
}

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 3;
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "kafka-mock: %s\n", err);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!rk) {
    fprintf(stderr, "kafka-mock: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers < 1 ? 1 : brokers);
  if (!mc) {
    fprintf(stderr, "kafka-mock: cannot create the mock cluster\n");
    return 1;
  }
  const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
  printf("%s\n", bootstraps);
  fflush(stdout);

  char line[1024];
  while (fgets(line, sizeof(line), stdin)) {
    char topic[512];
    int a = 0, b = 0;
    long long ts = 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (sscanf(line, "create %511s %d %d", topic, &a, &b) == 3) {
      e = rd_kafka_mock_topic_create(mc, topic, a, b);
    } else if (sscanf(line, "down %d", &a) == 1) {
      e = rd_kafka_mock_broker_set_down(mc, a);
    } else if (sscanf(line, "up %d", &a) == 1) {
      e = rd_kafka_mock_broker_set_up(mc, a);
    } else if (sscanf(line, "leader %511s %d %d", topic, &a, &b) == 3) {
      e = rd_kafka_mock_partition_set_leader(mc, topic, a, b);
    } else if (sscanf(line, "offsetfor %511s %d %lld", topic, &a, &ts) == 3) {
      long long o = offset_for(bootstraps, topic, a, ts, err, sizeof(err));
      if (o < -1) printf("error %s\n", err);
      else printf("ok %lld\n", o);
      fflush(stdout);
      continue;
    } else {
      printf("error unknown command\n");
      fflush(stdout);
      continue;
    }
    if (e) printf("error %s\n", rd_kafka_err2str(e));
    else printf("ok\n");
    fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
