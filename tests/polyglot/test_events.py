"""A Python consumer and producer of the platform's Kafka topics, run by the Go e2e suite against its
topology (tests/e2e/polyglot_test.go), which then checks the Go side of both directions.

Environment: KAFKA_BOOTSTRAP (host:port), CONTRACTS (contracts/avro), POLYGLOT_OUT (a JSON file this
writes: the event ids decoded per topic, and the event it produced).
"""

import datetime
import json
import os
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from acme_avro import TOPICS, Contracts

BOOTSTRAP = os.environ["KAFKA_BOOTSTRAP"]
CONTRACTS = Contracts(os.environ["CONTRACTS"])
OUT = os.environ["POLYGLOT_OUT"]


def _merge_out(key, value):
    data = {}
    if os.path.exists(OUT):
        with open(OUT) as f:
            data = json.load(f)
    data[key] = value
    with open(OUT, "w") as f:
        json.dump(data, f)


def _read_to_end(topic):
    """Every record of topic from its start to its end as of now, with no consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False,
                             consumer_timeout_ms=10000)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        assert parts, f"{topic} has no partitions"
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        records = []
        while any(consumer.position(p) < end[p] for p in parts):
            batch = consumer.poll(timeout_ms=2000)
            assert batch or any(consumer.position(p) < end[p] for p in parts), "poll returned nothing"
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        consumer.close()


def test_every_event_on_every_topic_decodes_by_fingerprint():
    decoded, foreign = {}, {}
    for topic in TOPICS:
        ids = []
        foreign[topic] = 0
        for rec in _read_to_end(topic):
            if rec.value[:2] != b"\xc3\x01":
                # Not an Avro datum at all: the e2e suite's poison records for the dead-letter tests.
                foreign[topic] += 1
                continue
            event = CONTRACTS.decode(topic, rec.value)  # raises on an unknown fingerprint
            assert isinstance(event["occurred_at"], datetime.datetime)
            assert event["type"] and event["subject"], event
            ids.append(str(event["event_id"]))
        assert ids, f"no event on {topic}"
        decoded[topic] = ids
    _merge_out("decoded", decoded)
    _merge_out("foreign", foreign)


def test_an_event_written_here_is_a_valid_datum():
    subject = "polyglot-" + uuid.uuid4().hex
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "polyglot.python_check",
        "occurred_at": datetime.datetime.now(datetime.timezone.utc),
        "subject": subject,
        "actor": "system:polyglot-python",
        "region": "eu",
        "aggregate_version": 0,
        "payload": {"source": "python", "resource_type": "check", "outcome": "success",
                    "details": {"language": "python", "library": "fastavro"}},
    }
    data = CONTRACTS.encode("acme.audit.log", event)
    assert str(CONTRACTS.decode("acme.audit.log", data)["event_id"]) == event["event_id"]
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    try:
        producer.send("acme.audit.log", key=subject.encode(), value=data).get(timeout=30)
        producer.flush()
    finally:
        producer.close()
    _merge_out("produced", {"event_id": event["event_id"], "subject": subject})
